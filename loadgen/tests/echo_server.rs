//! End to end against the real `switchboard serve --mode echo`, started in-process on port 0.

use std::num::NonZeroUsize;

use clap::Parser;
use switchboard_loadgen::cli::Args;
use switchboard_loadgen::run::run;
use switchboard_shards::config::{Limits, Mode, ServeConfig, Shards};
use switchboard_shards::server::Server;

/// The per-connection frame rate limit of the test server: the largest the config accepts. These tests check
/// the echo path, not the rate limiter, and a closed-loop client on a fast machine (or a `--release` build)
/// sends more than the default 10,000 frames/s per connection, which would close it with 1008. No loopback
/// client reaches ten million frames per second on one connection.
const TEST_FRAMES_PER_SECOND_MAX: u64 = 10_000_000;

fn start_echo_server() -> Server {
    let config = ServeConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        shards: Shards::Count(NonZeroUsize::new(1).unwrap()),
        mode: Mode::Echo,
        admin_listen: None,
        limits: Limits {
            frames_per_second_max: TEST_FRAMES_PER_SECOND_MAX,
            ..Limits::default()
        },
        ..ServeConfig::default()
    };
    config.validate().unwrap();
    Server::start(&config).expect("echo server starts")
}

fn loadgen_args(server: &Server, extra: &[&str]) -> Args {
    let url = format!("ws://{}/", server.local_addr());
    let mut argv = vec!["switchboard-loadgen", "--url", &url, "--quiet"];
    argv.extend_from_slice(extra);
    Args::parse_from(argv)
}

#[test]
fn open_loop_echo_has_no_errors_and_every_message_returns() {
    let mut server = start_echo_server();
    let args = loadgen_args(
        &server,
        &[
            "--connections",
            "20",
            "--duration",
            "2",
            "--rate",
            "2000",
            "--threads",
            "2",
        ],
    );
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    server.drain();
    server.join().unwrap();
    let stats = outcome.stats;
    assert_eq!(
        stats.errors,
        Default::default(),
        "errors: {:?}",
        stats.errors
    );
    assert_eq!(stats.upgraded, 20);
    assert_eq!(stats.open_at_end, 20);
    assert!(stats.sent > 0);
    assert_eq!(stats.received, stats.sent);
    assert_eq!(
        (stats.lost, stats.duplicated, stats.out_of_order),
        (0, 0, 0)
    );
    assert_eq!(stats.correctness_failures(), 0);
    assert_eq!(stats.latency.len(), stats.received);
}

#[test]
fn closed_loop_echo_keeps_messages_in_flight_without_errors() {
    let mut server = start_echo_server();
    let args = loadgen_args(
        &server,
        &[
            "--connections",
            "10",
            "--duration",
            "1",
            "--closed-loop",
            "--in-flight",
            "4",
            "--threads",
            "1",
            "--size",
            "1024",
        ],
    );
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    server.drain();
    server.join().unwrap();
    let stats = outcome.stats;
    assert_eq!(
        stats.correctness_failures(),
        0,
        "errors: {:?}",
        stats.errors
    );
    assert!(
        stats.sent >= 40,
        "each connection sends its window at least"
    );
    assert_eq!(stats.received, stats.sent);
    assert_eq!(stats.bytes_received, stats.sent * 1024);
}

#[test]
fn idle_connections_hold_and_close_cleanly() {
    let mut server = start_echo_server();
    let args = loadgen_args(
        &server,
        &[
            "--scenario",
            "idle",
            "--connections",
            "200",
            "--duration",
            "1",
            "--threads",
            "2",
            "--source-addrs",
            "127.0.0.2-127.0.0.5",
        ],
    );
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    server.drain();
    server.join().unwrap();
    let stats = outcome.stats;
    assert_eq!(
        stats.correctness_failures(),
        0,
        "errors: {:?}",
        stats.errors
    );
    assert_eq!(stats.open_at_end, 200);
    assert_eq!(stats.sent, 0);
}

#[test]
fn refused_connections_are_counted_by_cause() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ws://127.0.0.1:{port}/");
    let args = Args::parse_from([
        "switchboard-loadgen",
        "--url",
        &url,
        "--quiet",
        "--connections",
        "3",
        "--duration",
        "0.5",
        "--threads",
        "1",
    ]);
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    let stats = outcome.stats;
    assert_eq!(stats.upgraded, 0);
    assert_eq!(stats.error_count(), 3);
    assert!(
        stats
            .errors
            .keys()
            .all(|cause| cause.starts_with("connect: ")),
        "{:?}",
        stats.errors
    );
}

#[test]
fn binary_writes_the_documented_json_and_exits_zero() {
    let mut server = start_echo_server();
    let url = format!("ws://{}/", server.local_addr());
    let out = std::env::temp_dir().join(format!("loadgen-result-{}.json", std::process::id()));
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard-loadgen"))
        .args([
            "--url",
            &url,
            "--quiet",
            "--connections",
            "4",
            "--duration",
            "1",
            "--rate",
            "200",
        ])
        .args(["--threads", "1", "--out", out.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the binary runs");
    server.drain();
    server.join().unwrap();
    assert!(status.success(), "exit status {status}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["tool"], "switchboard-loadgen");
    assert_eq!(json["scenario"], "echo");
    assert_eq!(json["pacing"]["mode"], "open_loop");
    assert_eq!(json["connections"]["upgraded"], 4);
    assert_eq!(json["messages"]["sent"], json["messages"]["received"]);
    assert_eq!(json["latency"][0]["kind"], "echo");
    for field in ["p50", "p90", "p99", "p99_9", "p99_99", "max"] {
        assert!(json["latency"][0][field].is_number(), "latency.{field}");
        assert!(
            json["connect_latency"][field].is_number(),
            "connect_latency.{field}"
        );
    }
    assert_eq!(json["errors"]["total"], 0);
    assert_eq!(json["correctness_ok"], true);
    assert!(json["cpu"]["total_secs"].is_number());
}
