//! CPU time of this process, to show the load generator is not the bottleneck.
//!
//! Read from `/proc/self/stat` (fields `utime` and `stime`, the same counters `getrusage(RUSAGE_SELF)`
//! reports, in clock ticks), so no `unsafe` is needed outside `switchboard-core`.

use std::time::Duration;

/// Kernel clock ticks per second (`sysconf(_SC_CLK_TCK)`), 100 on every Linux architecture we run on.
pub const CLOCK_TICKS_PER_SEC: u64 = 100;

/// User and system CPU time consumed so far by this process (all threads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTime {
    /// Time in user mode.
    pub user: Duration,
    /// Time in the kernel on our behalf.
    pub system: Duration,
}

impl CpuTime {
    /// Reads this process's counters; `None` if `/proc` is unavailable.
    pub fn of_self() -> Option<CpuTime> {
        CpuTime::of_pid_path("/proc/self/stat")
    }

    /// Reads the counters of the process whose `stat` file is at `path`.
    pub fn of_pid_path(path: &str) -> Option<CpuTime> {
        let text = std::fs::read_to_string(path).ok()?;
        // The command name is in parentheses and may contain spaces: split after the last ')'.
        let after = &text[text.rfind(')')? + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // After the name, `state` is field 3, so utime (14) and stime (15) are at 11 and 12 here.
        let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
        let to_duration = |t: u64| Duration::from_millis(t * 1000 / CLOCK_TICKS_PER_SEC);
        Some(CpuTime {
            user: to_duration(ticks(11)?),
            system: to_duration(ticks(12)?),
        })
    }

    /// User plus system.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The time consumed between `earlier` and `self`.
    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_counters() {
        let first = CpuTime::of_self().expect("linux has /proc");
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let second = CpuTime::of_self().unwrap();
        assert!(second.total() >= first.total());
    }
}
