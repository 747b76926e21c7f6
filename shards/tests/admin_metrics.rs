//! The admin listener against a real echo server on loopback: `/metrics` parses as Prometheus text and its
//! counters move with traffic; `/healthz`, `/readyz` (including during a drain) and error routes.

mod admin_support;

use std::thread::sleep;
use std::time::Duration;

use admin_support::prom::{self, Exposition};
use admin_support::ws_client::{Received, WsClient};
use admin_support::{echo_config, http_get, http_raw};
use switchboard_protocol::ws::OpCode;
use switchboard_shards::admin::{self, AdminHandle, AdminSource};
use switchboard_shards::config::ServeConfig;
use switchboard_shards::server::Server;

/// Scrapes are retried this many times while the shards catch up (bounded; no timing is asserted).
const SCRAPE_ATTEMPTS_MAX: u32 = 200;
const SCRAPE_RETRY_MS: u64 = 10;

/// Every family the dashboard is built against, with its type.
const FAMILIES: [(&str, &str); 16] = [
    ("switchboard_shards", "gauge"),
    ("switchboard_draining", "gauge"),
    ("switchboard_degradation_mode", "gauge"),
    ("switchboard_engine_info", "gauge"),
    ("switchboard_connections_open", "gauge"),
    ("switchboard_connections_accepted_total", "counter"),
    ("switchboard_connections_closed_total", "counter"),
    ("switchboard_heartbeat_timeouts_total", "counter"),
    ("switchboard_shard_queue_depth", "gauge"),
    ("switchboard_messages_total", "counter"),
    ("switchboard_bytes_total", "counter"),
    ("switchboard_flushes_deferred_total", "counter"),
    ("switchboard_heartbeat_rtt_seconds", "histogram"),
    ("switchboard_delivery_latency_seconds", "histogram"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_cpu_seconds_total", "counter"),
];

fn start(shards: usize) -> (Server, AdminHandle) {
    start_with(echo_config(shards))
}

fn start_with(config: ServeConfig) -> (Server, AdminHandle) {
    let server = Server::start(&config).expect("the echo server starts");
    let admin = admin::start(
        "127.0.0.1:0".parse().unwrap(),
        AdminSource::from_server(&server),
    )
    .expect("admin starts");
    (server, admin)
}

fn scrape(admin: &AdminHandle) -> Exposition {
    let (status, body) = http_get(admin.local_addr(), "/metrics");
    assert_eq!(status, 200, "{body}");
    prom::parse(&body).unwrap_or_else(|error| panic!("{error}\n{body}"))
}

/// Scrapes until `ready` holds for the exposition, and returns it; panics with the last scrape otherwise.
fn scrape_until(
    admin: &AdminHandle,
    what: &str,
    ready: impl Fn(&Exposition) -> bool,
) -> Exposition {
    for _ in 0..SCRAPE_ATTEMPTS_MAX {
        let exposition = scrape(admin);
        if ready(&exposition) {
            return exposition;
        }
        sleep(Duration::from_millis(SCRAPE_RETRY_MS));
    }
    let (_, body) = http_get(admin.local_addr(), "/metrics");
    let samples: Vec<&str> = body
        .lines()
        .filter(|line| !line.starts_with('#') && !line.contains("_bucket"))
        .collect();
    panic!("{what} never held; last scrape:\n{}", samples.join("\n"));
}

fn messages(exposition: &Exposition, direction: &str, lane: &str) -> f64 {
    exposition.value(
        "switchboard_messages_total",
        &[("direction", direction), ("lane", lane)],
    )
}

#[test]
fn metrics_parse_and_name_every_family() {
    let (_server, admin) = start(2);
    let exposition = scrape(&admin);
    for (name, kind) in FAMILIES {
        assert_eq!(
            exposition.types.get(name).map(String::as_str),
            Some(kind),
            "family {name}"
        );
    }
    assert_eq!(exposition.value("switchboard_shards", &[]), 2.0);
    assert_eq!(exposition.value("switchboard_draining", &[]), 0.0);
    assert_eq!(exposition.value("switchboard_degradation_mode", &[]), 0.0);
    assert_eq!(
        exposition.value("switchboard_connections_accepted_total", &[]),
        0.0
    );
    let engines = exposition.series("switchboard_engine_info");
    assert!(
        !engines.is_empty()
            && engines
                .iter()
                .all(|(labels, value)| *value == 1.0 && labels.len() == 2)
    );
    for shard in ["0", "1"] {
        assert_eq!(
            exposition.value("switchboard_shard_queue_depth", &[("shard", shard)]),
            0.0
        );
    }
    assert_eq!(
        exposition
            .series("switchboard_connections_closed_total")
            .len(),
        switchboard_shards::server::stats::CloseCause::ALL.len(),
        "one series per reason"
    );
    assert_eq!(
        exposition.series("switchboard_messages_total").len(),
        8,
        "in/out × four lanes"
    );
    assert!(exposition.value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(exposition.value("process_cpu_seconds_total", &[]) >= 0.0);
    let inf = [("stage", "sent"), ("le", "+Inf")];
    assert_eq!(
        exposition.value("switchboard_delivery_latency_seconds_bucket", &inf),
        0.0
    );
}

#[test]
fn counters_move_with_echo_traffic_and_closes() {
    const CLIENTS: usize = 3;
    const MESSAGES_PER_CLIENT: usize = 5;
    let (_server, admin) = start(2);
    let mut clients: Vec<WsClient> = (0..CLIENTS)
        .map(|_| WsClient::connect(_server.local_addr()))
        .collect();
    for (index, client) in clients.iter_mut().enumerate() {
        for message in 0..MESSAGES_PER_CLIENT {
            let text = format!("client {index} message {message}");
            client.send_text(&text);
            assert_eq!(client.recv(), Received::Text(text));
        }
    }
    let total = (CLIENTS * MESSAGES_PER_CLIENT) as f64;
    let exposition = scrape_until(&admin, "all echoes counted", |e| {
        messages(e, "out", "chat") == total
            && e.value("switchboard_bytes_total", &[("direction", "out")]) > 0.0
    });
    assert_eq!(
        exposition.value("switchboard_connections_accepted_total", &[]),
        CLIENTS as f64
    );
    assert_eq!(
        exposition.value("switchboard_connections_open", &[]),
        CLIENTS as f64
    );
    assert_eq!(messages(&exposition, "in", "chat"), total);
    for lane in ["urgent", "ai_answer", "system"] {
        assert_eq!(
            messages(&exposition, "in", lane) + messages(&exposition, "out", lane),
            0.0,
            "lane {lane}"
        );
    }
    // Each echoed text message is at least its payload plus a 2-byte header, plus the 6-byte mask in.
    let payload_bytes = (CLIENTS * MESSAGES_PER_CLIENT * "client 0 message 0".len()) as f64;
    assert!(
        exposition.value("switchboard_bytes_total", &[("direction", "in")])
            >= payload_bytes + 6.0 * total
    );
    assert!(
        exposition.value("switchboard_bytes_total", &[("direction", "out")])
            >= payload_bytes + 2.0 * total
    );
    let latency_count = [("stage", "sent")];
    assert_eq!(
        exposition.value("switchboard_delivery_latency_seconds_count", &latency_count),
        total
    );

    let mut closing = clients.remove(0);
    closing.send_close(1000);
    assert_eq!(closing.recv(), Received::Close(Some(1000)));
    closing.wait_eof();
    let exposition = scrape_until(&admin, "the close counted", |e| {
        e.value(
            "switchboard_connections_closed_total",
            &[("reason", "peer")],
        ) == 1.0
    });
    assert_eq!(
        exposition.value("switchboard_connections_open", &[]),
        (CLIENTS - 1) as f64
    );
    let other_closes: f64 = exposition
        .series("switchboard_connections_closed_total")
        .iter()
        .filter(|(labels, _)| labels["reason"] != "peer")
        .map(|(_, value)| value)
        .sum();
    assert_eq!(other_closes, 0.0);
}

#[test]
fn health_readiness_and_drain() {
    let (server, admin) = start(1);
    let addr = admin.local_addr();
    assert_eq!(http_get(addr, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(http_get(addr, "/readyz"), (200, "ready\n".to_owned()));
    assert_eq!(http_get(addr, "/readyz?verbose=1").0, 200);
    let mut client = WsClient::connect(server.local_addr());

    server.drain();
    let (status, body) = http_get(addr, "/readyz");
    assert_eq!(status, 503);
    assert!(body.contains("draining"), "{body}");
    assert_eq!(
        http_get(addr, "/healthz").0,
        200,
        "a draining process is still alive"
    );
    assert_eq!(scrape(&admin).value("switchboard_draining", &[]), 1.0);
    assert_eq!(
        client.recv(),
        Received::Close(Some(1001)),
        "drain sends going-away"
    );
}

#[test]
fn unknown_paths_methods_and_bad_requests() {
    let (_server, admin) = start(1);
    let addr = admin.local_addr();
    let (status, body) = http_get(addr, "/nope");
    assert_eq!(status, 404);
    assert!(
        body.contains("/nope") && body.contains("/metrics"),
        "{body}"
    );
    let (status, body) = http_raw(
        addr,
        b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(status, 405, "{body}");
    assert_eq!(http_raw(addr, b"BLAH\r\n\r\n").0, 400);
    let mut oversized = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while oversized.len() < 16 * 1024 {
        oversized.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
    }
    assert_eq!(http_raw(addr, &oversized).0, 431);
    // The listener still serves after refusing.
    assert_eq!(http_get(addr, "/healthz").0, 200);
}

#[test]
fn stop_closes_the_listener() {
    let (_server, admin) = start(1);
    let addr = admin.local_addr();
    admin.stop();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "nothing listens after stop"
    );
}

#[test]
fn heartbeat_rtt_and_timeouts_are_counted() {
    const PINGS_ANSWERED: usize = 2;
    let mut config = echo_config(1);
    config.limits.heartbeat_interval_ms_min = 100;
    config.limits.heartbeat_interval_ms_max = 100;
    config.limits.pong_timeout_ms_min = 100;
    config.limits.pong_timeout_ms_max = 200;
    let (server, admin) = start_with(config);
    let mut answering = WsClient::connect(server.local_addr());
    let _silent = WsClient::connect(server.local_addr());
    answering.answer_pings(PINGS_ANSWERED);
    let rtt_count = "switchboard_heartbeat_rtt_seconds_count";
    let exposition = scrape_until(&admin, "RTT samples and a heartbeat timeout", |e| {
        e.value(rtt_count, &[]) >= PINGS_ANSWERED as f64
            && e.value("switchboard_heartbeat_timeouts_total", &[]) >= 1.0
    });
    let timeouts = exposition.value("switchboard_heartbeat_timeouts_total", &[]);
    let closed = exposition.value(
        "switchboard_connections_closed_total",
        &[("reason", "heartbeat_timeout")],
    );
    assert!(
        closed >= 1.0 && closed <= timeouts,
        "every heartbeat timeout is a close ({closed} vs {timeouts})"
    );
    let inf = exposition.value(
        "switchboard_heartbeat_rtt_seconds_bucket",
        &[("le", "+Inf")],
    );
    assert_eq!(
        inf,
        exposition.value(rtt_count, &[]),
        "+Inf bucket equals the count"
    );
}

#[test]
fn a_client_that_stops_reading_shows_in_queue_depth_then_is_closed() {
    const MESSAGE_BYTES: usize = 16 * 1024;
    const MESSAGES_MAX: usize = 4_000;
    let mut config = echo_config(1);
    config.limits.send_queue_bytes_max = 256 * 1024;
    // A client that does not read never answers our Close; do not wait long for it.
    config.limits.close_timeout_ms = 500;
    let (server, admin) = start_with(config);
    let mut client = WsClient::connect(server.local_addr());
    let payload = vec![b'x'; MESSAGE_BYTES];
    let depth = |e: &Exposition| e.value("switchboard_shard_queue_depth", &[("shard", "0")]);
    let full = |e: &Exposition| {
        e.value(
            "switchboard_connections_closed_total",
            &[("reason", "send_queue_full")],
        )
    };
    let mut saw_depth = false;
    // The client never reads: echoes fill the socket buffers, then the send queue, then the server closes
    // the connection with 1013.
    for _ in 0..MESSAGES_MAX {
        if client.try_send_frame(OpCode::Binary, &payload).is_err() {
            break;
        }
        let exposition = scrape(&admin);
        saw_depth |= depth(&exposition) == 1.0;
        if full(&exposition) == 1.0 {
            break;
        }
    }
    assert!(
        saw_depth,
        "the stalled connection was counted in the queue depth"
    );
    let exposition = scrape_until(&admin, "the send-queue-full close", |e| full(e) == 1.0);
    assert_eq!(
        depth(&exposition),
        0.0,
        "a closed connection leaves the queue depth"
    );
    assert_eq!(exposition.value("switchboard_connections_open", &[]), 0.0);
}
