//! What the server's configuration asks of the host, and the sysctl values that follow from it.

use crate::rules::Comparison;

/// Descriptors kept for everything that is not a client connection: listeners, the durable log, eventfds,
/// the admin endpoint, the rings themselves.
pub const RESERVED_FDS_COUNT: u64 = 1024;

/// File objects kept host-wide for everything else running on the machine.
pub const HOST_FILES_RESERVE_COUNT: u64 = 65_536;

/// The largest direct-descriptor table one io_uring instance can register (`IORING_MAX_FIXED_FILES`).
pub const RING_FILES_MAX: u64 = 1 << 20;

/// The I/O engine the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// io_uring with direct descriptors: connections do not count against `RLIMIT_NOFILE` in total.
    IoUring,
    /// The epoll fallback: one file descriptor per connection.
    Epoll,
}

/// What the server's configuration needs from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerNeeds {
    /// The configured maximum number of client connections (all shards).
    pub connections_max: u64,
    /// The configured cap per shard (`limits.connections_per_shard_max`), if any; sizes each shard's
    /// io_uring direct-descriptor table. `None` means an even share of `connections_max`.
    pub connections_per_shard_max: Option<u64>,
    /// Connection shards (one thread and one ring each).
    pub shards: u32,
    /// The engine in use.
    pub engine: Engine,
    /// The backlog passed to `listen()`; `net.core.somaxconn` silently caps it.
    pub listen_backlog: u32,
    /// Bytes the engine pins with registered buffers and buffer rings (0 if none).
    pub memlock_bytes: u64,
}

/// A [`ServerNeeds`] field out of range; the caller's configuration is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NeedsError {
    /// `shards` is 0.
    #[error("shards must be at least 1")]
    NoShards,
    /// `connections_max` is 0.
    #[error("connections_max must be at least 1")]
    NoConnections,
    /// One shard would need a direct-descriptor table larger than the kernel allows.
    #[error("connections_max / shards = {per_shard} exceeds the io_uring table limit of {RING_FILES_MAX}")]
    ShardTooLarge {
        /// Connections per shard.
        per_shard: u64,
    },
}

impl ServerNeeds {
    /// Checks the fields; see [`NeedsError`] for the ranges.
    pub fn validate(&self) -> Result<(), NeedsError> {
        if self.shards == 0 {
            return Err(NeedsError::NoShards);
        }
        if self.connections_max == 0 {
            return Err(NeedsError::NoConnections);
        }
        let per_shard = self.connections_per_shard();
        if self.engine == Engine::IoUring && per_shard > RING_FILES_MAX {
            return Err(NeedsError::ShardTooLarge { per_shard });
        }
        Ok(())
    }

    /// Connections one shard holds at most: the configured cap, or an even share (rounded up).
    pub fn connections_per_shard(&self) -> u64 {
        let share = self.connections_max.div_ceil(u64::from(self.shards.max(1)));
        self.connections_per_shard_max
            .map_or(share, |cap| cap.min(self.connections_max))
    }

    /// The `RLIMIT_NOFILE` soft limit the engine needs.
    ///
    /// epoll: one descriptor per connection. io_uring: direct descriptors do not count, but the kernel
    /// refuses to register a file table larger than `RLIMIT_NOFILE`, so one shard's share must fit.
    pub fn nofile_needed(&self) -> u64 {
        let connections = match self.engine {
            Engine::Epoll => self.connections_max,
            Engine::IoUring => self.connections_per_shard(),
        };
        connections + RESERVED_FDS_COUNT
    }

    /// Sysctl values implied by the configuration: `(key, comparison, value)`.
    ///
    /// Each is either [`Comparison::AtLeast`] (a minimum) or [`Comparison::AtMost`] (a maximum).
    pub fn sysctl_needs(&self) -> Vec<(&'static str, Comparison, i64)> {
        let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let mut needs = vec![
            // Direct descriptors are still file objects: they count host-wide.
            (
                "fs.file-max",
                Comparison::AtLeast,
                clamp(self.connections_max + HOST_FILES_RESERVE_COUNT),
            ),
            (
                "fs.nr_open",
                Comparison::AtLeast,
                clamp(self.nofile_needed()),
            ),
            (
                "net.core.somaxconn",
                Comparison::AtLeast,
                i64::from(self.listen_backlog),
            ),
            (
                "net.netfilter.nf_conntrack_max",
                Comparison::AtLeast,
                clamp(self.connections_max),
            ),
        ];
        if self.engine == Engine::IoUring {
            // Linux 6.6+: 1 restricts io_uring to kernel.io_uring_group, 2 disables it.
            needs.push(("kernel.io_uring_disabled", Comparison::AtMost, 0));
        }
        needs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(engine: Engine) -> ServerNeeds {
        ServerNeeds {
            connections_max: 1_000_000,
            connections_per_shard_max: None,
            shards: 4,
            engine,
            listen_backlog: 4096,
            memlock_bytes: 0,
        }
    }

    #[test]
    fn io_uring_needs_one_shard_of_descriptors_epoll_needs_all() {
        assert_eq!(
            needs(Engine::IoUring).nofile_needed(),
            250_000 + RESERVED_FDS_COUNT
        );
        assert_eq!(
            needs(Engine::Epoll).nofile_needed(),
            1_000_000 + RESERVED_FDS_COUNT
        );
    }

    #[test]
    fn every_needed_key_has_a_rule() {
        for (key, comparison, _) in needs(Engine::IoUring).sysctl_needs() {
            let rule = crate::rules::find(key).unwrap_or_else(|| panic!("no rule for {key}"));
            assert_eq!(rule.comparison, comparison, "{key}");
        }
    }

    #[test]
    fn per_shard_cap_sizes_the_descriptor_table() {
        let capped = ServerNeeds {
            connections_per_shard_max: Some(50_000),
            ..needs(Engine::IoUring)
        };
        assert_eq!(capped.nofile_needed(), 50_000 + RESERVED_FDS_COUNT);
    }

    #[test]
    fn validate_names_the_problem() {
        assert_eq!(needs(Engine::IoUring).validate(), Ok(()));
        assert_eq!(
            ServerNeeds {
                shards: 0,
                ..needs(Engine::Epoll)
            }
            .validate(),
            Err(NeedsError::NoShards)
        );
        let huge = ServerNeeds {
            connections_max: 3 << 20,
            shards: 1,
            ..needs(Engine::IoUring)
        };
        assert_eq!(
            huge.validate(),
            Err(NeedsError::ShardTooLarge { per_shard: 3 << 20 })
        );
    }
}
