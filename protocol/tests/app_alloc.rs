//! The hot paths allocate nothing per frame: decoding a binary frame into its zero-copy view, and encoding
//! with a warmed-up `Encoder` into a buffer with capacity. Proven with a counting global allocator.

mod app_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use app_support::*;
use switchboard_protocol::app::*;

/// Counts allocations made by the current thread (the test harness runs other tests on other threads).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so `System`'s
// guarantees hold; the only addition is a thread-local counter increment, which does not allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` (through `alloc`/`realloc` above) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract; `ptr` came from `System`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(run: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    run();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn decoding_a_frame_view_does_not_allocate() {
    let limits = FrameLimits::default();
    for frame in examples() {
        let bytes = to_binary(&frame);
        let allocations = allocations_during(|| {
            let (view, consumed) = parse_frame(&bytes, &limits).unwrap().unwrap();
            assert_eq!(consumed, bytes.len());
            if let Body::Deliver(deliver) = view.body {
                assert_eq!(deliver.text(), Some("你好"));
            }
        });
        assert_eq!(allocations, 0, "{:?}", frame.message.kind());
    }
}

#[test]
fn a_warm_encoder_does_not_allocate() {
    let mut encoder = Encoder::new();
    let mut out = Vec::with_capacity(4096);
    let frames = examples();
    for frame in &frames {
        encoder.encode(frame, &mut out);
    }
    for frame in &frames {
        out.clear();
        let allocations = allocations_during(|| encoder.encode(frame, &mut out));
        assert_eq!(allocations, 0, "{:?}", frame.message.kind());
    }
}

#[test]
fn json_encoding_into_a_sized_buffer_does_not_allocate() {
    let mut out = Vec::with_capacity(4096);
    for frame in examples() {
        out.clear();
        let allocations = allocations_during(|| json::encode_json(&frame, &mut out));
        assert_eq!(allocations, 0, "{:?}", frame.message.kind());
    }
}
