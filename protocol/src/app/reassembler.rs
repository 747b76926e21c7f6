//! Sans-IO reassembly of fragmented messages, with limits on bytes, pieces and unfinished messages.
//!
//! ```
//! use switchboard_protocol::app::{parse_frame, Body, FrameLimits, Reassembler, ReassemblerConfig};
//! # fn handle(_: &[u8]) {}
//! # let input: &[u8] = &[];
//! let mut reassembler = Reassembler::new(ReassemblerConfig::default()).unwrap();
//! let limits = FrameLimits::default();
//! let mut rest = input;
//! while let Some((frame, consumed)) = parse_frame(rest, &limits).unwrap() {
//!     match frame.body {
//!         Body::Fragment(piece) => {
//!             if let Some(message) = reassembler.push(piece).unwrap() {
//!                 handle(&message); // A complete encoded frame: parse it with `parse_frame` again.
//!             }
//!         }
//!         _ => { /* an ordinary frame, possibly urgent, between two pieces */ }
//!     }
//!     rest = &rest[consumed..];
//! }
//! ```

use super::error::{ConfigError, FragmentError};
use super::fragment::FragmentView;

/// Limits for one connection's [`Reassembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReassemblerConfig {
    /// Largest reassembled message, in bytes. Range `1..=64 MiB`.
    pub message_bytes_max: u32,
    /// Most unfinished messages at once. Range `1..=1024`.
    pub partial_messages_max: u32,
    /// Most pieces in one message. Range `1..=65536`.
    pub fragment_count_max: u32,
}

impl Default for ReassemblerConfig {
    /// 1 MiB messages, 4 unfinished messages (one per lane), 1024 pieces (≥ 1 KiB each on average).
    fn default() -> Self {
        ReassemblerConfig {
            message_bytes_max: 1024 * 1024,
            partial_messages_max: 4,
            fragment_count_max: 1024,
        }
    }
}

impl ReassemblerConfig {
    /// Checks every field against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        ConfigError::check(
            "message_bytes_max",
            self.message_bytes_max.into(),
            1,
            64 * 1024 * 1024,
        )?;
        ConfigError::check(
            "partial_messages_max",
            self.partial_messages_max.into(),
            1,
            1024,
        )?;
        ConfigError::check(
            "fragment_count_max",
            self.fragment_count_max.into(),
            1,
            65536,
        )
    }
}

/// One unfinished message.
#[derive(Debug)]
struct Partial {
    /// The sender's id for the message.
    fragment_id: u64,
    /// Pieces announced by the first piece.
    count: u32,
    /// Bytes announced by the first piece.
    total_bytes: u32,
    /// Index of the next piece due.
    next_index: u32,
    /// Bytes received so far (grows as pieces arrive, never beyond `total_bytes`).
    data: Vec<u8>,
}

/// Reassembles the pieces of fragmented messages for one connection.
#[derive(Debug)]
pub struct Reassembler {
    /// Validated limits.
    config: ReassemblerConfig,
    /// Unfinished messages; at most `partial_messages_max`, so a linear search is cheapest.
    partials: Vec<Partial>,
}

impl Reassembler {
    /// A reassembler with validated limits.
    pub fn new(config: ReassemblerConfig) -> Result<Reassembler, ConfigError> {
        config.validate()?;
        Ok(Reassembler {
            config,
            partials: Vec::with_capacity(config.partial_messages_max as usize),
        })
    }

    /// The limits in force.
    pub fn config(&self) -> &ReassemblerConfig {
        &self.config
    }

    /// Number of unfinished messages.
    pub fn partial_messages(&self) -> usize {
        self.partials.len()
    }

    /// Bytes held in unfinished messages.
    pub fn buffered_bytes(&self) -> usize {
        self.partials.iter().map(|partial| partial.data.len()).sum()
    }

    /// Adds one piece. Returns the complete message (an encoded frame) when this was its last piece,
    /// `Ok(None)` while pieces are outstanding. After an error the message concerned is dropped; the
    /// connection is expected to close.
    pub fn push(&mut self, piece: FragmentView<'_>) -> Result<Option<Vec<u8>>, FragmentError> {
        self.check_limits(&piece)?;
        let position = match self
            .partials
            .iter()
            .position(|partial| partial.fragment_id == piece.fragment_id)
        {
            Some(position) => position,
            None => self.start(&piece)?,
        };
        let result = append(&mut self.partials[position], &piece);
        let done = !matches!(result, Ok(None));
        if done {
            self.partials.swap_remove(position);
        }
        self.invariants();
        result
    }

    /// Ends the stream: reports the first message still incomplete, and forgets all of them.
    pub fn finish(&mut self) -> Result<(), FragmentError> {
        let first = self
            .partials
            .first()
            .map(|partial| FragmentError::Incomplete {
                fragment_id: partial.fragment_id,
                received: partial.next_index,
                count: partial.count,
            });
        self.partials.clear();
        first.map_or(Ok(()), Err)
    }

    /// Rejects pieces that announce more than the limits allow.
    fn check_limits(&self, piece: &FragmentView<'_>) -> Result<(), FragmentError> {
        if piece.count > self.config.fragment_count_max {
            return Err(FragmentError::TooManyFragments {
                fragment_id: piece.fragment_id,
                count: piece.count,
                fragment_count_max: self.config.fragment_count_max,
            });
        }
        if piece.total_bytes > self.config.message_bytes_max {
            return Err(FragmentError::MessageTooLarge {
                fragment_id: piece.fragment_id,
                total_bytes: piece.total_bytes,
                message_bytes_max: self.config.message_bytes_max,
            });
        }
        Ok(())
    }

    /// Opens a new partial message for the first piece of `piece.fragment_id`.
    fn start(&mut self, piece: &FragmentView<'_>) -> Result<usize, FragmentError> {
        if piece.index != 0 {
            return Err(FragmentError::OutOfOrder {
                fragment_id: piece.fragment_id,
                index: piece.index,
            });
        }
        if self.partials.len() >= self.config.partial_messages_max as usize {
            return Err(FragmentError::TooManyPartials {
                partial_messages_max: self.config.partial_messages_max,
            });
        }
        self.partials.push(Partial {
            fragment_id: piece.fragment_id,
            count: piece.count,
            total_bytes: piece.total_bytes,
            next_index: 0,
            data: Vec::new(),
        });
        Ok(self.partials.len() - 1)
    }

    /// Checks the relations that hold between calls (our bugs if they fail).
    fn invariants(&self) {
        debug_assert!(self.partials.len() <= self.config.partial_messages_max as usize);
        for partial in &self.partials {
            debug_assert!(partial.next_index < partial.count);
            debug_assert!(partial.data.len() <= partial.total_bytes as usize);
            debug_assert!(partial.total_bytes <= self.config.message_bytes_max);
        }
    }
}

/// Appends `piece` to `partial`; `Ok(Some(message))` when it completed the message.
fn append(
    partial: &mut Partial,
    piece: &FragmentView<'_>,
) -> Result<Option<Vec<u8>>, FragmentError> {
    let fragment_id = piece.fragment_id;
    if piece.count != partial.count || piece.total_bytes != partial.total_bytes {
        return Err(FragmentError::InconsistentTotal { fragment_id });
    }
    if piece.index < partial.next_index {
        return Err(FragmentError::Duplicate {
            fragment_id,
            index: piece.index,
        });
    }
    if piece.index > partial.next_index {
        return Err(FragmentError::Missing {
            fragment_id,
            expected_index: partial.next_index,
            index: piece.index,
        });
    }
    let received_bytes = partial.data.len() + piece.data.len();
    let last = piece.index + 1 == piece.count;
    let total_bytes = partial.total_bytes as usize;
    if received_bytes > total_bytes || (last && received_bytes != total_bytes) {
        return Err(FragmentError::InconsistentTotal { fragment_id });
    }
    partial.data.extend_from_slice(piece.data);
    partial.next_index += 1;
    Ok(last.then(|| std::mem::take(&mut partial.data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_state_is_bounded_and_released() {
        let config = ReassemblerConfig {
            message_bytes_max: 8,
            partial_messages_max: 1,
            fragment_count_max: 2,
        };
        let mut reassembler = Reassembler::new(config).unwrap();
        let first = FragmentView {
            fragment_id: 3,
            index: 0,
            count: 2,
            total_bytes: 8,
            data: b"abcd",
        };
        assert_eq!(reassembler.push(first), Ok(None));
        assert_eq!(reassembler.buffered_bytes(), 4);
        let second = FragmentView {
            index: 1,
            data: b"efgh",
            ..first
        };
        assert_eq!(reassembler.push(second), Ok(Some(b"abcdefgh".to_vec())));
        assert_eq!(reassembler.partial_messages(), 0);
        assert_eq!(reassembler.config(), &config);
    }
}
