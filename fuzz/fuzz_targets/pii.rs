//! Fuzzes the PII scanner (`shards/src/pii`, [`mask`]) on arbitrary UTF-8 text.
//!
//! Checks beyond "no panic": detection does not depend on the action (mask, drop and keep count the same
//! items); keeping everything returns the input borrowed; nothing detected means nothing changed; and
//! masked numbers are not numbers any more (rescanning the masked text finds no phone, ID or card).
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use switchboard_shards::pii::{mask, PiiAction, PiiKind, PiiRules};

const KINDS: [PiiKind; 4] = [
    PiiKind::Phone,
    PiiKind::ResidentId,
    PiiKind::BankCard,
    PiiKind::Email,
];
const NUMBER_KINDS: [PiiKind; 3] = [PiiKind::Phone, PiiKind::ResidentId, PiiKind::BankCard];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let kept = mask(text, &PiiRules::all(PiiAction::Keep));
    assert!(
        matches!(kept.text, Cow::Borrowed(kept_text) if kept_text == text),
        "keep changes nothing"
    );
    let detected: Vec<u64> = KINDS
        .iter()
        .map(|&kind| kept.counts.detected(kind))
        .collect();

    for action in [PiiAction::Mask, PiiAction::Drop] {
        let masked = mask(text, &PiiRules::all(action));
        let again: Vec<u64> = KINDS
            .iter()
            .map(|&kind| masked.counts.detected(kind))
            .collect();
        assert_eq!(again, detected, "{action:?} detects what keep detects");
        if detected.iter().all(|&count| count == 0) {
            assert!(
                matches!(masked.text, Cow::Borrowed(_)),
                "nothing found, nothing copied"
            );
        }
        let rescanned = mask(&masked.text, &PiiRules::all(PiiAction::Keep));
        for kind in NUMBER_KINDS {
            assert_eq!(
                rescanned.counts.detected(kind),
                0,
                "{action:?} left a {kind:?} in {:?} (from {text:?})",
                masked.text
            );
        }
    }
});
