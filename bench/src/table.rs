//! Markdown tables of a record: printed by `compare` and pasted into the README.

use std::fmt::Write;

use crate::record::{Record, ThroughputCell};
use crate::servers::ServerKind;

/// Issue 3's echo targets: Switchboard's msg/s at least this multiple of each peer's, in the same run.
pub const TARGETS: [(ServerKind, f64); 3] = [
    (ServerKind::TokioTungstenite, 1.3),
    (ServerKind::Fastwebsockets, 1.1),
    (CEILING_SERVER, 0.85),
];
/// The raw TCP echo on Switchboard's own engine: what a WebSocket layer that cost nothing would reach.
pub const CEILING_SERVER: ServerKind = ServerKind::EngineTcp;
/// Issue 19's target: the best WebSocket peer's server CPU per message at least this multiple of
/// Switchboard's, in every cell, with each client.
pub const CPU_TARGET: f64 = 1.1;

/// Formats a message size: `64 B`, `1 KiB`, `16 KiB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} B")
    }
}

/// Formats a rate with thousands separators: `123,456`.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The engine as recorded, without a log prefix (older records kept the whole log line).
pub fn engine_label(engine: Option<&str>) -> &str {
    let engine = engine.unwrap_or("n/a");
    engine
        .split_once("choice=")
        .map_or(engine, |(_, choice)| choice)
}

fn ratio_label(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{r:.2}×"))
}

/// Every table of `record` as Markdown.
pub fn markdown(record: &Record) -> String {
    let mut out = String::new();
    let results = &record.results;
    let _ = writeln!(
        out,
        "Revision `{}` on {}; engine: {}; {} run(s) of {} s each, servers on CPU {}, load on CPU {}.\n",
        record.git_revision,
        record.machine.summary(),
        engine_label(record.engine.as_deref()),
        record.settings.runs,
        record.settings.duration_s,
        record.settings.server_cpu,
        record.settings.loadgen_cpu,
    );
    if !results.throughput.is_empty() {
        out.push_str("| server | connections | size | echo msg/s (median) | min–max | vs Switchboard | server CPU µs/msg | CPU/msg vs Switchboard | load driver |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for cell in &results.throughput {
            let s = cell.messages_per_s;
            let cpu = cell
                .server_cpu_us_per_message
                .map_or_else(|| "–".to_owned(), |c| format!("{:.2}", c.median));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {}–{} | {} | {} | {} | {} |",
                cell.server,
                cell.connections,
                size_label(cell.message_bytes),
                thousands(s.median),
                thousands(s.min),
                thousands(s.max),
                ratio_label(cell.ratio_to_switchboard),
                cpu,
                ratio_label(cell.cpu_ratio_to_switchboard),
                cell.driver,
            );
        }
        out.push('\n');
    }
    out.push_str(&targets_markdown(&results.throughput));
    out.push_str(&cpu_targets_markdown(&results.throughput));
    if !results.latency.is_empty() {
        out.push_str(
            "| server | load | offered msg/s | p50 µs | p99 µs (min–max) | p99.9 µs | max µs |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for cell in &results.latency {
            let p = cell.median_us;
            let _ = writeln!(
                out,
                "| {} | {:.0}% | {} | {:.0} | {:.0} ({:.0}–{:.0}) | {:.0} | {:.0} |",
                cell.server,
                cell.load_fraction * 100.0,
                thousands(cell.rate_per_s as f64),
                p.p50,
                p.p99,
                cell.p99_us.min,
                cell.p99_us.max,
                p.p99_9,
                p.max,
            );
        }
        out.push('\n');
    }
    if !results.memory.is_empty() {
        // Steady: connections open and idle. Peak: the whole run, with the connect ramp and the closing burst.
        out.push_str("| server | idle connections | established | steady RSS bytes/conn (median) | peak RSS bytes/conn (median) | peak min–max | peak vs Switchboard |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
        for cell in &results.memory {
            let b = cell.bytes_per_connection;
            let steady = cell
                .steady_bytes_per_connection
                .map_or("–".to_owned(), |s| thousands(s.median));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {}–{} | {} |",
                cell.server,
                cell.connections,
                cell.established_min,
                steady,
                thousands(b.median),
                thousands(b.min),
                thousands(b.max),
                ratio_label(cell.ratio_to_switchboard),
            );
        }
        out.push('\n');
    }
    out.push_str(&crate::scenario::table::markdown(&results.scenarios));
    if !results.skipped.is_empty() {
        out.push_str("Not measured:\n\n");
        for skipped in &results.skipped {
            let _ = writeln!(
                out,
                "- {} — {}: {}",
                skipped.server, skipped.figure, skipped.reason
            );
        }
    }
    out
}

/// Issue 19's table: per cell and client, the best WebSocket peer's server CPU per message ÷ Switchboard's
/// (above 1: Switchboard is cheaper), against [`CPU_TARGET`], and the bound that ratio has on this machine:
/// the same peer's CPU ÷ Switchboard's system (kernel) CPU alone, i.e. the ratio if Switchboard's own code
/// cost nothing. Empty when no cell has a peer with a CPU figure.
pub fn cpu_targets_markdown(cells: &[ThroughputCell]) -> String {
    let cpu = |c: &ThroughputCell| {
        c.server_cpu_us_per_message
            .map(|s| s.median)
            .filter(|v| *v > 0.0)
    };
    let mut rows = String::new();
    for ours in cells
        .iter()
        .filter(|c| c.server == ServerKind::Switchboard.name())
    {
        let Some(our_cpu) = cpu(ours) else {
            continue;
        };
        let best = cells
            .iter()
            .filter(|c| {
                c.neutral_client == ours.neutral_client
                    && c.connections == ours.connections
                    && c.message_bytes == ours.message_bytes
                    && ServerKind::ALL.iter().any(|kind| {
                        kind.name() == c.server
                            && *kind != ServerKind::Switchboard
                            && kind.protocol() == crate::load::Protocol::WebSocket
                    })
            })
            .filter_map(|c| cpu(c).map(|v| (v, c.server.as_str())))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        let Some((peer_cpu, peer)) = best else {
            continue;
        };
        let ratio = peer_cpu / our_cpu;
        let verdict = if ratio >= CPU_TARGET {
            "met"
        } else {
            "not met"
        };
        let bound = ours
            .server_system_cpu_us_per_message
            .map(|s| s.median)
            .filter(|v| *v > 0.0)
            .map_or("–".to_owned(), |system| {
                format!("{:.2}×", peer_cpu / system)
            });
        let _ = writeln!(
            rows,
            "| {} × {} | {} | {peer} | {our_cpu:.2} | {peer_cpu:.2} | {ratio:.2}× ({verdict}) | {bound} |",
            ours.connections,
            size_label(ours.message_bytes),
            ours.neutral_client.as_deref().unwrap_or(&ours.driver),
        );
    }
    if rows.is_empty() {
        return rows;
    }
    let mut out = format!(
        "Issue 19 (the best WebSocket peer's server CPU µs/msg ÷ Switchboard's, target ≥ {CPU_TARGET}×; bound = that peer's CPU ÷ Switchboard's system CPU alone, the ratio if Switchboard's own code cost nothing):\n\n"
    );
    out.push_str(
        "| cell | client | best peer | Switchboard µs/msg | peer µs/msg | ratio | bound |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|\n");
    out.push_str(&rows);
    out.push('\n');
    out
}

/// One row per echo cell: Switchboard's msg/s against each target, and how far the raw TCP ceiling
/// itself is from each peer (a target above that bound cannot be met by any WebSocket layer on this
/// machine: the kernel's loopback TCP work is the same for every server).
pub fn targets_markdown(cells: &[ThroughputCell]) -> String {
    let median = |server: ServerKind, connections: u32, bytes: usize| {
        cells
            .iter()
            .find(|c| {
                c.by_own_client()
                    && c.server == server.name()
                    && c.connections == connections
                    && c.message_bytes == bytes
            })
            .map(|c| c.messages_per_s.median)
            .filter(|rate| *rate > 0.0)
    };
    let mut rows = String::new();
    for cell in cells
        .iter()
        .filter(|c| c.by_own_client() && c.server == ServerKind::Switchboard.name())
    {
        let (n, bytes) = (cell.connections, cell.message_bytes);
        let ceiling = median(CEILING_SERVER, n, bytes);
        let mut row = format!("| {n} × {} |", size_label(bytes));
        let mut any = false;
        for (peer, target) in TARGETS {
            let peer_rate = median(peer, n, bytes);
            match peer_rate {
                Some(peer_rate) => {
                    any = true;
                    let ratio = cell.messages_per_s.median / peer_rate;
                    let verdict = if ratio >= target { "met" } else { "not met" };
                    let _ = write!(row, " {ratio:.2}× ({verdict}) |");
                }
                None => row.push_str(" – |"),
            }
            if peer == CEILING_SERVER {
                continue;
            }
            match ceiling
                .zip(peer_rate)
                .map(|(ceiling, peer_rate)| ceiling / peer_rate)
            {
                Some(bound) if bound < target => {
                    let _ = write!(row, " {bound:.2}× (target above it) |");
                }
                Some(bound) => {
                    let _ = write!(row, " {bound:.2}× |");
                }
                None => row.push_str(" – |"),
            }
        }
        if any {
            rows.push_str(&row);
            rows.push('\n');
        }
    }
    if rows.is_empty() {
        return rows;
    }
    let mut out = String::from(
        "Targets (Switchboard's median msg/s ÷ the peer's; ceiling = the raw TCP echo on the same engine ÷ the peer, the most any WebSocket server could reach here):\n\n| cell |",
    );
    let mut rule = String::from("|---|");
    for (peer, target) in TARGETS {
        if peer == CEILING_SERVER {
            let _ = write!(out, " ÷ raw TCP ceiling (≥ {target:.2}) |");
            rule.push_str("---:|");
        } else {
            let name = peer.name();
            let _ = write!(out, " ÷ {name} (≥ {target:.2}) | ceiling ÷ {name} |");
            rule.push_str("---:|---:|");
        }
    }
    let _ = write!(out, "\n{rule}\n{rows}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(size_label(64), "64 B");
        assert_eq!(size_label(16384), "16 KiB");
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(12.0), "12");
        assert_eq!(ratio_label(Some(1.234)), "1.23×");
        assert_eq!(
            engine_label(Some("INFO engine ready choice=io_uring")),
            "io_uring"
        );
        assert_eq!(engine_label(None), "n/a");
    }

    fn cell(server: &str, rate: f64) -> ThroughputCell {
        ThroughputCell {
            server: server.to_owned(),
            connections: 100,
            message_bytes: 64,
            driver: "switchboard-loadgen".to_owned(),
            messages_per_s: crate::summary::Summary::of(&[rate]).unwrap(),
            ratio_to_switchboard: None,
            errors: 0,
            server_cpu_us_per_message: None,
            server_system_cpu_us_per_message: None,
            cpu_ratio_to_switchboard: None,
            neutral_client: None,
        }
    }

    fn with_cpu(mut cell: ThroughputCell, total: f64, system: f64) -> ThroughputCell {
        cell.server_cpu_us_per_message = crate::summary::Summary::of(&[total]);
        cell.server_system_cpu_us_per_message = crate::summary::Summary::of(&[system]);
        cell
    }

    #[test]
    fn the_cpu_targets_take_the_cheapest_websocket_peer_of_the_same_client() {
        let mut neutral = with_cpu(cell("switchboard", 1.0), 8.0, 7.0);
        neutral.neutral_client = Some("uWebSockets load_test".to_owned());
        let mut neutral_peer = with_cpu(cell("uwebsockets", 1.0), 9.6, 9.0);
        neutral_peer.neutral_client = neutral.neutral_client.clone();
        let cells = [
            with_cpu(cell("switchboard", 180.0), 5.0, 4.0),
            with_cpu(cell("fastwebsockets", 150.0), 6.0, 5.0),
            with_cpu(cell("uwebsockets", 170.0), 5.2, 4.9),
            // A raw TCP reference is no peer, however cheap.
            with_cpu(cell("engine-tcp", 190.0), 3.0, 2.9),
            neutral,
            neutral_peer,
        ];
        let table = cpu_targets_markdown(&cells);
        assert!(
            table.contains("| 100 × 64 B | switchboard-loadgen | uwebsockets | 5.00 | 5.20 | 1.04× (not met) | 1.30× |"),
            "{table}"
        );
        assert!(
            table.contains("| 100 × 64 B | uWebSockets load_test | uwebsockets | 8.00 | 9.60 | 1.20× (met) | 1.37× |"),
            "{table}"
        );
        assert!(
            cpu_targets_markdown(&cells[..1]).is_empty(),
            "no peer: no table"
        );
    }

    #[test]
    fn targets_say_met_not_met_and_when_the_ceiling_is_below_the_target() {
        let cells = [
            cell("switchboard", 180.0),
            cell("tokio-tungstenite", 160.0),
            cell("fastwebsockets", 150.0),
            cell("engine-tcp", 190.0),
        ];
        let table = targets_markdown(&cells);
        let row = table
            .lines()
            .find(|l| l.starts_with("| 100 × 64 B"))
            .unwrap();
        assert_eq!(
            row,
            "| 100 × 64 B | 1.12× (not met) | 1.19× (target above it) | 1.20× (met) | 1.27× | 0.95× (met) |"
        );
        assert!(
            targets_markdown(&cells[..1]).is_empty(),
            "no peer: no table"
        );
        let mut neutral = cells.to_vec();
        neutral[0].messages_per_s = crate::summary::Summary::of(&[1.0]).unwrap();
        neutral[0].neutral_client = Some("uWebSockets load_test".to_owned());
        neutral.push(cell("switchboard", 180.0));
        let table = targets_markdown(&neutral);
        assert!(
            table.contains("| 100 × 64 B | 1.12× (not met)"),
            "the targets use the harness's own client only"
        );
    }
}
