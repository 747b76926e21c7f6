//! The servers under comparison: how to start each one pinned to a core, and how to read its memory.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::load::Protocol;

/// How long a server may take to start listening.
pub const STARTUP_MS_MAX: u64 = 10_000;
/// Connections Switchboard is configured to allow on its single shard (above the 100K idle test).
pub const SWITCHBOARD_CONNECTIONS_MAX: u64 = 200_000;
/// Per-connection frame rate limit for benchmarks: far above what one connection reaches here.
pub const SWITCHBOARD_FRAMES_PER_SECOND_MAX: u64 = 10_000_000;

/// One server in the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    /// `switchboard serve --mode echo --shards 1`: the system under test.
    Switchboard,
    /// The tokio-tungstenite peer.
    TokioTungstenite,
    /// The fastwebsockets peer.
    Fastwebsockets,
    /// Plain tokio TCP echo: the "no WebSocket" reference.
    TokioTcp,
    /// The engine's raw TCP echo (`core/examples/tcp_echo.rs serve`): the io_uring ceiling.
    EngineTcp,
    /// uWebSockets' `EchoServer` example (C++, uSockets on epoll, no TLS, one thread), built outside
    /// this repository from uWebSockets' public source; skipped when its binary is absent.
    UWebSockets,
}

impl ServerKind {
    /// Every server, Switchboard first.
    pub const ALL: [ServerKind; 6] = [
        ServerKind::Switchboard,
        ServerKind::TokioTungstenite,
        ServerKind::Fastwebsockets,
        ServerKind::UWebSockets,
        ServerKind::TokioTcp,
        ServerKind::EngineTcp,
    ];

    /// The name used on the command line, in records and on the dashboard.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Switchboard => "switchboard",
            ServerKind::TokioTungstenite => "tokio-tungstenite",
            ServerKind::Fastwebsockets => "fastwebsockets",
            ServerKind::TokioTcp => "tokio-tcp",
            ServerKind::EngineTcp => "engine-tcp",
            ServerKind::UWebSockets => "uwebsockets",
        }
    }

    /// Parses [`ServerKind::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// What the server speaks, which decides the load driver.
    pub fn protocol(self) -> Protocol {
        match self {
            ServerKind::TokioTcp | ServerKind::EngineTcp => Protocol::RawTcp,
            _ => Protocol::WebSocket,
        }
    }
}

/// Environment variable naming the directory of the uWebSockets binaries (`uws_echo`, `load_test`);
/// default `target/uws` (the release directory's sibling).
pub const UWS_BIN_DIR_ENV: &str = "UWS_BIN_DIR";

/// Where the built binaries are (`target/release` and its `examples/`).
#[derive(Debug, Clone)]
pub struct Binaries {
    /// The release output directory holding `switchboard`, the peers and `switchboard-loadgen`.
    pub release_dir: PathBuf,
}

impl Binaries {
    /// A uWebSockets binary (`uws_echo`, `load_test`): under `$UWS_BIN_DIR`, else `target/uws/`.
    /// Cargo does not build these (C++, built outside this repository; see README, Performance).
    pub fn uws(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os(UWS_BIN_DIR_ENV).map_or_else(
            || {
                self.release_dir
                    .parent()
                    .unwrap_or(&self.release_dir)
                    .join("uws")
            },
            PathBuf::from,
        );
        dir.join(name)
    }

    /// Why `kind` cannot be started here (its binary is missing), if so. Only the external peer is
    /// checked up front: a missing Rust binary is reported when it fails to start.
    pub fn missing(&self, kind: ServerKind) -> Option<String> {
        if kind != ServerKind::UWebSockets {
            return None;
        }
        let binary = self.uws("uws_echo");
        (!binary.is_file()).then(|| {
            format!(
                "{} is not built (uWebSockets is built from its public source outside this repository \
                 with the distribution's C++ toolchain; see README, Performance)",
                binary.display()
            )
        })
    }

    /// A binary of the release directory.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.release_dir.join(name)
    }

    /// An example binary of the release directory.
    pub fn example(&self, name: &str) -> PathBuf {
        self.release_dir.join("examples").join(name)
    }
}

/// A running server process, killed on drop.
#[derive(Debug)]
pub struct RunningServer {
    /// Which server.
    pub kind: ServerKind,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The process (the server itself: `taskset` execs it).
    child: Child,
    /// Everything the server logged (stdout and stderr), for the engine line.
    log_path: PathBuf,
}

impl RunningServer {
    /// Starts `kind` on a free loopback port, pinned to `cpu`, and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// The binary is missing, exits early, or does not listen within [`STARTUP_MS_MAX`].
    pub fn start(
        kind: ServerKind,
        binaries: &Binaries,
        cpu: usize,
        work_dir: &Path,
    ) -> anyhow::Result<Self> {
        let addr = free_port()?;
        let mut command = Command::new("taskset");
        command.arg("-c").arg(cpu.to_string());
        let listen = addr.to_string();
        match kind {
            ServerKind::Switchboard => {
                let config = write_switchboard_config(work_dir)?;
                command
                    .arg(binaries.bin("switchboard"))
                    .args([
                        "serve", "--mode", "echo", "--shards", "1", "--listen", &listen,
                    ])
                    .arg("--config")
                    .arg(config);
            }
            ServerKind::TokioTungstenite => {
                command.arg(binaries.bin("peer_tokio_tungstenite"));
                command.args(["--listen", &listen]);
            }
            ServerKind::Fastwebsockets => {
                command.arg(binaries.bin("peer_fastwebsockets"));
                command.args(["--listen", &listen]);
            }
            ServerKind::TokioTcp => {
                command.arg(binaries.bin("peer_tokio_tcp"));
                command.args(["--listen", &listen]);
            }
            ServerKind::EngineTcp => {
                command
                    .arg(binaries.example("tcp_echo"))
                    .args(["serve", &listen, "auto", "1"]);
            }
            ServerKind::UWebSockets => {
                // `uws_echo HOST PORT`: one event loop on one thread.
                command
                    .arg(binaries.uws("uws_echo"))
                    .arg(addr.ip().to_string())
                    .arg(addr.port().to_string());
            }
        }
        let log_path = work_dir.join(format!("{}.log", kind.name()));
        Self::spawn(kind, command, addr, work_dir, log_path)
    }

    /// Starts `switchboard serve --config CONFIG` in chat mode (the config says where it listens:
    /// `addr`), pinned to `cpu`, logging to `run_dir/switchboard.log`, and waits until it accepts
    /// connections.
    ///
    /// # Errors
    ///
    /// The binary is missing, exits early, or does not listen within [`STARTUP_MS_MAX`].
    pub fn start_chat(
        binaries: &Binaries,
        cpu: usize,
        run_dir: &Path,
        config: &Path,
        addr: SocketAddr,
    ) -> anyhow::Result<Self> {
        let mut command = Command::new("taskset");
        command
            .arg("-c")
            .arg(cpu.to_string())
            .arg(binaries.bin("switchboard"))
            .arg("serve")
            .arg("--config")
            .arg(config);
        let log_path = run_dir.join("switchboard.log");
        Self::spawn(ServerKind::Switchboard, command, addr, run_dir, log_path)
    }

    fn spawn(
        kind: ServerKind,
        mut command: Command,
        addr: SocketAddr,
        work_dir: &Path,
        log_path: PathBuf,
    ) -> anyhow::Result<Self> {
        let log = std::fs::File::create(&log_path)?;
        command
            .current_dir(work_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", kind.name()))?;
        let mut server = Self {
            kind,
            addr,
            child,
            log_path,
        };
        server.wait_listening()?;
        Ok(server)
    }

    fn wait_listening(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_millis(STARTUP_MS_MAX);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited at start ({status}): {}",
                    self.kind.name(),
                    self.log_tail()
                );
            }
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} did not listen on {} in time",
            self.kind.name(),
            self.addr
        )
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time process `pid` used so far (user + system over all its threads), in seconds.
    ///
    /// # Errors
    ///
    /// The process is gone or `/proc/PID/stat` is malformed.
    pub fn cpu_seconds_of(pid: u32) -> anyhow::Result<f64> {
        Self::cpu_split_of(pid).map(|cpu| cpu.total_s())
    }

    /// CPU time process `pid` used so far, split into user and system time.
    ///
    /// # Errors
    ///
    /// The process is gone or `/proc/PID/stat` is malformed.
    pub fn cpu_split_of(pid: u32) -> anyhow::Result<CpuTimes> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let (user, system) = parse_stat_cpu_split(&stat).context("malformed /proc/PID/stat")?;
        Ok(CpuTimes {
            user_s: user as f64 / USER_HZ_TICKS_PER_S,
            system_s: system as f64 / USER_HZ_TICKS_PER_S,
        })
    }

    /// The server's resident set size in bytes (`VmRSS` of `/proc/PID/status`).
    ///
    /// # Errors
    ///
    /// The process is gone or the status file has no `VmRSS`.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        parse_vm_rss_bytes(&status).context("no VmRSS in /proc/PID/status")
    }

    /// CPU time the server used so far (user + system over all its threads), in seconds.
    ///
    /// # Errors
    ///
    /// The process is gone or `/proc/PID/stat` is malformed.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        Self::cpu_seconds_of(self.child.id())
    }

    /// Whether the process is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }

    /// The engine the server reported choosing: its `engine ready` log line, else the first line
    /// mentioning io_uring or epoll, without terminal colour codes.
    pub fn engine_line(&self) -> Option<String> {
        let file = std::fs::File::open(&self.log_path).ok()?;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .map(|line| strip_ansi(&line).trim().to_owned())
            .collect();
        let ready = lines.iter().find(|line| line.contains("engine ready"));
        let mentions = || {
            lines
                .iter()
                .find(|l| l.contains("io_uring") || l.contains("epoll"))
        };
        let line = ready.or_else(mentions)?;
        // Keep the engine's own description, not the log prefix (time, level, target, fields).
        Some(
            line.split_once("choice=")
                .map_or(line.as_str(), |(_, c)| c)
                .to_owned(),
        )
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Removes terminal colour sequences (`ESC [ … m`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for inner in chars.by_ref() {
                if inner.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads `VmRSS:  1234 kB` as bytes.
pub fn parse_vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Clock ticks per second of `/proc/PID/stat` times: the kernel's `USER_HZ`, which is 100 on every
/// architecture Linux exposes to user space (`sysconf(_SC_CLK_TCK)`).
pub const USER_HZ_TICKS_PER_S: f64 = 100.0;

/// Reads `utime + stime` (fields 14 and 15, in clock ticks) of a `/proc/PID/stat` line; the command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    parse_stat_cpu_split(stat).map(|(utime, stime)| utime + stime)
}

/// Reads `(utime, stime)` of a `/proc/PID/stat` line, in clock ticks (see [`parse_stat_cpu_ticks`]).
pub fn parse_stat_cpu_split(stat: &str) -> Option<(u64, u64)> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state), so field N is fields[N - 3].
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime, stime))
}

/// A process's CPU time so far, in seconds: in its own code (user) and in the kernel on its behalf
/// (system; on loopback that includes the TCP receive work its sends trigger).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuTimes {
    /// User time.
    pub user_s: f64,
    /// System time.
    pub system_s: f64,
}

impl CpuTimes {
    /// User plus system time.
    pub fn total_s(self) -> f64 {
        self.user_s + self.system_s
    }

    /// The time used between `self` and the later `after`.
    pub fn until(self, after: CpuTimes) -> CpuTimes {
        CpuTimes {
            user_s: after.user_s - self.user_s,
            system_s: after.system_s - self.system_s,
        }
    }
}

/// A loopback port nobody listens on now (bound then released).
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Writes the benchmark TOML for `switchboard serve`: no admin listener, a private data directory,
/// room for the 100K idle test on one shard, and no per-connection rate limit in the way.
fn write_switchboard_config(work_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = work_dir.join("switchboard-bench.toml");
    let data_dir = work_dir.join("switchboard-data");
    let text = format!(
        "admin_listen = \"off\"\ndata_dir = \"{}\"\n\n[limits]\nconnections_max = {max}\n\
         connections_per_shard_max = {max}\nframes_per_second_max = {fps}\n",
        data_dir.display(),
        max = SWITCHBOARD_CONNECTIONS_MAX,
        fps = SWITCHBOARD_FRAMES_PER_SECOND_MAX,
    );
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ServerKind::ALL {
            assert_eq!(ServerKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(ServerKind::from_name("nginx"), None);
    }

    #[test]
    fn only_uwebsockets_is_checked_up_front_and_is_missing_without_its_binary() {
        if std::env::var_os(UWS_BIN_DIR_ENV).is_some() {
            return; // the directory was chosen by whoever runs the tests
        }
        let binaries = Binaries {
            release_dir: PathBuf::from("/nonexistent/target/release"),
        };
        assert_eq!(
            binaries.uws("load_test"),
            PathBuf::from("/nonexistent/target/uws/load_test")
        );
        let reason = binaries.missing(ServerKind::UWebSockets).unwrap();
        assert!(reason.contains("/nonexistent/target/uws/uws_echo is not built"));
        assert_eq!(binaries.missing(ServerKind::Switchboard), None);
        assert_eq!(ServerKind::UWebSockets.protocol(), Protocol::WebSocket);
    }

    #[test]
    fn strips_colours() {
        assert_eq!(strip_ansi("\u{1b}[2mengine\u{1b}[0m ready"), "engine ready");
    }

    #[test]
    fn reads_vm_rss() {
        let status = "Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\n";
        assert_eq!(parse_vm_rss_bytes(status), Some(2 * 1024 * 1024));
        assert_eq!(parse_vm_rss_bytes("Name: x\n"), None);
    }

    #[test]
    fn reads_cpu_ticks_past_an_odd_name() {
        let stat = "4242 (sw (b) x) S 1 2 3 0 -1 4194560 10 0 0 0 250 75 0 0 20 0 3 0 100 1 1";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_split(stat), Some((250, 75)));
        assert_eq!(parse_stat_cpu_ticks("4242 (x) S 1"), None);
    }

    #[test]
    fn switchboard_config_is_valid() {
        let dir = std::env::temp_dir().join(format!("sb-bench-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = write_switchboard_config(&dir).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        switchboard_shards::config::ServeConfig::from_toml_str(&text).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
