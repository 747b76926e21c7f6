//! Routing/AI benchmarks: classification latency of one message, training time, and routing decisions
//! per second.
//!
//! Run a short smoke with `cargo bench -p switchboard-bench --bench routing -- --warm-up-time 0.2
//! --measurement-time 0.5`.
//!
//! With `ROUTING_RESULTS_DIR=DIR` set, criterion does not run; instead the plain measurements in
//! [`measure`] write `DIR/routing-classify.json` (per-message classification latency over the held-out
//! set), `DIR/routing-decisions.json` (a `RoutingShard` fed a recorded stream in a tight loop) and
//! `DIR/routing-train.json` (start-up training of the shipped knowledge base). `bench/scripts/routing.sh`
//! does that with a release build.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use switchboard_shards::routing::agents::{AgentSpec, GroupSpec, Presence};
use switchboard_shards::routing::brain::Brain;
use switchboard_shards::routing::events::{HandoffRequest, RouterInput};
use switchboard_shards::routing::kb::KnowledgeBase;
use switchboard_shards::routing::ngram::{NgramBrain, TrainConfig};
use switchboard_shards::routing::router::{Router, RouterConfig};
use switchboard_shards::routing::sentiment;
use switchboard_shards::routing::ticket::Priority;

fn classify(c: &mut Criterion) {
    let kb = KnowledgeBase::builtin().expect("built-in KB");
    let brain = NgramBrain::train(&kb, &TrainConfig::default()).expect("train");
    let mut probabilities = Vec::new();
    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("zh_message", |b| {
        b.iter(|| {
            brain.classify_into(
                black_box("我昨天买的课程想退款,订单号202403150001234567"),
                &mut probabilities,
            )
        })
    });
    group.bench_function("en_message", |b| {
        b.iter(|| {
            brain.classify_into(
                black_box("I was charged twice for my premium membership"),
                &mut probabilities,
            )
        })
    });
    group.bench_function("sentiment", |b| {
        b.iter(|| sentiment::score(black_box("你们这帮骗子,马上退钱!!!")))
    });
    group.finish();
}

fn train(c: &mut Criterion) {
    let kb = KnowledgeBase::builtin().expect("built-in KB");
    let mut group = c.benchmark_group("train");
    group.sample_size(10);
    group.bench_function("video_platform_kb", |b| {
        b.iter(|| NgramBrain::train(black_box(&kb), &TrainConfig::default()).expect("train"))
    });
    group.finish();
}

const GROUPS: u32 = 8;
const AGENTS: u32 = 200;

/// A router with `AGENTS` online agents across `GROUPS` groups, big enough never to fill up.
fn staffed_router() -> Router {
    let mut router = Router::new(RouterConfig::default()).expect("config");
    for g in 0..GROUPS {
        router
            .handle(
                0,
                RouterInput::AddGroup(GroupSpec {
                    id: g,
                    skill: format!("s{g}"),
                }),
            )
            .expect("group");
    }
    for a in 0..AGENTS {
        let skills = vec![(format!("s{}", a % GROUPS), 0.8)];
        let spec = AgentSpec {
            id: a,
            groups: vec![a % GROUPS],
            skills,
            seniority: 0.5,
            capacity: 1_000_000,
        };
        router
            .handle(0, RouterInput::AddAgent(spec))
            .expect("agent");
        router
            .handle(
                0,
                RouterInput::SetPresence {
                    agent: a,
                    presence: Presence::Online,
                },
            )
            .expect("online");
    }
    router
}

fn route(c: &mut Criterion) {
    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(1));
    group.bench_function("enqueue_assign_close", |b| {
        let mut router = staffed_router();
        let mut conversation = 0u64;
        b.iter(|| {
            conversation += 1;
            let request = HandoffRequest {
                conversation,
                group: (conversation % u64::from(GROUPS)) as u32,
                skill: format!("s{}", conversation % u64::from(GROUPS)),
                customer_value: 0.5,
                priority: Priority::Normal,
                summary: None,
            };
            router
                .handle(conversation, RouterInput::Enqueue(request))
                .expect("enqueue");
            router
                .handle(conversation, RouterInput::Close { conversation })
                .expect("close");
            while router.poll_event().is_some() {}
        })
    });
    group.finish();
}

/// Private, so the undocumented `pub fn` that `criterion_group!` generates is not a public item.
mod groups {
    use super::{classify, route, train};
    criterion::criterion_group!(benches, classify, train, route);
}

#[path = "routing/measure.rs"]
mod measure;

fn main() {
    if let Some(dir) = std::env::var_os("ROUTING_RESULTS_DIR") {
        measure::run(std::path::Path::new(&dir));
        return;
    }
    groups::benches();
    Criterion::default().configure_from_args().final_summary();
}
