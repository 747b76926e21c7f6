//! Markdown tables of the scenario section of a record: one row per scenario with throughput,
//! correctness and resources, then one row per scenario and message kind with latency.

use std::fmt::Write;

use crate::scenario::result::ScenarioResult;
use crate::summary::Summary;
use crate::table::thousands;

/// The line every scenario table opens with.
pub const SWITCHBOARD_ONLY: &str = "Scenario rows are Switchboard only: the peer servers do not \
     speak switchboard.v1, so there is nothing to compare them with.";

/// Microseconds as milliseconds with a precision that suits the size.
pub fn ms_label(us: f64) -> String {
    let ms = us / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn rate_spread(summary: Option<Summary>) -> String {
    summary.map_or_else(
        || "–".to_owned(),
        |s| {
            format!(
                "{} ({}–{})",
                thousands(s.median),
                thousands(s.min),
                thousands(s.max)
            )
        },
    )
}

fn ms_spread(summary: &Summary) -> String {
    format!(
        "{} ({}–{})",
        ms_label(summary.median),
        ms_label(summary.min),
        ms_label(summary.max)
    )
}

fn share(summary: Option<Summary>) -> String {
    summary.map_or_else(|| "–".to_owned(), |s| format!("{:.0}%", s.median * 100.0))
}

/// The scenario tables of `scenarios`, or an empty string when there are none.
pub fn markdown(scenarios: &[ScenarioResult]) -> String {
    if scenarios.is_empty() {
        return String::new();
    }
    let mut out = format!("{SWITCHBOARD_ONLY}\n\n");
    out.push_str(
        "| scenario | verdict | runs | conns | offered msg/s | sent msg/s (min–max) | delivered msg/s (min–max) \
         | lost / dup / unacked / out of order / errors | server peak RSS MiB | server CPU | loadgen CPU |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|\n");
    for s in scenarios {
        let c = &s.correctness;
        let _ = writeln!(
            out,
            "| {}{} | {} | {} | {} | {} | {} | {} | {} / {} / {} / {} / {} | {} | {} | {} |",
            s.name,
            if s.routing { " (routing on)" } else { "" },
            s.verdict.label(),
            s.runs,
            s.connections
                .map_or_else(|| "–".to_owned(), |n| n.to_string()),
            s.rate_per_s.map_or_else(|| "–".to_owned(), thousands),
            rate_spread(s.sent_per_s),
            rate_spread(s.delivered_per_s),
            c.lost,
            c.duplicated,
            c.unacked,
            c.out_of_order,
            c.errors,
            s.server_rss_bytes_max.map_or_else(
                || "–".to_owned(),
                |r| format!("{:.1}", r.median / f64::from(1u32 << 20))
            ),
            share(s.server_cpu_share),
            share(s.loadgen_cpu_share),
        );
    }
    out.push('\n');
    out.push_str("| scenario | kind (lane) | p50 ms (min–max) | p99 ms (min–max) | p99.9 ms (min–max) | values |\n");
    out.push_str("|---|---|---:|---:|---:|---:|\n");
    for s in scenarios {
        for k in &s.latency {
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {} | {} | {} | {} |",
                s.name,
                k.kind,
                k.lane,
                ms_spread(&k.p50_us),
                ms_spread(&k.p99_us),
                ms_spread(&k.p99_9_us),
                thousands(k.count as f64),
            );
        }
    }
    out.push('\n');
    remarks(&mut out, scenarios);
    out
}

fn remarks(out: &mut String, scenarios: &[ScenarioResult]) {
    for s in scenarios {
        for failure in &s.failures {
            let _ = writeln!(out, "- FAIL {}: {failure}", s.name);
        }
        if !s.routing_counts.is_empty() {
            let counts: Vec<String> = s
                .routing_counts
                .iter()
                .map(|(name, count)| format!("{name} {count}"))
                .collect();
            let _ = writeln!(out, "- {} routing: {}", s.name, counts.join(", "));
        }
        for note in &s.notes {
            let _ = writeln!(out, "- {}: {note}", s.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::outcome::{Correctness, RunOutcome};
    use crate::scenario::result::{summarise, ScenarioMeta};

    #[test]
    fn labels() {
        assert_eq!(ms_label(780.8), "0.78");
        assert_eq!(ms_label(17_040.0), "17.0");
        assert_eq!(ms_label(250_000.0), "250");
        assert_eq!(markdown(&[]), "");
    }

    #[test]
    fn a_failed_scenario_shows_why() {
        let meta = ScenarioMeta {
            name: "churn".to_owned(),
            file: "loadgen/scenarios/churn.toml".to_owned(),
            routing: false,
            connections: Some(100),
            rate_per_s: Some(500.0),
            notes: vec!["a note".to_owned()],
        };
        let run = RunOutcome {
            sent_per_s: 990.0,
            delivered_per_s: 985.0,
            correctness: Correctness {
                lost: 2,
                ..Correctness::default()
            },
            ..RunOutcome::default()
        };
        let result = summarise(meta, &[Ok(run)], Vec::new());
        let text = markdown(&[result]);
        assert!(text.starts_with(SWITCHBOARD_ONLY));
        assert!(text.contains(
            "| churn | FAIL | 1 | 100 | 500 | 990 (990–990) | 985 (985–985) | 2 / 0 / 0 / 0 / 0 |"
        ));
        assert!(text.contains("- FAIL churn: run 1: lost 2"));
        assert!(text.contains("- churn: a note"));
    }
}
