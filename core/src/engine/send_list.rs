//! [`SendList`]: a connection's ordered send buffers, with the first one held inline.
//!
//! A server keeps one send in flight per connection, so almost every connection has at most one buffer
//! queued at a time. A `VecDeque` would allocate a ring for that single buffer and keep it for the life of
//! the slot (about 100 bytes of heap per connection, twice: queued and in flight); here the first buffer
//! sits inline and the ring is allocated only when a second one is queued behind it.

use std::collections::VecDeque;

/// Ordered send buffers: `head` first, then `rest`. `rest` is empty whenever `head` is `None`.
#[derive(Debug, Default)]
pub(crate) struct SendList {
    head: Option<Vec<u8>>,
    rest: VecDeque<Vec<u8>>,
}

impl SendList {
    /// An empty list; allocates nothing.
    pub(crate) const fn new() -> Self {
        Self {
            head: None,
            rest: VecDeque::new(),
        }
    }

    /// Appends `buf` at the back.
    pub(crate) fn push_back(&mut self, buf: Vec<u8>) {
        if self.head.is_none() {
            debug_assert!(self.rest.is_empty());
            self.head = Some(buf);
        } else {
            self.rest.push_back(buf);
        }
    }

    /// The first buffer.
    pub(crate) fn front(&self) -> Option<&Vec<u8>> {
        self.head.as_ref()
    }

    /// Removes and returns the first buffer.
    pub(crate) fn pop_front(&mut self) -> Option<Vec<u8>> {
        let front = self.head.take()?;
        self.head = self.rest.pop_front();
        Some(front)
    }

    /// Whether no buffer is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    /// Buffers queued.
    pub(crate) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    /// The buffers in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Vec<u8>> {
        self.head.iter().chain(self.rest.iter())
    }

    /// Moves the first `count` buffers (or all, if fewer) to the back of `other`.
    pub(crate) fn move_front_to(&mut self, other: &mut SendList, count: usize) {
        for _ in 0..count {
            match self.pop_front() {
                Some(buf) => other.push_back(buf),
                None => return,
            }
        }
    }

    /// Removes every buffer, in order (the ring's allocation, if any, is kept for reuse).
    pub(crate) fn drain_all(&mut self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.head.take().into_iter().chain(self.rest.drain(..))
    }

    /// Heap bytes held by the list itself (the ring behind the inline head), not the buffers.
    #[cfg(test)]
    pub(crate) fn ring_bytes(&self) -> usize {
        self.rest.capacity() * std::mem::size_of::<Vec<u8>>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_buffer_at_a_time_never_allocates_the_ring_and_order_is_kept() {
        let mut list = SendList::new();
        for round in 0..10u8 {
            list.push_back(vec![round]);
            assert_eq!(list.len(), 1);
            assert_eq!(list.pop_front(), Some(vec![round]));
            assert!(list.is_empty());
        }
        assert_eq!(list.ring_bytes(), 0);
        for value in 0..5u8 {
            list.push_back(vec![value]);
        }
        let mut other = SendList::new();
        list.move_front_to(&mut other, 2);
        assert_eq!(
            other.iter().cloned().collect::<Vec<_>>(),
            [vec![0], vec![1]]
        );
        assert_eq!(list.front(), Some(&vec![2]));
        let rest: Vec<Vec<u8>> = list.drain_all().collect();
        assert_eq!(rest, [vec![2], vec![3], vec![4]]);
        assert!(list.is_empty() && list.pop_front().is_none());
    }
}
