//! Criterion micro-benchmarks of the `switchboard.v1` application layer: decoding and encoding a typical
//! `deliver` frame (a short chat line), binary and JSON.
//!
//! Run a short smoke: `cargo bench -p switchboard-bench --bench app -- --warm-up-time 0.2 --measurement-time 0.5`.

use std::hint::black_box;

use criterion::{criterion_main, Criterion, Throughput};
use switchboard_protocol::app::json::{encode_json, parse_json};
use switchboard_protocol::app::{
    parse_frame, Body, Deliver, Encoder, FrameLimits, Message, MessageId, OwnedFrame, SenderRole,
};

/// A typical delivered chat line.
fn deliver_frame() -> OwnedFrame {
    OwnedFrame::new(Message::Deliver(Deliver {
        conversation_id: 0x65A3_F00D_1234_5678,
        sequence: 1043,
        message_id: MessageId(*b"\x01\x92\xf0\xc2\xa7\xc4\x7d\x3e\x9b\x8e\x1f\x2a\x3b\x4c\x5d\x6e"),
        sender_id: 91_827_364,
        sender_role: SenderRole::AGENT,
        sent_at_ms: 1_763_790_000_000,
        text: "已经为您加急处理了，请耐心等待 / escalated, arriving tomorrow".to_owned(),
    }))
}

fn binary(c: &mut Criterion) {
    let frame = deliver_frame();
    let mut encoder = Encoder::new();
    let mut wire = Vec::new();
    encoder.encode(&frame, &mut wire);
    let limits = FrameLimits::default();

    let mut group = c.benchmark_group("app_binary_deliver");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    group.bench_function("decode_view", |b| {
        b.iter(|| {
            let (frame, consumed) = parse_frame(black_box(&wire), &limits).unwrap().unwrap();
            let Body::Deliver(deliver) = frame.body else {
                unreachable!()
            };
            black_box((deliver.sequence(), deliver.text().map(str::len), consumed))
        })
    });
    group.bench_function("decode_to_owned", |b| {
        b.iter(|| {
            black_box(
                parse_frame(black_box(&wire), &limits)
                    .unwrap()
                    .unwrap()
                    .0
                    .to_owned_frame(),
            )
        })
    });
    let mut out = Vec::with_capacity(256);
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            encoder.encode(black_box(&frame), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

fn json(c: &mut Criterion) {
    let frame = deliver_frame();
    let mut text = Vec::new();
    encode_json(&frame, &mut text);

    let mut group = c.benchmark_group("app_json_deliver");
    group.throughput(Throughput::Bytes(text.len() as u64));
    let mut scratch = text.clone();
    group.bench_function("decode", |b| {
        b.iter(|| {
            scratch.copy_from_slice(&text);
            black_box(parse_json(black_box(&mut scratch)).unwrap())
        })
    });
    let mut out = Vec::with_capacity(512);
    group.bench_function("encode", |b| {
        b.iter(|| {
            out.clear();
            encode_json(black_box(&frame), &mut out);
            black_box(out.len())
        })
    });
    group.finish();
}

/// Private, so the undocumented `pub fn` that `criterion_group!` generates is not a public item.
mod groups {
    use super::{binary, json};
    criterion::criterion_group!(benches, binary, json);
}

criterion_main!(groups::benches);
