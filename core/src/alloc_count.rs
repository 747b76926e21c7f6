//! A counting global allocator, for tests that prove a hot path does no heap allocation.
//!
//! Install it in a test binary and measure a closure:
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: switchboard_core::alloc_count::CountingAllocator =
//!     switchboard_core::alloc_count::CountingAllocator;
//!
//! let ((), allocations) = switchboard_core::alloc_count::count_allocations(|| hot_path());
//! assert_eq!(allocations, 0);
//! ```
//!
//! Counts are per thread, so tests running in parallel in the same binary do not disturb each
//! other; the count includes `alloc`, `alloc_zeroed` and `realloc`, not `dealloc`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations made by this thread since it started. Const-initialised and without a
    /// destructor, so reading it from inside the allocator never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Adds one to this thread's count; silently skipped while the thread is being torn down.
fn count_one() {
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + 1));
}

/// Wraps [`System`] and counts allocations per thread. Install with `#[global_allocator]`.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees carry over; counting touches only a thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: forwarded unchanged; the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, i.e. from `System`, with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made by the current thread so far (zero unless [`CountingAllocator`] is installed).
pub fn allocations_on_this_thread() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `work` and returns its result with the number of allocations it made on this thread.
pub fn count_allocations<R>(work: impl FnOnce() -> R) -> (R, u64) {
    let before = allocations_on_this_thread();
    let result = work();
    (result, allocations_on_this_thread() - before)
}
