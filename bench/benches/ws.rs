//! Micro-benchmarks of the RFC 6455 frame layer: header parse, frame encode, the masking fast path
//! against the plain byte loop, and the assembler's receive path, for 64 B, 1 KiB and 16 KiB payloads.
//!
//! Smoke run: `cargo bench -p switchboard-bench --bench ws -- --warm-up-time 0.2 --measurement-time 0.5`.

use std::hint::black_box;

use criterion::{criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard_protocol::ws::mask::{apply_mask, apply_mask_bytewise};
use switchboard_protocol::ws::{
    encode_frame, AssemblerLimits, FrameHeader, MessageAssembler, OpCode, Role,
};

/// Payload sizes every benchmark runs at.
const PAYLOAD_SIZES_BYTES: [usize; 3] = [64, 1024, 16 * 1024];
const MASK_KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn header_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_header_parse");
    for size in PAYLOAD_SIZES_BYTES {
        let mut frame = Vec::new();
        encode_frame(
            &mut frame,
            OpCode::Binary,
            true,
            &vec![0u8; size],
            Some(MASK_KEY),
        )
        .expect("valid frame");
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::from_parameter(size), &frame, |b, frame| {
            b.iter(|| FrameHeader::parse(black_box(frame), Role::Server))
        });
    }
    group.finish();
}

fn frame_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_frame_encode");
    for size in PAYLOAD_SIZES_BYTES {
        let payload = vec![7u8; size];
        let mut out = Vec::with_capacity(size + 14);
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(
            BenchmarkId::new("server_unmasked", size),
            &payload,
            |b, payload| {
                b.iter(|| {
                    out.clear();
                    encode_frame(&mut out, OpCode::Binary, true, black_box(payload), None)
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("client_masked", size),
            &payload,
            |b, payload| {
                b.iter(|| {
                    out.clear();
                    encode_frame(
                        &mut out,
                        OpCode::Binary,
                        true,
                        black_box(payload),
                        Some(MASK_KEY),
                    )
                })
            },
        );
    }
    group.finish();
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_mask");
    for size in PAYLOAD_SIZES_BYTES {
        let mut buf = vec![0x55u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("word_at_a_time", size), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), MASK_KEY, 1))
        });
        group.bench_function(BenchmarkId::new("core_widest", size), |b| {
            b.iter(|| switchboard_core::mask::apply_mask(black_box(&mut buf), MASK_KEY, 1))
        });
        group.bench_function(BenchmarkId::new("byte_loop", size), |b| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf), MASK_KEY, 1))
        });
    }
    group.finish();
}

/// Server receive path: one masked frame through the assembler (copy, unmask, and for text, UTF-8).
fn assembler_receive(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_assembler_receive");
    for size in PAYLOAD_SIZES_BYTES {
        group.throughput(Throughput::Bytes(size as u64));
        for opcode in [OpCode::Binary, OpCode::Text] {
            let mut frame = Vec::new();
            encode_frame(&mut frame, opcode, true, &vec![b'a'; size], Some(MASK_KEY))
                .expect("valid frame");
            let mut assembler = MessageAssembler::new(Role::Server, AssemblerLimits::default())
                .expect("default limits are valid");
            let name = if opcode == OpCode::Text {
                "text"
            } else {
                "binary"
            };
            group.bench_with_input(BenchmarkId::new(name, size), &frame, |b, frame| {
                b.iter(|| {
                    let consumed = assembler.handle_bytes(black_box(frame)).expect("valid");
                    assert_eq!(consumed, frame.len());
                    assembler.poll_event().is_some()
                })
            });
        }
    }
    group.finish();
}

/// Private, so the undocumented `pub fn` that `criterion_group!` generates is not a public item.
mod groups {
    use super::{assembler_receive, frame_encode, header_parse, masking};
    criterion::criterion_group!(
        benches,
        header_parse,
        frame_encode,
        masking,
        assembler_receive
    );
}

criterion_main!(groups::benches);
