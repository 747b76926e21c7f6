//! Slot extractors, case by case.

use switchboard_shards::routing::extract::{Extractor, ExtractorKind};

fn run(kind: ExtractorKind, text: &str) -> Option<String> {
    Extractor {
        kind,
        digits_min: 12,
        digits_max: 24,
    }
    .extract(text)
}

#[test]
fn order_ids() {
    use ExtractorKind::OrderId;
    assert_eq!(
        run(OrderId, "订单号202403150001234567退款"),
        Some("202403150001234567".into())
    );
    assert_eq!(
        run(OrderId, "order #１２３４５６７８９０１２３"),
        Some("1234567890123".into())
    );
    assert_eq!(run(OrderId, "only 12345 here"), None);
    // A mobile number is not an order id, and digits inside a BV id are not either.
    assert_eq!(run(OrderId, "call 13912345678"), None);
    assert_eq!(run(OrderId, "BV1234567890123"), None);
}

#[test]
fn emails() {
    use ExtractorKind::Email;
    assert_eq!(
        run(Email, "send to Li.Ming+cs@Example.COM please"),
        Some("li.ming+cs@example.com".into())
    );
    assert_eq!(
        run(Email, "我的邮箱是abc_1@qq.com。"),
        Some("abc_1@qq.com".into())
    );
    assert_eq!(run(Email, "at @ sign alone"), None);
    assert_eq!(run(Email, "user@localhost"), None);
}

#[test]
fn phones() {
    use ExtractorKind::Phone;
    assert_eq!(
        run(Phone, "我要改绑到13912345678"),
        Some("13912345678".into())
    );
    assert_eq!(run(Phone, "+86 139-1234-5678"), Some("13912345678".into()));
    assert_eq!(
        run(Phone, "change to +44 7700 900123"),
        Some("+447700900123".into())
    );
    assert_eq!(run(Phone, "order 202403150001234567"), None);
    assert_eq!(run(Phone, "12345678901"), None);
}

#[test]
fn video_ids() {
    use ExtractorKind::VideoId;
    assert_eq!(
        run(VideoId, "请删除BV1GJ411x7h7这个视频"),
        Some("BV1GJ411x7h7".into())
    );
    assert_eq!(
        run(VideoId, "video bv1GJ411x7h7"),
        Some("BV1GJ411x7h7".into())
    );
    assert_eq!(run(VideoId, "see av170001 now"), Some("av170001".into()));
    assert_eq!(run(VideoId, "BV123"), None);
    assert_eq!(run(VideoId, "have 12 avocados"), None);
}

#[test]
fn amounts() {
    use ExtractorKind::Amount;
    assert_eq!(run(Amount, "多扣了我30块钱"), Some("30.00 CNY".into()));
    assert_eq!(run(Amount, "charged ¥25.5 twice"), Some("25.50 CNY".into()));
    assert_eq!(run(Amount, "paid $1,299.99"), Some("1299.99 USD".into()));
    assert_eq!(
        run(Amount, "overcharged by 30 yuan"),
        Some("30.00 CNY".into())
    );
    assert_eq!(run(Amount, "I have 3 cats"), None);
}

#[test]
fn dates() {
    use ExtractorKind::Date;
    assert_eq!(run(Date, "on 2024-03-05 I paid"), Some("2024-03-05".into()));
    assert_eq!(run(Date, "2024/3/5"), Some("2024-03-05".into()));
    assert_eq!(run(Date, "2024年3月15日扣的款"), Some("2024-03-15".into()));
    assert_eq!(run(Date, "3月8号充值的"), Some("03-08".into()));
    assert_eq!(run(Date, "昨天买的"), Some("yesterday".into()));
    assert_eq!(run(Date, "2024-13-40"), None);
    assert_eq!(run(Date, "no date"), None);
}
