//! The dashboard renders every chart as an `<svg>` with both axes and a legend.
//!
//! FIXTURE DATA: the records below are made up for this test (revisions `fixture-a`…`fixture-c`, CPU
//! "FIXTURE"); they are not measurements. They include a deliberate 20% throughput drop in
//! `fixture-c` so the regression highlighting is exercised.

use switchboard_bench::load::Percentiles;
use switchboard_bench::machine::Machine;
use switchboard_bench::record::{
    KindSummary, LatencyCell, MemoryCell, Record, Results, ScenarioResult, Settings, Skipped,
    ThroughputCell, Verdict, RECORD_SCHEMA,
};
use switchboard_bench::report::render;
use switchboard_bench::scenario::outcome::Correctness;
use switchboard_bench::summary::Summary;

const SERVERS: [&str; 3] = ["switchboard", "tokio-tungstenite", "fastwebsockets"];

fn summary(median: f64) -> Summary {
    Summary {
        median,
        min: median * 0.95,
        max: median * 1.05,
        runs: 3,
    }
}

fn fixture_record(revision: &str, scale: f64) -> Record {
    let mut results = Results::default();
    for (index, server) in SERVERS.iter().enumerate() {
        let speed = scale / (1.0 + index as f64 * 0.3);
        for connections in [100, 1000] {
            for message_bytes in [64, 1024] {
                results.throughput.push(ThroughputCell {
                    server: (*server).to_owned(),
                    connections,
                    message_bytes,
                    driver: "fixture".to_owned(),
                    messages_per_s: summary(100_000.0 * speed),
                    ratio_to_switchboard: Some(1.0 / (1.0 + index as f64 * 0.3)),
                    errors: 0,
                    server_cpu_us_per_message: Some(summary(5.0 / speed)),
                    server_system_cpu_us_per_message: Some(summary(4.0 / speed)),
                    cpu_ratio_to_switchboard: Some(1.0 + index as f64 * 0.3),
                    neutral_client: None,
                });
            }
        }
        for fraction in [0.25, 0.5, 0.75] {
            let base = 40.0 * (1.0 + index as f64) * (1.0 + fraction);
            results.latency.push(LatencyCell {
                server: (*server).to_owned(),
                connections: 100,
                message_bytes: 64,
                load_fraction: fraction,
                rate_per_s: (100_000.0 * speed * fraction) as u64,
                median_us: Percentiles::from_values([
                    base,
                    base * 2.0,
                    base * 5.0,
                    base * 12.0,
                    base * 30.0,
                    base * 60.0,
                ]),
                p99_us: summary(base * 5.0),
                achieved_per_s: summary(100_000.0 * speed * fraction),
                errors: 0,
            });
        }
        results.memory.push(MemoryCell {
            server: (*server).to_owned(),
            connections: 10_000,
            established_min: 10_000,
            bytes_per_connection: summary(900.0 * (1.0 + index as f64 * 4.0)),
            steady_bytes_per_connection: Some(summary(400.0 * (1.0 + index as f64 * 4.0))),
            ratio_to_switchboard: Some(1.0 + index as f64 * 4.0),
        });
    }
    results.skipped.push(Skipped {
        server: "tokio-tungstenite".to_owned(),
        figure: "memory 100000 idle conns".to_owned(),
        reason: "fixture: fd limit".to_owned(),
    });
    Record {
        schema: RECORD_SCHEMA,
        finished_unix_s: 0,
        git_revision: revision.to_owned(),
        machine: Machine {
            cpu_model: "FIXTURE".to_owned(),
            cpus: 2,
            memory_bytes: 1 << 30,
            kernel: "fixture".to_owned(),
        },
        engine: Some("fixture engine".to_owned()),
        settings: Settings {
            runs: 3,
            duration_s: 1,
            servers: SERVERS.iter().map(|s| (*s).to_owned()).collect(),
            message_bytes: vec![64, 1024],
            connections: vec![100, 1000],
            idle_connections: vec![10_000],
            load_fractions: vec![0.25, 0.5, 0.75],
            server_cpu: 0,
            loadgen_cpu: 1,
            quick: true,
            scenarios: Vec::new(),
        },
        results,
    }
}

/// A made-up `compare --scenario` record: chat passes, fanout fails with one lost message.
fn fixture_scenario_record(revision: &str, scale: f64) -> Record {
    let mut record = fixture_record(revision, 1.0);
    record.results = Results::default();
    record.settings.scenarios = vec!["chat".to_owned(), "fanout".to_owned()];
    for (index, name) in record.settings.scenarios.clone().iter().enumerate() {
        let base = 400.0 * scale * (1.0 + index as f64);
        let latency = |kind: &str| KindSummary {
            kind: kind.to_owned(),
            lane: "chat".to_owned(),
            count: 1000,
            median_us: Percentiles::from_values([
                base,
                base * 3.0,
                base * 8.0,
                base * 15.0,
                base * 20.0,
                base * 25.0,
            ]),
            p50_us: summary(base),
            p99_us: summary(base * 8.0),
            p99_9_us: summary(base * 15.0),
        };
        let lost = u64::from(name == "fanout");
        record.results.scenarios.push(ScenarioResult {
            name: name.clone(),
            file: format!("loadgen/scenarios/{name}.toml"),
            routing: false,
            connections: Some(100),
            rate_per_s: Some(500.0),
            runs: 3,
            sent_per_s: Some(summary(990.0)),
            delivered_per_s: Some(summary(985.0)),
            latency: vec![latency("ack"), latency("deliver")],
            correctness: Correctness {
                lost,
                ..Correctness::default()
            },
            routing_counts: Default::default(),
            server_rss_bytes_max: Some(summary(20.0 * 1048576.0)),
            server_cpu_share: Some(summary(0.3)),
            loadgen_cpu_share: Some(summary(0.1)),
            verdict: if lost > 0 {
                Verdict::Fail
            } else {
                Verdict::Pass
            },
            failures: if lost > 0 {
                vec!["run 2: lost 1".to_owned()]
            } else {
                Vec::new()
            },
            notes: Vec::new(),
            reports: Vec::new(),
        });
    }
    record
}

/// The `<svg …>…</svg>` element whose `data-chart` is `name`.
fn chart<'a>(html: &'a str, name: &str) -> &'a str {
    let start = html
        .find(&format!("data-chart=\"{name}\""))
        .unwrap_or_else(|| panic!("chart {name} missing"));
    let start = html[..start].rfind("<svg").unwrap();
    let end = start + html[start..].find("</svg>").unwrap() + "</svg>".len();
    &html[start..end]
}

const CHARTS: [&str; 12] = [
    "throughput-100",
    "throughput-1000",
    "server-cpu-100",
    "server-cpu-1000",
    "latency-25",
    "latency-50",
    "latency-75",
    "memory",
    "scenario-deliver",
    "history-throughput",
    "history-latency",
    "history-memory",
];

#[test]
fn every_chart_has_axes_units_and_legend() {
    let history = vec![
        fixture_record("fixture-a", 1.0),
        fixture_scenario_record("fixture-s1", 1.0),
        fixture_record("fixture-b", 1.02),
        fixture_record("fixture-c", 0.8),
        fixture_scenario_record("fixture-s2", 1.5),
    ];
    let html = render(history.last().unwrap(), &history);
    // Kept for looking at: target/tmp/dashboard-fixture.html.
    let kept = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-fixture.html");
    std::fs::write(kept, &html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(!html.contains("<script"), "the page needs no script");
    assert!(!html.contains("src=\"http"), "the page loads nothing");
    for name in CHARTS.iter().chain(&["history-scenario-deliver"]) {
        let svg = chart(&html, name);
        assert!(svg.contains("<g class=\"axis x\">"), "{name}: x axis");
        assert!(svg.contains("<g class=\"axis y\">"), "{name}: y axis");
        assert!(svg.contains("class=\"axis-title\""), "{name}: axis titles");
        assert!(
            svg.contains('(') && svg.contains(')'),
            "{name}: a unit in parentheses"
        );
        assert!(svg.contains("<g class=\"legend\">"), "{name}: legend");
        assert!(!svg.contains("NaN"), "{name}: no NaN coordinates");
    }
    for server in SERVERS {
        assert!(chart(&html, "throughput-100").contains(&format!(">{server}</text>")));
    }
    assert!(chart(&html, "history-throughput").contains("point regression"));
    assert!(
        html.contains("class=\"regression\""),
        "the regression is listed"
    );
    assert!(
        !chart(&html, "history-memory").contains("point regression"),
        "memory did not regress"
    );
    // The echo charts come from the last echo record even though a scenario record is the latest.
    assert!(chart(&html, "throughput-100").contains("<rect class=\"bar\""));
    let deliver = chart(&html, "scenario-deliver");
    assert!(deliver.contains("µs, log scale"));
    for scenario in ["chat", "fanout"] {
        assert!(
            deliver.contains(&format!(">{scenario}</text>")),
            "{scenario} in the legend"
        );
        assert!(
            html.contains(&format!("data-scenario=\"{scenario}\"")),
            "{scenario} table"
        );
    }
    assert!(html.contains("Switchboard only"));
    assert!(html.contains(">FAIL</span>"), "the failed scenario says so");
    assert!(
        chart(&html, "history-scenario-deliver").contains("point regression"),
        "deliver p99 got 50% worse from fixture-s1 to fixture-s2"
    );
    assert_eq!(
        chart(&html, "history-throughput")
            .matches("<circle")
            .count(),
        3 * 4,
        "echo history has only the echo records (4 series × 3 records)"
    );
}

#[test]
fn empty_figures_still_draw_labelled_charts() {
    let mut record = fixture_record("fixture-a", 1.0);
    record.results.latency.clear();
    record.results.memory.clear();
    let html = render(&record, std::slice::from_ref(&record));
    for name in CHARTS {
        let svg = chart(&html, name);
        assert!(
            svg.contains("<g class=\"axis x\">") && svg.contains("<g class=\"legend\">"),
            "{name}"
        );
        assert!(!svg.contains("NaN"), "{name}: no NaN coordinates");
    }
    assert!(chart(&html, "latency-50").contains("not measured"));
    assert!(chart(&html, "scenario-deliver").contains("no scenario run yet"));
    assert!(
        !html.contains("history-scenario-deliver"),
        "one record: no history"
    );
}

#[test]
fn a_history_of_scenario_records_only_renders() {
    let record = fixture_scenario_record("fixture-s1", 1.0);
    let html = render(&record, std::slice::from_ref(&record));
    for name in CHARTS {
        let svg = chart(&html, name);
        assert!(svg.contains("<g class=\"legend\">"), "{name}");
        assert!(!svg.contains("NaN"), "{name}: no NaN coordinates");
    }
    assert!(chart(&html, "scenario-deliver").contains("class=\"curve\""));
    assert!(chart(&html, "throughput-100").contains("not measured"));
    assert!(!html.contains("history-scenario-deliver"));
}
