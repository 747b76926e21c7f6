//! The WebSocket hot paths allocate nothing per frame once warmed up: the server assembler receiving
//! masked text, binary and control frames (split anywhere), and the encoder writing into a `Vec` with
//! capacity. Proven with a counting global allocator.

use switchboard_core::alloc_count::{count_allocations, CountingAllocator};

use switchboard_protocol::ws::{
    encode_close, encode_frame, AssemblerLimits, CloseCode, Event, MessageAssembler, OpCode, Role,
};

// The counting allocator is core's (the one home of `unsafe`); it counts per thread, so other tests
// running on other threads do not disturb the count.
#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(run: impl FnOnce()) -> u64 {
    count_allocations(run).1
}

/// Feeds `input` in chunks of `chunk_bytes` and counts the events.
fn feed(assembler: &mut MessageAssembler, input: &[u8], chunk_bytes: usize) -> usize {
    let mut events = 0;
    for chunk in input.chunks(chunk_bytes) {
        let mut offset = 0;
        loop {
            offset += assembler.handle_bytes(&chunk[offset..]).unwrap();
            match assembler.poll_event() {
                Some(Event::Close(_)) => unreachable!("no close in this input"),
                Some(_) => events += 1,
                None => break,
            }
        }
    }
    events
}

#[test]
fn warmed_up_assembler_does_not_allocate() {
    let key = Some([1, 2, 3, 4]);
    let mut input = Vec::new();
    encode_frame(
        &mut input,
        OpCode::Text,
        false,
        "héllo ".repeat(500).as_bytes(),
        key,
    )
    .unwrap();
    encode_frame(&mut input, OpCode::Ping, true, b"ping", key).unwrap();
    encode_frame(
        &mut input,
        OpCode::Continuation,
        true,
        "wörld".as_bytes(),
        key,
    )
    .unwrap();
    encode_frame(&mut input, OpCode::Binary, true, &[7; 2000], key).unwrap();
    let mut assembler = MessageAssembler::new(Role::Server, AssemblerLimits::default()).unwrap();
    assert_eq!(feed(&mut assembler, &input, input.len()), 3, "warm-up");
    for chunk_bytes in [input.len(), 1000, 7] {
        let allocations = allocations_during(|| {
            assert_eq!(feed(&mut assembler, &input, chunk_bytes), 3);
        });
        assert_eq!(allocations, 0, "chunks of {chunk_bytes}");
    }
}

#[test]
fn encoding_into_a_vec_with_capacity_does_not_allocate() {
    let mut out = Vec::with_capacity(4096);
    let payload = [9u8; 1000];
    let allocations = allocations_during(|| {
        for mask in [None, Some([5, 6, 7, 8])] {
            out.clear();
            encode_frame(&mut out, OpCode::Binary, true, &payload, mask).unwrap();
            encode_frame(&mut out, OpCode::Pong, true, b"p", mask).unwrap();
            encode_close(&mut out, CloseCode::GOING_AWAY, "draining", mask).unwrap();
        }
    });
    assert_eq!(allocations, 0);
}
