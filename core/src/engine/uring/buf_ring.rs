//! A provided-buffer ring (`IORING_REGISTER_PBUF_RING`): the kernel picks a free buffer when a
//! multishot recv has data, so only connections with bytes in flight hold read memory.

use std::{
    alloc::{alloc_zeroed, dealloc, Layout},
    ptr::NonNull,
    sync::atomic::{AtomicU16, Ordering},
};

use io_uring::{types::BufRingEntry, Submitter};

use crate::engine::event::Errno;

/// Ring memory must be page aligned for the kernel.
const PAGE_BYTES: usize = 4096;

/// The entries shared with the kernel plus the buffers they point at.
pub(super) struct BufRing {
    entries: NonNull<BufRingEntry>,
    entries_layout: Layout,
    buffers: NonNull<u8>,
    buffers_layout: Layout,
    count: u16,
    buffer_bytes: u32,
    /// Our copy of the tail (entries published so far, wrapping).
    tail: u16,
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
        let buffers_layout =
            Layout::from_size_align(buffers_bytes, 64).map_err(|_| Errno(libc::EINVAL))?;
        // SAFETY: both layouts have non-zero size (count ≥ 1, buffer_bytes ≥ 64).
        let entries = NonNull::new(unsafe { alloc_zeroed(entries_layout) }.cast::<BufRingEntry>());
        // SAFETY: as above.
        let buffers = NonNull::new(unsafe { alloc_zeroed(buffers_layout) });
        let (Some(entries), Some(buffers)) = (entries, buffers) else {
            return Err(Errno(libc::ENOMEM));
        };
        Ok(Self {
            entries,
            entries_layout,
            buffers,
            buffers_layout,
            count: count as u16,
            buffer_bytes,
            tail: 0,
        })
    }

    /// Registers the ring as buffer group `group` and hands every buffer to the kernel.
    pub(super) fn register(&mut self, submitter: &Submitter<'_>, group: u16) -> Result<(), Errno> {
        let addr = self.entries.as_ptr() as u64;
        // SAFETY: `entries` points to `count` zeroed, page-aligned entries that live until this
        // BufRing is dropped, which `Ring` guarantees happens after the io_uring is closed.
        unsafe { submitter.register_buf_ring_with_flags(addr, self.count, group, 0) }
            .map_err(|e| Errno::from_io(&e))?;
        for bid in 0..self.count {
            self.push(bid);
        }
        self.publish();
        Ok(())
    }

    /// Gives buffer `bid` back to the kernel (after the shard is done with its bytes).
    pub(super) fn recycle(&mut self, bid: u16) {
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

    /// The first `len` bytes of buffer `bid`.
    ///
    /// # Safety
    ///
    /// `bid` must come from a completion that selected it and must not have been recycled yet,
    /// so the kernel has finished writing it and will not touch it until `recycle(bid)`.
    pub(super) unsafe fn bytes(&self, bid: u16, len: u32) -> &[u8] {
        assert!(
            bid < self.count && len <= self.buffer_bytes,
            "completion out of range"
        );
        // SAFETY: in bounds (asserted); the caller guarantees the kernel is not writing it.
        unsafe { std::slice::from_raw_parts(self.buffer_ptr(bid), len as usize) }
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: both pointers came from `alloc_zeroed` with these layouts; `Ring` drops the
        // io_uring (which unregisters the group) before this.
        unsafe {
            dealloc(self.entries.as_ptr().cast(), self.entries_layout);
            dealloc(self.buffers.as_ptr(), self.buffers_layout);
        }
    }
}
