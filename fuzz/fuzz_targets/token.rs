//! Fuzzes access-token verification (`shards/src/auth`).
//!
//! The first byte selects the mode: even → the rest is a token string, verified with a fixed keyring (the
//! MAC stops almost everything, so this covers the size limit, the split, base64 and the header); odd →
//! the rest is a token *payload*, parsed as it would be after a valid MAC (`split_header`, `parse_body`),
//! then minted with its claims and verified again.
//!
//! Checks beyond "no panic": a parsed version-2 payload re-encodes to the same bytes; a token minted from
//! parsed claims verifies to the same claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_shards::auth::claims::{parse_body, split_header};
use switchboard_shards::auth::key::{Keyring, VerifyOptions};
use switchboard_shards::auth::TOKEN_VERSION;

const KEY_ID: &str = "fuzz-key";
/// A 32-byte secret (the keyring's minimum is checked at construction).
const SECRET: [u8; 32] = *b"fuzz-secret-fuzz-secret-fuzz-sec";

fn keyring() -> Keyring {
    Keyring::new(vec![(KEY_ID.to_owned(), SECRET.to_vec())], KEY_ID, 0).expect("valid keyring")
}

fn verify_token(token: &[u8]) {
    let Ok(token) = std::str::from_utf8(token) else {
        return;
    };
    for now_s in [0, 1_700_000_000, u64::MAX] {
        let options = VerifyOptions {
            now_s,
            expected_tenant: None,
        };
        if let Ok(claims) = keyring().verify(token, options) {
            // Only a token signed with SECRET verifies; the fuzzer cannot forge one by chance.
            assert_eq!(claims.key_id, KEY_ID);
        }
    }
}

fn parse_payload(payload: &[u8]) {
    let Ok(header) = split_header(payload) else {
        return;
    };
    let version = header.version;
    let Ok(claims) = parse_body(header) else {
        return;
    };
    if version == TOKEN_VERSION {
        let mut encoded = Vec::new();
        claims.encode_payload(&mut encoded);
        assert_eq!(encoded, payload, "a parsed payload re-encodes to itself");
    }
    let Some(ttl_s) = claims
        .expires_at_s
        .checked_sub(claims.issued_at_s)
        .filter(|&ttl| ttl > 0)
    else {
        return;
    };
    let keyring = keyring();
    let token = keyring
        .mint_rated(
            claims.tenant,
            claims.user,
            claims.role,
            &claims.groups,
            claims.value_percent,
            claims.issued_at_s,
            ttl_s,
        )
        .expect("claims that parsed can be minted");
    let options = VerifyOptions {
        now_s: claims.issued_at_s,
        expected_tenant: Some(claims.tenant),
    };
    let verified = keyring
        .verify(&token, options)
        .expect("a fresh token verifies");
    assert_eq!(
        verified,
        switchboard_shards::auth::Claims {
            key_id: KEY_ID.to_owned(),
            ..claims
        }
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        verify_token(rest);
    } else {
        parse_payload(rest);
    }
});
