//! Turns the raw per-run results of the phases into record cells: medians, min–max and ratios.

use crate::compare::{CompareOptions, Drivers, LatencyRuns, MemoryRuns, ThroughputRuns};
use crate::load::{LoadDriver, Pattern, Percentiles};
use crate::record::{LatencyCell, MemoryCell, ThroughputCell};
use crate::servers::ServerKind;
use crate::summary::{ratio, Summary};

/// Throughput cells of the harness's own client, with each median (of msg/s, and of server CPU per
/// message) as a ratio to Switchboard's in the same cell.
pub fn throughput(
    runs: &ThroughputRuns,
    drivers: &Drivers,
    duration_s: u64,
) -> Vec<ThroughputCell> {
    cells(runs, duration_s, None, |server| {
        drivers
            .for_server(server, Pattern::ClosedLoop)
            .map_or_else(|_| "unknown".to_owned(), |d| d.describe(server.protocol()))
    })
}

/// Throughput cells of the neutral client (uWebSockets' `load_test`), each ratio to Switchboard's
/// median with the same client in the same cell.
pub fn neutral_throughput(
    runs: &ThroughputRuns,
    drivers: &Drivers,
    duration_s: u64,
) -> Vec<ThroughputCell> {
    let Some(load_test) = &drivers.load_test else {
        return Vec::new();
    };
    let name = load_test.name();
    cells(runs, duration_s, Some(name), |_| name.to_owned())
}

fn cells(
    runs: &ThroughputRuns,
    duration_s: u64,
    neutral_client: Option<&str>,
    driver_label: impl Fn(ServerKind) -> String,
) -> Vec<ThroughputCell> {
    let median = |server, connections, bytes| {
        let results = runs.get(&(server, connections, bytes))?;
        let rates: Vec<f64> = results.iter().map(|r| r.messages_per_s).collect();
        Summary::of(&rates)
    };
    let cpu_per_message = |results: &[crate::load::LoadResult]| {
        let costs: Vec<f64> = results
            .iter()
            .filter_map(|r| r.server_cpu_us_per_message(duration_s))
            .collect();
        Summary::of(&costs)
    };
    let reference_cpu = |connections, bytes| {
        let results = runs.get(&(ServerKind::Switchboard, connections, bytes))?;
        cpu_per_message(results).map(|s| s.median)
    };
    let mut cells = Vec::new();
    for (&(server, connections, message_bytes), results) in runs {
        let rates: Vec<f64> = results.iter().map(|r| r.messages_per_s).collect();
        let Some(summary) = Summary::of(&rates) else {
            continue;
        };
        let reference =
            median(ServerKind::Switchboard, connections, message_bytes).map(|s| s.median);
        let driver = driver_label(server);
        let cpu = cpu_per_message(results);
        let system_costs: Vec<f64> = results
            .iter()
            .filter_map(|r| r.server_system_cpu_us_per_message(duration_s))
            .collect();
        cells.push(ThroughputCell {
            server: server.name().to_owned(),
            connections,
            message_bytes,
            driver,
            messages_per_s: summary,
            ratio_to_switchboard: ratio(summary.median, reference),
            errors: results.iter().map(|r| r.errors).sum(),
            server_cpu_us_per_message: cpu,
            server_system_cpu_us_per_message: Summary::of(&system_costs),
            cpu_ratio_to_switchboard: cpu
                .and_then(|cpu| ratio(cpu.median, reference_cpu(connections, message_bytes))),
            neutral_client: neutral_client.map(str::to_owned),
        });
    }
    cells
}

/// Latency cells: the median of each percentile over runs, plus the p99 spread.
pub fn latency(runs: &LatencyRuns, options: &CompareOptions) -> Vec<LatencyCell> {
    let connections = options.connections.first().copied().unwrap_or(0);
    let message_bytes = options.message_bytes.first().copied().unwrap_or(0);
    let mut cells = Vec::new();
    for (&(server, index), (rate_per_s, results)) in runs {
        let measured: Vec<Percentiles> = results.iter().filter_map(|r| r.latency_us).collect();
        if measured.is_empty() {
            continue;
        }
        let mut medians = [0.0; 6];
        for (level, slot) in medians.iter_mut().enumerate() {
            let values: Vec<f64> = measured.iter().map(|p| p.values()[level]).collect();
            *slot = Summary::of(&values).map_or(f64::NAN, |s| s.median);
        }
        let p99: Vec<f64> = measured.iter().map(|p| p.p99).collect();
        let achieved: Vec<f64> = results.iter().map(|r| r.messages_per_s).collect();
        let (Some(p99_us), Some(achieved_per_s)) = (Summary::of(&p99), Summary::of(&achieved))
        else {
            continue;
        };
        cells.push(LatencyCell {
            server: server.name().to_owned(),
            connections,
            message_bytes,
            load_fraction: options
                .load_fractions
                .get(index)
                .copied()
                .unwrap_or(f64::NAN),
            rate_per_s: *rate_per_s,
            median_us: Percentiles::from_values(medians),
            p99_us,
            achieved_per_s,
            errors: results.iter().map(|r| r.errors).sum(),
        });
    }
    cells
}

/// Memory cells, with ratios to Switchboard.
pub fn memory(runs: &MemoryRuns) -> Vec<MemoryCell> {
    let summary = |server, connections| {
        let samples = runs.get(&(server, connections))?;
        let values: Vec<f64> = samples.iter().map(|s| s.peak_bytes).collect();
        Summary::of(&values)
    };
    let mut cells = Vec::new();
    for (&(server, connections), samples) in runs {
        let Some(bytes) = summary(server, connections) else {
            continue;
        };
        let reference = summary(ServerKind::Switchboard, connections).map(|s| s.median);
        // Steady figures only when every run has one: a median over some runs would mix two measures.
        let steady: Option<Vec<f64>> = samples.iter().map(|s| s.steady_bytes).collect();
        cells.push(MemoryCell {
            server: server.name().to_owned(),
            connections,
            established_min: samples.iter().map(|s| s.established).min().unwrap_or(0),
            bytes_per_connection: bytes,
            steady_bytes_per_connection: steady.as_deref().and_then(Summary::of),
            ratio_to_switchboard: ratio(bytes.median, reference),
        });
    }
    cells
}
