//! [`SendList`]: a connection's ordered sends, with the first one held inline; and [`Outgoing`], one send:
//! a buffer the caller gets back, optionally followed by a shared payload written in place.
//!
//! A server keeps one send in flight per connection, so almost every connection has at most one send
//! queued at a time. A `VecDeque` would allocate a ring for that single send and keep it for the life of
//! the slot (about 100 bytes of heap per connection, twice: queued and in flight); here the first send
//! sits inline and the ring is allocated only when a second one is queued behind it.
//!
//! Why a send may carry a `Bytes` payload (issue 19): a WebSocket frame is a few header bytes and a
//! payload the connection already holds. Copying a 16 KiB payload behind its header into one buffer cost
//! a quarter of the server's CPU at 500 × 16 KiB echo; gathering the header and the payload with two
//! iovecs costs nothing but the iovec. The payload is reference counted, so the engine owning its
//! reference until the completion is what keeps the memory alive for the kernel (the owned-buffer rule).

use std::collections::VecDeque;

use bytes::Bytes;

use super::received::HeldBytes;

/// One send: `head`, then `tail` if any, written back to back. `head` is handed back in
/// `Event::SendComplete`; the engine's reference to `tail` is dropped at that moment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outgoing {
    pub(crate) head: Vec<u8>,
    pub(crate) tail: Option<Tail>,
}

/// What follows a send's `head`: a shared payload, or bytes held in the receive buffer they arrived in
/// (`Engine::send_held`). Either way the engine's value keeps the memory alive and unwritten until dropped.
#[derive(Debug)]
pub(crate) enum Tail {
    Shared(Bytes),
    Held(HeldBytes),
}

impl Tail {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Tail::Shared(bytes) => bytes,
            Tail::Held(held) => held.bytes(),
        }
    }
}

impl PartialEq for Tail {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Tail {}

impl Outgoing {
    /// Bytes this send writes.
    pub(crate) fn len(&self) -> usize {
        self.head.len() + self.tail.as_ref().map_or(0, |tail| tail.bytes().len())
    }

    /// The non-empty pieces left after the first `written` bytes, in order (at most two).
    pub(crate) fn unsent(&self, written: usize) -> impl Iterator<Item = &[u8]> {
        let head_len = self.head.len();
        let head = self.head.get(written.min(head_len)..).unwrap_or_default();
        let tail_skip = written.saturating_sub(head_len);
        let tail = self
            .tail
            .as_ref()
            .map_or(&[][..], |tail| &tail.bytes()[tail_skip..]);
        [head, tail].into_iter().filter(|piece| !piece.is_empty())
    }

    /// iovecs this send needs at most.
    pub(crate) fn pieces(&self) -> usize {
        1 + usize::from(self.tail.is_some())
    }
}

impl From<Vec<u8>> for Outgoing {
    fn from(head: Vec<u8>) -> Self {
        Self { head, tail: None }
    }
}

/// Ordered sends: `head` first, then `rest`. `rest` is empty whenever `head` is `None`.
#[derive(Debug, Default)]
pub(crate) struct SendList {
    head: Option<Outgoing>,
    rest: VecDeque<Outgoing>,
}

impl SendList {
    /// An empty list; allocates nothing.
    pub(crate) const fn new() -> Self {
        Self {
            head: None,
            rest: VecDeque::new(),
        }
    }

    /// Appends `send` at the back.
    pub(crate) fn push_back(&mut self, send: Outgoing) {
        if self.head.is_none() {
            debug_assert!(self.rest.is_empty());
            self.head = Some(send);
        } else {
            self.rest.push_back(send);
        }
    }

    /// The first send.
    pub(crate) fn front(&self) -> Option<&Outgoing> {
        self.head.as_ref()
    }

    /// Removes and returns the first send.
    pub(crate) fn pop_front(&mut self) -> Option<Outgoing> {
        let front = self.head.take()?;
        self.head = self.rest.pop_front();
        Some(front)
    }

    /// Whether no send is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Sends queued.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    /// The sends in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Outgoing> {
        self.head.iter().chain(self.rest.iter())
    }

    /// Moves sends from the front to the back of `other` while their pieces (iovecs) total at most
    /// `pieces_max`; at least one send moves if any is queued. Returns the pieces moved.
    pub(crate) fn move_front_to(&mut self, other: &mut SendList, pieces_max: usize) -> usize {
        let mut pieces = 0;
        while let Some(front) = self.front() {
            let next = pieces + front.pieces();
            if next > pieces_max && pieces > 0 {
                break;
            }
            pieces = next;
            let send = self.pop_front().expect("front exists");
            other.push_back(send);
        }
        pieces
    }

    /// Removes every send, in order (the ring's allocation, if any, is kept for reuse).
    pub(crate) fn drain_all(&mut self) -> impl Iterator<Item = Outgoing> + '_ {
        self.head.take().into_iter().chain(self.rest.drain(..))
    }

    /// Heap bytes held by the list itself (the ring behind the inline head), not the buffers.
    #[cfg(test)]
    pub(crate) fn ring_bytes(&self) -> usize {
        self.rest.capacity() * std::mem::size_of::<Outgoing>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(list: &SendList) -> Vec<Vec<u8>> {
        list.iter().map(|send| send.head.clone()).collect()
    }

    #[test]
    fn one_buffer_at_a_time_never_allocates_the_ring_and_order_is_kept() {
        let mut list = SendList::new();
        for round in 0..10u8 {
            list.push_back(vec![round].into());
            assert_eq!(list.len(), 1);
            assert_eq!(list.pop_front(), Some(vec![round].into()));
            assert!(list.is_empty());
        }
        assert_eq!(list.ring_bytes(), 0);
        for value in 0..5u8 {
            list.push_back(vec![value].into());
        }
        let mut other = SendList::new();
        assert_eq!(list.move_front_to(&mut other, 2), 2);
        assert_eq!(heads(&other), [vec![0], vec![1]]);
        assert_eq!(list.front(), Some(&vec![2].into()));
        let rest: Vec<Vec<u8>> = list.drain_all().map(|send| send.head).collect();
        assert_eq!(rest, [vec![2], vec![3], vec![4]]);
        assert!(list.is_empty() && list.pop_front().is_none());
    }

    #[test]
    fn a_batch_counts_iovecs_and_always_takes_the_first_send() {
        let mut list = SendList::new();
        let with_tail = |byte: u8| Outgoing {
            head: vec![byte],
            tail: Some(Tail::Shared(Bytes::from_static(b"payload"))),
        };
        list.push_back(with_tail(0));
        list.push_back(vec![1].into());
        list.push_back(with_tail(2));
        let mut other = SendList::new();
        // 2 + 1 pieces fit in 4; the next send (2 pieces) would not.
        assert_eq!(list.move_front_to(&mut other, 4), 3);
        assert_eq!(heads(&other), [vec![0], vec![1]]);
        // A send larger than the bound still moves alone.
        let mut single = SendList::new();
        assert_eq!(list.move_front_to(&mut single, 1), 2);
        assert_eq!(single.len(), 1);
    }

    #[test]
    fn unsent_pieces_skip_what_was_written_across_head_and_tail() {
        let send = Outgoing {
            head: b"ab".to_vec(),
            tail: Some(Tail::Shared(Bytes::from_static(b"cdef"))),
        };
        assert_eq!(send.len(), 6);
        let pieces = |written| send.unsent(written).collect::<Vec<_>>();
        assert_eq!(pieces(0), [&b"ab"[..], &b"cdef"[..]]);
        assert_eq!(pieces(1), [&b"b"[..], &b"cdef"[..]]);
        assert_eq!(pieces(2), [&b"cdef"[..]]);
        assert_eq!(pieces(5), [&b"f"[..]]);
        assert!(pieces(6).is_empty());
        let plain = Outgoing::from(b"xyz".to_vec());
        assert_eq!(plain.unsent(1).collect::<Vec<_>>(), [&b"yz"[..]]);
        assert_eq!(plain.pieces(), 1);
    }
}
