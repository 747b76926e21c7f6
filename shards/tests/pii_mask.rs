//! PII detection and masking: positives and negatives per kind, each action, counts, properties.

use proptest::prelude::*;
use switchboard_shards::pii::{mask, PiiAction, PiiCounts, PiiKind, PiiPolicy, PiiRules};

const MASK: PiiRules = PiiRules::all(PiiAction::Mask);
const DROP: PiiRules = PiiRules::all(PiiAction::Drop);
const KEEP: PiiRules = PiiRules::all(PiiAction::Keep);

fn masked(text: &str) -> String {
    mask(text, &MASK).text.into_owned()
}

fn unchanged(text: &str) {
    let result = mask(text, &MASK);
    assert_eq!(result.text, text, "{text:?} should be left alone");
    assert!(result.counts.is_empty(), "{text:?}: {:?}", result.counts);
}

#[test]
fn phones_in_every_common_form() {
    assert_eq!(masked("13812345678"), "138****5678");
    assert_eq!(masked("电话13812345678谢谢"), "电话138****5678谢谢");
    assert_eq!(
        masked("我的手机是 138 1234 5678，请回电"),
        "我的手机是 138****5678，请回电"
    );
    assert_eq!(masked("138-1234-5678"), "138****5678");
    assert_eq!(masked("+86 138-1234-5678"), "+86 138****5678");
    assert_eq!(masked("+8613812345678"), "+86138****5678");
    assert_eq!(masked("8613912345678"), "86139****5678");
    assert_eq!(masked("tel:19912345678."), "tel:199****5678.");
    assert_eq!(
        masked("１３８１２３４５６７８"),
        "138****5678",
        "full-width digits"
    );
    assert_eq!(
        masked("a 13812345678 and 15987654321"),
        "a 138****5678 and 159****4321"
    );
}

#[test]
fn phone_lookalikes_are_left_alone() {
    unchanged("订单号138123456789012已发货"); // longer digit run
    unchanged("订单 213812345678");
    unchanged("12812345678"); // second digit 2
    unchanged("1381234567"); // 10 digits
    unchanged("138 123 45678"); // not a phone grouping
    unchanged("价格 1380.12345678");
}

#[test]
fn resident_ids_with_checksum_and_date() {
    assert_eq!(
        masked("身份证11010519491231002X"),
        "身份证110***********002X"
    );
    assert_eq!(
        masked("id 11010519491231002x ok"),
        "id 110***********002X ok"
    );
    assert_eq!(masked("110101199003071233"), "110***********1233");
    assert_eq!(masked("110101 19900307 1233"), "110***********1233");
    assert_eq!(masked("440304198510160013。"), "440***********0013。");
}

#[test]
fn eighteen_digit_non_ids_are_left_alone() {
    unchanged("110101199003071234"); // wrong check digit
    unchanged("11010519491231002Y");
    unchanged(&resident_id("11010119901307123")); // month 13 with a correct check character
    unchanged("202311221234567890"); // order number
    unchanged("1101011990030712331"); // 19 digits
                                      // A correct check digit but an impossible date (Feb 30th) is not an ID.
    unchanged(&resident_id("11010119900230123"));
    assert_eq!(
        masked(&resident_id("11010119900228123")),
        "110***********123".to_owned() + &resident_id("11010119900228123")[17..]
    );
}

#[test]
fn bank_cards_luhn_valid_in_groups() {
    assert_eq!(masked("卡号6222021234567890128"), "卡号**** **** **** 0128");
    assert_eq!(masked("4111 1111 1111 1111"), "**** **** **** 1111");
    assert_eq!(
        masked("4111-1111-1111-1111 thanks"),
        "**** **** **** 1111 thanks"
    );
    assert_eq!(masked("6228 4800 1234 5678 903"), "**** **** **** 8903");
    assert_eq!(masked("3782 822463 10005"), "**** **** **** 0005"); // Amex 4-6-5
}

#[test]
fn card_lookalikes_are_left_alone() {
    unchanged("4111111111111112"); // Luhn-invalid 16 digits
    unchanged("4111 1111 1111 1112");
    unchanged("2023112212345678"); // year-prefixed order number, whatever its Luhn sum
    unchanged("41111 11111 11111 1"); // not a card grouping
    unchanged("411111111111111111111"); // 21 digits
}

#[test]
fn emails_with_plus_dots_and_subdomains() {
    assert_eq!(
        masked("mail john.doe+cs@mail.example.com."),
        "mail j***@mail.example.com."
    );
    assert_eq!(
        masked("邮箱：a_b-c@sub.domain.co.uk，谢谢"),
        "邮箱：a***@sub.domain.co.uk，谢谢"
    );
    assert_eq!(masked("13812345678@qq.com"), "1***@qq.com");
    assert_eq!(masked("<x@y.cn>"), "<x***@y.cn>");
    unchanged("not an email: a@b, @example.com, a@localhost, a@b.c, user@-x.com");
}

#[test]
fn each_action_for_each_kind() {
    let text = "p 13812345678 i 11010519491231002X c 4111111111111111 e bob@example.org";
    assert_eq!(
        mask(text, &DROP).text,
        "p [phone removed] i [id removed] c [card removed] e [email removed]"
    );
    let kept = mask(text, &KEEP);
    assert_eq!(kept.text, text);
    assert!(matches!(kept.text, std::borrow::Cow::Borrowed(_)));
    let mixed = PiiRules {
        phone: PiiAction::Keep,
        resident_id: PiiAction::Drop,
        bank_card: PiiAction::Mask,
        email: PiiAction::Keep,
    };
    let result = mask(text, &mixed);
    assert_eq!(
        result.text,
        "p 13812345678 i [id removed] c **** **** **** 1111 e bob@example.org"
    );
    assert_eq!(result.counts.get(PiiKind::Phone, PiiAction::Keep), 1);
    assert_eq!(result.counts.get(PiiKind::ResidentId, PiiAction::Drop), 1);
    assert_eq!(result.counts.get(PiiKind::BankCard, PiiAction::Mask), 1);
    assert_eq!(result.counts.get(PiiKind::Email, PiiAction::Keep), 1);
    assert_eq!(result.counts.changed(), 2);
}

#[test]
fn counts_accumulate_per_kind() {
    let text = "13812345678 13912345678 a@b.cn 4111111111111111";
    let result = mask(text, &MASK);
    assert_eq!(result.counts.detected(PiiKind::Phone), 2);
    assert_eq!(result.counts.detected(PiiKind::Email), 1);
    assert_eq!(result.counts.detected(PiiKind::BankCard), 1);
    assert_eq!(result.counts.detected(PiiKind::ResidentId), 0);
    let mut shard = PiiCounts::default();
    shard.add(&result.counts);
    shard.add(&result.counts);
    assert_eq!(shard.get(PiiKind::Phone, PiiAction::Mask), 4);
    assert_eq!(shard.changed(), 8);
}

#[test]
fn policy_from_toml_per_tenant() {
    let policy: PiiPolicy = toml::from_str(
        "[default]\nemail = \"keep\"\n\n[[tenants]]\ntenant = 42\nrules = { phone = \"drop\" }\n",
    )
    .unwrap();
    policy.validate().unwrap();
    assert_eq!(policy.rules_for(1).email, PiiAction::Keep);
    assert_eq!(policy.rules_for(1).phone, PiiAction::Mask);
    assert_eq!(policy.rules_for(42).phone, PiiAction::Drop);
    assert_eq!(
        policy.rules_for(42).email,
        PiiAction::Mask,
        "override starts from mask"
    );
    assert_eq!(
        mask("13812345678", policy.rules_for(42)).text,
        "[phone removed]"
    );
    assert!(toml::from_str::<PiiPolicy>("[default]\nphone = \"hide\"\n").is_err());
    let mut twice = policy.clone();
    twice.tenants.push(twice.tenants[0]);
    assert_eq!(twice.validate().unwrap_err().field, "pii.tenants");
    assert_eq!(PiiPolicy::default().rules_for(9), &MASK);
}

/// PII generators: (text as written, digits or address that must not survive masking).
fn pii_item() -> impl Strategy<Value = String> {
    prop_oneof![
        (3u8..=9, 0u64..1_000_000_000).prop_map(|(second, rest)| format!("1{second}{rest:09}")),
        (0u64..100_000_000_000_000).prop_map(|digits| luhn_complete(&format!("62{digits:014}"))),
        ("[a-z][a-z0-9._+]{0,8}", "[a-z]{1,8}", "[a-z]{2,4}")
            .prop_map(|(local, host, tld)| format!("{local}@{host}.{tld}")),
        (1u32..=9, 0u32..100_000, 0u32..36_500, 0u32..1_000).prop_map(|(a, region, day, seq)| {
            let date = 19_000_101 + (day / 365) * 10_000 + (day % 12) * 100 + day % 28;
            resident_id(&format!("{a}{region:05}{date:08}{seq:03}"))
        }),
    ]
}

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|check| format!("{prefix}{check}"))
        .find(|candidate| {
            let sum: u32 = candidate
                .chars()
                .rev()
                .enumerate()
                .map(|(i, c)| {
                    let d = c.to_digit(10).unwrap();
                    if i % 2 == 1 {
                        if d * 2 > 9 {
                            d * 2 - 9
                        } else {
                            d * 2
                        }
                    } else {
                        d
                    }
                })
                .sum();
            sum % 10 == 0
        })
        .unwrap()
}

fn resident_id(first17: &str) -> String {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(weights)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn filler() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("你好，".to_owned()),
        Just(" 请联系 ".to_owned()),
        Just("。".to_owned()),
        "[a-z ]{0,6}".prop_map(|s| format!(" {s} ")),
        "[\\u{4e00}-\\u{4e20}]{1,4}",
    ]
}

proptest! {
    #[test]
    fn masking_arbitrary_text_never_panics(text in "\\PC{0,200}") {
        for rules in [MASK, DROP, KEEP] {
            let result = mask(&text, &rules);
            prop_assert!(std::str::from_utf8(result.text.as_bytes()).is_ok());
        }
    }

    #[test]
    fn masking_digit_soup_never_panics(text in "[0-9０-９xX@. \\-　－a-z中]{0,120}") {
        let result = mask(&text, &MASK);
        if result.counts.changed() == 0 {
            prop_assert!(matches!(result.text, std::borrow::Cow::Borrowed(_)));
        }
    }

    #[test]
    fn detected_pii_never_survives(
        pieces in proptest::collection::vec((filler(), pii_item()), 1..6),
        tail in filler(),
    ) {
        let mut text = String::new();
        for (fill, item) in &pieces {
            text.push_str(fill);
            text.push_str(item);
        }
        text.push_str(&tail);
        for rules in [MASK, DROP] {
            let result = mask(&text, &rules);
            for (_, item) in &pieces {
                prop_assert!(!result.text.contains(item.as_str()), "{item} survived in {}", result.text);
            }
            prop_assert_eq!(result.counts.changed(), pieces.len() as u64);
        }
    }
}
