//! The examples in docs/protocol.md are real encoder output, and the fuzz seed corpora are real frames.
//!
//! `cargo test -p switchboard-protocol --test app_examples` checks that every example block in the spec
//! (between `<!-- example: KIND -->` and `<!-- /example -->` markers) is exactly what the encoders produce
//! today, and that the fuzz seeds exist. After changing the encoder or the examples, regenerate with
//! `SWITCHBOARD_WRITE_EXAMPLES=1 cargo test -p switchboard-protocol --test app_examples`, which rewrites
//! the blocks in place and the seeds under `fuzz/corpus/app_frame/` and `fuzz/corpus/reassembler/`.

mod app_support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use app_support::*;
use switchboard_protocol::app::*;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn hex_lines(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|line| {
            line.iter()
                .map(|byte| format!("{byte:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The documentation block for one example frame.
fn example_block(frame: &OwnedFrame) -> String {
    let binary = to_binary(frame);
    let json = String::from_utf8(to_json(frame)).expect("JSON is UTF-8");
    let mut block = String::new();
    writeln!(
        block,
        "Example, binary ({} bytes):\n\n```text\n{}\n```\n",
        binary.len(),
        hex_lines(&binary)
    )
    .unwrap();
    writeln!(block, "Same frame, JSON:\n\n```json\n{json}\n```").unwrap();
    block
}

/// Seeds for the `reassembler` target: a stream of fragment frames cut from a large frame, with an urgent
/// frame between two pieces.
fn reassembler_seed() -> Vec<u8> {
    let mut encoder = Encoder::new();
    let big = OwnedFrame::new(Message::Send(SendMessage {
        message_id: EXAMPLE_MESSAGE_ID,
        conversation_id: 4821,
        text: "你好 hello ".repeat(40),
    }));
    let mut message = Vec::new();
    encoder.encode(&big, &mut message);
    let mut stream = Vec::new();
    for (position, piece) in (Fragmenter {
        fragment_data_bytes: 128,
    })
    .pieces(9, &message)
    .enumerate()
    {
        encode_fragment(Lane::Chat, piece, &mut stream);
        if position == 0 {
            encoder.encode(&examples()[Kind::Handoff as usize - 1], &mut stream);
        }
    }
    stream
}

/// The marker that opens the example block of `kind` in the spec.
fn begin_marker(kind: Kind) -> String {
    format!("<!-- example: {} -->\n", kind.name())
}

/// The marker that closes an example block.
const END_MARKER: &str = "<!-- /example -->";

/// The spec with every example block replaced by the current encoder output.
fn spec_with_current_examples(spec: &str) -> String {
    let mut spec = spec.to_owned();
    for frame in examples() {
        let begin = begin_marker(frame.message.kind());
        let start = spec.find(&begin).expect("marker present") + begin.len();
        let end = start + spec[start..].find(END_MARKER).expect("end marker present");
        spec.replace_range(start..end, &example_block(&frame));
    }
    let schema = std::fs::read_to_string(repository().join("protocol/schema/switchboard.fbs"))
        .expect("schema");
    let begin = "<!-- schema -->\n";
    let start = spec.find(begin).expect("schema marker present") + begin.len();
    let end = start
        + spec[start..]
            .find("<!-- /schema -->")
            .expect("end marker present");
    spec.replace_range(start..end, &format!("```fbs\n{schema}```\n"));
    spec
}

fn write_fixtures() {
    let root = repository();
    let spec_path = root.join("docs/protocol.md");
    let spec = std::fs::read_to_string(&spec_path).unwrap();
    std::fs::write(&spec_path, spec_with_current_examples(&spec)).unwrap();
    let app_corpus = root.join("fuzz/corpus/app_frame");
    let reassembler_corpus = root.join("fuzz/corpus/reassembler");
    std::fs::create_dir_all(&app_corpus).unwrap();
    std::fs::create_dir_all(&reassembler_corpus).unwrap();
    for frame in examples() {
        let name = frame.message.kind().name();
        // app_frame inputs start with a selector byte: even → binary, odd → JSON (see the fuzz target).
        std::fs::write(
            app_corpus.join(format!("{name}.bin")),
            [&[0u8][..], &to_binary(&frame)].concat(),
        )
        .unwrap();
        std::fs::write(
            app_corpus.join(format!("{name}.json")),
            [&[1u8][..], &to_json(&frame)].concat(),
        )
        .unwrap();
    }
    std::fs::write(
        reassembler_corpus.join("interleaved.bin"),
        reassembler_seed(),
    )
    .unwrap();
}

#[test]
fn spec_examples_are_real_encoder_output() {
    if std::env::var_os("SWITCHBOARD_WRITE_EXAMPLES").is_some() {
        write_fixtures();
    }
    let spec = std::fs::read_to_string(repository().join("docs/protocol.md"))
        .expect("docs/protocol.md exists");
    for frame in examples() {
        assert!(
            spec.contains(&begin_marker(frame.message.kind())),
            "no example marker for {:?}",
            frame.message.kind()
        );
    }
    assert!(
        spec == spec_with_current_examples(&spec),
        "docs/protocol.md examples or schema copy are stale; regenerate them (see this file's docs)"
    );
}

#[test]
fn fuzz_seed_corpora_exist() {
    let root = repository();
    for frame in examples() {
        let name = frame.message.kind().name();
        let seed = std::fs::read(root.join(format!("fuzz/corpus/app_frame/{name}.bin")))
            .expect("seed exists");
        assert_eq!(seed[1..], to_binary(&frame)[..], "seed for {name} is stale");
    }
    let seed =
        std::fs::read(root.join("fuzz/corpus/reassembler/interleaved.bin")).expect("seed exists");
    assert_eq!(seed, reassembler_seed());
}
