//! The dashboard page: the latest run's charts and tables, then the history.

use std::fmt::Write;

use crate::record::Record;
use crate::report::history::{self, Better, HistoryChart, Regression};
use crate::report::{charts, svg::escape};
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
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}";

/// Renders the whole page for the latest record and the history (oldest first; it includes the latest).
pub fn render(latest: &Record, history: &[Record]) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>Switchboard benchmarks</title><style>{STYLE}</style></head><body>\
         <h1>Switchboard benchmarks</h1><p>Latest run: revision <code>{}</code>, {}; engine: {}.</p>",
        escape(&latest.git_revision),
        escape(&latest.machine.summary()),
        escape(engine_label(latest.engine.as_deref())),
    );
    section(&mut html, "Echo throughput", &charts::throughput(latest));
    section(
        &mut html,
        "Latency percentiles (open loop)",
        &charts::latency(latest),
    );
    section(
        &mut html,
        "Memory per idle connection",
        &[charts::memory(latest)],
    );
    let mut regressions = Vec::new();
    let history_charts = history_charts(history, &mut regressions);
    section(&mut html, "Switchboard across revisions", &history_charts);
    regressions_list(&mut html, &regressions);
    let _ = writeln!(
        html,
        "<h2>Latest run in numbers</h2><pre>{}</pre></body></html>",
        escape(&markdown(latest))
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
