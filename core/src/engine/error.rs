//! Errors of the engine layer returned from calls (as opposed to per-operation failures, which
//! arrive as events).

use std::net::SocketAddr;

use thiserror::Error;

use super::{event::Errno, ids::ConnId};
use crate::config::ConfigError;

/// A failed engine call.
#[derive(Debug, Error, PartialEq, Eq, Clone)]
pub enum EngineError {
    /// The configuration is invalid (operator at fault).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// io_uring was explicitly requested but cannot be used here (local system).
    #[error("io_uring unavailable: {0}")]
    IoUringUnavailable(String),
    /// Creating the engine's kernel objects failed (local system: limits, memory).
    #[error("engine setup failed in {step}: {errno}")]
    Setup {
        /// Which step failed.
        step: &'static str,
        /// The OS error.
        errno: Errno,
    },
    /// Binding or listening on an address failed (local system or operator: address in use).
    #[error("cannot listen on {addr}: {errno}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        errno: Errno,
    },
    /// Creating or binding a client socket failed (local system: ports, descriptors).
    #[error("cannot create client socket for {addr}: {errno}")]
    Connect {
        /// The destination.
        addr: SocketAddr,
        /// The OS error.
        errno: Errno,
    },
    /// Watching an eventfd failed (local system).
    #[error("cannot watch eventfd: {0}")]
    Watch(Errno),
    /// All `connections_max` connection slots are in use (load; the caller should back off).
    #[error("connection limit reached")]
    ConnectionsFull,
    /// The id is not a live connection, or it is already closing (the shard's bug).
    #[error("{0:?} is not an open connection")]
    UnknownConn(ConnId),
    /// Waiting for events failed (local system; should not happen).
    #[error("waiting for events failed: {0}")]
    Wait(Errno),
}
