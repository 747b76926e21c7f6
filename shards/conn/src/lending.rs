//! [`LendingInput`]: received bytes the connection may unmask in place and lend by reference, so an echoed
//! large message is sent from the transport's receive buffer without a copy (issue 19; the transport side
//! is `switchboard_core::engine::Received`), and `Input`, what the frame loop reads: such bytes, or
//! plain borrowed ones.
//!
//! Echo's lightest form is [`LendingInput::send_in_place`]: when a read is one whole message and the
//! connection has nothing else to send, the reply frame is written over the request (payload unmasked where
//! it is, the server's shorter header over the client's) and the transport sends that range as it stands:
//! no copy, no send queue, no allocation.

use std::ops::Range;

use bytes::Bytes;
use switchboard_protocol::ws::apply_mask;

/// Received bytes that may be modified in place and lent (implemented by the shard over the engine's
/// receive buffer).
pub trait LendingInput {
    /// All the bytes.
    fn bytes(&self) -> &[u8];
    /// The bytes from `start` on, writable; `start` is at or past the end of every range lent so far.
    fn bytes_mut_from(&mut self, start: usize) -> &mut [u8];
    /// `range` as a `Bytes` referring to the receive buffer (the bytes up to its end are read-only from then
    /// on), or `None` if the transport cannot lend now (then the caller copies).
    fn lend(&mut self, range: Range<usize>) -> Option<Bytes>;
    /// XORs `len` bytes from `start` with the masking `key` in place (`start` is payload byte 0; masking is its
    /// own inverse, so this also masks them back). The transport may do it with wider vectors than the
    /// protocol crate's portable loop.
    fn unmask(&mut self, start: usize, len: usize, key: [u8; 4]) {
        apply_mask(&mut self.bytes_mut_from(start)[..len], key, 0);
    }
    /// Whether [`LendingInput::send_in_place`] would take a range now. Asked before any byte is changed for
    /// it, so a refusal never has to be undone.
    fn can_send_in_place(&self) -> bool {
        false
    }
    /// Has the transport send `range` as it is now (a whole reply frame written over the request) straight
    /// from the receive buffer, after everything this connection handed out before; the bytes up to its end
    /// are read-only from then on. At most one range per input. `false` if the transport cannot (it never
    /// is when `can_send_in_place` was just `true`); then nothing was taken.
    fn send_in_place(&mut self, _range: Range<usize>) -> bool {
        false
    }
}

/// What the frame loop reads.
pub(super) enum Input<'a> {
    /// Borrowed bytes (the handshake's leftovers, TLS plaintext, tests).
    Shared(&'a [u8]),
    /// The transport's receive buffer (echo mode; see the module docs).
    Lending(&'a mut dyn LendingInput),
}

impl Input<'_> {
    pub(super) fn bytes(&self) -> &[u8] {
        match self {
            Input::Shared(bytes) => bytes,
            Input::Lending(input) => input.bytes(),
        }
    }
}

/// A plain byte slice as a [`LendingInput`] that never lends (tests, and callers without a receive
/// buffer of their own).
pub struct CopyingInput<'a>(pub &'a mut [u8]);

impl LendingInput for CopyingInput<'_> {
    fn bytes(&self) -> &[u8] {
        self.0
    }

    fn bytes_mut_from(&mut self, start: usize) -> &mut [u8] {
        &mut self.0[start..]
    }

    fn lend(&mut self, _range: Range<usize>) -> Option<Bytes> {
        None
    }
}
