//! [`Received`]: the bytes of one `Event::Data`, borrowed from the engine's receive buffer, which the shard
//! may modify in place and lend out by reference ([`Received::lend`]) instead of copying them.
//!
//! Lending is how a large echoed message goes back without a copy in user space (issue 19: at 1000 × 16 KiB
//! the payload copy and its cache-cold destination were 13% of the server's CPU): the shard unmasks the
//! payload where the kernel put it, and [`Received::lend`] wraps that range in a [`Bytes`] that keeps its
//! receive buffer from the kernel until the last reference is dropped (the send's completion). The io_uring
//! backend bounds how many buffers may be held that way (a quarter of a ring's, see `uring::buf_ring`); past
//! that, or where it cannot lend at all (epoll reads into one buffer it reuses at once), `lend` returns
//! `None` and the caller copies. Each lent value costs one small allocation (`Bytes::from_owner` boxes its
//! owner), where the copy it replaces needed a payload-sized buffer.
//!
//! [`Received::hold`] is the lighter form for bytes that go straight back out: a [`HeldBytes`] holds the
//! buffer the same way, costs no allocation, and is only good for `Engine::send_held` (an echo written over
//! its own receive buffer, header and all, leaves in one plain send).

use std::{marker::PhantomData, ops::Range, ptr::NonNull, sync::Arc};

use bytes::Bytes;

use super::uring::{Hold, RecvHolds};

/// The bytes of one `Event::Data`: read them through `Deref`, write them through [`Received::bytes_mut_from`]
/// (only past what was lent), lend ranges with [`Received::lend`]. Valid until the next event is fetched.
pub struct Received<'a> {
    ptr: NonNull<u8>,
    len: usize,
    /// Bytes before this offset may have been lent and are read-only from here on.
    lent_end: usize,
    /// The receive buffer's holds and its id, if the backend can lend.
    lender: Option<(&'a Arc<RecvHolds>, u16)>,
    _bytes: PhantomData<&'a mut [u8]>,
}

impl<'a> Received<'a> {
    /// Bytes that cannot be lent (a backend that reuses its buffer at once).
    pub(crate) fn plain(bytes: &'a mut [u8]) -> Self {
        Self::new(bytes, None)
    }

    /// Bytes of receive buffer `bid`, which `holds` may lend.
    pub(crate) fn lendable(bytes: &'a mut [u8], holds: &'a Arc<RecvHolds>, bid: u16) -> Self {
        Self::new(bytes, Some((holds, bid)))
    }

    fn new(bytes: &'a mut [u8], lender: Option<(&'a Arc<RecvHolds>, u16)>) -> Self {
        Self {
            len: bytes.len(),
            ptr: NonNull::from(bytes).cast(),
            lent_end: 0,
            lender,
            _bytes: PhantomData,
        }
    }

    /// Whether [`Received::lend`] can succeed here (the backend lends at all).
    pub fn can_lend(&self) -> bool {
        self.lender.is_some()
    }

    /// The bytes from `start` on, writable (to unmask a payload in place).
    ///
    /// # Panics
    ///
    /// If `start` is before the end of a range already lent, or past the end (caller bugs).
    pub fn bytes_mut_from(&mut self, start: usize) -> &mut [u8] {
        assert!(
            (self.lent_end..=self.len).contains(&start),
            "bytes {start}.. are lent or out of range"
        );
        // SAFETY: `ptr..ptr + len` is the `&'a mut [u8]` this was made from, borrowed exclusively for 'a; the
        // range from `start` holds no lent bytes (they all end at or before `lent_end`), and the returned
        // borrow of `self` keeps another one from being made meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(start), self.len - start) }
    }

    /// The bytes of `range` as a [`Bytes`] that refers to the receive buffer (no copy), or `None` if this
    /// backend cannot lend or its budget of held buffers is spent (then copy). The receive buffer does not go
    /// back to the kernel while the returned value, or a clone or slice of it, lives: drop it once sent.
    /// The lent bytes, and every byte before them, are read-only afterwards.
    ///
    /// # Panics
    ///
    /// If `range` starts before the end of a range already lent or ends past the bytes (caller bugs).
    pub fn lend(&mut self, range: Range<usize>) -> Option<Bytes> {
        // The hold, boxed as the owner of a `Bytes`.
        self.hold(range).map(|held| Bytes::from_owner(held.0))
    }

    /// Whether [`Received::hold`] would succeed now: the backend lends, and its budget of held buffers is not
    /// spent. Ask before changing bytes in place for a hold, so a refusal never has to undo them.
    pub fn can_hold(&self) -> bool {
        self.lender.is_some_and(|(holds, bid)| holds.can_hold(bid))
    }

    /// The bytes of `range`, held in the receive buffer for `Engine::send_held` (no copy, no allocation),
    /// or `None` where [`Received::can_hold`] is false. Like a lent value, the hold keeps the buffer from the
    /// kernel until it is dropped, and the held bytes and every byte before them are read-only afterwards.
    ///
    /// # Panics
    ///
    /// If `range` starts before the end of a range already lent or held, or ends past the bytes (caller
    /// bugs).
    pub fn hold(&mut self, range: Range<usize>) -> Option<HeldBytes> {
        assert!(
            self.lent_end <= range.start && range.start <= range.end && range.end <= self.len,
            "hold {range:?}: lent up to {}, {} bytes",
            self.lent_end,
            self.len
        );
        let (holds, bid) = self.lender?;
        // SAFETY: `range` lies within this event's bytes (asserted), which lie within buffer `bid` of
        // `holds`; `lent_end` moves past it below, so no writable borrow of these bytes is made again.
        let hold = unsafe { holds.hold(bid, self.ptr.as_ptr().add(range.start), range.len()) }?;
        self.lent_end = range.end;
        Some(HeldBytes(hold))
    }
}

/// Bytes held in place in a receive buffer ([`Received::hold`]) until they are sent (`Engine::send_held`)
/// or dropped. Read-only; dropping it lets the buffer go back to the kernel.
pub struct HeldBytes(Hold);

impl HeldBytes {
    /// The held bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.as_ref()
    }
}

impl std::fmt::Debug for HeldBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldBytes")
            .field("len", &self.bytes().len())
            .finish()
    }
}

impl std::ops::Deref for Received<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr..ptr + len` is the `&'a mut [u8]` this was made from; writable borrows of it come
        // only from `bytes_mut_from(&mut self)`, so none is alive while this shared one is.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl std::fmt::Debug for Received<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("len", &self.len)
            .field("lendable", &self.lender.is_some())
            .finish()
    }
}
