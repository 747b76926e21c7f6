//! The `switchboard` binary: `serve`, `tune`, `ai`, `token`, `describe`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use switchboard_core::engine::BackendKind;
use switchboard_core::signal::{ShutdownSignals, RELOAD_SIGNAL};
use switchboard_shards::admin::{self, AdminSource};
use switchboard_shards::config::{Engine, Mode, ServeConfig, Shards};
use switchboard_shards::server::stats::CloseCause;
use switchboard_shards::server::Server;
use tracing::{error, info, warn};

/// mimalloc, not glibc malloc: after connection floods glibc's per-thread arenas kept the freed memory (RSS
/// ratcheted from 509 to 1,085 MB with no connection open), while mimalloc returns freed pages to the OS.
/// Only this binary sets it; test binaries keep their own (counting) allocators.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchboard: a customer-service instant-messaging server.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
struct Cli {
    /// Log level or filter (`error`, `warn`, `info`, `debug`, `trace`, or a `tracing` filter such as
    /// `switchboard_shards=debug`). `RUST_LOG` overrides it.
    #[arg(long, global = true, default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (embedded defaults; `--config FILE` and flags override them).
    Serve(ServeArgs),
    /// Check, diff, apply or revert the kernel tuning the server needs.
    Tune(switchboard_tuning::cli::TuneArgs),
    /// The routing/AI brain: evaluate it on a labelled set, classify a message.
    Ai(switchboard_shards::routing::cli::AiArgs),
    /// Mint a signed client token (for tests and demos).
    Token(switchboard_shards::auth::cli::TokenArgs),
    /// Print the protocol's self-description (subprotocols, frame kinds, limits).
    Describe,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// TOML configuration file (see shards/switchboard.example.toml); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address the shards listen on.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// `chat` (the default: the customer-service server) or `echo` (echo every message; benchmarks
    /// and Autobahn).
    #[arg(long, value_parser = parse_mode)]
    mode: Option<Mode>,
    /// Connection shards (`auto`: one per core).
    #[arg(long)]
    shards: Option<Shards>,
    /// I/O engine: `auto`, `io-uring` or `epoll`.
    #[arg(long, value_parser = parse_engine)]
    engine: Option<Engine>,
    /// Directory for the durable log.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Admin HTTP listener for /metrics, /healthz and /readyz (`off` disables it).
    #[arg(long, value_parser = parse_admin_listen)]
    admin_listen: Option<AdminListen>,
}

/// The `--admin-listen` flag: an address, or `off`.
#[derive(Debug, Clone, Copy)]
enum AdminListen {
    Off,
    At(SocketAddr),
}

fn parse_admin_listen(text: &str) -> Result<AdminListen, String> {
    if text == "off" {
        return Ok(AdminListen::Off);
    }
    text.parse()
        .map(AdminListen::At)
        .map_err(|e| format!("`{text}` is not `off` or ADDR:PORT: {e}"))
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    match text {
        "echo" => Ok(Mode::Echo),
        "chat" => Ok(Mode::Chat),
        other => Err(format!("unknown mode `{other}`: expected `echo` or `chat`")),
    }
}

fn parse_engine(text: &str) -> Result<Engine, String> {
    match text {
        "auto" => Ok(Engine::Auto),
        "io-uring" | "io_uring" | "uring" => Ok(Engine::IoUring),
        "epoll" => Ok(Engine::Epoll),
        other => Err(format!(
            "unknown engine `{other}`: expected `auto`, `io-uring` or `epoll`"
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let result = match &cli.command {
        Command::Serve(args) => serve(args),
        Command::Tune(args) => switchboard_tuning::cli::run(args),
        Command::Ai(args) => switchboard_shards::routing::cli::run(args),
        Command::Token(args) => switchboard_shards::auth::cli::run(args),
        Command::Describe => {
            print!("{}", switchboard_shards::describe::text());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchboard: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn serve(args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = match &args.config {
        Some(path) => {
            ServeConfig::load(path).with_context(|| format!("loading {}", path.display()))?
        }
        None => ServeConfig::default(),
    };
    config
        .apply_overrides(
            args.listen,
            args.mode,
            args.shards,
            args.engine,
            args.data_dir.clone(),
        )
        .context("command-line flags")?;
    match args.admin_listen {
        Some(AdminListen::Off) => config.admin_listen = None,
        Some(AdminListen::At(addr)) => config.admin_listen = Some(addr),
        None => {}
    }
    // Block SIGTERM/SIGINT before any shard thread exists, so only the signalfd below receives them.
    let signals = ShutdownSignals::block_and_open().context("setting up signal handling")?;
    let mut server = Server::start(&config).context("starting the server")?;
    log_startup_checks(&config, &server);
    let admin = match config.admin_listen {
        Some(addr) => {
            let handle = admin::start(addr, AdminSource::from_server(&server))
                .with_context(|| format!("starting the admin listener on {addr}"))?;
            info!(admin = %handle.local_addr(), "admin listener: /metrics /healthz /readyz");
            Some(handle)
        }
        None => None,
    };
    info!(listen = %server.local_addr(), shards = config.shard_count(), mode = ?config.mode, "switchboard serving");

    let signal = loop {
        match signals
            .wait(Duration::from_secs(1))
            .context("waiting for signals")?
        {
            Some(signal) if signal == RELOAD_SIGNAL => match server.reload_tls() {
                Some(Ok(())) => {
                    info!("SIGHUP: TLS certificate and key reloaded; new connections use them")
                }
                Some(Err(error)) => {
                    error!(%error, "SIGHUP: TLS reload failed; the previous certificate stays in use")
                }
                None => info!("SIGHUP: nothing to reload (no [tls] configured)"),
            },
            Some(signal) => break signal,
            None => {}
        }
    };
    info!(
        signal,
        drain_timeout_ms = config.limits.drain_timeout_ms,
        "draining: no new connections, going-away to clients"
    );
    server.drain();
    server.join().context("stopping shards")?;
    drop(admin);
    log_totals(&server);
    Ok(ExitCode::SUCCESS)
}

/// Logs one line per host setting that falls short of what this configuration needs.
fn log_startup_checks(config: &ServeConfig, server: &Server) {
    let engine = match server.engine_choices().first().map(|choice| choice.backend) {
        Some(BackendKind::Epoll) => switchboard_tuning::Engine::Epoll,
        _ => switchboard_tuning::Engine::IoUring,
    };
    let needs = switchboard_tuning::ServerNeeds {
        connections_max: config.limits.connections_max,
        connections_per_shard_max: Some(config.limits.connections_per_shard_max),
        shards: u32::try_from(config.shard_count()).unwrap_or(u32::MAX),
        engine,
        listen_backlog: switchboard_core::engine::EngineConfig::default().listen_backlog,
        memlock_bytes: 0,
    };
    for shortfall in switchboard_tuning::startup_shortfalls(&needs, Path::new("/proc/sys")) {
        warn!("{}", shortfall.message());
    }
}

fn log_totals(server: &Server) {
    let stats = server.stats();
    let accepted: u64 = stats.iter().map(|s| s.accepted()).sum();
    let closed: Vec<String> = CloseCause::ALL
        .iter()
        .map(|&cause| (cause, stats.iter().map(|s| s.closed(cause)).sum::<u64>()))
        .filter(|&(_, count)| count > 0)
        .map(|(cause, count)| format!("{}={count}", cause.label()))
        .collect();
    info!(accepted, closed = %closed.join(","), "stopped");
}
