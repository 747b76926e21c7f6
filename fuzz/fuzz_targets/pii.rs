//! Fuzzes the PII scanner (`shards/src/pii`, [`mask`]) on arbitrary UTF-8 text.
//!
//! Checks beyond "no panic": detection does not depend on the action (mask, drop and keep count the same
//! items); keeping everything returns the input borrowed; masking or dropping changes exactly the items
//! detected; nothing detected means nothing copied.
//!
//! Not checked: that masked text rescans clean. It does not always: in `13812345678 6222 0212 3` the phone
//! is masked to `138****5678`, and its visible last four digits with the groups after them
//! (`5678 6222 0212 3`) are a Luhn-valid card on a second pass. Each pass is right about its own input.
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
    assert_eq!(kept.counts.changed(), 0, "keep changes no item");

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
        assert_eq!(
            masked.counts.changed(),
            detected.iter().sum::<u64>(),
            "{action:?} changes every item detected"
        );
    }
});
