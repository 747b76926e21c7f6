//! The three measurement phases of `compare`, each interleaving the servers round by round.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::compare::{
    measure_once, settle, CompareOptions, Drivers, IdleSample, LatencyRuns, MemoryRuns,
    ThroughputRuns,
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
                        server_pid: None,
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
                server_pid: None,
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
                    server_pid: None,
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

/// Holds `connections` idle connections on a fresh server and measures its RSS per connection, at the peak
/// and steady over the hold (see [`IdleSample`]).
fn idle_once(
    server: ServerKind,
    connections: u32,
    driver: &dyn crate::load::LoadDriver,
    options: &CompareOptions,
) -> Result<IdleSample, String> {
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
        server_pid: None,
    };
    let done = AtomicBool::new(false);
    let (result, samples) = std::thread::scope(|scope| {
        let started = Instant::now();
        let load = scope.spawn(|| {
            let result = driver.run(&spec, options.loadgen_cpu, &options.work_dir);
            done.store(true, Ordering::Release);
            result
        });
        let mut samples = Vec::new();
        while !done.load(Ordering::Acquire) && running.is_alive() {
            let rss = running.rss_bytes().unwrap_or(0);
            samples.push((started.elapsed().as_secs_f64(), rss));
            std::thread::sleep(Duration::from_millis(RSS_SAMPLE_MS));
        }
        let result: anyhow::Result<LoadResult> = load
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("load driver thread panicked")));
        (result, samples)
    });
    let peak = samples.iter().map(|&(_, rss)| rss).fold(before, u64::max);
    let ramp_s = f64::from(connections) / CONNECT_PER_S as f64;
    let steady = steady_rss(&samples, hold_window(ramp_s, spec.duration_s as f64));
    let result = result.map_err(|e| format!("{e:#}"))?;
    let established = result
        .connections_established
        .unwrap_or(u64::from(connections));
    if established == 0 {
        return Err("no connection was established".to_owned());
    }
    let per_connection = |rss: u64| rss.saturating_sub(before) as f64 / established as f64;
    let sample = IdleSample {
        peak_bytes: per_connection(peak),
        steady_bytes: steady.map(per_connection),
        established,
    };
    eprintln!(
        "  {:<18} {connections:>6} idle: {established} established, {} B/conn steady, {:.0} at the peak",
        server.name(),
        sample
            .steady_bytes
            .map_or("(no steady sample)".to_owned(), |b| format!("{b:.0}")),
        sample.peak_bytes,
    );
    Ok(sample)
}

/// The middle half of the hold, in seconds since the load generator started: the run lasts `duration_s`,
/// of which the first `ramp_s` open the connections (at the load generator's nominal connect rate) and
/// the rest holds them; the quarters at either end keep a slow ramp and the closing burst out.
fn hold_window(ramp_s: f64, duration_s: f64) -> (f64, f64) {
    let hold_s = (duration_s - ramp_s).max(0.0);
    (ramp_s + hold_s / 4.0, ramp_s + hold_s * 3.0 / 4.0)
}

/// The median RSS of the `(seconds, rss)` samples inside `window` (the upper middle one for an even count),
/// or `None` if none is.
fn steady_rss(samples: &[(f64, u64)], (from, to): (f64, f64)) -> Option<u64> {
    let mut inside: Vec<u64> = samples
        .iter()
        .filter(|&&(at, _)| at >= from && at <= to)
        .map(|&(_, rss)| rss)
        .collect();
    inside.sort_unstable();
    inside.get(inside.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steady_rss_is_the_median_of_the_hold_s_middle_half_only() {
        // 2 s of ramp, 8 s of hold: the window is 4..8 s. The ramp's and the closing burst's peaks are
        // outside it, one spike inside does not move the median.
        let window = hold_window(2.0, 10.0);
        assert_eq!(window, (4.0, 8.0));
        let mut samples = vec![(1.0, 900), (3.0, 500), (9.5, 1_000)];
        samples.extend([(4.0, 300), (5.0, 310), (6.0, 700), (7.0, 305), (8.0, 300)]);
        assert_eq!(steady_rss(&samples, window), Some(305));
        assert_eq!(
            steady_rss(&[(1.0, 900)], window),
            None,
            "no sample in the hold"
        );
        assert_eq!(
            hold_window(20.0, 10.0),
            (20.0, 20.0),
            "a ramp longer than the run"
        );
    }
}
