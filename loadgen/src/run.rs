//! A whole run: one shard thread per `--threads`, a live progress line, the merged result.

use std::io::Write as _;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Pacing, RunConfig, Scenario};
use crate::cpu::CpuTime;
use crate::histlog::HistogramLog;
use crate::report::{Percentiles, RunTimes, CLOSED_LOOP_NOTE};
use crate::shard::{run_shard, ProgressReport, StartLine};
use crate::stats::Stats;

/// The merged outcome of a run.
#[derive(Debug)]
pub struct RunOutcome {
    /// Counters and histograms of every thread, merged.
    pub stats: Stats,
    /// Wall and CPU time.
    pub times: RunTimes,
}

/// A thread could not run (engine setup failed) or panicked: a local problem, not the server's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("client thread failed: {0}")]
pub struct RunError(pub String);

/// Runs `config` to completion. With `live`, prints a progress line to stderr every second.
pub fn run(config: RunConfig, live: bool) -> Result<RunOutcome, RunError> {
    let config = Arc::new(config);
    if live {
        print_banner(&config);
    }
    let cpu_start = CpuTime::of_self().unwrap_or_default();
    let started = Instant::now();
    let mut log = match &config.histogram_log {
        Some(path) => Some(
            HistogramLog::create(path, config.scenario.is_chat(), SystemTime::now())
                .map_err(|e| RunError(e.to_string()))?,
        ),
        None => None,
    };
    let start = Arc::new(StartLine::new(config.threads));
    let cpus = switchboard_core::affinity::allowed_cpus().unwrap_or_default();
    let (progress_tx, progress_rx) = mpsc::channel::<ProgressReport>();
    let mut handles = Vec::new();
    for thread in 0..config.threads {
        let (config, tx, start) = (Arc::clone(&config), progress_tx.clone(), Arc::clone(&start));
        let cpu = (config.pin_threads && !cpus.is_empty()).then(|| cpus[thread % cpus.len()]);
        let handle = std::thread::Builder::new()
            .name(format!("loadgen-{thread}"))
            .spawn(move || {
                if let Some(cpu) = cpu {
                    let _ = switchboard_core::affinity::pin_current_thread(cpu);
                }
                run_shard(config, thread, &start, tx)
            })
            .map_err(|e| RunError(format!("spawn: {e}")))?;
        handles.push(handle);
    }
    drop(progress_tx);
    let watch = Watch {
        threads: config.threads,
        live,
        chat: config.scenario.is_chat(),
        log: log.as_mut(),
        started,
    };
    let watched = watch_progress(&progress_rx, watch);
    let mut stats = Stats::default();
    for handle in handles {
        let shard = handle
            .join()
            .map_err(|_| RunError("a client thread panicked".into()))?;
        stats.merge(&shard.map_err(RunError)?);
    }
    watched?;
    if let Some(log) = log.as_mut() {
        log.write_interval(&stats, started.elapsed())
            .map_err(|e| RunError(e.to_string()))?;
    }
    let cpu = CpuTime::of_self().unwrap_or_default().since(&cpu_start);
    let elapsed_secs = start.epoch().map_or(0.0, |e| e.elapsed().as_secs_f64());
    Ok(RunOutcome {
        stats,
        times: RunTimes { elapsed_secs, cpu },
    })
}

fn print_banner(config: &RunConfig) {
    let pacing = match config.pacing {
        _ if config.scenario == Scenario::Idle => "idle: connections only answer pings".to_string(),
        Pacing::OpenLoop { rate_per_sec, ramp } => format!(
            "open loop: {rate_per_sec} msg/s total, ramp {:.1} s, latency from the intended send time",
            ramp.as_secs_f64()
        ),
        Pacing::ClosedLoop { in_flight } => {
            format!("{CLOSED_LOOP_NOTE} ({in_flight} in flight per connection)")
        }
    };
    eprintln!(
        "{} x {} connections, {} threads, {:.1} s: {pacing}",
        config.url,
        config.connections,
        config.threads,
        config.duration.as_secs_f64()
    );
}

/// What the main thread watches while the client threads run.
struct Watch<'a> {
    threads: usize,
    /// Print the progress line.
    live: bool,
    /// Which latency the progress line shows.
    chat: bool,
    /// The interval log, written once a second.
    log: Option<&'a mut HistogramLog>,
    /// The run's start.
    started: Instant,
}

/// Once a second until every thread has hung up its progress channel: prints the progress line and
/// writes an interval to the histogram log.
fn watch_progress(
    rx: &mpsc::Receiver<ProgressReport>,
    mut watch: Watch<'_>,
) -> Result<(), RunError> {
    let mut latest: Vec<Option<Stats>> = (0..watch.threads).map(|_| None).collect();
    let mut previous = (0u64, 0u64);
    let mut last_print = Instant::now();
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(report) => latest[report.thread] = Some(report.stats),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
        let quiet = !watch.live && watch.log.is_none();
        if quiet || last_print.elapsed() < Duration::from_secs(1) {
            continue;
        }
        let interval = last_print.elapsed().as_secs_f64();
        last_print = Instant::now();
        let mut merged = Stats::default();
        latest.iter().flatten().for_each(|s| merged.merge(s));
        if let Some(log) = watch.log.as_deref_mut() {
            log.write_interval(&merged, watch.started.elapsed())
                .map_err(|e| RunError(e.to_string()))?;
        }
        if watch.live {
            print_progress(&merged, previous, interval, &watch);
        }
        previous = (merged.sent, merged.received);
    }
}

fn print_progress(merged: &Stats, previous: (u64, u64), interval: f64, watch: &Watch<'_>) {
    let latency = match watch.chat {
        true => Percentiles::of(&merged.deliver_latency),
        false => Percentiles::of(&merged.latency),
    };
    eprintln!(
        "[{:>6.1}s] conns {:>7} | sent/s {:>9.0} | recv/s {:>9.0} | p50 {:>9.1} us | p99 {:>9.1} us | errors {}",
        watch.started.elapsed().as_secs_f64(),
        merged.open,
        merged.sent.saturating_sub(previous.0) as f64 / interval,
        merged.received.saturating_sub(previous.1) as f64 / interval,
        latency.p50,
        latency.p99,
        merged.correctness_failures(),
    );
    let _ = std::io::stderr().flush();
}
