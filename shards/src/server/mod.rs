//! The connection server: one shard thread per core, each with its own engine and listener.
//!
//! Layout:
//! - this file: [`Server`] (start, drain, join) and [`ServerError`].
//! - `shard`: the per-shard event loop — engine events in, [`crate::conn::Connection`] state machines in the
//!   middle, sends and timers out.
//! - `table`: the shard's connection table, indexed by the engine's connection index.
//! - [`stats`]: per-shard counters, published lock-free and merged when read; [`chat_stats`] the chat-mode
//!   ones.
//! - `chat`: chat mode in the shard loop (sessions, the owner, the rings); `routing`: the routing shard thread.
//!
//! Decisions:
//! - Every shard binds its own `SO_REUSEPORT` listener on the same address, so the kernel spreads
//!   connections and a connection lives its whole life on the shard that accepted it. Shard 0 binds first so
//!   that a configured port 0 (tests) resolves to one port that the other shards then share.
//! - Signals never reach a shard: the binary blocks them and waits on a signalfd, then calls
//!   [`Server::drain`], which sets a flag and writes each shard's eventfd.

mod chat;
pub mod chat_stats;
mod routing;
mod shard;
pub mod stats;
mod table;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use switchboard_core::channel::WakeSignal;
use switchboard_core::engine::{EngineChoice, EngineConfig};

use crate::config::{Mode, ServeConfig};
use crate::conn::ConnectionConfig;
use stats::{ShardStats, StatsReader};

/// Why the server could not start. Each names the shard and the local resource at fault.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A shard's engine could not be created or could not listen (local system: address in use, io_uring
    /// refused with `--engine io-uring`, limits).
    #[error("shard {shard}: {message}")]
    Shard {
        /// Which shard failed.
        shard: usize,
        /// What failed, as the engine or OS said it.
        message: String,
    },
    /// A shard thread could not be spawned (local system).
    #[error("could not spawn shard thread {shard}: {source}")]
    Spawn {
        /// Which shard.
        shard: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// The configured mode is not available in this build (operator's configuration).
    #[error("mode `{mode}` is not available yet: {why}")]
    ModeUnavailable {
        /// The mode asked for.
        mode: &'static str,
        /// Why, and what to use instead.
        why: &'static str,
    },
    /// Another process already listens on the configured address (the operator's configuration, or a
    /// server that is still running). Shards bind with `SO_REUSEPORT`, which would otherwise let this
    /// server quietly share the port with the other one.
    #[error("cannot listen on {addr}: {why}; stop the process listening there (`ss -ltnp 'sport = :{port}'` names it) or choose another --listen", port = addr.port())]
    AddressInUse {
        /// The configured listen address.
        addr: SocketAddr,
        /// What the kernel said.
        why: String,
    },
    /// A shard thread panicked (our bug).
    #[error("shard {shard} panicked")]
    Panicked {
        /// Which shard.
        shard: usize,
    },
}

/// What a shard thread needs from the main thread; shared read-only except for the drain flag.
#[derive(Debug)]
pub(crate) struct ShardControl {
    /// Set once by [`Server::drain`]; shards poll it on every wake-up.
    drain: AtomicBool,
    /// Written by [`Server::drain`] so a sleeping shard notices at once.
    wake: WakeSignal,
}

/// Whether [`Server::drain`] was called, readable from any thread without locks.
#[derive(Debug, Clone)]
pub struct DrainWatch {
    controls: Vec<Arc<ShardControl>>,
}

impl DrainWatch {
    /// Whether the server is draining (set by [`Server::drain`], never cleared).
    pub fn is_draining(&self) -> bool {
        self.controls
            .iter()
            .any(|control| control.drain.load(Ordering::Acquire))
    }
}

/// What shard 0 reports once it is listening.
struct Started {
    local_addr: SocketAddr,
    choice: EngineChoice,
}

/// A running server: its shard threads and how to reach them.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    choices: Vec<EngineChoice>,
    controls: Vec<Arc<ShardControl>>,
    threads: Vec<JoinHandle<()>>,
    stats: Vec<StatsReader>,
    /// Chat mode: the routing shard thread, its stop flag and its wake-up.
    routing: Option<RoutingThread>,
    /// TLS on the listen port, when configured (reloaded by [`Server::reload_tls`]).
    tls: Option<Arc<crate::tls::TlsTerminator>>,
}

/// The routing shard before it runs: its ring endpoint and its built state.
struct RoutingSetup {
    endpoint: switchboard_core::channel::Endpoint<crate::chat::messages::ShardMsg>,
    shard: crate::routing::shard::RoutingShard,
}

/// The running routing shard.
#[derive(Debug)]
struct RoutingThread {
    thread: JoinHandle<()>,
    stop: Arc<AtomicBool>,
    wake: Arc<WakeSignal>,
    /// The routing shard's metrics, published by its thread.
    stats: chat_stats::RoutingStatsReader,
}

impl RoutingSetup {
    fn spawn(self, shards: usize) -> Result<RoutingThread, ServerError> {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = self.endpoint.inbox.wake_signal();
        let flag = Arc::clone(&stop);
        let (stats, reader) = chat_stats::RoutingStats::new(self.shard.groups());
        let thread = std::thread::Builder::new()
            .name("routing".into())
            .spawn(move || routing::run(self.shard, self.endpoint, shards, flag, stats))
            .map_err(|source| ServerError::Spawn {
                shard: shards,
                source,
            })?;
        Ok(RoutingThread {
            thread,
            stop,
            wake,
            stats: reader,
        })
    }
}

impl Server {
    /// Reads the TLS certificate and key again (on `SIGHUP`): new connections use them. `None` when the
    /// server has no TLS.
    pub fn reload_tls(&self) -> Option<Result<(), crate::tls::TlsError>> {
        self.tls.as_ref().map(|tls| tls.reload())
    }

    /// Starts `config.shard_count()` shard threads, each pinned to one of the process's CPUs, and returns
    /// once every shard listens.
    ///
    /// # Errors
    ///
    /// [`ServerError`] when any shard fails to start; shards already started are drained and joined first.
    pub fn start(config: &ServeConfig) -> Result<Server, ServerError> {
        wait_for_address(config.listen)?;
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(crate::tls::TlsTerminator::load(files).map_err(
                |e| ServerError::Shard {
                    shard: 0,
                    message: e.to_string(),
                },
            )?)),
            None => None,
        };
        let shards = config.shard_count();
        let (mut chat, routing) = match config.mode {
            Mode::Chat => {
                let (setups, routing) = chat_setups(config, shards)?;
                (setups.into_iter().map(Some).collect(), routing)
            }
            Mode::Echo => (Vec::new(), None),
        };
        chat.resize_with(shards, || None);
        let cpus = switchboard_core::affinity::allowed_cpus().unwrap_or_default();
        let mut server = Server {
            local_addr: config.listen,
            choices: Vec::with_capacity(shards),
            controls: Vec::with_capacity(shards),
            threads: Vec::with_capacity(shards),
            stats: Vec::with_capacity(shards),
            routing: None,
            tls,
        };
        if let Some(routing) = routing {
            server.routing = Some(routing.spawn(shards)?);
        }
        for shard in 0..shards {
            let cpu = (!cpus.is_empty()).then(|| cpus[shard % cpus.len()]);
            match server.spawn_shard(config, shard, cpu, chat[shard].take()) {
                Ok(started) => {
                    server.local_addr = started.local_addr;
                    server.choices.push(started.choice);
                }
                Err(error) => {
                    server.drain();
                    let _ = server.join();
                    return Err(error);
                }
            }
        }
        Ok(server)
    }

    fn spawn_shard(
        &mut self,
        config: &ServeConfig,
        shard: usize,
        cpu: Option<usize>,
        chat: Option<chat::ChatSetup>,
    ) -> Result<Started, ServerError> {
        let wake = WakeSignal::new().map_err(|e| ServerError::Shard {
            shard,
            message: e.to_string(),
        })?;
        let control = Arc::new(ShardControl {
            drain: AtomicBool::new(false),
            wake,
        });
        let (stats, reader) = ShardStats::new();
        let setup = shard::ShardSetup {
            id: shard,
            cpu,
            listen: self.local_addr,
            engine_config: engine_config(config),
            engine_kind: config.engine,
            connection_config: ConnectionConfig::new(config.mode, &config.limits),
            connections_max: config.limits.connections_per_shard_max,
            drain_timeout_ms: config.limits.drain_timeout_ms,
            buffered_bytes_share: config.limits.buffered_bytes_max / config.shard_count() as u64,
            control: Arc::clone(&control),
            stats,
            chat,
            tls: self.tls.clone(),
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("shard-{shard}"))
            .spawn(move || shard::run(setup, ready_tx))
            .map_err(|source| ServerError::Spawn { shard, source })?;
        self.controls.push(control);
        self.threads.push(thread);
        self.stats.push(reader);
        match ready_rx.recv() {
            Ok(Ok((local_addr, choice))) => Ok(Started { local_addr, choice }),
            Ok(Err(message)) => Err(ServerError::Shard { shard, message }),
            Err(_) => Err(ServerError::Panicked { shard }),
        }
    }

    /// The routing shard's metrics reader, when chat mode runs the routing shard.
    pub fn routing_stats(&self) -> Option<&chat_stats::RoutingStatsReader> {
        self.routing.as_ref().map(|routing| &routing.stats)
    }

    /// The address the shards listen on (with the real port when the configured one was 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Which engine each shard chose, and why.
    pub fn engine_choices(&self) -> &[EngineChoice] {
        &self.choices
    }

    /// Per-shard statistics readers (lock-free; safe to read from any thread at any time).
    pub fn stats(&self) -> &[StatsReader] {
        &self.stats
    }

    /// A view of the drain flag for other threads (the admin listener's `/readyz`).
    pub fn drain_watch(&self) -> DrainWatch {
        DrainWatch {
            controls: self.controls.clone(),
        }
    }

    /// Starts a graceful drain: shards stop accepting, send every client a going-away close (1001) with a
    /// reconnect hint after its queued messages, and exit once their connections are gone or
    /// `drain_timeout_ms` has passed. Returns at once; [`Server::join`] waits.
    pub fn drain(&self) {
        for control in &self.controls {
            control.drain.store(true, Ordering::Release);
            control.wake.notify();
        }
    }

    /// Waits for every shard thread to finish.
    ///
    /// # Errors
    ///
    /// [`ServerError::Panicked`] naming the first shard that panicked.
    pub fn join(&mut self) -> Result<(), ServerError> {
        let mut result = Ok(());
        for (shard, thread) in self.threads.drain(..).enumerate() {
            if thread.join().is_err() && result.is_ok() {
                result = Err(ServerError::Panicked { shard });
            }
        }
        // The routing shard outlives the connection shards so their last inputs are not refused.
        if let Some(routing) = self.routing.take() {
            routing.stop.store(true, Ordering::Release);
            routing.wake.notify();
            if routing.thread.join().is_err() && result.is_ok() {
                result = Err(ServerError::Panicked {
                    shard: self.controls.len(),
                });
            }
        }
        result
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.drain();
            let _ = self.join();
        }
    }
}

/// Slots of each cross-core ring (a power of two); a full ring is backpressure.
const MESH_RING_CAPACITY: usize = 8_192;

/// The chat-mode setup of every shard: the keyring, the rings between shards, the log settings.
fn chat_setups(
    config: &ServeConfig,
    shards: usize,
) -> Result<(Vec<chat::ChatSetup>, Option<RoutingSetup>), ServerError> {
    // Without configured keys the server runs on its development key, and mints demo tokens.
    let dev_auth;
    let auth = match config.auth.as_ref() {
        Some(auth) => auth,
        None => {
            let (auth, created) =
                crate::auth::dev_key::dev_keyring(&config.data_dir).map_err(|e| {
                    ServerError::Shard {
                        shard: 0,
                        message: e.to_string(),
                    }
                })?;
            tracing::warn!(
                key = %config.data_dir.join(crate::auth::dev_key::DEV_KEY_FILE).display(),
                created,
                "no [auth] keys configured: running on the DEVELOPMENT signing key and minting demo tokens at /demo/token; configure [auth] keys before serving real customers"
            );
            dev_auth = auth;
            &dev_auth
        }
    };
    let keyring = crate::auth::Keyring::from_config(auth).map_err(|e| ServerError::Shard {
        shard: 0,
        message: format!("[auth]: {e}"),
    })?;
    let keyring = Arc::new(keyring);
    // The routing shard trains its classifier at start; skip that when routing is off.
    let routing_shard = if config.chat.routing_enabled {
        let started = std::time::Instant::now();
        let (shard, resolved) = crate::routing::shard::RoutingShard::new_reporting(
            config.routing.clone(),
        )
        .map_err(|e| ServerError::Shard {
            shard: shards,
            message: format!("routing shard: {e}"),
        })?;
        if let crate::routing::model::Resolved::Ngram { searched } = &resolved {
            if !searched.is_empty() {
                tracing::warn!(
                    searched = ?searched,
                    "no sentence-encoder weights found: the bot runs the n-gram model, which gives \
                     more wrong answers (run scripts/fetch-embedding-model.sh, or set [routing] \
                     model = \"ngram\" to silence this)"
                );
            }
        }
        tracing::info!(
            training_ms = started.elapsed().as_millis() as u64,
            model = shard.model_name(),
            confidence_threshold = %format_args!("{:.2}", shard.confidence_threshold()),
            "routing shard trained"
        );
        Some(shard)
    } else {
        None
    };
    let mesh = switchboard_core::channel::Mesh::new(switchboard_core::channel::MeshConfig {
        shards_count: shards,
        ring_capacity: MESH_RING_CAPACITY,
    })
    .map_err(|e| ServerError::Shard {
        shard: 0,
        message: format!("cross-core rings: {e}"),
    })?;
    let demo = config.auth.is_none().then(|| {
        let groups = match &routing_shard {
            Some(shard) => shard.groups().iter().map(|g| g.id).collect(),
            None => vec![config.chat.fallback_group],
        };
        let wall_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        crate::web::DemoTokens::new(Arc::clone(&keyring), groups, wall_ms)
    });
    let site = Arc::new(crate::web::Site::new(demo));
    let routing = routing_shard.map(|shard| RoutingSetup {
        endpoint: mesh.routing,
        shard,
    });
    let setups = mesh
        .shards
        .into_iter()
        .map(|endpoint| chat::ChatSetup {
            endpoint,
            keyring: Arc::clone(&keyring),
            site: Arc::clone(&site),
            config: config.chat.clone(),
            pii: config.pii.clone(),
            log: config.log_config(),
            overload: config.overload.clone(),
            shards,
            send_queue_bytes_max: usize::try_from(config.limits.send_queue_bytes_max)
                .unwrap_or(usize::MAX),
            partial_message_timeout_ms: config.limits.partial_message_timeout_ms,
            buffered_bytes_share: config.limits.buffered_bytes_max / shards as u64,
        })
        .collect();
    Ok((setups, routing))
}

/// How long start-up waits for a busy listen address to become free. A server killed a moment ago
/// (a crash, a restart by systemd) keeps its listener until the kernel has torn down its io_uring
/// rings, which happens asynchronously after the process exits; anything still listening after this
/// is another live process.
const LISTEN_BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(3);
/// Pause between two probes of a busy listen address.
const LISTEN_BUSY_RETRY: std::time::Duration = std::time::Duration::from_millis(50);

/// Fails with [`ServerError::AddressInUse`] unless `addr` is free (see
/// [`Engine::probe_address`](switchboard_core::engine::Engine::probe_address)) within
/// [`LISTEN_BUSY_WAIT`].
fn wait_for_address(addr: SocketAddr) -> Result<(), ServerError> {
    let started = std::time::Instant::now();
    let mut told = false;
    loop {
        let errno = match switchboard_core::engine::Engine::probe_address(addr) {
            Ok(()) => return Ok(()),
            Err(errno) => errno,
        };
        let busy = errno.to_io_error().kind() == std::io::ErrorKind::AddrInUse;
        if !busy || started.elapsed() >= LISTEN_BUSY_WAIT {
            return Err(ServerError::AddressInUse {
                addr,
                why: errno.to_io_error().to_string(),
            });
        }
        if !told {
            told = true;
            tracing::info!(%addr, wait_s = LISTEN_BUSY_WAIT.as_secs(), "listen address busy; waiting for it (a server that just exited may still be closing)");
        }
        std::thread::sleep(LISTEN_BUSY_RETRY);
    }
}

/// Engine connection slots beyond `connections_per_shard_max`. The engine stops accepting when its table is
/// full, so without headroom a connection over the limit would wait unanswered in the listen backlog; with
/// it the shard accepts, refuses (closes) and counts it, and the client learns at once.
const REFUSE_HEADROOM_CONNECTIONS: u32 = 64;
/// The engine's own bound on `connections_max` (core's `CONNECTIONS_MAX_LIMIT`), which the headroom must
/// not push a maximal `connections_per_shard_max` over.
const ENGINE_CONNECTIONS_MAX: u32 = 1 << 24;
/// Provided receive buffers per shard, of `SERVER_RECV_BUFFER_BYTES` each, consumed incrementally: 16 MiB
/// of receive space, resident only as far as traffic needs it (the engine publishes the most recently
/// used buffers first, as many as a tick uses). Received bytes are handed to the connections within the
/// tick they arrive, so this bounds one tick's reads, not connections: 1,000 connections each with a
/// 16 KiB message in flight fit.
const SERVER_RECV_BUFFERS: u32 = 64;
/// Bytes of one provided receive buffer. A frame that straddles two buffers arrives in two reads and is
/// copied twice (through the assembler); at 64 KiB one 16 KiB message in four did, at 256 KiB one in
/// sixteen (issue 19).
const SERVER_RECV_BUFFER_BYTES: u32 = 256 * 1024;

/// The engine settings that follow from the serve config.
fn engine_config(config: &ServeConfig) -> EngineConfig {
    let connections = config
        .limits
        .connections_per_shard_max
        .min(u64::from(u32::MAX)) as u32;
    EngineConfig {
        connections_max: connections
            .max(1)
            .saturating_add(REFUSE_HEADROOM_CONNECTIONS)
            .min(ENGINE_CONNECTIONS_MAX),
        recv_buffer_count: SERVER_RECV_BUFFERS,
        recv_buffer_bytes: SERVER_RECV_BUFFER_BYTES,
        ..EngineConfig::default()
    }
}
