//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`): the kernel picks a free buffer when a
//! multishot recv has data, so only connections with bytes in flight hold read memory.
//!
//! Where the kernel supports it (6.12+), the ring is registered for incremental consumption
//! (`IOU_PBUF_RING_INC`): a recv takes only the bytes it fills from the buffer at the head, and the
//! next recv (of any connection) continues in the same buffer. Large buffers then cost nothing
//! for small messages, and a large message arrives in one completion. A completion flagged
//! `IORING_CQE_F_BUF_MORE` means the kernel keeps using that buffer; the slice it reported is at
//! the offset this ring tracks per buffer, and the buffer goes back only after its last slice.
//! Without kernel support every recv takes a whole buffer, so the ring is cut into
//! `FALLBACK_BUFFER_BYTES` buffers instead (same memory, enough buffers for many connections).
//!
//! Hot buffers first (issue 19): the kernel takes buffers in ring order, so publishing every
//! returned buffer at once made each recv write to the buffer used longest ago — the whole ring
//! (8 MiB at the server's settings) cycled through the cache, and the kernel's copy into it cost
//! twice uWebSockets' copy into its one hot buffer. Returned buffers are parked instead, most recent
//! on top, and only as many are published as the last tick used (twice that, at least
//! `target_min`), so recvs land in recently used memory; a ring that runs dry (`ENOBUFS`) doubles its
//! target, so a burst costs one re-armed recv per connection, never data. A new ring publishes
//! `target_min` buffers only.

use std::{
    alloc::{alloc_zeroed, dealloc, Layout},
    ptr::NonNull,
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc,
    },
};

use io_uring::{types::BufRingEntry, Submitter};

use super::recv_holds::RecvHolds;
use crate::engine::event::Errno;

/// Ring memory must be page aligned for the kernel.
const PAGE_BYTES: usize = 4096;
/// `IOU_PBUF_RING_INC`: the kernel consumes buffers incrementally (kernel 6.12+).
const PBUF_RING_INC: u16 = 2;
/// Buffer size when the kernel cannot consume incrementally and the configured buffers are larger
/// (each recv takes a whole buffer then, so many small buffers serve many connections better).
pub(super) const FALLBACK_BUFFER_BYTES: u32 = 4096;
/// Most entries one buffer ring may have (kernel limit).
const RING_ENTRIES_MAX: u32 = 32_768;

/// The entries shared with the kernel plus the buffers they point at.
pub(super) struct BufRing {
    entries: NonNull<BufRingEntry>,
    entries_layout: Layout,
    /// The buffers (an anonymous private mapping: page aligned, zero, and resident only where touched)
    /// and how many lent values hold each; the mapping lives as long as the ring or a lent value.
    holds: Arc<RecvHolds>,
    count: u16,
    buffer_bytes: u32,
    /// Our copy of the tail (entries published so far, wrapping).
    tail: u16,
    /// Registered with `IOU_PBUF_RING_INC`.
    incremental: bool,
    /// Incremental mode: bytes of each buffer the kernel has reported so far (the next slice's
    /// offset). Empty otherwise.
    consumed: Vec<u32>,
    /// Buffers the shard is done with and not yet published, most recently returned last.
    parked: Vec<u16>,
    /// Buffers the shard is done with that lent values still hold: parked once they are let go.
    held: Vec<u16>,
    /// Buffers published and not yet used up by the kernel (the head one may be partly used).
    published: u32,
    /// Buffers to keep published at the next top-up (see the module docs).
    target: u32,
    /// The least `target` ever is.
    target_min: u32,
    /// Buffers the kernel used up since the last top-up.
    used: u32,
}

/// Fewest buffers a ring keeps published, as a fraction of its buffers: 1/16 (and at least
/// `TARGET_BUFFERS_MIN`), 8 of the server's 128 buffers of 64 KiB.
const TARGET_FRACTION_DIVISOR: u32 = 16;
/// Fewest buffers a ring keeps published (or all of them, if it has fewer).
const TARGET_BUFFERS_MIN: u32 = 8;

/// Where a recv completion's bytes are: `len` bytes at `offset` of buffer `bid`. `last` says the
/// kernel is done with the buffer, so it goes back to the ring once these bytes are handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Slice {
    pub(super) bid: u16,
    pub(super) offset: u32,
    pub(super) len: u32,
    pub(super) last: bool,
}

impl BufRing {
    /// Allocates `count` (a power of two ≤ 32768) buffers of `buffer_bytes` each.
    pub(super) fn new(count: u32, buffer_bytes: u32) -> Result<Self, Errno> {
        assert!(
            count.is_power_of_two() && count <= 32_768,
            "validated by EngineConfig"
        );
        let entries_bytes = count as usize * size_of::<BufRingEntry>();
        let entries_layout =
            Layout::from_size_align(entries_bytes, PAGE_BYTES).map_err(|_| Errno(libc::EINVAL))?;
        let buffers_bytes = count as usize * buffer_bytes as usize;
        // The buffers are mapped rather than allocated: an aligned zeroed allocation would be
        // written through (made resident) at once, a fresh mapping only where bytes arrive.
        // SAFETY: a new anonymous private mapping of non-zero size (count ≥ 1, buffer_bytes ≥
        // 64) at an address of the kernel's choosing; it aliases nothing.
        let mapped = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                buffers_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(Errno(libc::ENOMEM));
        }
        let buffers = NonNull::new(mapped.cast::<u8>()).expect("mmap never returns null");
        let holds = RecvHolds::new(buffers, buffers_bytes, count);
        // SAFETY: the layout has non-zero size (count ≥ 1).
        let entries = NonNull::new(unsafe { alloc_zeroed(entries_layout) }.cast::<BufRingEntry>());
        let Some(entries) = entries else {
            return Err(Errno(libc::ENOMEM)); // `holds` unmaps the buffers
        };
        Ok(Self {
            entries,
            entries_layout,
            holds,
            count: count as u16,
            buffer_bytes,
            tail: 0,
            incremental: false,
            consumed: Vec::new(),
            parked: Vec::with_capacity(count as usize),
            held: Vec::with_capacity(count as usize),
            published: 0,
            target: 0,
            target_min: (count / TARGET_FRACTION_DIVISOR)
                .max(TARGET_BUFFERS_MIN)
                .min(count),
            used: 0,
        })
    }

    /// Allocates `count` buffers of `buffer_bytes` and registers them as buffer group `group`,
    /// consumed incrementally where the kernel can; otherwise the same memory is registered as
    /// `FALLBACK_BUFFER_BYTES` buffers (when larger buffers were asked for).
    pub(super) fn build(
        submitter: &Submitter<'_>,
        group: u16,
        count: u32,
        buffer_bytes: u32,
    ) -> Result<Self, Errno> {
        let mut ring = Self::new(count, buffer_bytes)?;
        match ring.register(submitter, group, true) {
            Ok(()) => return Ok(ring),
            Err(Errno(libc::EINVAL)) => {}
            Err(errno) => return Err(errno),
        }
        drop(ring);
        let (count, buffer_bytes) = fallback_geometry(count, buffer_bytes);
        let mut ring = Self::new(count, buffer_bytes)?;
        ring.register(submitter, group, false)?;
        Ok(ring)
    }

    /// Registers the ring as buffer group `group` and hands every buffer to the kernel.
    fn register(
        &mut self,
        submitter: &Submitter<'_>,
        group: u16,
        incremental: bool,
    ) -> Result<(), Errno> {
        let addr = self.entries.as_ptr() as u64;
        let flags = if incremental { PBUF_RING_INC } else { 0 };
        // SAFETY: `entries` points to `count` zeroed, page-aligned entries that live until this
        // BufRing is dropped, which `Ring` guarantees happens after the io_uring is closed.
        unsafe { submitter.register_buf_ring_with_flags(addr, self.count, group, flags) }
            .map_err(|e| Errno::from_io(&e))?;
        self.incremental = incremental;
        if incremental {
            self.consumed = vec![0; usize::from(self.count)];
        }
        // Only the target is published; the rest waits parked until traffic needs it, so a quiet ring
        // never makes the whole of its memory resident.
        self.target = self.target_min;
        for bid in 0..self.count {
            if u32::from(bid) < self.target {
                self.push(bid);
            } else {
                self.parked.push(bid);
            }
        }
        self.published = self.target;
        self.publish();
        Ok(())
    }

    /// Whether buffers are consumed incrementally (for logs and tests).
    pub(super) fn is_incremental(&self) -> bool {
        self.incremental
    }

    /// Bytes of one buffer as registered.
    pub(super) fn buffer_bytes(&self) -> u32 {
        self.buffer_bytes
    }

    /// Where the `len` bytes of a recv completion on buffer `bid` are; `more` is the completion's
    /// `IORING_CQE_F_BUF_MORE` flag. Call once per completion, in completion order.
    pub(super) fn slice(&mut self, bid: u16, len: u32, more: bool) -> Slice {
        assert!(bid < self.count, "buffer id {bid} out of range");
        if !self.incremental || !more {
            // The kernel moved past this buffer.
            self.published = self.published.saturating_sub(1);
            self.used += 1;
        }
        if !self.incremental {
            return Slice {
                bid,
                offset: 0,
                len,
                last: true,
            };
        }
        let consumed = &mut self.consumed[usize::from(bid)];
        let offset = *consumed;
        *consumed = if more { offset + len } else { 0 };
        Slice {
            bid,
            offset,
            len,
            last: !more,
        }
    }

    /// Parks the buffer of `slice` for the next top-up if this was its last slice (call once the
    /// slice's bytes are no longer used; earlier slices of the buffer were handled before it).
    /// A buffer a lent value still holds waits in `held` instead, until `top_up` sees it let go.
    pub(super) fn release(&mut self, slice: Slice) {
        if slice.last {
            assert!(slice.bid < self.count, "buffer id out of range");
            if self.holds.is_held(slice.bid) {
                self.held.push(slice.bid);
            } else {
                self.parked.push(slice.bid);
            }
        }
    }

    /// The memory and hold counts lent values share (see `engine::received`).
    pub(super) fn holds(&self) -> &Arc<RecvHolds> {
        &self.holds
    }

    /// Moves the held buffers that no lent value holds any more to `parked`.
    fn unhold(&mut self) {
        let holds = &self.holds;
        let parked = &mut self.parked;
        self.held.retain(|&bid| {
            let still = holds.is_held(bid);
            if !still {
                parked.push(bid);
            }
            still
        });
    }

    /// A recv found no buffer (`ENOBUFS`): nothing is published, and the last top-up was too small.
    pub(super) fn ran_dry(&mut self) {
        self.published = 0;
        self.target = self.target.saturating_mul(2).min(u32::from(self.count));
    }

    /// Publishes parked buffers, most recently returned first, until `target` are published; the
    /// target follows what the kernel used since the last top-up (see the module docs). Call before
    /// each submission.
    pub(super) fn top_up(&mut self) {
        if !self.held.is_empty() {
            self.unhold();
        }
        let demand = self.used.saturating_mul(2);
        // Decays by 1/8 per top-up towards the demand, so a quiet tick does not undo a burst at once.
        let decayed = self.target - self.target / 8;
        self.target = demand
            .max(decayed)
            .max(self.target_min)
            .min(u32::from(self.count));
        self.used = 0;
        let mut pushed = false;
        while self.published < self.target {
            let Some(bid) = self.parked.pop() else {
                break;
            };
            self.push(bid);
            self.published += 1;
            pushed = true;
        }
        if pushed {
            self.publish();
        }
    }

    /// Buffers published now (for tests).
    #[cfg(test)]
    pub(super) fn published(&self) -> u32 {
        self.published
    }

    fn push(&mut self, bid: u16) {
        assert!(bid < self.count, "buffer id {bid} out of range");
        let index = usize::from(self.tail & (self.count - 1));
        // SAFETY: `index < count`, so the entry is inside the allocation; the kernel only reads
        // entries between its head and our published tail, and this one is past that tail.
        let entry = unsafe { &mut *self.entries.as_ptr().add(index) };
        entry.set_addr(self.buffer_ptr(bid) as u64);
        entry.set_len(self.buffer_bytes);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: `entries` is the ring base; the tail field overlays entry 0's `resv`, which the
        // kernel reads as an atomic u16; it is properly aligned for AtomicU16.
        let tail = unsafe { &*BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
    }

    fn buffer_ptr(&self, bid: u16) -> *mut u8 {
        // SAFETY: `bid < count` (checked by callers), so the offset stays in the allocation.
        unsafe {
            self.holds
                .base()
                .add(usize::from(bid) * self.buffer_bytes as usize)
        }
    }

    /// The bytes of `slice`.
    ///
    /// # Safety
    ///
    /// `slice` must come from `slice()` for a completion that selected its buffer, and the
    /// buffer must not have been released yet, so the kernel has finished writing these bytes
    /// and will not touch them until the buffer is recycled (incremental consumption only
    /// writes past them).
    pub(super) unsafe fn bytes(&mut self, slice: Slice) -> &mut [u8] {
        let end = u64::from(slice.offset) + u64::from(slice.len);
        assert!(
            slice.bid < self.count && end <= u64::from(self.buffer_bytes),
            "completion out of range"
        );
        // SAFETY: in bounds (asserted); the caller guarantees the kernel is not writing it, and it is
        // borrowed with the ring, so no other slice of the ring is handed out meanwhile.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.buffer_ptr(slice.bid).add(slice.offset as usize),
                slice.len as usize,
            )
        }
    }
}

/// `(count, buffer_bytes)` for a ring without incremental consumption: the same memory as
/// `count × buffer_bytes`, cut into `FALLBACK_BUFFER_BYTES` buffers while the entry count allows.
fn fallback_geometry(count: u32, buffer_bytes: u32) -> (u32, u32) {
    if buffer_bytes <= FALLBACK_BUFFER_BYTES {
        return (count, buffer_bytes);
    }
    let pieces = (buffer_bytes / FALLBACK_BUFFER_BYTES).min(RING_ENTRIES_MAX / count.max(1));
    let pieces = 1 << (31 - pieces.max(1).leading_zeros());
    (count * pieces, buffer_bytes / pieces)
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: `entries` came from `alloc_zeroed` with this layout; `Ring` drops the io_uring (which
        // unregisters the group) before this, so the kernel no longer uses it. The buffers go with the last
        // reference to `holds` (this one or a lent value's).
        unsafe { dealloc(self.entries.as_ptr().cast(), self.entries_layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::{fallback_geometry, BufRing};

    /// One tick of a ring as the engine drives it: the kernel uses up `used` buffers in ring order
    /// from its `head`, the shard returns them, then the top-up. Returns the last buffer returned.
    fn tick(ring: &mut BufRing, head: &mut u16, used: u16, dry: bool) -> Option<u16> {
        let mut last = None;
        for _ in 0..used {
            let index = usize::from(*head & (ring.count - 1));
            // SAFETY: `index < count`, inside the entries allocation; nothing else touches it here.
            let bid = unsafe { &*ring.entries.as_ptr().add(index) }.bid();
            *head = head.wrapping_add(1);
            let slice = ring.slice(bid, 100, false);
            ring.release(slice);
            last = Some(bid);
        }
        if dry {
            ring.ran_dry();
            assert_eq!(
                ring.published(),
                0,
                "the kernel used every published buffer"
            );
        }
        ring.top_up();
        last
    }

    #[test]
    fn publishes_what_the_last_tick_used_and_grows_when_the_kernel_ran_dry() {
        // Not registered with a kernel: the ring's bookkeeping alone, as after `register`.
        let mut ring = BufRing::new(64, 4096).unwrap();
        for bid in 0..64 {
            ring.push(bid);
        }
        ring.published = 64;
        let mut head = 0;
        let mut last = None;
        for _ in 0..100 {
            last = tick(&mut ring, &mut head, 5, false);
        }
        // Settles at twice the demand (the floor is 8 for 64 buffers).
        assert_eq!(ring.published(), 10);
        assert_eq!(ring.parked.len(), 64 - 10);
        // The buffer returned last is published again first, and only a few distinct buffers cycle.
        assert!(!ring.parked.contains(&last.unwrap()));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100 {
            seen.insert(tick(&mut ring, &mut head, 5, false).unwrap());
        }
        assert!(seen.len() <= 16, "{} buffers cycled", seen.len());
        // A ring the kernel used up doubles its target and refills at once from what is parked, up
        // to every buffer it has.
        let before = ring.published();
        tick(&mut ring, &mut head, before as u16, true);
        assert_eq!(ring.published(), 2 * before);
        for _ in 0..10 {
            let all = ring.published() as u16;
            tick(&mut ring, &mut head, all, true);
        }
        assert_eq!(ring.published(), 64);
        for _ in 0..200 {
            tick(&mut ring, &mut head, 0, false);
        }
        assert_eq!(ring.published(), 64, "published buffers stay until used");
        assert_eq!(ring.target, 8);
    }

    #[test]
    fn fallback_cuts_large_buffers_into_many_small_ones_within_the_entry_limit() {
        assert_eq!(fallback_geometry(256, 65_536), (4096, 4096));
        assert_eq!(fallback_geometry(1024, 4096), (1024, 4096));
        assert_eq!(fallback_geometry(1024, 1024), (1024, 1024));
        assert_eq!(fallback_geometry(16_384, 65_536), (32_768, 32_768));
        assert_eq!(fallback_geometry(32_768, 65_536), (32_768, 65_536));
    }

    /// Lends `len` bytes at the start of buffer `bid` (as `Received::lend` does).
    fn lend(ring: &BufRing, bid: u16, len: usize) -> Option<bytes::Bytes> {
        // SAFETY: within buffer `bid`; the tests write nothing while it is lent.
        unsafe { ring.holds().hold(bid, ring.buffer_ptr(bid), len) }.map(bytes::Bytes::from_owner)
    }

    #[test]
    fn a_lent_buffer_goes_back_only_after_its_last_lent_value_is_dropped() {
        let mut ring = BufRing::new(8, 4096).unwrap();
        ring.target = 8;
        // SAFETY: buffer 3 is not published, nothing else writes it.
        unsafe { ring.buffer_ptr(3).write_bytes(7, 100) };
        let slice = ring.slice(3, 100, false);
        let lent = lend(&ring, 3, 100).unwrap();
        let slice_of_it = lent.slice(10..20);
        drop(lent);
        ring.release(slice);
        assert!(ring.held.contains(&3) && !ring.parked.contains(&3));
        ring.top_up();
        assert!(
            ring.held.contains(&3),
            "still held by a slice of the lent value"
        );
        assert_eq!(&slice_of_it[..], &[7; 10]);
        drop(slice_of_it);
        assert_eq!(ring.holds().held(), 0);
        ring.top_up();
        assert!(ring.held.is_empty());
        assert_eq!(ring.published(), 1, "published again once let go");
    }

    #[test]
    fn at_most_a_quarter_of_the_buffers_are_held_and_the_memory_outlives_the_ring() {
        let ring = BufRing::new(8, 4096).unwrap();
        let a = lend(&ring, 0, 10).unwrap();
        let b = lend(&ring, 1, 10).unwrap();
        assert!(
            lend(&ring, 2, 10).is_none(),
            "a third buffer is over the budget"
        );
        let a2 = lend(&ring, 0, 20).expect("a buffer already held lends more");
        drop(b);
        let c = lend(&ring, 2, 10).expect("room again");
        drop(ring);
        // The mapping is kept by the lent values (zeroes: never written).
        assert_eq!(&a[..], &[0; 10]);
        assert_eq!(&a2[..], &[0; 20]);
        assert_eq!(&c[..], &[0; 10]);
    }
}
