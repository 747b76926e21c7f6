//! The dashboard's "Scenarios" section: deliver latency percentile curves per switchboard.v1
//! scenario, a table per scenario, and deliver p99 across revisions when the history has more than
//! one scenario record.

use std::fmt::Write;

use crate::record::{Record, ScenarioResult};
use crate::report::charts::{percentile_chart, Curve};
use crate::report::history::{self, Better, HistoryChart, Regression, Series};
use crate::report::svg::{escape, PALETTE};
use crate::scenario::table::{ms_label, SWITCHBOARD_ONLY};
use crate::summary::Summary;
use crate::table::thousands;

/// `data-chart` of the deliver latency chart.
pub const DELIVER_CHART: &str = "scenario-deliver";
/// `data-chart` of the scenario history chart.
pub const HISTORY_CHART: &str = "history-scenario-deliver";

/// Colour of a scenario: by its position in the record, so the chart and the tables agree.
fn colour(index: usize) -> String {
    PALETTE[index % PALETTE.len()].to_owned()
}

/// Deliver latency percentile curves, one per scenario of `record` (none: a labelled empty chart).
pub fn deliver_chart(record: Option<&Record>) -> String {
    let curves: Vec<Curve> = record
        .map(|r| r.results.scenarios.as_slice())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(index, s)| {
            Some(Curve {
                name: s.name.clone(),
                colour: colour(index),
                percentiles: s.kind("deliver")?.median_us,
            })
        })
        .collect();
    percentile_chart(
        DELIVER_CHART,
        "Switchboard scenarios: send → deliver latency (median of runs)",
        "send → deliver latency (µs, log scale)",
        &curves,
        "no scenario run yet: compare --scenario all",
    )
}

/// Deliver p99 per scenario across the records that have scenarios.
pub fn history_series(history: &[Record]) -> Series {
    let mut series = Series::new();
    for (index, record) in history.iter().enumerate() {
        for scenario in &record.results.scenarios {
            if let Some(deliver) = scenario.kind("deliver") {
                series
                    .entry(format!("{} deliver p99", scenario.name))
                    .or_default()
                    .push((index, deliver.median_us.p99));
            }
        }
    }
    series
}

/// The history chart over `scenario_history` (only records with scenarios), or `None` when fewer
/// than two records have them.
pub fn history_chart(
    scenario_history: &[Record],
    regressions: &mut Vec<Regression>,
) -> Option<String> {
    if scenario_history.len() < 2 {
        return None;
    }
    let spec = HistoryChart {
        name: HISTORY_CHART,
        title: "Switchboard scenario deliver p99 by revision",
        y_title: "deliver p99 latency (µs, log scale)",
        better: Better::Lower,
        log: true,
    };
    Some(history::chart(
        &spec,
        scenario_history,
        &history_series(scenario_history),
        regressions,
    ))
}

/// The HTML around the chart: the Switchboard-only remark, which run it is, a table per scenario.
pub fn tables_html(record: Option<&Record>) -> String {
    let Some(record) = record else {
        return "<p>No scenario record in the history yet.</p>".to_owned();
    };
    let mut html = format!(
        "<p>{} Revision <code>{}</code>, {} run(s) of {} s per scenario.</p><div class=\"grid\" style=\"align-items:flex-start\">",
        escape(SWITCHBOARD_ONLY),
        escape(&record.git_revision),
        record.settings.runs,
        record.settings.duration_s
    );
    for (index, scenario) in record.results.scenarios.iter().enumerate() {
        table(&mut html, scenario, &colour(index));
    }
    html.push_str("</div>");
    html
}

fn spread(summary: Option<Summary>, format: fn(f64) -> String) -> String {
    summary.map_or_else(
        || "–".to_owned(),
        |s| format!("{} ({}–{})", format(s.median), format(s.min), format(s.max)),
    )
}

fn table(html: &mut String, s: &ScenarioResult, colour: &str) {
    let verdict_class = if s.failures.is_empty() {
        "pass"
    } else {
        "regression"
    };
    let _ = write!(
        html,
        "<table class=\"scenario\" data-scenario=\"{name}\"><caption style=\"border-left:6px solid {colour};\
         text-align:left;padding-left:6px\"><b>{name}</b>{routing} — <span class=\"{verdict_class}\">{verdict}</span>\
         </caption><tr><th>figure</th><th>median (min–max)</th></tr>",
        name = escape(&s.name),
        routing = if s.routing { " (routing on)" } else { "" },
        verdict = s.verdict.label(),
    );
    let mib = |bytes: f64| format!("{:.1}", bytes / f64::from(1u32 << 20));
    let percent = |share: f64| format!("{:.0}%", share * 100.0);
    let c = &s.correctness;
    let rows = [
        ("sent msg/s", spread(s.sent_per_s, thousands)),
        ("delivered msg/s", spread(s.delivered_per_s, thousands)),
        (
            "lost / dup / unacked / out of order / errors",
            format!(
                "{} / {} / {} / {} / {}",
                c.lost, c.duplicated, c.unacked, c.out_of_order, c.errors
            ),
        ),
        ("server peak RSS (MiB)", spread(s.server_rss_bytes_max, mib)),
        (
            "server CPU (one core = 100%)",
            spread(s.server_cpu_share, percent),
        ),
        ("loadgen CPU", spread(s.loadgen_cpu_share, percent)),
    ];
    for (label, value) in rows {
        let _ = write!(html, "<tr><th>{label}</th><td>{}</td></tr>", escape(&value));
    }
    for k in &s.latency {
        for (level, summary) in [("p50", k.p50_us), ("p99", k.p99_us), ("p99.9", k.p99_9_us)] {
            let _ = write!(
                html,
                "<tr><th>{} {level} (ms)</th><td>{}</td></tr>",
                escape(&k.kind),
                escape(&spread(Some(summary), ms_label))
            );
        }
    }
    html.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_history_still_draws_a_labelled_chart() {
        let svg = deliver_chart(None);
        assert!(svg.contains(&format!("data-chart=\"{DELIVER_CHART}\"")));
        assert!(svg.contains("<g class=\"legend\">") && svg.contains("<g class=\"axis y\">"));
        assert!(svg.contains("no scenario run yet"));
        assert!(history_chart(&[], &mut Vec::new()).is_none());
        assert!(tables_html(None).contains("No scenario record"));
    }
}
