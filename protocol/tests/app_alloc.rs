//! The hot paths allocate nothing per frame: decoding a binary frame into its zero-copy view, and encoding
//! with a warmed-up `Encoder` into a buffer with capacity. Proven with a counting global allocator.

mod app_support;

use switchboard_core::alloc_count::{count_allocations, CountingAllocator};

use app_support::*;
use switchboard_protocol::app::*;

// The counting allocator is core's (the one home of `unsafe`); it counts per thread, so other tests
// running on other threads do not disturb the count.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(run: impl FnOnce()) -> u64 {
    count_allocations(run).1
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
