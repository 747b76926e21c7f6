//! The admin HTTP listener: Prometheus `/metrics`, liveness `/healthz` and readiness `/readyz`, on its own
//! port and its own thread, off the shards' hot path.
//!
//! Layout:
//! - this file: [`start`], [`start_with_limits`], [`AdminHandle`] and [`AdminError`].
//! - [`limits`]: [`AdminLimits`], how many connections are served at once and each one's deadline.
//! - [`source`]: [`AdminSource`], what the listener renders (the shards' statistics readers, the engine
//!   choices, the drain and recovery flags), and [`Readiness`].
//! - `http`: sans-IO parsing of one bounded HTTP/1.1 request and writing of its response; routing.
//! - `listener`: the accept loop: a short-lived thread per connection up to a cap, blocking I/O with
//!   deadlines, `Connection: close`; beyond the cap, 503 at once.
//! - [`render`]: the Prometheus text exposition (metric names, types, labels), merged across shards at scrape.
//! - [`process`]: process metrics read from `/proc/self`.
//!
//! Decisions:
//! - Shards record metrics in single-writer counters and histograms (no lock, no allocation per message);
//!   the admin thread reads them lock-free and merges per scrape, so a scrape costs the shards nothing.
//! - A thread per connection, at most [`AdminLimits::connections_max`] at once, each with a deadline: idle
//!   or slow clients cannot delay a liveness probe (one connection at a time let 20 idle connections delay
//!   `/readyz` by 40 s), and cannot grow memory or threads past the cap. A connection beyond the cap is
//!   answered 503 at once rather than queued. Threads rather than a poll loop: the admin port sees a few
//!   requests a second, blocking I/O with deadlines is simple, and the hot path is untouched. The listener
//!   has no authentication: bind it to loopback or a private network.

mod http;
pub mod limits;
mod listener;
pub mod process;
pub mod render;
pub mod source;

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long [`AdminHandle::stop`] tries to connect to its own listener to wake it.
const WAKE_CONNECT_MS_MAX: u64 = 1_000;

pub use limits::{AdminLimits, AdminLimitsError};
pub use source::{AdminSource, Readiness};

/// Why the admin listener could not start (local system in every case).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// The address could not be bound (in use, not local, no permission).
    #[error("admin listener: cannot bind {addr}: {message}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        message: String,
    },
    /// The bound socket could not be configured or queried.
    #[error("admin listener: socket setup on {addr}: {message}")]
    Socket {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        message: String,
    },
    /// The limits asked for are out of range (the caller's mistake).
    #[error(transparent)]
    Limits(#[from] AdminLimitsError),
    /// The listener thread could not be spawned.
    #[error("admin listener: cannot spawn its thread: {message}")]
    Spawn {
        /// The OS error.
        message: String,
    },
}

/// A running admin listener. Dropping it (or calling [`AdminHandle::stop`]) stops and joins its thread.
#[derive(Debug)]
pub struct AdminHandle {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AdminHandle {
    /// The address the listener is bound to (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops the listener and waits for its thread, which waits for the connections it is still serving (each
    /// ends within its request deadline, one write deadline and a short linger).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::Release);
        // Wake the blocking accept with one connection of our own.
        let mut wake_addr = self.local_addr;
        if wake_addr.ip().is_unspecified() {
            wake_addr.set_ip(match wake_addr {
                SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
            });
        }
        match TcpStream::connect_timeout(&wake_addr, Duration::from_millis(WAKE_CONNECT_MS_MAX)) {
            Ok(_) => {
                let _ = thread.join();
            }
            // Not joined: the thread exits on its next accept. Leaking it beats hanging the caller.
            Err(error) => tracing::warn!(%error, "could not wake the admin listener to stop it"),
        }
    }
}

impl Drop for AdminHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Binds `addr` and serves `/metrics`, `/healthz` and `/readyz` from `source` on a new thread named `admin`,
/// with the default [`AdminLimits`].
///
/// # Errors
///
/// [`AdminError`] when the address cannot be bound or the thread cannot be spawned.
pub fn start(addr: SocketAddr, source: AdminSource) -> Result<AdminHandle, AdminError> {
    start_with_limits(addr, source, AdminLimits::default())
}

/// [`start`] with the given `limits`.
///
/// # Errors
///
/// [`AdminError`] when `limits` are out of range, the address cannot be bound or the thread cannot be
/// spawned.
pub fn start_with_limits(
    addr: SocketAddr,
    source: AdminSource,
    limits: AdminLimits,
) -> Result<AdminHandle, AdminError> {
    limits.validate()?;
    let listener = TcpListener::bind(addr).map_err(|e| AdminError::Bind {
        addr,
        message: e.to_string(),
    })?;
    let socket_error = |e: std::io::Error| AdminError::Socket {
        addr,
        message: e.to_string(),
    };
    let local_addr = listener.local_addr().map_err(socket_error)?;
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = Arc::clone(&stop);
    let source = Arc::new(source);
    let thread = std::thread::Builder::new()
        .name("admin".to_owned())
        .spawn(move || listener::run(&listener, &source, limits, &thread_stop))
        .map_err(|e| AdminError::Spawn {
            message: e.to_string(),
        })?;
    tracing::info!(%local_addr, "admin listener serving /metrics, /healthz, /readyz");
    Ok(AdminHandle {
        local_addr,
        stop,
        thread: Some(thread),
    })
}
