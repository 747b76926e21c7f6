//! The three measurement phases of `compare`, each interleaving the servers round by round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::compare::{
    measure_once, settle, CompareOptions, Drivers, LatencyRuns, MemoryRuns, ThroughputRuns,
};
use crate::load::{LoadResult, LoadSpec, Pattern};
use crate::record::Skipped;
use crate::servers::{RunningServer, ServerKind};
use crate::summary::Summary;

/// Interval between RSS samples while idle connections are held.
const RSS_SAMPLE_MS: u64 = 100;
/// Seconds the idle connections are held (they must all be open before the end).
const IDLE_HOLD_S_MIN: u64 = 5;
/// Connections per second the load generator opens by default (`--connect-rate`); the idle run's
/// duration includes that ramp, so it is lengthened by connections / this.
const CONNECT_PER_S: u64 = 10_000;
/// `--size` for idle runs: unused (no messages are sent) but must pass the loadgen's minimum.
const IDLE_MESSAGE_BYTES: usize = 64;

fn skip(skipped: &mut Vec<Skipped>, server: ServerKind, figure: String, reason: String) {
    if !skipped
        .iter()
        .any(|s| s.server == server.name() && s.figure == figure)
    {
        skipped.push(Skipped {
            server: server.name().to_owned(),
            figure,
            reason,
        });
    }
}

/// Phase 1: closed-loop echo at every connection count × message size with the harness's own
/// client, then, in the same round, the `load_test_cells` with uWebSockets' `load_test` (when built).
/// Returns (own client runs, neutral client runs).
pub fn throughput(
    options: &CompareOptions,
    drivers: &Drivers,
    skipped: &mut Vec<Skipped>,
) -> (ThroughputRuns, ThroughputRuns) {
    let mut runs = ThroughputRuns::new();
    let mut neutral = ThroughputRuns::new();
    for round in 0..options.runs {
        eprintln!(" round {}/{}", round + 1, options.runs);
        for &connections in &options.connections {
            for &message_bytes in &options.message_bytes {
                for &server in &options.servers {
                    let figure = format!("throughput {connections} conns {message_bytes} B");
                    let driver = match drivers.for_server(server, Pattern::ClosedLoop) {
                        Ok(driver) => driver,
                        Err(reason) => {
                            skip(skipped, server, figure, reason);
                            continue;
                        }
                    };
                    let spec_for = |target| LoadSpec {
                        target,
                        path: "/".to_owned(),
                        protocol: server.protocol(),
                        pattern: Pattern::ClosedLoop,
                        connections,
                        message_bytes,
                        duration_s: options.duration_s,
                    };
                    match measure_once(server, spec_for, driver, options) {
                        Ok(result) => runs
                            .entry((server, connections, message_bytes))
                            .or_default()
                            .push(result),
                        Err(reason) => skip(skipped, server, figure, reason),
                    }
                }
            }
        }
        if drivers.load_test.is_some() {
            neutral_round(options, drivers, skipped, &mut neutral);
        }
    }
    (runs, neutral)
}

/// One round of the neutral client's cells over every server.
fn neutral_round(
    options: &CompareOptions,
    drivers: &Drivers,
    skipped: &mut Vec<Skipped>,
    runs: &mut ThroughputRuns,
) {
    for &(connections, message_bytes) in &options.load_test_cells {
        for &server in &options.servers {
            let figure = format!("load_test throughput {connections} conns {message_bytes} B");
            let driver = match drivers.neutral_for(server) {
                Ok(driver) => driver,
                Err(reason) => {
                    skip(skipped, server, figure, reason);
                    continue;
                }
            };
            let spec_for = |target| LoadSpec {
                target,
                path: "/".to_owned(),
                protocol: server.protocol(),
                pattern: Pattern::ClosedLoop,
                connections,
                message_bytes,
                duration_s: options.duration_s,
            };
            match measure_once(server, spec_for, driver, options) {
                Ok(result) => runs
                    .entry((server, connections, message_bytes))
                    .or_default()
                    .push(result),
                Err(reason) => skip(skipped, server, figure, reason),
            }
        }
    }
}

/// The peak a server's open-loop levels are fractions of: its median closed-loop throughput at the
/// first connection count and message size.
pub fn peak(options: &CompareOptions, runs: &ThroughputRuns, server: ServerKind) -> Option<f64> {
    let key = (
        server,
        *options.connections.first()?,
        *options.message_bytes.first()?,
    );
    let rates: Vec<f64> = runs.get(&key)?.iter().map(|r| r.messages_per_s).collect();
    Summary::of(&rates).map(|s| s.median)
}

/// Phase 2: open-loop runs at each fraction of each server's own peak.
pub fn latency(
    options: &CompareOptions,
    drivers: &Drivers,
    peaks: &ThroughputRuns,
    skipped: &mut Vec<Skipped>,
) -> LatencyRuns {
    let mut runs = LatencyRuns::new();
    let (Some(&connections), Some(&message_bytes)) =
        (options.connections.first(), options.message_bytes.first())
    else {
        return runs;
    };
    for _ in 0..options.runs {
        for (index, &fraction) in options.load_fractions.iter().enumerate() {
            for &server in &options.servers {
                let figure = format!("latency at {:.0}% of peak", fraction * 100.0);
                let pattern = Pattern::OpenLoop { rate_per_s: 1 };
                let driver = match drivers.for_server(server, pattern) {
                    Ok(driver) => driver,
                    Err(reason) => {
                        skip(skipped, server, figure, reason);
                        continue;
                    }
                };
                let Some(peak) = peak(options, peaks, server) else {
                    skip(
                        skipped,
                        server,
                        figure,
                        "no closed-loop peak measured".to_owned(),
                    );
                    continue;
                };
                let rate_per_s = ((peak * fraction).round() as u64).max(1);
                let spec_for = |target| LoadSpec {
                    target,
                    path: "/".to_owned(),
                    protocol: server.protocol(),
                    pattern: Pattern::OpenLoop { rate_per_s },
                    connections,
                    message_bytes,
                    duration_s: options.duration_s,
                };
                match measure_once(server, spec_for, driver, options) {
                    Ok(result) => runs
                        .entry((server, index))
                        .or_insert_with(|| (rate_per_s, Vec::new()))
                        .1
                        .push(result),
                    Err(reason) => skip(skipped, server, figure, reason),
                }
            }
        }
    }
    runs
}

/// Phase 3: RSS per idle connection at each idle connection count.
pub fn memory(
    options: &CompareOptions,
    drivers: &Drivers,
    skipped: &mut Vec<Skipped>,
) -> MemoryRuns {
    let mut runs = MemoryRuns::new();
    for _ in 0..options.runs {
        for &connections in &options.idle_connections {
            for &server in &options.servers {
                let figure = format!("memory {connections} idle conns");
                let outcome = drivers
                    .for_server(server, Pattern::Idle)
                    .and_then(|driver| idle_once(server, connections, driver, options));
                match outcome {
                    Ok(sample) => runs.entry((server, connections)).or_default().push(sample),
                    Err(reason) => skip(skipped, server, figure, reason),
                }
            }
        }
    }
    runs
}

/// Holds `connections` idle connections on a fresh server; returns (bytes per connection, established).
fn idle_once(
    server: ServerKind,
    connections: u32,
    driver: &dyn crate::load::LoadDriver,
    options: &CompareOptions,
) -> Result<(f64, u64), String> {
    let mut running = RunningServer::start(
        server,
        &options.binaries,
        options.server_cpu,
        &options.work_dir,
    )
    .map_err(|e| format!("{e:#}"))?;
    settle();
    let before = running.rss_bytes().map_err(|e| format!("{e:#}"))?;
    let spec = LoadSpec {
        target: running.addr,
        path: "/".to_owned(),
        protocol: server.protocol(),
        pattern: Pattern::Idle,
        connections,
        message_bytes: IDLE_MESSAGE_BYTES,
        duration_s: options.duration_s.max(IDLE_HOLD_S_MIN)
            + u64::from(connections) / CONNECT_PER_S,
    };
    let done = AtomicBool::new(false);
    let (result, peak) = std::thread::scope(|scope| {
        let load = scope.spawn(|| {
            let result = driver.run(&spec, options.loadgen_cpu, &options.work_dir);
            done.store(true, Ordering::Release);
            result
        });
        let mut peak = before;
        while !done.load(Ordering::Acquire) && running.is_alive() {
            peak = peak.max(running.rss_bytes().unwrap_or(0));
            std::thread::sleep(Duration::from_millis(RSS_SAMPLE_MS));
        }
        let result: anyhow::Result<LoadResult> = load
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("load driver thread panicked")));
        (result, peak)
    });
    let result = result.map_err(|e| format!("{e:#}"))?;
    let established = result
        .connections_established
        .unwrap_or(u64::from(connections));
    if established == 0 {
        return Err("no connection was established".to_owned());
    }
    let per_connection = peak.saturating_sub(before) as f64 / established as f64;
    eprintln!(
        "  {:<18} {connections:>6} idle: {established} established, {per_connection:.0} B/conn",
        server.name()
    );
    Ok((per_connection, established))
}
