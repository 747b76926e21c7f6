//! The dashboard's charts, each built from records into one SVG string.

use std::fmt::Write;

use crate::load::Percentiles;
use crate::record::{Record, ThroughputCell};
use crate::report::svg::{escape, Chart, Scale, PALETTE};
use crate::summary::Summary;
use crate::table::size_label;

/// Colour of a server: stable across charts (order of first appearance in the record's settings).
pub fn server_colour(record: &Record, server: &str) -> String {
    let index = record
        .settings
        .servers
        .iter()
        .position(|s| s == server)
        .unwrap_or(0);
    PALETTE[index % PALETTE.len()].to_owned()
}

/// One bar group: label and (series, value) bars.
struct BarGroup {
    label: String,
    bars: Vec<(String, Summary)>,
}

/// Grouped bars with min–max whiskers.
fn grouped_bars(
    name: &str,
    title: &str,
    y_title: &str,
    x_title: &str,
    groups: &[BarGroup],
    series: &[(String, String)],
) -> String {
    let mut chart = Chart::new(name, title);
    let top = groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|(_, s)| s.max))
        .fold(0.0, f64::max);
    let scale = Scale::linear_from_zero(top.max(1.0));
    chart.y_axis(&scale, y_title);
    let group_width = 1.0 / groups.len().max(1) as f64;
    let bar_width = group_width * 0.8 / series.len().max(1) as f64;
    let mut ticks = Vec::new();
    for (group_index, group) in groups.iter().enumerate() {
        let group_left = group_width * group_index as f64 + group_width * 0.1;
        ticks.push((
            group_width * (group_index as f64 + 0.5),
            group.label.clone(),
        ));
        for (series_index, (series_name, colour)) in series.iter().enumerate() {
            let Some((_, summary)) = group.bars.iter().find(|(s, _)| s == series_name) else {
                continue;
            };
            let x = chart.x_px(group_left + bar_width * series_index as f64);
            let width = bar_width * chart.plot_width() * 0.9;
            let (y, y0) = (chart.y_px(scale.fraction(summary.median)), chart.y_px(0.0));
            let (y_min, y_max) = (
                chart.y_px(scale.fraction(summary.min)),
                chart.y_px(scale.fraction(summary.max)),
            );
            let whisker = x + width / 2.0;
            chart.push(&format!(
                "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{colour}\">\
                 <title>{}: {:.0} (min {:.0}, max {:.0})</title></rect>\
                 <line x1=\"{whisker:.1}\" y1=\"{y_min:.1}\" x2=\"{whisker:.1}\" y2=\"{y_max:.1}\" stroke=\"#222\"/>",
                (y0 - y).max(0.0),
                escape(series_name),
                summary.median,
                summary.min,
                summary.max
            ));
        }
    }
    if groups.is_empty() {
        chart.note("not measured in this run (see the skipped list)");
    }
    chart.x_axis(&ticks, x_title);
    let legend: Vec<_> = series
        .iter()
        .map(|(s, c)| (s.clone(), c.clone(), false))
        .collect();
    chart.legend(&legend);
    chart.finish()
}

/// Servers of a record as (name, colour) legend series.
fn servers(record: &Record) -> Vec<(String, String)> {
    record
        .settings
        .servers
        .iter()
        .map(|s| (s.clone(), server_colour(record, s)))
        .collect()
}

/// Throughput bars per server and message size, one chart per connection count.
pub fn throughput(record: &Record) -> Vec<String> {
    echo_bars(
        record,
        |c| Some(c.messages_per_s),
        |connections| EchoChart {
            id: format!("throughput-{connections}"),
            title: format!("Closed-loop echo throughput, {connections} connections, 1 server core"),
            y_label: "echoed messages per second (msg/s)",
        },
    )
}

/// Server CPU per echoed message, per server and message size, one chart per connection count
/// ("not measured" for records from before it was). Lower is better; it shows the server's own cost
/// when the load generator's core limits every server's msg/s alike.
pub fn server_cpu(record: &Record) -> Vec<String> {
    echo_bars(
        record,
        |c| c.server_cpu_us_per_message,
        |connections| EchoChart {
            id: format!("server-cpu-{connections}"),
            title: format!(
                "Server CPU per echoed message, {connections} connections (lower is better)"
            ),
            y_label: "server CPU per echoed message (µs)",
        },
    )
}

/// The names of one echo bar chart.
struct EchoChart {
    id: String,
    title: String,
    y_label: &'static str,
}

/// One bar chart per connection count of `value` over the closed-loop echo cells, grouped by
/// message size, one bar per server.
fn echo_bars(
    record: &Record,
    value: impl Fn(&ThroughputCell) -> Option<Summary>,
    chart: impl Fn(u32) -> EchoChart,
) -> Vec<String> {
    record
        .settings
        .connections
        .iter()
        .map(|&connections| {
            let groups: Vec<BarGroup> = record
                .settings
                .message_bytes
                .iter()
                .map(|&bytes| BarGroup {
                    label: size_label(bytes),
                    bars: record
                        .results
                        .throughput
                        .iter()
                        .filter(|c| {
                            c.by_own_client()
                                && c.connections == connections
                                && c.message_bytes == bytes
                        })
                        .filter_map(|c| Some((c.server.clone(), value(c)?)))
                        .collect(),
                })
                .filter(|g| !g.bars.is_empty())
                .collect();
            let names = chart(connections);
            grouped_bars(
                &names.id,
                &names.title,
                names.y_label,
                "message size (bytes)",
                &groups,
                &servers(record),
            )
        })
        .collect()
}

/// Throughput of the cells driven by the neutral client (uWebSockets' `load_test`), one bar per
/// server, grouped by cell; `None` when the record has none.
pub fn neutral_throughput(record: &Record) -> Option<String> {
    let neutral: Vec<&ThroughputCell> = record
        .results
        .throughput
        .iter()
        .filter(|c| !c.by_own_client())
        .collect();
    let client = neutral.first()?.neutral_client.clone()?;
    let mut cells: Vec<(u32, usize)> = Vec::new();
    for cell in &neutral {
        if !cells.contains(&(cell.connections, cell.message_bytes)) {
            cells.push((cell.connections, cell.message_bytes));
        }
    }
    let groups: Vec<BarGroup> = cells
        .iter()
        .map(|&(connections, bytes)| BarGroup {
            label: format!("{connections} × {}", size_label(bytes)),
            bars: neutral
                .iter()
                .filter(|c| c.connections == connections && c.message_bytes == bytes)
                .map(|c| (c.server.clone(), c.messages_per_s))
                .collect(),
        })
        .collect();
    Some(grouped_bars(
        "throughput-neutral",
        &format!("Closed-loop echo throughput driven by {client}, 1 server core"),
        "echoed messages per second (msg/s)",
        "connections × message size",
        &groups,
        &servers(record),
    ))
}

/// Memory per idle connection, grouped by connection count: the steady figure (connections open and idle)
/// when every cell has one, else the peak (older records; it includes the connect ramp and closing burst).
pub fn memory(record: &Record) -> String {
    let memory = &record.results.memory;
    let steady = !memory.is_empty()
        && memory
            .iter()
            .all(|c| c.steady_bytes_per_connection.is_some());
    let groups: Vec<BarGroup> = record
        .settings
        .idle_connections
        .iter()
        .map(|&connections| BarGroup {
            label: format!("{connections} conns"),
            bars: record
                .results
                .memory
                .iter()
                .filter(|c| c.connections == connections)
                .map(|c| {
                    let bytes = match c.steady_bytes_per_connection {
                        Some(bytes) if steady => bytes,
                        _ => c.bytes_per_connection,
                    };
                    (c.server.clone(), bytes)
                })
                .collect(),
        })
        .filter(|g| !g.bars.is_empty())
        .collect();
    grouped_bars(
        "memory",
        if steady {
            "Server RSS per idle connection (steady: all open and idle)"
        } else {
            "Server RSS per idle connection (peak of the run)"
        },
        "RSS per connection (bytes)",
        "idle connections held",
        &groups,
        &servers(record),
    )
}

/// HDR-style x position of a percentile level: −log10(1 − p), so 90, 99, 99.9 … are evenly spaced;
/// `max` is drawn one step past p99.99.
pub fn percentile_position(level: f64) -> f64 {
    if level >= 100.0 {
        5.0
    } else {
        -(1.0 - level / 100.0).log10()
    }
}

/// Latency percentile curves per server, one chart per load level.
pub fn latency(record: &Record) -> Vec<String> {
    record
        .settings
        .load_fractions
        .iter()
        .map(|&fraction| {
            let cells: Vec<_> = record
                .results
                .latency
                .iter()
                .filter(|c| (c.load_fraction - fraction).abs() < 1e-9)
                .collect();
            let curves: Vec<Curve> = cells
                .iter()
                .map(|c| Curve {
                    name: c.server.clone(),
                    colour: server_colour(record, &c.server),
                    percentiles: c.median_us,
                })
                .collect();
            let (conns, bytes) = cells
                .first()
                .map_or((0, 0), |c| (c.connections, c.message_bytes));
            let title = if cells.is_empty() {
                format!(
                    "Open-loop echo latency at {:.0}% of each server's peak",
                    fraction * 100.0
                )
            } else {
                format!(
                    "Latency at {:.0}% of each server's peak ({conns} conns, {})",
                    fraction * 100.0,
                    size_label(bytes)
                )
            };
            percentile_chart(
                &format!("latency-{:.0}", fraction * 100.0),
                &title,
                "round-trip latency (µs, log scale)",
                &curves,
                NOT_MEASURED_NOTE,
            )
        })
        .collect()
}

/// One percentile curve: its legend name, colour and values.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend name.
    pub name: String,
    /// Stroke colour.
    pub colour: String,
    /// The percentiles, in microseconds.
    pub percentiles: Percentiles,
}

/// What a chart with no data says.
pub const NOT_MEASURED_NOTE: &str = "not measured in this run (see the skipped list)";

/// Percentile curves on an HDR-style x axis and a log-scale y axis titled `y_title`; `empty_note`
/// is written over the plot when there is no curve.
pub fn percentile_chart(
    name: &str,
    title: &str,
    y_title: &str,
    curves: &[Curve],
    empty_note: &str,
) -> String {
    let mut chart = Chart::new(name, title);
    let values: Vec<f64> = curves
        .iter()
        .flat_map(|c| c.percentiles.values())
        .filter(|v| *v > 0.0)
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    let scale = if values.is_empty() {
        Scale::log_decades(10.0, 10_000.0)
    } else {
        Scale::log_decades(low, high)
    };
    chart.y_axis(&scale, y_title);
    let position_max = percentile_position(100.0);
    for curve in curves {
        let mut points = String::new();
        for ((_, level), value) in Percentiles::LEVELS.iter().zip(curve.percentiles.values()) {
            let x = chart.x_px(percentile_position(*level) / position_max);
            let y = chart.y_px(scale.fraction(value));
            let _ = write!(points, "{x:.1},{y:.1} ");
        }
        chart.push(&format!(
            "<polyline class=\"curve\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\">\
             <title>{}</title></polyline>",
            curve.colour,
            points.trim_end(),
            escape(&curve.name)
        ));
    }
    if curves.is_empty() {
        chart.note(empty_note);
    }
    let ticks: Vec<_> = Percentiles::LEVELS
        .iter()
        .map(|(label, level)| {
            (
                percentile_position(*level) / position_max,
                (*label).to_owned(),
            )
        })
        .collect();
    chart.x_axis(&ticks, "percentile (HDR log scale: 1 − p)");
    let legend: Vec<_> = curves
        .iter()
        .map(|c| (c.name.clone(), c.colour.clone(), false))
        .collect();
    chart.legend(&legend);
    chart.finish()
}
