//! The dashboard page: the latest echo comparison's charts, the latest scenario run's charts and
//! tables, then the history.
//!
//! Echo comparisons and scenario runs are separate records in the same history, so each section takes
//! the last record that has its figures: a scenario run does not blank the echo charts.

use std::fmt::Write;

use crate::record::Record;
use crate::report::history::{self, Better, HistoryChart, Regression};
use crate::report::{charts, scenarios, svg::escape};
use crate::table::{engine_label, markdown};

const STYLE: &str =
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}\
h1{margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ccc}\
.grid{display:flex;flex-wrap:wrap;gap:16px}\
svg.chart{background:#fff;border:1px solid #ddd;font-size:11px}\
svg .title{font-size:13px;font-weight:600}svg .axis-title{font-size:11px;fill:#444}\
svg .note{fill:#888;font-style:italic}\
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:12px}\
.regression{color:#b00;font-weight:600}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}\
.pass{color:#070;font-weight:600}table.scenario{background:#fff;margin-bottom:8px}\
table.scenario th{text-align:left;font-weight:normal}";

/// Renders the whole page for the latest record and the history (oldest first; it includes the latest).
pub fn render(latest: &Record, history: &[Record]) -> String {
    let echo_history: Vec<Record> = history.iter().filter(|r| r.has_echo()).cloned().collect();
    let scenario_history: Vec<Record> = history
        .iter()
        .filter(|r| r.has_scenarios())
        .cloned()
        .collect();
    let echo_latest = if latest.has_echo() {
        latest
    } else {
        echo_history.last().unwrap_or(latest)
    };
    let scenario_latest = scenario_history.last();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Switchboard benchmarks</title><style>{STYLE}</style></head><body>\
         <h1>Switchboard benchmarks</h1><p>Latest echo comparison: revision <code>{}</code>, {}; engine: {}.</p>",
        escape(&echo_latest.git_revision),
        escape(&echo_latest.machine.summary()),
        escape(engine_label(echo_latest.engine.as_deref())),
    );
    let mut throughput = charts::throughput(echo_latest);
    throughput.extend(charts::neutral_throughput(echo_latest));
    section(&mut html, "Echo throughput", &throughput);
    section(
        &mut html,
        "Server CPU per message",
        &charts::server_cpu(echo_latest),
    );
    section(
        &mut html,
        "Latency percentiles (open loop)",
        &charts::latency(echo_latest),
    );
    section(
        &mut html,
        "Memory per idle connection",
        &[charts::memory(echo_latest)],
    );
    let mut regressions = Vec::new();
    let mut scenario_charts = vec![scenarios::deliver_chart(scenario_latest)];
    scenario_charts.extend(scenarios::history_chart(
        &scenario_history,
        &mut regressions,
    ));
    section(&mut html, "Scenarios (Switchboard only)", &scenario_charts);
    html.push_str(&scenarios::tables_html(scenario_latest));
    let history_charts = history_charts(&echo_history, &mut regressions);
    section(&mut html, "Switchboard across revisions", &history_charts);
    regressions_list(&mut html, &regressions);
    let mut numbers = markdown(echo_latest);
    if let Some(record) = scenario_latest.filter(|r| *r != echo_latest) {
        numbers.push('\n');
        numbers.push_str(&markdown(record));
    }
    let _ = writeln!(
        html,
        "<h2>Latest runs in numbers</h2><pre>{}</pre></body></html>",
        escape(&numbers)
    );
    html
}

fn section(html: &mut String, title: &str, svgs: &[String]) {
    let _ = write!(html, "<h2>{}</h2><div class=\"grid\">", escape(title));
    for svg in svgs {
        html.push_str(svg);
    }
    html.push_str("</div>");
}

fn history_charts(history: &[Record], regressions: &mut Vec<Regression>) -> Vec<String> {
    let throughput = HistoryChart {
        name: "history-throughput",
        title: "Switchboard echo throughput by revision",
        y_title: "echoed messages per second (msg/s)",
        better: Better::Higher,
        log: false,
    };
    let latency = HistoryChart {
        name: "history-latency",
        title: "Switchboard p99 latency by revision",
        y_title: "p99 round-trip latency (µs, log scale)",
        better: Better::Lower,
        log: true,
    };
    let memory = HistoryChart {
        name: "history-memory",
        title: "Switchboard RSS per idle connection by revision",
        y_title: "RSS per connection (bytes)",
        better: Better::Lower,
        log: false,
    };
    vec![
        history::chart(
            &throughput,
            history,
            &history::throughput_series(history),
            regressions,
        ),
        history::chart(
            &latency,
            history,
            &history::latency_series(history),
            regressions,
        ),
        history::chart(
            &memory,
            history,
            &history::memory_series(history),
            regressions,
        ),
    ]
}

fn regressions_list(html: &mut String, regressions: &[Regression]) {
    if regressions.is_empty() {
        html.push_str(
            "<p>No regressions: no figure is more than 10% worse than the run before it.</p>",
        );
        return;
    }
    html.push_str(
        "<p class=\"regression\">Regressions (more than 10% worse than the previous run):</p><ul>",
    );
    for r in regressions {
        let _ = write!(
            html,
            "<li class=\"regression\">{} — {} at <code>{}</code>: {:.0} → {:.0}</li>",
            escape(&r.chart),
            escape(&r.series),
            escape(&r.revision),
            r.previous,
            r.current
        );
    }
    html.push_str("</ul>");
}
