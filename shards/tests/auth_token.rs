//! Token minting and verification: round trip, every error, rotation, tampering, random input.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use switchboard_protocol::app::ErrorCode;
use switchboard_shards::auth::{
    KeyConfig, KeyError, Keyring, KeyringConfig, MintError, Role, TokenError, VerifyOptions,
};

const NOW: u64 = 1_763_790_000;
const SECRET_A: [u8; 32] = [0xA5; 32];
const SECRET_B: [u8; 32] = [0x5A; 32];

fn keyring(active: &str) -> Keyring {
    let keys = vec![
        ("a".to_owned(), SECRET_A.to_vec()),
        ("b".to_owned(), SECRET_B.to_vec()),
    ];
    Keyring::new(keys, active, 60).unwrap()
}

fn at(now_s: u64) -> VerifyOptions {
    VerifyOptions {
        now_s,
        expected_tenant: None,
    }
}

#[test]
fn round_trip_keeps_every_claim() {
    let ring = keyring("a");
    let token = ring
        .mint(7, 1001, Role::Agent, &[3, 9], NOW, 3_600)
        .unwrap();
    let claims = ring.verify(&token, at(NOW + 10)).unwrap();
    assert_eq!(claims.key_id, "a");
    assert_eq!(
        (claims.tenant, claims.user, claims.role),
        (7, 1001, Role::Agent)
    );
    assert_eq!(claims.groups, vec![3, 9]);
    assert_eq!(
        (claims.issued_at_s, claims.expires_at_s),
        (NOW, NOW + 3_600)
    );
    for role in Role::ALL {
        let token = ring.mint(1, 2, role, &[], NOW, 60).unwrap();
        assert_eq!(ring.verify(&token, at(NOW)).unwrap().role, role);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
    }
}

#[test]
fn expiry_and_not_yet_valid_honour_the_clock_skew() {
    let ring = keyring("a");
    let token = ring.mint(7, 1, Role::Customer, &[], NOW, 100).unwrap();
    assert!(
        ring.verify(&token, at(NOW + 159)).is_ok(),
        "within skew after expiry"
    );
    assert_eq!(
        ring.verify(&token, at(NOW + 160)),
        Err(TokenError::Expired {
            expires_at_s: NOW + 100,
            now_s: NOW + 160
        })
    );
    assert!(
        ring.verify(&token, at(NOW - 60)).is_ok(),
        "within skew before issue"
    );
    assert_eq!(
        ring.verify(&token, at(NOW - 61)),
        Err(TokenError::NotYetValid {
            issued_at_s: NOW,
            now_s: NOW - 61
        })
    );
}

#[test]
fn wrong_tenant_is_refused() {
    let ring = keyring("a");
    let token = ring.mint(7, 1, Role::Bot, &[], NOW, 100).unwrap();
    let options = VerifyOptions {
        now_s: NOW,
        expected_tenant: Some(8),
    };
    assert_eq!(
        ring.verify(&token, options),
        Err(TokenError::WrongTenant {
            token_tenant: 7,
            expected_tenant: 8
        })
    );
    let options = VerifyOptions {
        expected_tenant: Some(7),
        ..options
    };
    assert!(ring.verify(&token, options).is_ok());
}

#[test]
fn malformed_tokens_are_refused() {
    let ring = keyring("a");
    let good = ring.mint(7, 1, Role::Customer, &[], NOW, 100).unwrap();
    let (payload, mac) = good.split_once('.').unwrap();
    let long = "A".repeat(600);
    let short_mac = format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0; 31]));
    let two_dots = format!("{good}.x");
    let bad_b64 = format!("{payload}!.{mac}");
    for token in ["", ".", "abc", &long, &short_mac, &two_dots, &bad_b64] {
        assert_eq!(
            ring.verify(token, at(NOW)),
            Err(TokenError::Malformed),
            "{token:?}"
        );
    }
    assert_eq!(TokenError::Malformed.error_code(), ErrorCode::UNAUTHORIZED);
}

/// Re-signs arbitrary payload bytes with key "a", as a minter with the key could.
fn sign(payload: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&SECRET_A).unwrap();
    mac.update(payload);
    let tag = mac.finalize().into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

#[test]
fn version_unknown_key_and_bad_fields_are_refused() {
    let ring = keyring("a");
    let good = ring.mint(7, 1, Role::Customer, &[], NOW, 100).unwrap();
    let mut payload = URL_SAFE_NO_PAD
        .decode(good.split_once('.').unwrap().0)
        .unwrap();
    let mut other_version = payload.clone();
    other_version[0] = 3;
    assert_eq!(
        ring.verify(&sign(&other_version), at(NOW)),
        Err(TokenError::UnsupportedVersion(3))
    );
    // A version 1 payload (no customer value) is still accepted, unrated.
    let mut version_1 = payload.clone();
    version_1[0] = 1;
    version_1.pop();
    let claims = ring.verify(&sign(&version_1), at(NOW)).unwrap();
    assert_eq!((claims.user, claims.value_percent), (1, None));
    let mut other_key = payload.clone();
    other_key[2] = b'z';
    assert_eq!(
        ring.verify(&sign(&other_key), at(NOW)),
        Err(TokenError::UnknownKey)
    );
    // Signed with the right key but with a trailing byte, then with an unknown role.
    payload.push(0);
    assert_eq!(
        ring.verify(&sign(&payload), at(NOW)),
        Err(TokenError::Malformed)
    );
    payload.pop();
    payload[3] = 9;
    assert_eq!(
        ring.verify(&sign(&payload), at(NOW)),
        Err(TokenError::Malformed)
    );
}

#[test]
fn rotation_new_key_mints_old_key_still_verifies() {
    let old = keyring("a");
    let old_token = old.mint(7, 1, Role::Customer, &[], NOW, 100).unwrap();
    let rotated = keyring("b");
    let new_token = rotated.mint(7, 1, Role::Customer, &[], NOW, 100).unwrap();
    assert_eq!(rotated.active_key_id(), "b");
    assert_eq!(rotated.verify(&old_token, at(NOW)).unwrap().key_id, "a");
    assert_eq!(rotated.verify(&new_token, at(NOW)).unwrap().key_id, "b");
    let retired = Keyring::new(vec![("b".to_owned(), SECRET_B.to_vec())], "b", 60).unwrap();
    assert_eq!(
        retired.verify(&old_token, at(NOW)),
        Err(TokenError::UnknownKey)
    );
    let impostor = Keyring::new(vec![("a".to_owned(), SECRET_B.to_vec())], "a", 60).unwrap();
    assert_eq!(
        impostor.verify(&old_token, at(NOW)),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn tampering_with_any_byte_is_refused() {
    let ring = keyring("a");
    let token = ring.mint(7, 1001, Role::Agent, &[3], NOW, 100).unwrap();
    let (payload_text, mac_text) = token.split_once('.').unwrap();
    let payload = URL_SAFE_NO_PAD.decode(payload_text).unwrap();
    let mac = URL_SAFE_NO_PAD.decode(mac_text).unwrap();
    // Every decoded byte after the header (version, key id length, key id) and every MAC byte.
    for index in 3..payload.len() {
        let mut altered = payload.clone();
        altered[index] ^= 0x01;
        let text = format!("{}.{mac_text}", URL_SAFE_NO_PAD.encode(&altered));
        assert_eq!(
            ring.verify(&text, at(NOW)),
            Err(TokenError::BadSignature),
            "payload {index}"
        );
    }
    for index in 0..mac.len() {
        let mut altered = mac.clone();
        altered[index] ^= 0x80;
        let text = format!("{payload_text}.{}", URL_SAFE_NO_PAD.encode(&altered));
        assert_eq!(
            ring.verify(&text, at(NOW)),
            Err(TokenError::BadSignature),
            "mac {index}"
        );
    }
    // Every character of the text, replaced by another base64url character: never accepted.
    for index in 0..token.len() {
        if token.as_bytes()[index] == b'.' {
            continue;
        }
        let mut altered = token.clone().into_bytes();
        altered[index] = if altered[index] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(ring.verify(&altered, at(NOW)).is_err(), "char {index}");
    }
}

#[test]
fn mint_refuses_bad_arguments() {
    let ring = keyring("a");
    assert_eq!(
        ring.mint(1, 1, Role::Customer, &[], NOW, 0),
        Err(MintError::BadLifetime {
            ttl_s: 0,
            issued_at_s: NOW
        })
    );
    assert!(matches!(
        ring.mint(1, 1, Role::Agent, &[], u64::MAX, 5),
        Err(MintError::BadLifetime { .. })
    ));
    assert_eq!(
        ring.mint(1, 1, Role::Customer, &[1], NOW, 5),
        Err(MintError::GroupsForNonAgent(Role::Customer))
    );
    let groups: Vec<u32> = (0..33).collect();
    assert!(matches!(
        ring.mint(1, 1, Role::Agent, &groups, NOW, 5),
        Err(MintError::TooManyGroups { .. })
    ));
}

#[test]
fn keyring_config_from_toml_and_validation() {
    let hex: String = SECRET_A.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET_B);
    let text = format!(
        "active_key_id = \"2026-11\"\n\
         [[keys]]\nid = \"2026-11\"\nsecret_hex = \"{hex}\"\n\
         [[keys]]\nid = \"2026-10\"\nsecret_base64 = \"{b64}\"\n"
    );
    let config: KeyringConfig = toml::from_str(&text).unwrap();
    config.validate().unwrap();
    assert_eq!(config.clock_skew_s, 60);
    let ring = Keyring::from_config(&config).unwrap();
    let token = ring.mint(1, 2, Role::Admin, &[], NOW, 10).unwrap();
    assert_eq!(
        keyring("a").verify(&token, at(NOW)),
        Err(TokenError::UnknownKey)
    );
    assert!(
        !format!("{config:?}{ring:?}").contains(&hex),
        "secrets never printed"
    );

    let key = |id: &str, hex: Option<&str>, b64: Option<&str>| KeyConfig {
        id: id.to_owned(),
        secret_hex: hex.map(str::to_owned),
        secret_base64: b64.map(str::to_owned),
    };
    assert!(matches!(
        key("k", Some(&hex[..62]), None).validate(),
        Err(KeyError::TooShort { bytes: 31, .. })
    ));
    assert!(matches!(
        key("k", Some("zz"), None).validate(),
        Err(KeyError::BadSecret { .. })
    ));
    assert!(matches!(
        key("k", None, None).validate(),
        Err(KeyError::BadSecret { .. })
    ));
    assert!(matches!(
        key("k", Some(&hex), Some(&b64)).validate(),
        Err(KeyError::BadSecret { .. })
    ));
    assert_eq!(
        key("bad id", Some(&hex), None).validate(),
        Err(KeyError::BadKeyId("bad id".into()))
    );
    key("k", None, Some(&b64)).validate().unwrap();

    let mut duplicate = config.clone();
    duplicate.keys[1].id = "2026-11".into();
    assert_eq!(
        duplicate.validate(),
        Err(KeyError::DuplicateKeyId("2026-11".into()))
    );
    let mut no_active = config.clone();
    no_active.active_key_id = "gone".into();
    assert_eq!(
        no_active.validate(),
        Err(KeyError::NoActiveKey("gone".into()))
    );
    let mut skew = config;
    skew.clock_skew_s = 100_000;
    assert_eq!(skew.validate(), Err(KeyError::ClockSkewTooLarge(100_000)));
}

proptest! {
    #[test]
    fn random_text_never_panics_the_verifier(text in ".{0,400}") {
        let _ = keyring("a").verify(&text, at(NOW));
    }

    #[test]
    fn random_signed_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = keyring("a").verify(&sign(&payload), at(NOW));
    }

    #[test]
    fn random_base64_pairs_never_panic(
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        mac in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let text = format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(mac));
        prop_assert!(keyring("a").verify(&text, at(NOW)).is_err());
    }
}

#[derive(clap::Parser)]
struct TokenCli {
    #[command(flatten)]
    args: switchboard_shards::auth::cli::TokenArgs,
}

#[test]
fn token_command_parses_and_mints() {
    use clap::Parser as _;
    let hex: String = SECRET_A.iter().map(|b| format!("{b:02x}")).collect();
    let cli = TokenCli::try_parse_from([
        "token",
        "--tenant",
        "7",
        "--user",
        "1001",
        "--role",
        "agent",
        "--key-hex",
        &hex,
        "--key-id",
        "a",
        "--groups",
        "3,4",
        "--ttl-secs",
        "60",
    ])
    .unwrap();
    assert_eq!(cli.args.groups, vec![3, 4]);
    assert_eq!(cli.args.role, Role::Agent);
    assert_eq!(
        switchboard_shards::auth::cli::run(&cli.args).unwrap(),
        std::process::ExitCode::SUCCESS
    );

    let dir = std::env::temp_dir().join(format!("authpii-key-{}", std::process::id()));
    std::fs::write(
        &dir,
        format!("base64:{}\n", URL_SAFE_NO_PAD.encode(SECRET_B)),
    )
    .unwrap();
    let path = dir.to_str().unwrap();
    let cli = TokenCli::try_parse_from([
        "token",
        "--tenant",
        "7",
        "--user",
        "1",
        "--role",
        "customer",
        "--key-file",
        path,
    ])
    .unwrap();
    assert!(switchboard_shards::auth::cli::run(&cli.args).is_ok());
    std::fs::remove_file(&dir).unwrap();

    let short = TokenCli::try_parse_from([
        "token",
        "--tenant",
        "7",
        "--user",
        "1",
        "--role",
        "bot",
        "--key-hex",
        "abcd",
    ])
    .unwrap();
    assert!(
        switchboard_shards::auth::cli::run(&short.args).is_err(),
        "2-byte key refused"
    );
    assert!(TokenCli::try_parse_from([
        "token",
        "--tenant",
        "7",
        "--user",
        "1",
        "--role",
        "boss",
        "--key-hex",
        &hex
    ])
    .is_err());
    assert!(
        TokenCli::try_parse_from(["token", "--tenant", "7", "--user", "1", "--role", "bot"])
            .is_err(),
        "a key is required"
    );
}

#[test]
fn customers_carry_a_value_and_only_customers() {
    let ring = keyring("a");
    let rated = ring
        .mint_rated(7, 1, Role::Customer, &[], Some(85), NOW, 100)
        .unwrap();
    assert_eq!(
        ring.verify(&rated, at(NOW)).unwrap().value_percent,
        Some(85)
    );
    assert_eq!(
        ring.mint_rated(7, 1, Role::Customer, &[], Some(101), NOW, 100),
        Err(MintError::BadValue {
            value: 101,
            role: Role::Customer
        })
    );
    assert_eq!(
        ring.mint_rated(7, 2, Role::Agent, &[1], Some(50), NOW, 100),
        Err(MintError::BadValue {
            value: 50,
            role: Role::Agent
        })
    );
}
