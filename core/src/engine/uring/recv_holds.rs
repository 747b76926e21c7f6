//! [`RecvHolds`]: a ring's receive-buffer memory and how many lent [`Bytes`](bytes::Bytes) or held sends
//! hold each buffer (see `engine::received`). The memory is freed when the ring and every lent value are
//! gone, whichever is last; a held buffer is not given back to the kernel (see `BufRing::release`,
//! `BufRing::top_up`).

use std::{
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering},
    sync::Arc,
};

/// At most this fraction of a ring's buffers may be held by lent values at once (1/4): the rest keep
/// receiving whatever lent payloads wait for (a peer that does not read its echo holds one buffer per
/// message until its connection closes). Past it, `Received::lend` returns `None` and the shard copies.
pub(super) const LENT_BUFFER_FRACTION_DIVISOR: u32 = 4;

/// The buffers' mapping and their hold counts, shared by the ring and every value lent from it.
pub struct RecvHolds {
    /// An anonymous private mapping of `bytes` bytes (see `BufRing::new`).
    mapping: NonNull<u8>,
    bytes: usize,
    /// Lent values alive per buffer id.
    counts: Box<[AtomicU32]>,
    /// Buffers with a non-zero count.
    held: AtomicU32,
    /// Most buffers `held` may reach through `lend`.
    held_max: u32,
}

// SAFETY: the mapping is plain memory owned by this value (unmapped once, in `drop`); the counts are
// atomics. Which bytes are written when is governed by the ring: lent bytes are only read.
unsafe impl Send for RecvHolds {}
// SAFETY: as for `Send`: shared access only reads lent bytes and updates atomics.
unsafe impl Sync for RecvHolds {}

impl RecvHolds {
    /// Takes ownership of `mapping` (`bytes` bytes from `mmap`) cut into `count` buffers.
    pub(super) fn new(mapping: NonNull<u8>, bytes: usize, count: u32) -> Arc<Self> {
        Arc::new(Self {
            mapping,
            bytes,
            counts: (0..count).map(|_| AtomicU32::new(0)).collect(),
            held: AtomicU32::new(0),
            held_max: (count / LENT_BUFFER_FRACTION_DIVISOR).max(1),
        })
    }

    /// The start of the mapping.
    pub(super) fn base(&self) -> *mut u8 {
        self.mapping.as_ptr()
    }

    /// Whether a lent value still holds buffer `bid`.
    pub(super) fn is_held(&self, bid: u16) -> bool {
        self.counts[usize::from(bid)].load(Ordering::Acquire) > 0
    }

    /// Buffers held now.
    #[cfg(test)]
    pub(super) fn held(&self) -> u32 {
        self.held.load(Ordering::Relaxed)
    }

    /// Whether [`RecvHolds::hold`] of buffer `bid` would succeed now (it already holds `bid`, or fewer
    /// than `held_max` buffers are held). Other threads only ever let holds go, so a `true` stays true for
    /// the shard that asked until it takes a hold itself.
    pub(crate) fn can_hold(&self, bid: u16) -> bool {
        self.counts[usize::from(bid)].load(Ordering::Relaxed) > 0
            || self.held.load(Ordering::Relaxed) < self.held_max
    }

    /// `len` bytes at `ptr` as a [`Hold`] of buffer `bid`, or `None` if `held_max` buffers are held
    /// already (and `bid` is not one of them).
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` lies within buffer `bid` of this mapping, and nobody writes those bytes until the
    /// returned value is dropped (the ring does not hand a held buffer back to the kernel).
    pub(crate) unsafe fn hold(
        self: &Arc<Self>,
        bid: u16,
        ptr: *const u8,
        len: usize,
    ) -> Option<Hold> {
        if !self.can_hold(bid) {
            return None;
        }
        if self.counts[usize::from(bid)].fetch_add(1, Ordering::Relaxed) == 0 {
            self.held.fetch_add(1, Ordering::Relaxed);
        }
        Some(Hold {
            holds: Arc::clone(self),
            bid,
            ptr: NonNull::new(ptr.cast_mut()).expect("held bytes have an address"),
            len,
        })
    }
}

impl Drop for RecvHolds {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `BufRing::new`, unmapped only here; the ring (the kernel's user of it)
        // and every lent value hold this value, so none is left.
        unsafe { libc::munmap(self.mapping.as_ptr().cast(), self.bytes) };
    }
}

/// A held range of a receive buffer: the owner behind a lent `Bytes`, or a send's bytes on their own
/// (`engine::HeldBytes`). While it lives, the buffer is not given back to the kernel.
pub(crate) struct Hold {
    holds: Arc<RecvHolds>,
    bid: u16,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `ptr` points into the mapping `holds` keeps alive, and those bytes are not written while this
// value lives (see `RecvHolds::lend`), so reading them from any thread is sound.
unsafe impl Send for Hold {}

impl AsRef<[u8]> for Hold {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: see the `Send` impl: live, unmoved, unwritten memory of `len` bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let count = &self.holds.counts[usize::from(self.bid)];
        if count.fetch_sub(1, Ordering::Release) == 1 {
            self.holds.held.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
