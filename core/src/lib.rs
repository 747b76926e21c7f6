//! # switchboard-core
//!
//! The per-core I/O engine: the only home of `unsafe` in Switchboard.
//!
//! Everything here is sized at start from validated config and then used without heap allocation
//! on the hot path (proved by tests using [`alloc_count::CountingAllocator`]). Shard state is
//! single-threaded; shards meet only through the bounded rings of [`channel`].
//!
//! ## Layout
//!
//! - [`engine`]: the per-shard I/O engine: io_uring (direct descriptors, multishot accept/recv,
//!   provided buffer rings, one submit per tick) with an epoll fallback, behind one event API.
//! - [`config`]: [`config::ConfigError`] and range checks reused by every config struct.
//! - [`slab`]: fixed-capacity slab with generation-checked keys (connections, timers).
//! - [`timer`]: per-shard hierarchical timer wheel, time passed in.
//! - [`channel`]: bounded lock-free SPSC rings, the shard mesh, eventfd wake-ups.
//! - [`pool`]: fixed, single-threaded buffer pool with usage counters.
//! - [`metrics`]: per-shard counters, gauges and latency histograms, scraped lock-free, and the
//!   Prometheus text writer.
//! - [`alloc_count`]: a counting global allocator for "no allocation on the hot path" tests.
//! - [`affinity`]: pinning a shard thread to its CPU.
//! - [`signal`]: `SIGTERM`/`SIGINT` as a file descriptor, for graceful drain.
//! - [`file_lock`]: exclusive advisory file locks (one writer process per log directory).
//! - [`mask`]: WebSocket payload masking with the CPU's widest vectors (AVX2, detected at run time).
//!
//! ## Decisions
//!
//! - The I/O engine is our own, on the `io-uring` crate, rather than monoio or glommio: they expose
//!   no direct-descriptor accept, and direct descriptors are how a shard holds more connections
//!   than `RLIMIT_NOFILE` (20,000 here, not raisable) allows file descriptors. Our loop also
//!   controls the kernel transitions that dominate a loopback echo (multishot accept and recv,
//!   provided buffers, `DEFER_TASKRUN`, one submit per tick), and falls back to epoll where
//!   io_uring is disabled (seccomp, `kernel.io_uring_disabled`).
//! - Timers live in a wheel, not in the kernel: a shard re-arms hundreds of thousands of heartbeats
//!   and expires many per tick with no syscall.
//! - Cross-shard rings are single-producer/single-consumer: no CAS loops, no locks; a full ring is
//!   an error the sender sees (backpressure), never a block or a silent drop.
//! - A producer only writes the peer's eventfd when the peer has said it is about to sleep, so a
//!   busy shard pays no syscall per message.

pub mod affinity;
pub mod alloc_count;
pub mod channel;
pub mod config;
pub mod engine;
pub mod file_lock;
pub mod mask;
pub mod metrics;
pub mod pool;
pub mod signal;
pub mod slab;
pub mod timer;
