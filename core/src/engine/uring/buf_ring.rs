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

use std::{
    alloc::{alloc_zeroed, dealloc, Layout},
    ptr::NonNull,
    sync::atomic::{AtomicU16, Ordering},
};

use io_uring::{types::BufRingEntry, Submitter};

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
    /// An anonymous private mapping: page aligned, zero, and resident only where touched.
    buffers: NonNull<u8>,
    buffers_bytes: usize,
    count: u16,
    buffer_bytes: u32,
    /// Our copy of the tail (entries published so far, wrapping).
    tail: u16,
    /// Registered with `IOU_PBUF_RING_INC`.
    incremental: bool,
    /// Incremental mode: bytes of each buffer the kernel has reported so far (the next slice's
    /// offset). Empty otherwise.
    consumed: Vec<u32>,
}

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
        // SAFETY: the layout has non-zero size (count ≥ 1).
        let entries = NonNull::new(unsafe { alloc_zeroed(entries_layout) }.cast::<BufRingEntry>());
        let Some(entries) = entries else {
            // SAFETY: unmapping the mapping made just above, which nothing else refers to.
            unsafe { libc::munmap(mapped, buffers_bytes) };
            return Err(Errno(libc::ENOMEM));
        };
        Ok(Self {
            entries,
            entries_layout,
            buffers,
            buffers_bytes,
            count: count as u16,
            buffer_bytes,
            tail: 0,
            incremental: false,
            consumed: Vec::new(),
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
        for bid in 0..self.count {
            self.push(bid);
        }
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

    /// Hands the buffer of `slice` back to the kernel if this was its last slice (call once the
    /// slice's bytes are no longer used; earlier slices of the buffer were handled before it).
    pub(super) fn release(&mut self, slice: Slice) {
        if slice.last {
            self.recycle(slice.bid);
        }
    }

    /// Gives buffer `bid` back to the kernel (after the shard is done with its bytes).
    fn recycle(&mut self, bid: u16) {
        self.push(bid);
        self.publish();
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
            self.buffers
                .as_ptr()
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
    pub(super) unsafe fn bytes(&self, slice: Slice) -> &[u8] {
        let end = u64::from(slice.offset) + u64::from(slice.len);
        assert!(
            slice.bid < self.count && end <= u64::from(self.buffer_bytes),
            "completion out of range"
        );
        // SAFETY: in bounds (asserted); the caller guarantees the kernel is not writing it.
        unsafe {
            std::slice::from_raw_parts(
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
        // SAFETY: `entries` came from `alloc_zeroed` with this layout and `buffers` is our own
        // mapping of `buffers_bytes`; `Ring` drops the io_uring (which unregisters the group)
        // before this, so the kernel no longer uses either.
        unsafe {
            dealloc(self.entries.as_ptr().cast(), self.entries_layout);
            libc::munmap(self.buffers.as_ptr().cast(), self.buffers_bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fallback_geometry;

    #[test]
    fn fallback_cuts_large_buffers_into_many_small_ones_within_the_entry_limit() {
        assert_eq!(fallback_geometry(256, 65_536), (4096, 4096));
        assert_eq!(fallback_geometry(1024, 4096), (1024, 4096));
        assert_eq!(fallback_geometry(1024, 1024), (1024, 1024));
        assert_eq!(fallback_geometry(16_384, 65_536), (32_768, 32_768));
        assert_eq!(fallback_geometry(32_768, 65_536), (32_768, 65_536));
    }
}
