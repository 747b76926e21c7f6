//! [`Spare`]: the allocation of a connection's last written payload, kept for its next received message so
//! echo neither allocates nor frees a payload per message.
//!
//! A payload written by copy is reusable at once if the queue held it alone. A payload lent by reference
//! to the transport (`Engine::send_vectored`, issue 19) is reusable once the transport dropped its
//! reference, i.e. its send completed, which is checked when the buffer is wanted, not when it is kept.

use bytes::{Bytes, BytesMut};

/// Largest written payload kept for reuse (see `SendQueue::take_spare`); the receive assembler's default
/// retention, so a busy connection holds no more than it would through the assembler.
pub const SPARE_PAYLOAD_BYTES_MAX: usize = 64 << 10;

/// A written payload kept for the next received message, if any.
#[derive(Debug, Default)]
pub(super) enum Spare {
    /// Nothing kept.
    #[default]
    Empty,
    /// Copied out and held by the queue alone: ready for reuse.
    Ready(BytesMut),
    /// Lent by reference: reusable once no one else holds it.
    Lent(Bytes),
}

impl Spare {
    /// Keeps the completely written `payload` (replacing what was kept), if it is small enough and, when
    /// it was written by copy (`lent` false), held by no one else.
    pub(super) fn keep(&mut self, payload: Bytes, lent: bool) {
        if payload.len() > SPARE_PAYLOAD_BYTES_MAX {
            return;
        }
        if lent {
            *self = Spare::Lent(payload);
        } else if let Ok(spare) = payload.try_into_mut() {
            if spare.capacity() <= SPARE_PAYLOAD_BYTES_MAX {
                *self = Spare::Ready(spare);
            }
        }
    }

    /// The kept allocation, emptied, if it is free for reuse. A lent payload still held elsewhere (its send
    /// not yet completed, or shared with other connections) stays kept for a later call.
    pub(super) fn take(&mut self) -> Option<BytesMut> {
        let mut spare = match std::mem::take(self) {
            Spare::Empty => return None,
            Spare::Ready(spare) => spare,
            Spare::Lent(payload) => match payload.try_into_mut() {
                Ok(spare) if spare.capacity() <= SPARE_PAYLOAD_BYTES_MAX => spare,
                Ok(_) => return None,
                Err(payload) => {
                    *self = Spare::Lent(payload);
                    return None;
                }
            },
        };
        spare.clear();
        Some(spare)
    }

    /// Heap bytes kept (a lent payload by its length: its capacity is not visible).
    pub(super) fn bytes(&self) -> usize {
        match self {
            Spare::Empty => 0,
            Spare::Ready(spare) => spare.capacity(),
            Spare::Lent(payload) => payload.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lent_payload_is_reused_once_released_and_a_shared_copy_never() {
        let mut spare = Spare::default();
        let payload = Bytes::from(vec![1u8; 100]);
        let transport = payload.clone();
        spare.keep(payload, true);
        assert!(spare.take().is_none(), "still held by the transport");
        drop(transport);
        let reused = spare.take().expect("released");
        assert!(reused.is_empty() && reused.capacity() >= 100);
        assert!(spare.take().is_none(), "taken once");
        // Written by copy while another connection still holds it: not kept.
        let shared = Bytes::from(vec![2u8; 100]);
        spare.keep(shared.clone(), false);
        assert_eq!(spare.bytes(), 0);
        // Too large to keep.
        spare.keep(Bytes::from(vec![0u8; SPARE_PAYLOAD_BYTES_MAX + 1]), true);
        assert_eq!(spare.bytes(), 0);
    }
}
