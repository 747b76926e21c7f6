//! The process resource limits the server depends on: `RLIMIT_NOFILE` and `RLIMIT_MEMLOCK`.

use std::fmt;

/// One resource limit; `None` means unlimited (`RLIM_INFINITY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    /// The limit enforced now.
    pub soft: Option<u64>,
    /// The ceiling the soft limit may be raised to without privilege.
    pub hard: Option<u64>,
}

impl Rlimit {
    /// Whether the soft limit allows at least `needed`.
    pub fn soft_allows(&self, needed: u64) -> bool {
        self.soft.is_none_or(|soft| soft >= needed)
    }
}

impl fmt::Display for Rlimit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show =
            |limit: Option<u64>| limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        write!(
            formatter,
            "soft {} / hard {}",
            show(self.soft),
            show(self.hard)
        )
    }
}

/// The limits of a process that matter to Switchboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// Open file descriptors. The epoll engine needs one per connection; the io_uring engine keeps
    /// connections as direct descriptors, which do not count, but the kernel caps each ring's
    /// registered file table at this soft limit when the table is registered.
    pub nofile: Rlimit,
    /// Locked memory in bytes: registered buffers and buffer rings pin pages charged here
    /// (unless the process has `CAP_IPC_LOCK`).
    pub memlock: Rlimit,
}

impl ProcessLimits {
    /// The calling process's limits.
    pub fn current() -> std::io::Result<Self> {
        Ok(Self {
            nofile: get(libc::RLIMIT_NOFILE)?,
            memlock: get(libc::RLIMIT_MEMLOCK)?,
        })
    }
}

fn get(resource: libc::__rlimit_resource_t) -> std::io::Result<Rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` that outlives the call; getrlimit only writes it.
    let result = unsafe { libc::getrlimit(resource, &mut limit) };
    if result != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let finite = |value: libc::rlim_t| (value != libc::RLIM_INFINITY).then_some(value);
    Ok(Rlimit {
        soft: finite(limit.rlim_cur),
        hard: finite(limit.rlim_max),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_limits_match_proc_self_limits() {
        let limits = ProcessLimits::current().unwrap();
        let text = std::fs::read_to_string("/proc/self/limits").unwrap();
        let line = text
            .lines()
            .find(|line| line.starts_with("Max open files"))
            .unwrap();
        let soft = line.split_whitespace().nth(3).unwrap();
        let expected = soft.parse::<u64>().ok();
        assert_eq!(limits.nofile.soft, expected);
    }

    #[test]
    fn unlimited_allows_everything() {
        let limit = Rlimit {
            soft: None,
            hard: None,
        };
        assert!(limit.soft_allows(u64::MAX));
        assert_eq!(limit.to_string(), "soft unlimited / hard unlimited");
        assert!(!Rlimit {
            soft: Some(10),
            hard: Some(10)
        }
        .soft_allows(11));
    }
}
