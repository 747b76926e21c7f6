//! `switchboard-bench compare`: every server in turn, interleaved over rounds (A B A B …), so drift on a
//! noisy machine hits all of them alike.
//!
//! Three phases, each interleaved: closed-loop echo throughput (the peak), open-loop latency at
//! fractions of each server's own peak, and RSS per idle connection. Servers run pinned to one CPU and
//! the load generator to another. When uWebSockets' `load_test` is built, the throughput phase also
//! drives a few cells (`load_test_cells`) with it, in the same rounds, as a second, neutral client.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::load::{LoadDriver, LoadResult, LoadSpec, Pattern};
use crate::loadgen::{Loadgen, TcpEchoLoad};
use crate::record::{Record, Results, Settings, Skipped};
use crate::servers::{Binaries, RunningServer, ServerKind};
use crate::uws_load_test::UwsLoadTest;
use crate::{assemble, phases};

/// Pause after a server starts before the baseline RSS is read.
const SETTLE_MS: u64 = 300;

/// What to run.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Servers in run order.
    pub servers: Vec<ServerKind>,
    /// Message sizes in bytes.
    pub message_bytes: Vec<usize>,
    /// Connection counts for echo runs.
    pub connections: Vec<u32>,
    /// Connection counts for idle-memory runs.
    pub idle_connections: Vec<u32>,
    /// Fractions of the peak for open-loop runs.
    pub load_fractions: Vec<f64>,
    /// Rounds.
    pub runs: usize,
    /// Seconds per load run.
    pub duration_s: u64,
    /// Whether this is a `--quick` smoke run.
    pub quick: bool,
    /// CPU for the servers.
    pub server_cpu: usize,
    /// CPU for the load generator.
    pub loadgen_cpu: usize,
    /// Scratch directory for configs, logs and load reports.
    pub work_dir: PathBuf,
    /// Where the binaries are.
    pub binaries: Binaries,
    /// `switchboard-loadgen --threads`.
    pub loadgen_threads: u32,
    /// `switchboard-loadgen --source-addrs`.
    pub source_addrs: String,
    /// Closed-loop cells (connections, message bytes) also driven by uWebSockets' `load_test`, when
    /// it is built.
    pub load_test_cells: Vec<(u32, usize)>,
}

/// The cells issue 19 names for the neutral client: 100 × 64 B, 1,000 × 1 KiB, 500 × 16 KiB.
pub const LOAD_TEST_CELLS: [(u32, usize); 3] = [(100, 64), (1000, 1024), (500, 16384)];

/// The load drivers found for this run.
pub struct Drivers {
    /// `switchboard-loadgen`, when built.
    pub loadgen: Option<Loadgen>,
    /// `tcp_echo load`, when built.
    pub tcp: Option<TcpEchoLoad>,
    /// uWebSockets' `load_test`, when built (the neutral client of `load_test_cells`).
    pub load_test: Option<UwsLoadTest>,
}

impl Drivers {
    /// Finds the drivers among the built binaries.
    pub fn find(options: &CompareOptions) -> Self {
        let loadgen_path = options.binaries.bin("switchboard-loadgen");
        let tcp_path = options.binaries.example("tcp_echo");
        Self {
            loadgen: loadgen_path.is_file().then(|| Loadgen {
                binary: loadgen_path,
                threads: options.loadgen_threads,
                source_addrs: options.source_addrs.clone(),
            }),
            tcp: tcp_path
                .is_file()
                .then_some(TcpEchoLoad { binary: tcp_path }),
            load_test: Self::find_load_test(&options.binaries),
        }
    }

    /// uWebSockets' `load_test` among the uWebSockets binaries (`target/uws` or `$UWS_BIN_DIR`).
    pub fn find_load_test(binaries: &Binaries) -> Option<UwsLoadTest> {
        let path = binaries.uws("load_test");
        path.is_file().then_some(UwsLoadTest { binary: path })
    }

    /// The neutral client for `server`'s closed-loop cells, or why there is none.
    pub fn neutral_for(&self, server: ServerKind) -> Result<&dyn LoadDriver, String> {
        let Some(load_test) = &self.load_test else {
            return Err("uWebSockets' load_test is not built".to_owned());
        };
        if load_test.supports(server.protocol(), Pattern::ClosedLoop) {
            Ok(load_test)
        } else {
            Err("load_test speaks WebSocket only".to_owned())
        }
    }

    /// The driver for `server` and `pattern`, or the reason there is none.
    pub fn for_server(
        &self,
        server: ServerKind,
        pattern: Pattern,
    ) -> Result<&dyn LoadDriver, String> {
        let candidates: [Option<&dyn LoadDriver>; 2] = [
            self.loadgen.as_ref().map(|d| d as &dyn LoadDriver),
            self.tcp.as_ref().map(|d| d as &dyn LoadDriver),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|driver| driver.supports(server.protocol(), pattern))
            .ok_or_else(|| match (server.protocol(), pattern) {
                (crate::load::Protocol::WebSocket, _) => {
                    "switchboard-loadgen is not built (loadgen/, issue 6)".to_owned()
                }
                (crate::load::Protocol::RawTcp, Pattern::ClosedLoop) => {
                    "neither switchboard-loadgen nor the tcp_echo example is built".to_owned()
                }
                (crate::load::Protocol::RawTcp, _) => {
                    "the raw TCP references are measured closed-loop only (their throughput is the \
                     ceiling; open-loop latency and idle memory are WebSocket figures)"
                        .to_owned()
                }
            })
    }
}

/// One load run against a freshly started server; returns the result or why it failed.
pub fn measure_once(
    server: ServerKind,
    spec_for: impl Fn(std::net::SocketAddr) -> LoadSpec,
    driver: &dyn LoadDriver,
    options: &CompareOptions,
) -> Result<LoadResult, String> {
    let running = RunningServer::start(
        server,
        &options.binaries,
        options.server_cpu,
        &options.work_dir,
    )
    .map_err(|e| format!("{e:#}"))?;
    let spec = LoadSpec {
        server_pid: Some(running.pid()),
        ..spec_for(running.addr)
    };
    let started = Instant::now();
    let pid = running.pid();
    let cpu_before = RunningServer::cpu_split_of(pid)
        .ok()
        .filter(|_| driver.server_cpu_per_message());
    let mut result = driver
        .run(&spec, options.loadgen_cpu, &options.work_dir)
        .map_err(|e| format!("{e:#}"));
    if let (Ok(result), Some(before), Ok(after)) = (
        result.as_mut(),
        cpu_before,
        RunningServer::cpu_split_of(pid),
    ) {
        result.set_server_cpu(before.until(after), None);
    }
    eprintln!(
        "  {:<18} {:>5} conns {:>6} B {:?}{}: {} ({:.1} s)",
        server.name(),
        spec.connections,
        spec.message_bytes,
        spec.pattern,
        if driver.name() == "switchboard-loadgen" {
            String::new()
        } else {
            format!(" [{}]", driver.name())
        },
        match &result {
            Ok(r) => format!("{:.0} msg/s, {} errors", r.messages_per_s, r.errors),
            Err(e) => format!("failed: {e}"),
        },
        started.elapsed().as_secs_f64()
    );
    result
}

/// Runs the whole comparison and returns its record (not yet saved).
pub fn run(options: &CompareOptions) -> Record {
    let drivers = Drivers::find(options);
    let mut skipped: Vec<Skipped> = Vec::new();
    // A server that cannot be started here (uWebSockets not built) is said once and left out.
    let mut runnable = options.clone();
    runnable
        .servers
        .retain(|&server| match options.binaries.missing(server) {
            None => true,
            Some(reason) => {
                eprintln!("{}: skipped: {reason}", server.name());
                skipped.push(Skipped {
                    server: server.name().to_owned(),
                    figure: "every figure".to_owned(),
                    reason,
                });
                false
            }
        });
    if !runnable.load_test_cells.is_empty() && drivers.load_test.is_none() {
        eprintln!(
            "load_test: skipped: {} is not built (the load_test cells are not run)",
            options.binaries.uws("load_test").display()
        );
    }
    let options = &runnable;
    let mut engine = None;
    if options.servers.contains(&ServerKind::Switchboard) {
        engine = probe_engine(options);
    }
    eprintln!("phase 1: closed-loop echo throughput");
    let (throughput, neutral) = phases::throughput(options, &drivers, &mut skipped);
    eprintln!("phase 2: open-loop latency at fractions of each server's peak");
    let latency = phases::latency(options, &drivers, &throughput, &mut skipped);
    eprintln!("phase 3: RSS per idle connection");
    let memory = phases::memory(options, &drivers, &mut skipped);
    let results = Results {
        throughput: assemble::throughput(&throughput, &drivers, options.duration_s)
            .into_iter()
            .chain(assemble::neutral_throughput(
                &neutral,
                &drivers,
                options.duration_s,
            ))
            .collect(),
        latency: assemble::latency(&latency, options),
        memory: assemble::memory(&memory),
        skipped,
        scenarios: Vec::new(),
    };
    Record::finished_now(engine, settings(options), results)
}

/// Starts Switchboard once to read which engine it chose.
fn probe_engine(options: &CompareOptions) -> Option<String> {
    let server = RunningServer::start(
        ServerKind::Switchboard,
        &options.binaries,
        options.server_cpu,
        &options.work_dir,
    )
    .ok()?;
    std::thread::sleep(Duration::from_millis(SETTLE_MS));
    server.engine_line()
}

fn settings(options: &CompareOptions) -> Settings {
    Settings {
        runs: options.runs,
        duration_s: options.duration_s,
        servers: options
            .servers
            .iter()
            .map(|s| s.name().to_owned())
            .collect(),
        message_bytes: options.message_bytes.clone(),
        connections: options.connections.clone(),
        idle_connections: options.idle_connections.clone(),
        load_fractions: options.load_fractions.clone(),
        server_cpu: options.server_cpu,
        loadgen_cpu: options.loadgen_cpu,
        quick: options.quick,
        scenarios: Vec::new(),
    }
}

/// Raw per-run results keyed by (server, connections, message bytes).
pub type ThroughputRuns = BTreeMap<(ServerKind, u32, usize), Vec<LoadResult>>;
/// Raw per-run results keyed by (server, fraction index) with the offered rate.
pub type LatencyRuns = BTreeMap<(ServerKind, usize), (u64, Vec<LoadResult>)>;
/// Raw per-run idle-memory samples keyed by (server, connections).
pub type MemoryRuns = BTreeMap<(ServerKind, u32), Vec<IdleSample>>;

/// One idle-memory run: server RSS above its start, per established connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleSample {
    /// From the highest RSS of the whole run: the connect ramp (handshake state) and the closing burst at
    /// the end are included.
    pub peak_bytes: f64,
    /// From the median RSS over the middle half of the hold, when every connection is open and idle
    /// (`None` if no sample fell there).
    pub steady_bytes: Option<f64>,
    /// Connections established.
    pub established: u64,
}

/// The settle pause, for the phases.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(SETTLE_MS));
}
