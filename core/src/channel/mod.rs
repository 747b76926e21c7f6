//! Cross-shard channels: bounded lock-free SPSC rings, the shard mesh and eventfd wake-ups.
//!
//! Layout:
//! - [`spsc`]: [`spsc::channel`], a bounded single-producer/single-consumer ring with cache-padded
//!   indices; a full ring returns [`Full`] with the item (backpressure), never blocks or drops.
//! - [`wake`]: [`WakeSignal`], one eventfd per shard plus the "sleeping" flag that lets producers
//!   skip the syscall while the consumer is busy. The memory-ordering protocol is documented there.
//! - [`mesh`]: [`Mesh`], a full mesh of rings between N shards plus rings to and from the routing
//!   shard; each participant gets an [`Inbox`] and [`Outboxes`].
//!
//! Why SPSC rings and not an MPSC queue: with one ring per (sender, receiver) pair, each index has
//! exactly one writer, so push and pop are a plain load and store each, no compare-and-swap.

pub mod mesh;
pub mod spsc;
pub mod wake;

pub use mesh::{Endpoint, Inbox, Mesh, MeshConfig, Outboxes};
pub use spsc::{channel, Consumer, Full, Producer, RING_CAPACITY_MAX};
pub use wake::WakeSignal;

use crate::config::ConfigError;

/// Errors building channels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The channel configuration is invalid. Who is at fault: the configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `eventfd(2)` failed (e.g. `EMFILE`). Who is at fault: the local system's limits.
    #[error("eventfd failed: errno {errno}")]
    EventFd {
        /// The `errno` reported by the kernel.
        errno: i32,
    },
}
