//! The switchboard.v1 scenarios end to end against an in-process `switchboard serve --mode chat`: each
//! runs briefly with a few connections and must finish with nothing lost, duplicated, reordered or
//! unacked, and a JSON report that parses. No timing is asserted.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use clap::Parser;
use switchboard_loadgen::cli::Args;
use switchboard_loadgen::report::{RunReport, RunTimes};
use switchboard_loadgen::run::{run, RunOutcome};
use switchboard_shards::auth::{KeyConfig, KeyringConfig};
use switchboard_shards::config::{Engine, Mode, ServeConfig, Shards};
use switchboard_shards::log::Durability;
use switchboard_shards::server::Server;

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-chat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn start_chat_server(dir: &Path) -> Server {
    let mut config = ServeConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        shards: Shards::Count(NonZeroUsize::new(2).unwrap()),
        mode: Mode::Chat,
        engine: Engine::Auto,
        admin_listen: None,
        data_dir: dir.to_path_buf(),
        auth: Some(KeyringConfig {
            active_key_id: "load".into(),
            clock_skew_s: 60,
            keys: vec![KeyConfig {
                id: "load".into(),
                secret_hex: Some(KEY_HEX.into()),
                secret_base64: None,
            }],
        }),
        ..ServeConfig::default()
    };
    // Buffered keeps the test quick on a shared disk; fsync is covered by the server's own tests.
    config.log.durability = Durability::Buffered;
    config.limits.drain_timeout_ms = 2_000;
    config.chat.lift_client_quotas();
    config.validate().expect("chat test configuration is valid");
    Server::start(&config).expect("chat server starts")
}

/// Runs `scenario` with the `[chat]` lines in `chat` for `duration` seconds; returns the outcome.
fn run_scenario(name: &str, scenario: &str, chat: &str, extra: &[&str]) -> (RunOutcome, String) {
    let dir = temp_dir(name);
    let mut server = start_chat_server(&dir.join("data"));
    let file = dir.join("scenario.toml");
    let text = format!(
        "scenario = \"{scenario}\"\n\n[chat]\n{chat}\n\n[auth]\nactive_key_id = \"load\"\n\
         keys = [{{ id = \"load\", secret_hex = \"{KEY_HEX}\" }}]\n"
    );
    std::fs::write(&file, text).unwrap();
    let url = format!("ws://{}/ws", server.local_addr());
    let mut argv = vec![
        "switchboard-loadgen",
        "--url",
        &url,
        "--quiet",
        "--scenario-file",
        file.to_str().unwrap(),
        "--drain",
        "10",
    ];
    argv.extend_from_slice(extra);
    let args = Args::parse_from(argv.iter().copied());
    let config = args.to_config().expect("valid configuration");
    let outcome = run(config.clone(), false).expect("run completes");
    server.drain();
    server.join().expect("no server shard panicked");
    let times = RunTimes {
        elapsed_secs: outcome.times.elapsed_secs,
        cpu: outcome.times.cpu,
    };
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    let report = RunReport::new(&config, argv, &outcome.stats, times);
    let json = serde_json::to_string_pretty(&report).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    (outcome, json)
}

fn assert_clean(outcome: &RunOutcome, json: &str) {
    let stats = &outcome.stats;
    assert_eq!(
        stats.errors,
        Default::default(),
        "errors: {:?}",
        stats.errors
    );
    assert_eq!(
        (
            stats.lost,
            stats.duplicated,
            stats.out_of_order,
            stats.unacked,
            stats.gaps
        ),
        (0, 0, 0, 0, 0),
        "lost, duplicated, out of order, unacked, gaps"
    );
    assert_eq!(stats.skipped_backlog, 0);
    assert!(stats.sent > 0, "something was sent");
    assert_eq!(stats.acked, stats.sent, "every send acked exactly once");
    assert!(stats.received > 0, "followers got deliveries");
    let value: serde_json::Value = serde_json::from_str(json).expect("the report is JSON");
    assert_eq!(value["correctness_ok"], true);
    assert_eq!(value["latency"][0]["kind"], "ack");
    assert_eq!(value["latency"][1]["kind"], "deliver");
}

#[test]
fn chat_customers_and_replying_agents() {
    let (outcome, json) = run_scenario(
        "chat",
        "chat",
        "customers_per_agent = 3\nagent_think_ms = 50",
        &[
            "--connections",
            "8",
            "--duration",
            "2",
            "--rate",
            "40",
            "--threads",
            "2",
        ],
    );
    assert_clean(&outcome, &json);
    assert_eq!(outcome.stats.upgraded, 8);
}

#[test]
fn routed_chat_bot_answers_handoffs_and_agents() {
    // 2 threads × (1 agent + 5 customers); customer kinds by share: with these shares each thread has at
    // least one out-of-scope or angry customer (handed off) and bot-question customers.
    let (outcome, json) = run_scenario(
        "routed",
        "chat",
        "customers_per_agent = 5\nagent_think_ms = 50\nrouting = true\n\
         bot_question_share = 0.6\nout_of_scope_share = 0.25\nangry_share = 0.15",
        &[
            "--connections",
            "12",
            "--duration",
            "2",
            "--rate",
            "30",
            "--threads",
            "2",
        ],
    );
    assert_clean(&outcome, &json);
    let stats = &outcome.stats;
    assert!(stats.bot_answers > 0, "the bot answered: {stats:?}");
    assert!(stats.handoffs > 0, "customers were handed off");
    assert!(stats.assignments > 0, "agents were assigned by the server");
    assert!(!stats.handoff_latency.is_empty(), "handoffs were timed");
    assert!(
        !stats.agent_reply_latency.is_empty(),
        "agent replies reached customers"
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["latency"][2]["kind"], "bot_answer");
    assert_eq!(value["latency"][2]["lane"], "ai_answer");
    assert_eq!(value["routing"]["bot_answers"], stats.bot_answers);
}

#[test]
fn churn_resumes_without_loss_or_duplicates() {
    let (outcome, json) = run_scenario(
        "churn",
        "churn",
        "customers_per_agent = 2\nagent_think_ms = 20\nchurn_rate = 6.0",
        &[
            "--connections",
            "6",
            "--duration",
            "3",
            "--rate",
            "60",
            "--threads",
            "1",
        ],
    );
    assert_clean(&outcome, &json);
    assert!(outcome.stats.reconnects > 0, "connections churned");
}

#[test]
fn burst_spikes_and_stays_correct() {
    let (outcome, json) = run_scenario(
        "burst",
        "burst",
        "customers_per_agent = 2\nagent_reply_every = 2\nburst_start = 0.5\nburst_duration = 1.0",
        &[
            "--connections",
            "6",
            "--duration",
            "2",
            "--rate",
            "30",
            "--threads",
            "1",
        ],
    );
    assert_clean(&outcome, &json);
}

#[test]
fn fanout_reaches_every_follower() {
    let (outcome, json) = run_scenario(
        "fanout",
        "fanout",
        "",
        &[
            "--connections",
            "8",
            "--duration",
            "2",
            "--rate",
            "20",
            "--threads",
            "1",
        ],
    );
    assert_clean(&outcome, &json);
    // Every acked message reaches the 7 followers (live or by replay).
    assert_eq!(outcome.stats.received, outcome.stats.acked * 7);
}
