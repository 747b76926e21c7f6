//! Proves that a message without PII (or with only kept PII) is not copied.

use std::borrow::Cow;

use switchboard_core::alloc_count::{count_allocations, CountingAllocator};
use switchboard_shards::pii::{mask, PiiAction, PiiRules};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn a_message_without_pii_is_not_copied() {
    let text =
        "您好，订单 2023112212345678901 已发货，预计 3 天到达。Order #A-1029, total 86.50 yuan. \
                联系人 Zhang, 房间 1203-5, 邮编 100086。";
    let rules = PiiRules::all(PiiAction::Mask);
    let (result, allocations) = count_allocations(|| mask(text, &rules));
    assert_eq!(allocations, 0);
    assert!(matches!(result.text, Cow::Borrowed(_)));
    assert!(result.counts.is_empty());
}

#[test]
fn kept_pii_is_counted_but_not_copied() {
    let text = "电话 13812345678 邮箱 a@example.com";
    let rules = PiiRules::all(PiiAction::Keep);
    let (result, allocations) = count_allocations(|| mask(text, &rules));
    assert_eq!(allocations, 0);
    assert!(matches!(result.text, Cow::Borrowed(_)));
    assert_eq!(result.counts.changed(), 0);
    assert!(!result.counts.is_empty());
}
