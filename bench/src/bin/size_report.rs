//! `size_report`: wire size of `switchboard.v1` against `switchboard.json.v1` on the standard message mix.
//!
//! Builds the mix below, encodes every frame in both encodings (application frames only: the WebSocket
//! framing around them is the same few bytes for both), prints a per-kind table and the ratio, writes
//! `bench/results/size_report.json`, and exits non-zero when binary bytes exceed
//! `RATIO_MAX` × JSON bytes (the design target: ≤ 60%).
//!
//! ## The standard mix (per 100 frames, a customer-service conversation's steady state)
//!
//! | kind | count | why |
//! |---|---|---|
//! | `deliver` | 30 | every chat line fans out to the other participants (customer, agent, observers) |
//! | `send` | 15 | chat lines typed by customers and agents, half Chinese, half English, 2–60 characters |
//! | `ack` | 15 | one per `send` |
//! | `typing` | 15 | start/stop indicators around most lines |
//! | `read_receipt` | 12 | most delivered lines are read promptly |
//! | `ping` + `pong` | 5 + 5 | heartbeats of idle-ish connections |
//! | `ticket` | 3 | ticket state changes shown to agents |
//!
//! Values are realistic: 64-bit hash-like conversation ids, 8-digit user ids, UUID v7 message ids, Unix-ms
//! timestamps, sequences in the hundreds. Generation is deterministic (fixed seed), so the ratio is too.

use std::process::ExitCode;

use switchboard_protocol::app::json::encode_json;
use switchboard_protocol::app::{
    Ack, Deliver, Encoder, Kind, Message, MessageId, OwnedFrame, Ping, Pong, ReadReceipt,
    SendMessage, SenderRole, Ticket, TicketStatus, Typing,
};

/// The design target: binary bytes ≤ 60% of JSON bytes.
const RATIO_MAX: f64 = 0.60;
/// Frames in the mix (the table above, repeated).
const MIX_FRAMES: usize = 10_000;

/// Chat lines drawn from for `send` and `deliver`, Chinese and English, typical customer-service lengths.
const LINES: [&str; 16] = [
    "你好，我的订单还没有到",
    "请问什么时候发货？",
    "好的，谢谢",
    "我想申请退款",
    "订单号是 2024112233445",
    "商品有质量问题，屏幕有划痕",
    "已经为您加急处理了，请耐心等待",
    "嗯",
    "Hi, my package hasn't arrived yet",
    "When will it ship?",
    "ok thanks",
    "I'd like a refund please",
    "Order number is 2024112233445",
    "The screen has a scratch on it",
    "I've escalated this for you, it should arrive tomorrow.",
    "yes",
];

/// A small deterministic generator (xorshift64*), so the report needs no `rand`.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// A UUID v7 for `time_ms`: 48-bit time, version 7, random rest, RFC 9562 variant.
    fn uuid_v7(&mut self, time_ms: u64) -> MessageId {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&time_ms.to_be_bytes()[2..]);
        bytes[6..14].copy_from_slice(&self.next().to_be_bytes());
        bytes[14..].copy_from_slice(&self.next().to_be_bytes()[..2]);
        bytes[6] = 0x70 | (bytes[6] & 0x0F);
        bytes[8] = 0x80 | (bytes[8] & 0x3F);
        MessageId(bytes)
    }
}

/// Builds the standard mix: `frames` frames in the proportions of the module table.
fn standard_mix(frames: usize) -> Vec<OwnedFrame> {
    let mut rng = Xorshift(0x5EED_5A1E_0F0F_1234);
    let conversations: Vec<u64> = (0..50).map(|_| rng.next()).collect();
    let mut now_ms: u64 = 1_763_790_000_000;
    let mut mix = Vec::with_capacity(frames);
    for slot in 0..frames {
        now_ms += 1 + rng.below(500);
        let conversation_id = conversations[rng.below(50) as usize];
        let user_id = 10_000_000 + rng.below(90_000_000);
        let sequence = 100 + rng.below(900);
        let text = LINES[rng.below(LINES.len() as u64) as usize].to_owned();
        let message = match slot % 100 {
            0..=29 => Message::Deliver(Deliver {
                conversation_id,
                sequence,
                message_id: rng.uuid_v7(now_ms),
                sender_id: user_id,
                sender_role: if rng.below(2) == 0 {
                    SenderRole::CUSTOMER
                } else {
                    SenderRole::AGENT
                },
                sent_at_ms: now_ms,
                text,
            }),
            30..=44 => Message::Send(SendMessage {
                message_id: rng.uuid_v7(now_ms),
                conversation_id,
                text,
            }),
            45..=59 => Message::Ack(Ack {
                message_id: rng.uuid_v7(now_ms),
                conversation_id,
                sequence,
            }),
            60..=74 => Message::Typing(Typing {
                conversation_id,
                user_id,
                active: rng.below(2) == 0,
            }),
            75..=86 => Message::ReadReceipt(ReadReceipt {
                conversation_id,
                user_id,
                sequence,
            }),
            87..=91 => Message::Ping(Ping {
                timestamp_ms: now_ms,
                heartbeat_interval_ms: None,
            }),
            92..=96 => Message::Pong(Pong {
                ping_timestamp_ms: now_ms - 40,
                timestamp_ms: now_ms,
            }),
            _ => Message::Ticket(Ticket {
                ticket_id: 5_000_000 + rng.below(1_000_000),
                conversation_id,
                status: TicketStatus(rng.below(5) as u8),
                subject: "退款申请 / refund request".to_owned(),
                ..Ticket::default()
            }),
        };
        mix.push(OwnedFrame::new(message));
    }
    mix
}

/// Byte totals for one kind.
#[derive(Clone, Copy, Debug, Default)]
struct Row {
    frames: u64,
    binary_bytes: u64,
    json_bytes: u64,
}

/// Per-kind rows (in `Kind::ALL` order) and the total.
fn measure(mix: &[OwnedFrame]) -> (Vec<(Kind, Row)>, Row) {
    let mut encoder = Encoder::new();
    let mut rows: Vec<(Kind, Row)> = Kind::ALL
        .iter()
        .map(|&kind| (kind, Row::default()))
        .collect();
    let mut total = Row::default();
    let mut buffer = Vec::new();
    for frame in mix {
        let row = &mut rows
            .iter_mut()
            .find(|(kind, _)| *kind == frame.message.kind())
            .expect("every kind")
            .1;
        buffer.clear();
        encoder.encode(frame, &mut buffer);
        let binary_bytes = buffer.len() as u64;
        buffer.clear();
        encode_json(frame, &mut buffer);
        let json_bytes = buffer.len() as u64;
        for target in [&mut *row, &mut total] {
            target.frames += 1;
            target.binary_bytes += binary_bytes;
            target.json_bytes += json_bytes;
        }
    }
    rows.retain(|(_, row)| row.frames > 0);
    (rows, total)
}

fn ratio(row: &Row) -> f64 {
    row.binary_bytes as f64 / row.json_bytes as f64
}

/// The report as JSON (written by hand: the numbers and kind names need no escaping).
fn report_json(rows: &[(Kind, Row)], total: &Row) -> String {
    let mut kinds = Vec::new();
    for (kind, row) in rows {
        kinds.push(format!(
            "    {{\"kind\": \"{}\", \"frames\": {}, \"binary_bytes\": {}, \"json_bytes\": {}, \"ratio\": {:.4}}}",
            kind.name(),
            row.frames,
            row.binary_bytes,
            row.json_bytes,
            ratio(row)
        ));
    }
    format!(
        "{{\n  \"mix_frames\": {},\n  \"binary_bytes\": {},\n  \"json_bytes\": {},\n  \"ratio\": {:.4},\n  \
         \"ratio_max\": {RATIO_MAX},\n  \"kinds\": [\n{}\n  ]\n}}\n",
        total.frames,
        total.binary_bytes,
        total.json_bytes,
        ratio(total),
        kinds.join(",\n")
    )
}

/// One table line: totals and per-frame averages.
fn print_row(name: &str, row: &Row) {
    println!(
        "{:<14} {:>7} {:>12} {:>12} {:>7.3} {:>9.1} {:>9.1}",
        name,
        row.frames,
        row.binary_bytes,
        row.json_bytes,
        ratio(row),
        row.binary_bytes as f64 / row.frames as f64,
        row.json_bytes as f64 / row.frames as f64
    );
}

fn main() -> ExitCode {
    let mix = standard_mix(MIX_FRAMES);
    let (rows, total) = measure(&mix);
    println!(
        "{:<14} {:>7} {:>12} {:>12} {:>7} {:>9} {:>9}",
        "kind", "frames", "binary B", "json B", "ratio", "bin/frm", "json/frm"
    );
    for (kind, row) in &rows {
        print_row(kind.name(), row);
    }
    print_row("TOTAL", &total);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/results/size_report.json");
    if let Err(error) = std::fs::write(path, report_json(&rows, &total)) {
        eprintln!("cannot write {path}: {error}");
        return ExitCode::FAILURE;
    }
    println!("wrote {path}");
    if ratio(&total) > RATIO_MAX {
        eprintln!("binary/json ratio {:.3} exceeds {RATIO_MAX}", ratio(&total));
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_at_most_60_percent_of_json_on_the_standard_mix() {
        let (_, total) = measure(&standard_mix(MIX_FRAMES));
        assert_eq!(total.frames, MIX_FRAMES as u64);
        assert!(ratio(&total) <= RATIO_MAX, "ratio {:.4}", ratio(&total));
    }

    #[test]
    fn mix_has_the_documented_proportions() {
        let (rows, _) = measure(&standard_mix(100));
        let count = |kind: Kind| {
            rows.iter()
                .find(|(k, _)| *k == kind)
                .map_or(0, |(_, row)| row.frames)
        };
        assert_eq!(count(Kind::Deliver), 30);
        assert_eq!(count(Kind::Send), 15);
        assert_eq!(count(Kind::Ack), 15);
        assert_eq!(count(Kind::Typing), 15);
        assert_eq!(count(Kind::ReadReceipt), 12);
        assert_eq!(count(Kind::Ping) + count(Kind::Pong), 10);
        assert_eq!(count(Kind::Ticket), 3);
    }
}
