//! [`ReceiveBuffer`]: the engine's received bytes as the connection's [`LendingInput`], so echo sends a large
//! message back from the receive buffer it arrived in (issue 19).

use std::ops::Range;

use bytes::Bytes;
use switchboard_core::engine::Received;

use crate::conn::LendingInput;

/// A `Data` event's bytes, lent to the connection for the duration of one `handle_received`.
pub(super) struct ReceiveBuffer<'r, 'a>(pub(super) &'r mut Received<'a>);

impl LendingInput for ReceiveBuffer<'_, '_> {
    fn bytes(&self) -> &[u8] {
        self.0
    }

    fn bytes_mut_from(&mut self, start: usize) -> &mut [u8] {
        self.0.bytes_mut_from(start)
    }

    fn lend(&mut self, range: Range<usize>) -> Option<Bytes> {
        self.0.lend(range)
    }
}
