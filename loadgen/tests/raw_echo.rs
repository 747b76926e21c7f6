//! `--raw-echo` against a plain TCP byte-echo server (threads over std sockets): no upgrade, the masked
//! frames come back masked, and every check still holds; and the flag is refused outside `echo`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};

use clap::Parser;
use switchboard_loadgen::cli::Args;
use switchboard_loadgen::config::ConfigError;
use switchboard_loadgen::run::run;

/// Most connections the test server accepts; it then stops listening (bounded).
const CONNECTIONS_MAX: usize = 8;

/// Echoes every byte of every connection back, until the client closes.
fn start_byte_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(CONNECTIONS_MAX) {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn raw_echo_drives_a_byte_echo_server_with_every_check() {
    let addr = start_byte_echo();
    let url = format!("ws://{addr}/");
    let args = Args::parse_from([
        "switchboard-loadgen",
        "--url",
        &url,
        "--quiet",
        "--raw-echo",
        "--connections",
        "4",
        "--duration",
        "1",
        "--closed-loop",
        "--threads",
        "1",
        "--size",
        "1024",
    ]);
    let outcome = run(args.to_config().unwrap(), false).expect("run completes");
    let stats = outcome.stats;
    assert_eq!(
        stats.correctness_failures(),
        0,
        "errors: {:?}",
        stats.errors
    );
    assert_eq!(stats.upgraded, 4, "open without an upgrade");
    assert_eq!(stats.upgrade.len(), 0, "no upgrade latency recorded");
    assert!(stats.sent >= 4);
    assert_eq!(stats.received, stats.sent);
    assert_eq!(stats.bytes_received, stats.sent * 1024);
}

#[test]
fn raw_echo_is_refused_outside_the_echo_scenario() {
    let args = Args::parse_from(["switchboard-loadgen", "--raw-echo", "--scenario", "idle"]);
    assert!(matches!(
        args.to_config(),
        Err(ConfigError::RawEchoScenario(_))
    ));
}
