//! Incremental, fail-fast UTF-8 validation for text messages that arrive in pieces.
//!
//! Built on `std::str::from_utf8`, which already rejects an invalid *prefix* of a code point (e.g.
//! `F4 90`, `E0 80`, `ED A0`) and reports only a truncated-but-possibly-valid tail as "unexpected end".
//! That gives fail-fast semantics: [`Utf8Validator::feed`] fails on the first byte that can no longer
//! start or continue valid UTF-8, whatever the split points (Autobahn 6.x "fail fast" cases).

/// The input became invalid UTF-8. The peer's fault; close with 1007.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Invalid;

/// Carries the bytes of a code point split across [`Utf8Validator::feed`] calls.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// Bytes of a started but unfinished code point (at most 3 of them).
    pending: [u8; 4],
    /// Number of valid bytes in `pending`.
    pending_len: usize,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets any pending bytes, for the start of a new message.
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }

    /// Validates the next piece of the message. Fails as soon as the bytes so far cannot be the prefix of
    /// valid UTF-8.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), Utf8Invalid> {
        let rest = self.complete_pending(bytes)?;
        match std::str::from_utf8(rest) {
            Ok(_) => Ok(()),
            Err(error) if error.error_len().is_some() => Err(Utf8Invalid),
            Err(error) => {
                let tail = &rest[error.valid_up_to()..];
                debug_assert!(
                    tail.len() < 4,
                    "from_utf8 reports at most 3 truncated bytes"
                );
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len();
                Ok(())
            }
        }
    }

    /// Checks that the message does not end inside a code point.
    pub fn finish(&self) -> Result<(), Utf8Invalid> {
        if self.pending_len == 0 {
            Ok(())
        } else {
            Err(Utf8Invalid)
        }
    }

    /// Feeds bytes one at a time into the pending code point until it is complete; returns the rest.
    fn complete_pending<'a>(&mut self, mut bytes: &'a [u8]) -> Result<&'a [u8], Utf8Invalid> {
        while self.pending_len > 0 {
            let Some((&first, rest)) = bytes.split_first() else {
                return Ok(bytes);
            };
            self.pending[self.pending_len] = first;
            self.pending_len += 1;
            bytes = rest;
            match std::str::from_utf8(&self.pending[..self.pending_len]) {
                Ok(_) => self.pending_len = 0,
                Err(error) if error.error_len().is_some() => return Err(Utf8Invalid),
                Err(_) => {}
            }
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_split(bytes: &[u8], split: usize) -> Result<(), Utf8Invalid> {
        let mut validator = Utf8Validator::new();
        validator.feed(&bytes[..split])?;
        validator.feed(&bytes[split..])?;
        validator.finish()
    }

    #[test]
    fn agrees_with_std_at_every_split_point() {
        let samples: [&[u8]; 8] = [
            "κόσμε".as_bytes(),
            "a€b𝄞c".as_bytes(),
            &[
                0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0, 0x80,
                0x65,
            ],
            &[0xf4, 0x90, 0x80, 0x80],
            &[0xe0, 0x80, 0xaf],
            &[0xf0, 0x9f, 0x98],
            &[0xc0, 0xaf],
            b"",
        ];
        for sample in samples {
            let expected = std::str::from_utf8(sample).is_ok();
            for split in 0..=sample.len() {
                assert_eq!(
                    feed_split(sample, split).is_ok(),
                    expected,
                    "{sample:x?} split {split}"
                );
            }
        }
    }

    #[test]
    fn fails_fast_on_invalid_prefix() {
        let mut validator = Utf8Validator::new();
        validator.feed(&[0xf4]).unwrap();
        // F4 90 can never become valid (above U+10FFFF): fail now, not at the end.
        assert_eq!(validator.feed(&[0x90]), Err(Utf8Invalid));
        let mut validator = Utf8Validator::new();
        assert_eq!(validator.feed(b"ok\xed\xa0"), Err(Utf8Invalid));
    }

    #[test]
    fn truncated_code_point_fails_at_finish() {
        let mut validator = Utf8Validator::new();
        validator.feed(&[0xe2, 0x82]).unwrap();
        assert_eq!(validator.finish(), Err(Utf8Invalid));
        validator.feed(&[0xac]).unwrap();
        assert_eq!(validator.finish(), Ok(()));
    }
}
