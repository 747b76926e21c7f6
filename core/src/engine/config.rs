//! Engine configuration: every limit is a named field with its unit last, checked once by
//! [`EngineConfig::validate`].

use crate::config::{check_power_of_two, check_range, ConfigError};

/// Which backend the shard asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum EngineKind {
    /// io_uring only; construction fails if io_uring cannot be set up.
    IoUring,
    /// epoll only (nonblocking sockets, level-triggered).
    Epoll,
    /// io_uring when it works on this machine, else epoll (the reason is reported).
    #[default]
    Auto,
}

/// Sizes and limits of one shard's engine. Allocated at start, never grown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Connections (accepted plus connected) this engine holds at once. io_uring holds them as
    /// direct descriptors spread over as many rings as needed; epoll is further capped by
    /// `RLIMIT_NOFILE`.
    pub connections_max: u32,
    /// Size of one receive buffer; one `Data` event carries at most this many bytes. On kernels
    /// with incremental buffer consumption (6.12+) a recv takes only the bytes it fills, so many
    /// small reads share one buffer and a large buffer costs nothing per small message; without
    /// it, buffers larger than 4 KiB are registered as 4 KiB buffers (same memory). The extra rings
    /// of a shard past one file table's worth of connections use at most 16 KiB (see the io_uring
    /// backend's `EXTRA_RING_BUFFER_BYTES_MAX`).
    pub recv_buffer_bytes: u32,
    /// Provided receive buffers of the shard (a power of two), split evenly over its io_uring
    /// rings (at least 64 each). Only bytes received and not yet handled occupy them (idle
    /// connections hold none), so this bounds read memory (`recv_buffer_count ×
    /// recv_buffer_bytes`, mapped lazily and resident once traffic has cycled through it), not
    /// connections. The pages are never given back while the ring lives: the kernel may fill any
    /// free buffer at any moment (also from io-wq worker threads), so `MADV_DONTNEED` on them lost
    /// received bytes (a 1-in-10 corruption under load, fixed by removing it).
    pub recv_buffer_count: u32,
    /// Submission queue entries per io_uring ring (a power of two); the completion queue is 4×.
    pub ring_entries: u32,
    /// Cap on one ring's registered file table; `0` means "the `RLIMIT_NOFILE` soft limit",
    /// which is also the kernel's cap. A smaller value forces more rings (useful in tests).
    pub file_table_slots_max: u32,
    /// `listen(2)` backlog of each listener.
    pub listen_backlog: u32,
    /// Readiness events fetched by one `epoll_wait` (epoll backend only).
    pub epoll_events_max: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            connections_max: 16_384,
            recv_buffer_bytes: 64 * 1024,
            recv_buffer_count: 1024,
            ring_entries: 1024,
            file_table_slots_max: 0,
            listen_backlog: 4096,
            epoll_events_max: 1024,
        }
    }
}

/// Upper bound on connections per engine: conn ids keep 24 bits of index in io_uring user data.
pub const CONNECTIONS_MAX_LIMIT: u32 = 1 << 24;
/// Upper bound on io_uring provided buffers per ring (kernel limit on a buffer ring).
pub const RECV_BUFFER_COUNT_LIMIT: u32 = 32_768;
/// Upper bound on one receive buffer (a buffer ring entry length is 32-bit, keep it sane).
pub const RECV_BUFFER_BYTES_LIMIT: u32 = 1 << 20;
/// Upper bound on submission queue entries (kernel limit).
pub const RING_ENTRIES_LIMIT: u32 = 32_768;

impl EngineConfig {
    /// Checks every field against its range; the error names the first bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "connections_max",
            self.connections_max,
            1..=CONNECTIONS_MAX_LIMIT,
        )?;
        check_range(
            "recv_buffer_bytes",
            self.recv_buffer_bytes,
            64..=RECV_BUFFER_BYTES_LIMIT,
        )?;
        let count = self.recv_buffer_count as usize;
        check_power_of_two(
            "recv_buffer_count",
            count,
            1..=RECV_BUFFER_COUNT_LIMIT as usize,
        )?;
        check_power_of_two(
            "ring_entries",
            self.ring_entries as usize,
            8..=RING_ENTRIES_LIMIT as usize,
        )?;
        if self.file_table_slots_max != 0 && self.file_table_slots_max < 8 {
            let allowed = "0 (= RLIMIT_NOFILE soft limit) or 8..";
            return Err(ConfigError::new(
                "file_table_slots_max",
                self.file_table_slots_max,
                allowed,
            ));
        }
        check_range("listen_backlog", self.listen_backlog, 1..=65_535)?;
        check_range("epoll_events_max", self.epoll_events_max, 16..=65_536)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
    }

    #[test]
    fn error_names_field_and_range() {
        let config = EngineConfig {
            recv_buffer_count: 1000,
            ..EngineConfig::default()
        };
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "recv_buffer_count");
        assert!(err.to_string().contains("power of two"));
        let config = EngineConfig {
            connections_max: 0,
            ..EngineConfig::default()
        };
        assert_eq!(config.validate().unwrap_err().field, "connections_max");
    }
}
