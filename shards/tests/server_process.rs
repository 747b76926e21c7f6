//! The real `switchboard serve` process: graceful drain on SIGTERM (every client gets a going-away Close,
//! 1001, and the process exits 0 once they are gone, or at the drain deadline when a client never answers),
//! and the TCP connection ending right after a close handshake.

mod server_support;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use server_support::{ends_within, RawClient, MASK};
use switchboard_protocol::ws::OpCode;

/// Longest the test waits for the binary to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A `switchboard serve --mode echo` child process with its own config file and log, killed on drop.
struct ServeProcess {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl ServeProcess {
    /// Starts the binary on a free loopback port with `drain_timeout_ms` and the extra `[limits]` lines,
    /// and waits until it answers.
    fn start(name: &str, drain_timeout_ms: u64, limits: &str) -> ServeProcess {
        let addr = free_loopback_port();
        let mut process = Self::spawn(name, addr, |data| {
            format!(
                "listen = \"{addr}\"\nshards = 2\nmode = \"echo\"\nadmin_listen = \"off\"\n\
                 data_dir = \"{data}\"\n[limits]\ndrain_timeout_ms = {drain_timeout_ms}\n{limits}\n"
            )
        });
        process.wait_until_listening();
        process
    }

    /// Spawns the binary with the config `config(data_dir)` in its own directory `name`; does not wait.
    fn spawn(name: &str, addr: SocketAddr, config: impl FnOnce(&str) -> String) -> ServeProcess {
        let dir = std::env::temp_dir().join(format!("switchboard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config_path = dir.join("serve.toml");
        std::fs::write(
            &config_path,
            config(&dir.join("data").display().to_string()),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn the switchboard binary");
        ServeProcess { child, addr, dir }
    }

    /// Waits (bounded) until the process accepts TCP connections (any mode).
    fn wait_until_accepting(&mut self) {
        self.wait_until(|addr| std::net::TcpStream::connect(addr).is_ok());
    }

    /// Waits (bounded) until the echo server answers.
    fn wait_until_listening(&mut self) {
        self.wait_until(|addr| match RawClient::try_open(addr) {
            Ok(mut client) => {
                client.assert_echo(b"ready?");
                true
            }
            Err(_) => false,
        });
    }

    /// Polls `ready` until it holds, failing if the process exits first or the start-up time runs out.
    fn wait_until(&mut self, ready: impl Fn(SocketAddr) -> bool) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "switchboard exited at start with {status}; log:\n{}",
                    self.log()
                );
            }
            if ready(self.addr) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "switchboard did not listen on {} in time; log:\n{}",
            self.addr,
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    fn sigterm(&self) {
        self.signal(libc::SIGTERM);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) takes plain integers and touches no memory of ours; `pid` is our own child, not
        // yet reaped (it is reaped only by `wait_for_exit`), so the pid cannot have been reused.
        let result = unsafe { libc::kill(pid, signal) };
        assert_eq!(result, 0, "kill({signal}) failed");
    }

    /// Waits (bounded) for the process to exit and returns its status.
    fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "switchboard still running after {within:?}; log:\n{}",
            self.log()
        );
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Chat mode with its own log on `data_dir`, listening on `addr`.
fn chat_config(addr: SocketAddr, data_dir: &str) -> String {
    format!(
        "listen = \"{addr}\"\nshards = 1\nmode = \"chat\"\nadmin_listen = \"off\"\n\
         data_dir = \"{data_dir}\"\n[chat]\nrouting_enabled = false\n[auth]\nactive_key_id = \"k\"\n\
         keys = [{{ id = \"k\", secret_hex = \"{}\" }}]\n",
        "ab".repeat(32)
    )
}

#[test]
fn a_second_server_on_a_busy_address_exits_with_a_clear_error() {
    // Shards listen with SO_REUSEPORT, which would let a second server share the port and take a part
    // of the first one's new clients (found by a benchmark script that left its server running).
    let first = ServeProcess::start("busy-first", 1_000, "");
    let mut second = ServeProcess::spawn("busy-second", first.addr, |data| {
        format!(
            "listen = \"{}\"\nshards = 2\nmode = \"echo\"\nadmin_listen = \"off\"\n\
             data_dir = \"{data}\"\n",
            first.addr
        )
    });
    let status = second.wait_for_exit(START_TIMEOUT);
    assert!(!status.success(), "the second server must not start");
    let log = second.log();
    assert!(
        log.contains(&format!("cannot listen on {}", first.addr)) && log.contains("in use"),
        "log:\n{log}"
    );
    // The first server is untouched.
    RawClient::open(first.addr).assert_echo(b"still here");
}

#[test]
fn a_second_server_on_the_same_data_dir_exits_with_a_clear_error() {
    let addr = free_loopback_port();
    let mut first = ServeProcess::spawn("datadir-first", addr, |data| chat_config(addr, data));
    first.wait_until_accepting();
    let shared_data = first.dir.join("data").display().to_string();
    let other = free_loopback_port();
    let mut second = ServeProcess::spawn("datadir-second", other, |_| {
        chat_config(other, &shared_data)
    });
    let status = second.wait_for_exit(START_TIMEOUT);
    assert!(
        !status.success(),
        "the second server must not open the same log"
    );
    let log = second.log();
    assert!(
        log.contains("in use by another switchboard process"),
        "log:\n{log}"
    );
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "the first server still runs"
    );
}

/// A loopback port that was free a moment ago (the kernel's pick for port 0).
fn free_loopback_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn sigterm_sends_going_away_to_every_client_and_exits_zero() {
    const CLIENTS: usize = 10;
    let mut server = ServeProcess::start("drain", 10_000, "");
    let mut clients: Vec<RawClient> = (0..CLIENTS).map(|_| RawClient::open(server.addr)).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.assert_echo(format!("client {i}").as_bytes());
    }
    server.sigterm();
    for (i, client) in clients.iter_mut().enumerate() {
        let close = client
            .read_until_close()
            .unwrap_or_else(|| panic!("client {i} got no Close"));
        assert_eq!(close.close_code(), Some(1001), "client {i}");
        let reason = String::from_utf8_lossy(&close.payload[2..]);
        assert!(
            reason.contains("reconnect"),
            "client {i}: the going-away reason hints to reconnect: {reason:?}"
        );
        client.reply_close(1001);
        assert!(
            ends_within(&mut client.stream, Duration::from_secs(15)),
            "client {i} dropped after the close"
        );
    }
    let status = server.wait_for_exit(Duration::from_secs(10 + 20));
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
}

#[test]
fn drain_ends_at_the_deadline_when_a_client_never_answers() {
    let mut server = ServeProcess::start("drain-deadline", 1_000, "");
    let mut polite = RawClient::open(server.addr);
    let mut silent = RawClient::open(server.addr);
    polite.assert_echo(b"polite");
    silent.assert_echo(b"silent");
    server.sigterm();
    let close = polite.read_until_close().expect("a Close");
    assert_eq!(close.close_code(), Some(1001));
    polite.reply_close(1001);
    // `silent` never reads nor answers: the process must still exit, at the drain deadline.
    let status = server.wait_for_exit(Duration::from_secs(1 + 20));
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
    assert!(
        ends_within(&mut silent.stream, Duration::from_secs(15)),
        "connection ended with the process"
    );
}

/// After the close handshake the server ends the TCP connection at once. Heartbeat, idle and close timers
/// are all set far away, so a close that the engine queued but never submitted shows up as a connection
/// that does not end. With the default `connections_per_shard_max` a shard runs several io_uring rings
/// (each ring's table is capped at `RLIMIT_NOFILE`); a close queued on a secondary ring after its cancel
/// completed used to wait for the shard's next timer (fixed in the engine's `poll`). Whether a connection
/// lands on a secondary ring is up to the kernel, hence several rounds.
#[test]
fn tcp_connection_ends_right_after_the_close_handshake() {
    let limits = "heartbeat_interval_ms_min = 3600000\nheartbeat_interval_ms_max = 3600000\n\
                  idle_timeout_ms = 7200000\nclose_timeout_ms = 600000";
    let mut server = ServeProcess::start("close", 1_000, limits);
    for round in 0..10u8 {
        let mut client = RawClient::open(server.addr);
        client.assert_echo(&[round; 10]);
        let mut payload = 4000u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"bye");
        client
            .send_frame(OpCode::Close, true, &payload, Some(MASK))
            .unwrap();
        let reply = client.read_until_close().expect("a Close reply");
        assert_eq!(reply.close_code(), Some(4000));
        assert!(
            ends_within(&mut client.stream, Duration::from_secs(15)),
            "round {round}: the server kept the TCP connection after the close handshake"
        );
    }
    server.sigterm();
    let status = server.wait_for_exit(Duration::from_secs(20));
    assert!(
        status.success(),
        "exit status {status}; log:\n{}",
        server.log()
    );
}

/// `SIGHUP` reloads (the TLS certificate, when configured); it used to kill the process.
#[test]
fn sighup_reloads_and_does_not_stop_the_server() {
    let addr = free_loopback_port();
    let mut server = ServeProcess::spawn("sighup", addr, |data| chat_config(addr, data));
    server.wait_until_accepting();
    server.signal(libc::SIGHUP);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains("SIGHUP") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        server.log().contains("nothing to reload"),
        "{}",
        server.log()
    );
    assert!(server.child.try_wait().unwrap().is_none(), "still running");
    assert!(std::net::TcpStream::connect(addr).is_ok());
    server.sigterm();
    assert!(server.wait_for_exit(Duration::from_secs(40)).success());
}
