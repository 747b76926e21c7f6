//! The Grafana dashboard is valid JSON and charts every server metric it is meant to show.

const METRICS: [&str; 12] = [
    "switchboard_connections_open",
    "switchboard_connections_accepted_total",
    "switchboard_connections_closed_total",
    "switchboard_messages_total",
    "switchboard_bytes_total",
    "switchboard_delivery_latency_seconds_bucket",
    "switchboard_heartbeat_rtt_seconds_bucket",
    "switchboard_heartbeat_timeouts_total",
    "switchboard_shard_queue_depth",
    "switchboard_ring_occupancy",
    "switchboard_degradation_mode",
    "switchboard_engine_info",
];

#[test]
fn dashboard_queries_every_metric() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/grafana/switchboard.json");
    let text = std::fs::read_to_string(path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    let expressions: Vec<&str> = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["expr"].as_str())
        .collect();
    for metric in METRICS {
        assert!(
            expressions.iter().any(|e| e.contains(metric)),
            "{metric} is not charted"
        );
    }
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(
            panel["fieldConfig"]["defaults"]["unit"].is_string(),
            "{} has a unit",
            panel["title"]
        );
    }
}
