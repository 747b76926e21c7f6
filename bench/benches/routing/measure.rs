//! Plain (non-criterion) routing measurements written as JSON for `bench/results/`: per-message
//! classification latency percentiles, routing decisions per second, and start-up training time.
//!
//! Percentiles are exact (every sample kept and sorted), not histogram buckets: a few hundred thousand
//! samples fit in memory. Each sample is timed with two `Instant::now()` calls, which adds a constant
//! of a few tens of nanoseconds; `timer_overhead_ns` in the JSON states it as measured on the machine.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};
use switchboard_core::engine::ConnId;
use switchboard_shards::routing::shard::ConsoleRef;

use switchboard_shards::routing::brain::Brain;
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::labelled::LabelledSet;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::sentiment;
use switchboard_shards::routing::shard::{RoutingInput, RoutingShard, RoutingShardConfig};

/// The shipped held-out set: never used for training, so these are the messages a bot really meets.
const HELDOUT_TOML: &str = include_str!("../../../shards/kb/heldout.toml");
/// Passes over the held-out set when timing classification.
const CLASSIFY_PASSES: usize = 50;
/// Conversations in the recorded routing stream.
const STREAM_CONVERSATIONS: u64 = 20_000;
/// Customer messages per conversation in the stream.
const STREAM_MESSAGES_PER_CONVERSATION: u64 = 3;
/// Agents online in the stream (every one in every group).
const STREAM_AGENTS: u32 = 50;
/// Replays of the recorded stream (each on a fresh shard); the best and median are reported.
const STREAM_REPLAYS: usize = 5;
/// Trainings timed.
const TRAIN_RUNS: usize = 5;
/// Lines a stream customer says when out of scope, and when angry.
const OUT_OF_SCOPE: &str = "qwzx plorf";
const ANGRY: &str = "你们这帮骗子,马上退钱!!!";

/// Runs every measurement and writes the JSON files into `dir`.
pub fn run(dir: &Path) {
    std::fs::create_dir_all(dir).expect("results directory");
    let kb = KnowledgeBase::builtin().expect("built-in KB");
    let set = LabelledSet::parse(HELDOUT_TOML).expect("held-out set");
    let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
    let texts: Vec<&str> = set.messages.iter().map(|m| m.text.as_str()).collect();
    write(dir, "routing-classify.json", &classify(&brain, &texts));
    write(
        dir,
        "routing-decisions.json",
        &decisions(&kb, &brain, &texts),
    );
    write(dir, "routing-train.json", &train(&kb));
}

fn write(dir: &Path, name: &str, value: &serde_json::Value) {
    let path = dir.join(name);
    let text = serde_json::to_string_pretty(value).expect("JSON");
    std::fs::write(&path, text + "\n").expect("write result");
    println!("wrote {}", path.display());
}

/// p50/p90/p99/p99.9/max of nanosecond samples, in nanoseconds.
fn percentiles(samples: &mut [u64]) -> serde_json::Value {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64;
    serde_json::json!({
        "count": samples.len(), "p50_ns": at(0.5), "p90_ns": at(0.9), "p99_ns": at(0.99),
        "p99_9_ns": at(0.999), "max_ns": at(1.0), "mean_ns": mean })
}

/// The cost of timing an empty interval, median of many.
fn timer_overhead_ns() -> u64 {
    let mut samples: Vec<u64> = (0..10_000)
        .map(|_| {
            let start = Instant::now();
            black_box(());
            start.elapsed().as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Each held-out message classified (and scored for sentiment) one at a time.
fn classify(brain: &NgramBrain, texts: &[&str]) -> serde_json::Value {
    let mut probabilities = Vec::new();
    let mut classify_ns = Vec::with_capacity(texts.len() * CLASSIFY_PASSES);
    let mut sentiment_ns = Vec::with_capacity(texts.len() * CLASSIFY_PASSES);
    for _ in 0..CLASSIFY_PASSES {
        for text in texts {
            let start = Instant::now();
            brain.classify_into(black_box(text), &mut probabilities);
            classify_ns.push(start.elapsed().as_nanos() as u64);
            let start = Instant::now();
            black_box(sentiment::score(black_box(text)));
            sentiment_ns.push(start.elapsed().as_nanos() as u64);
        }
    }
    serde_json::json!({
        "benchmark": "routing-classify",
        "what": "NgramBrain::classify_into and sentiment::score of one held-out message (shards/kb/heldout.toml), \
                 each timed alone",
        "messages": texts.len(), "passes": CLASSIFY_PASSES,
        "timer_overhead_ns": timer_overhead_ns(),
        "classify": percentiles(&mut classify_ns),
        "sentiment": percentiles(&mut sentiment_ns) })
}

/// The recorded stream: agents come online, then conversations of three customer messages each (most
/// ask held-out questions, some are out of scope or angry), each resolved at its end so agents free up.
fn stream(texts: &[&str], groups: &[u32]) -> Vec<RoutingInput> {
    let tenant = 1;
    let mut inputs: Vec<RoutingInput> = (0..STREAM_AGENTS)
        .map(|agent| RoutingInput::AgentOnline {
            tenant,
            agent: agent + 1,
            groups: groups.to_vec(),
            shard: 0,
            console: ConsoleRef {
                shard: 0,
                conn: ConnId::new(0, 0),
            },
        })
        .collect();
    for conversation in 1..=STREAM_CONVERSATIONS {
        for sequence in 1..=STREAM_MESSAGES_PER_CONVERSATION {
            let n = (conversation * STREAM_MESSAGES_PER_CONVERSATION + sequence) as usize;
            let text = match conversation % 20 {
                0 => ANGRY,
                1..=3 => OUT_OF_SCOPE,
                _ => texts[n % texts.len()],
            };
            inputs.push(RoutingInput::CustomerMessage {
                tenant,
                conversation,
                customer: conversation,
                sequence: sequence * 2 - 1,
                text: text.to_string(),
                customer_value: 0.5,
                raw: None,
            });
        }
        inputs.push(RoutingInput::ConversationResolved {
            tenant,
            conversation,
        });
    }
    inputs
}

/// Replays the stream on fresh shards (the brain trained once, cloned): inputs and outputs per second.
fn decisions(kb: &KnowledgeBase, brain: &NgramBrain, texts: &[&str]) -> serde_json::Value {
    let config = RoutingShardConfig::default();
    let fresh =
        || RoutingShard::with_brain(config.clone(), kb.clone(), brain.clone()).expect("shard");
    let groups: Vec<u32> = fresh().groups().iter().map(|g| g.id).collect();
    let recorded = stream(texts, &groups);
    let mut runs = Vec::new();
    let mut outputs = 0u64;
    for _ in 0..STREAM_REPLAYS {
        let mut shard = fresh();
        let inputs = recorded.clone();
        outputs = 0;
        let start = Instant::now();
        for (now_ms, input) in inputs.into_iter().enumerate() {
            // Refusals (none expected) are counted by the shard and reported below.
            let _ = shard.handle(now_ms as u64, input);
            while let Some(output) = shard.poll_output() {
                black_box(output);
                outputs += 1;
            }
        }
        runs.push((start.elapsed(), shard.counters()));
    }
    runs.sort_by_key(|(elapsed, _)| *elapsed);
    let secs = |d: Duration| d.as_secs_f64();
    let (best, counters) = runs[0];
    let median = runs[runs.len() / 2].0;
    let inputs = recorded.len() as f64;
    serde_json::json!({
        "benchmark": "routing-decisions",
        "what": "RoutingShard (sans-IO) fed a recorded stream in a tight loop: agents online, then conversations \
                 of 3 customer messages (80% held-out questions, 15% out of scope, 5% angry), each resolved",
        "agents": STREAM_AGENTS, "conversations": STREAM_CONVERSATIONS,
        "inputs": recorded.len(), "outputs": outputs, "replays": STREAM_REPLAYS,
        "inputs_per_sec_best": inputs / secs(best), "inputs_per_sec_median": inputs / secs(median),
        "outputs_per_sec_best": outputs as f64 / secs(best),
        "customer_messages_per_sec_best":
            (STREAM_CONVERSATIONS * STREAM_MESSAGES_PER_CONVERSATION) as f64 / secs(best),
        "elapsed_secs_best": secs(best), "elapsed_secs_median": secs(median),
        "counters": format!("{counters:?}") })
}

/// Parsing the shipped knowledge base and training the brain, as the server does at start-up.
fn train(kb: &KnowledgeBase) -> serde_json::Value {
    let mut parse_ms = Vec::new();
    let mut train_ms = Vec::new();
    for _ in 0..TRAIN_RUNS {
        let start = Instant::now();
        black_box(KnowledgeBase::builtin().expect("built-in KB"));
        parse_ms.push(start.elapsed().as_secs_f64() * 1e3);
        let start = Instant::now();
        black_box(NgramBrain::train(kb, &TrainConfig::default()).expect("train"));
        train_ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        serde_json::json!({ "min_ms": v[0], "median_ms": v[v.len() / 2], "max_ms": v[v.len() - 1] })
    };
    serde_json::json!({
        "benchmark": "routing-train",
        "what": "KnowledgeBase::builtin (parse + validate) and NgramBrain::train with TrainConfig::default",
        "intents": kb.intents.len(), "training_examples": kb.training_examples().len(),
        "runs": TRAIN_RUNS, "parse": sorted(parse_ms), "train": sorted(train_ms) })
}
