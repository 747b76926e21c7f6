//! The Prometheus text exposition (format 0.0.4) of `/metrics`: every metric name, type and label the admin
//! listener exports, merged across shards at scrape time. `docs/operations.md` lists them for operators and
//! dashboards; keep the two in step.
//!
//! Ratios (ring occupancy, group fairness) are fractional, so they are written by hand after the integer
//! families, like the process metrics. The routing families appear only when the routing shard runs.
//!
//! Not exported yet: the `persisted` and `delivered` delivery stages.

use std::fmt::Write as _;

use switchboard_core::engine::{BackendKind, ChoiceReason, EngineChoice};
use switchboard_core::metrics::{MetricKind, PrometheusText, Snapshot};

use super::process;
use super::source::AdminSource;
use crate::conn::Lane;
use crate::server::chat_stats::{
    RoutingStatsReader, CHAT_COUNTERS, CHAT_STAGES, ROUTING_DECISIONS,
};
use crate::server::stats::{CloseCause, StatsReader};

/// Renders the whole exposition.
pub fn render_metrics(source: &AdminSource) -> String {
    let mut text = PrometheusText::new();
    render_server(&mut text, source);
    render_connections(&mut text, source.shards());
    render_traffic(&mut text, source.shards());
    render_latency(&mut text, source.shards());
    render_chat(&mut text, source.shards());
    if let Some(routing) = source.routing() {
        render_routing(&mut text, routing);
    }
    let mut out = text.finish();
    render_ring_occupancy(&mut out, source.shards());
    if let Some(routing) = source.routing() {
        render_fairness(&mut out, routing);
    }
    render_process(&mut out);
    out
}

fn render_routing(text: &mut PrometheusText, routing: &RoutingStatsReader) {
    text.family(
        "switchboard_routing_decisions_total",
        "Routing shard decisions by kind (bot answers, follow-up questions, tickets, handoffs queued for a \
         human, assignments, re-queues, transfers).",
        MetricKind::Counter,
    );
    for (index, decision) in ROUTING_DECISIONS.iter().enumerate() {
        text.counter(
            "switchboard_routing_decisions_total",
            &[("decision", decision)],
            routing.decision(index),
        );
    }
    text.family(
        "switchboard_routing_customer_messages_total",
        "Customer messages the routing shard received (classified unless duplicate or already with a human).",
        MetricKind::Counter,
    );
    text.counter(
        "switchboard_routing_customer_messages_total",
        &[],
        routing.customer_messages(),
    );
    text.family(
        "switchboard_routing_classifications_total",
        "Customer messages the intent classifier ran on (the bot's phase of a conversation).",
        MetricKind::Counter,
    );
    text.counter(
        "switchboard_routing_classifications_total",
        &[],
        routing.classifications(),
    );
    text.family(
        "switchboard_routing_queue_depth",
        "Conversations waiting in a group queue for a human agent.",
        MetricKind::Gauge,
    );
    text.gauge("switchboard_routing_queue_depth", &[], routing.waiting());
}

/// Writes `# HELP`/`# TYPE gauge` of a fractional gauge family.
fn float_family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// Writes `name{label="value"} number`, escaping the label value and spelling infinities as Prometheus does.
fn float_sample(out: &mut String, name: &str, label: (&str, &str), value: f64) {
    let _ = write!(out, "{name}{{{}=\"", label.0);
    for c in label.1.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push_str("\"} ");
    if value.is_nan() {
        out.push_str("NaN");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{value}");
    }
    out.push('\n');
}

fn render_ring_occupancy(out: &mut String, shards: &[StatsReader]) {
    float_family(
        out,
        "switchboard_ring_occupancy_ratio",
        "Occupancy of the shard's fullest outgoing cross-core ring (to the other shards and the routing \
         shard), 0 to 1 of its capacity; 0 in echo mode.",
    );
    let mut label = String::new();
    for (index, shard) in shards.iter().enumerate() {
        label.clear();
        let _ = write!(label, "{index}");
        let ratio = shard.chat().ring_occupancy_ratio();
        float_sample(
            out,
            "switchboard_ring_occupancy_ratio",
            ("shard", &label),
            ratio,
        );
    }
}

fn render_fairness(out: &mut String, routing: &RoutingStatsReader) {
    float_family(
        out,
        "switchboard_routing_fairness_ratio",
        "Highest over lowest load of a group's online agents (worst tenant; 1 when even, +Inf while one idles \
         and another works); groups with no online agent are absent.",
    );
    for (group, ratio) in routing.fairness() {
        float_sample(
            out,
            "switchboard_routing_fairness_ratio",
            ("group", group),
            ratio,
        );
    }
}

/// Sums `value` over every shard.
fn total(shards: &[StatsReader], value: impl Fn(&StatsReader) -> u64) -> u64 {
    shards.iter().map(value).sum()
}

fn render_server(text: &mut PrometheusText, source: &AdminSource) {
    text.family(
        "switchboard_shards",
        "Connection shards (one thread per core).",
        MetricKind::Gauge,
    );
    text.gauge("switchboard_shards", &[], source.shards().len() as i64);
    text.family(
        "switchboard_draining",
        "1 while the server drains (no new connections), else 0.",
        MetricKind::Gauge,
    );
    text.gauge("switchboard_draining", &[], i64::from(source.draining()));
    text.family(
        "switchboard_degradation_mode",
        "Degradation mode of the node (the worst shard's): 0 normal, 1 brownout, 2 survival.",
        MetricKind::Gauge,
    );
    let mode = source
        .shards()
        .iter()
        .map(|shard| shard.chat().mode())
        .max()
        .unwrap_or(0);
    text.gauge("switchboard_degradation_mode", &[], mode);
    text.family(
        "switchboard_log_degraded_shards",
        "Shards whose durable log is degraded (a write or sync failed; sends refused, retrying with backoff).",
        MetricKind::Gauge,
    );
    let degraded = source
        .shards()
        .iter()
        .filter(|shard| shard.chat().log_degraded())
        .count();
    text.gauge("switchboard_log_degraded_shards", &[], degraded as i64);
    text.family(
        "switchboard_engine_info",
        "The I/O engine the shards use and why; always 1.",
        MetricKind::Gauge,
    );
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for choice in source.engines() {
        let labels = engine_labels(choice);
        if !seen.contains(&labels) {
            seen.push(labels);
            text.gauge(
                "switchboard_engine_info",
                &[("engine", labels.0), ("reason", labels.1)],
                1,
            );
        }
    }
}

/// The `engine` and `reason` labels of a choice: short fixed words, so the series count stays bounded.
fn engine_labels(choice: &EngineChoice) -> (&'static str, &'static str) {
    let engine = match choice.backend {
        BackendKind::IoUring => "io_uring",
        BackendKind::Epoll => "epoll",
    };
    let reason = match choice.reason {
        ChoiceReason::UringWorks(_) => "io_uring_works",
        ChoiceReason::EpollRequested => "epoll_requested",
        ChoiceReason::UringUnavailable(_) => "io_uring_unavailable",
    };
    (engine, reason)
}

fn render_connections(text: &mut PrometheusText, shards: &[StatsReader]) {
    text.family(
        "switchboard_connections_open",
        "Connections open now.",
        MetricKind::Gauge,
    );
    text.gauge(
        "switchboard_connections_open",
        &[],
        shards.iter().map(StatsReader::open).sum(),
    );
    text.family(
        "switchboard_connections_accepted_total",
        "Connections accepted (including those refused at capacity or while draining).",
        MetricKind::Counter,
    );
    text.counter(
        "switchboard_connections_accepted_total",
        &[],
        total(shards, StatsReader::accepted),
    );
    text.family(
        "switchboard_connections_closed_total",
        "Connections ended, by reason.",
        MetricKind::Counter,
    );
    for cause in CloseCause::ALL {
        let closed = total(shards, |shard| shard.closed(cause));
        text.counter(
            "switchboard_connections_closed_total",
            &[("reason", cause.label())],
            closed,
        );
    }
    text.family(
        "switchboard_heartbeat_timeouts_total",
        "Connections dropped because a ping went unanswered past its deadline.",
        MetricKind::Counter,
    );
    let timeouts = total(shards, |shard| shard.closed(CloseCause::Heartbeat));
    text.counter("switchboard_heartbeat_timeouts_total", &[], timeouts);
    text.family(
        "switchboard_shard_queue_depth",
        "Connections of the shard with messages queued and not yet handed to the kernel.",
        MetricKind::Gauge,
    );
    let mut label = String::new();
    for (index, shard) in shards.iter().enumerate() {
        label.clear();
        let _ = write!(label, "{index}");
        text.gauge(
            "switchboard_shard_queue_depth",
            &[("shard", &label)],
            shard.queue_depth(),
        );
    }
}

fn render_traffic(text: &mut PrometheusText, shards: &[StatsReader]) {
    text.family(
        "switchboard_messages_total",
        "Messages by direction (in: from clients; chat mode counts switchboard.v1 frames by their lane, echo mode WebSocket messages; out: handed to the kernel, by the lane they were queued on) and lane.",
        MetricKind::Counter,
    );
    for lane in Lane::ALL {
        let received = total(shards, |shard| shard.messages_in(lane));
        text.counter(
            "switchboard_messages_total",
            &[("direction", "in"), ("lane", lane.name())],
            received,
        );
        let sent = total(shards, |shard| shard.messages_out(lane));
        text.counter(
            "switchboard_messages_total",
            &[("direction", "out"), ("lane", lane.name())],
            sent,
        );
    }
    text.family(
        "switchboard_bytes_total",
        "Bytes on client connections, by direction.",
        MetricKind::Counter,
    );
    text.counter(
        "switchboard_bytes_total",
        &[("direction", "in")],
        total(shards, StatsReader::bytes_received),
    );
    text.counter(
        "switchboard_bytes_total",
        &[("direction", "out")],
        total(shards, StatsReader::bytes_sent),
    );
    text.family(
        "switchboard_flushes_deferred_total",
        "Connection flushes put off to the next tick because a tick starts at most 1024 sends (bursts).",
        MetricKind::Counter,
    );
    text.counter(
        "switchboard_flushes_deferred_total",
        &[],
        total(shards, StatsReader::flushes_deferred),
    );
}

fn render_chat(text: &mut PrometheusText, shards: &[StatsReader]) {
    text.family(
        "switchboard_chat_events_total",
        "Conversation-layer events by kind (stored messages, duplicates, refusals, resumes, gaps, PII, …).",
        MetricKind::Counter,
    );
    for (index, event) in CHAT_COUNTERS.iter().enumerate() {
        let value = total(shards, |shard| shard.chat().counter(index));
        text.counter("switchboard_chat_events_total", &[("event", event)], value);
    }
    text.family(
        "switchboard_conversations",
        "Conversations held by their owner shards.",
        MetricKind::Gauge,
    );
    let conversations = shards
        .iter()
        .map(|shard| shard.chat().conversations())
        .sum();
    text.gauge("switchboard_conversations", &[], conversations);
    let mut commit = Snapshot::empty();
    for shard in shards {
        commit.merge(&shard.chat().commit_latency());
    }
    text.family(
        "switchboard_log_commit_latency_seconds",
        "Durable log group commit, from the write's submission to the end of its fdatasync.",
        MetricKind::Histogram,
    );
    text.histogram("switchboard_log_commit_latency_seconds", &[], &commit);
    text.family(
        "switchboard_chat_stage_latency_seconds",
        "Chat message latency from the decoded send to each stage: persisted (log commit done, acked) and delivered (queued to a follower connection).",
        MetricKind::Histogram,
    );
    for (index, stage) in CHAT_STAGES.iter().enumerate() {
        let mut merged = Snapshot::empty();
        for shard in shards {
            merged.merge(&shard.chat().stage_latency(index));
        }
        text.histogram(
            "switchboard_chat_stage_latency_seconds",
            &[("stage", stage)],
            &merged,
        );
    }
}

fn render_latency(text: &mut PrometheusText, shards: &[StatsReader]) {
    let merged = |snapshot: fn(&StatsReader) -> Snapshot| {
        let mut all = Snapshot::empty();
        for shard in shards {
            all.merge(&snapshot(shard));
        }
        all
    };
    text.family(
        "switchboard_heartbeat_rtt_seconds",
        "Heartbeat ping to pong round trip (measured in whole milliseconds).",
        MetricKind::Histogram,
    );
    text.histogram(
        "switchboard_heartbeat_rtt_seconds",
        &[],
        &merged(StatsReader::heartbeat_rtt),
    );
    text.family(
        "switchboard_delivery_latency_seconds",
        "Time a message spends in the server, by stage (sent: from the read that carried it to handing its \
         echo to the kernel).",
        MetricKind::Histogram,
    );
    text.histogram(
        "switchboard_delivery_latency_seconds",
        &[("stage", "sent")],
        &merged(StatsReader::delivery_sent),
    );
}

/// Appends the process metrics; written by hand because CPU seconds are fractional.
fn render_process(out: &mut String) {
    if let Some(bytes) = process::resident_memory_bytes() {
        out.push_str("# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
        out.push_str("# TYPE process_resident_memory_bytes gauge\n");
        let _ = writeln!(out, "process_resident_memory_bytes {bytes}");
    }
    if let Some(ticks) = process::cpu_ticks() {
        out.push_str(
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n",
        );
        out.push_str("# TYPE process_cpu_seconds_total counter\n");
        let (whole, fraction) = (ticks / process::USER_HZ, ticks % process::USER_HZ);
        // USER_HZ is 100, so two decimals are exact.
        const _: () = assert!(process::USER_HZ == 100);
        let _ = writeln!(out, "process_cpu_seconds_total {whole}.{fraction:02}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_samples_escape_labels_and_spell_infinity() {
        let mut out = String::new();
        float_sample(&mut out, "m", ("group", "a\"b\\c\nd"), f64::INFINITY);
        float_sample(&mut out, "m", ("shard", "0"), 0.25);
        float_sample(&mut out, "m", ("shard", "1"), 1.0);
        assert_eq!(
            out,
            "m{group=\"a\\\"b\\\\c\\nd\"} +Inf\nm{shard=\"0\"} 0.25\nm{shard=\"1\"} 1\n"
        );
    }
}
