//! Process metrics from `/proc/self`: resident memory and CPU time.
//!
//! Resident memory comes from `VmRSS` in `/proc/self/status`, which the kernel reports in KiB (the same
//! value as `/proc/self/statm`'s second field, without needing the page size). CPU time is `utime + stime`
//! from `/proc/self/stat`, in clock ticks.

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`): fixed at 100 in the kernel's user ABI on every
/// architecture this server supports (x86-64, aarch64), independent of the kernel's internal `HZ`.
pub const USER_HZ: u64 = 100;

/// Bytes in a KiB, the unit of `VmRSS`.
const BYTES_PER_KIB: u64 = 1024;

/// Resident set size in bytes, or `None` where `/proc` is unavailable.
pub fn resident_memory_bytes() -> Option<u64> {
    parse_status_rss_bytes(&std::fs::read_to_string("/proc/self/status").ok()?)
}

/// User plus system CPU time in clock ticks ([`USER_HZ`] per second), or `None` where `/proc` is unavailable.
pub fn cpu_ticks() -> Option<u64> {
    parse_stat_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// `VmRSS` from the text of `/proc/<pid>/status`, in bytes.
pub fn parse_status_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let kib: u64 = fields.next()?.parse().ok()?;
    (fields.next()? == "kB").then_some(kib * BYTES_PER_KIB)
}

/// `utime + stime` (fields 14 and 15) from the text of `/proc/<pid>/stat`. The command name (field 2) is
/// in parentheses and may contain spaces or parentheses, so fields are counted after its last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first after the name, so fields 14 and 15 are the 12th and 13th.
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_rss() {
        let status = "Name:\tswitchboard\nVmPeak:\t  10 kB\nVmRSS:\t    2048 kB\nThreads:\t3\n";
        assert_eq!(parse_status_rss_bytes(status), Some(2048 * 1024));
        assert_eq!(parse_status_rss_bytes("Name: x\n"), None);
    }

    #[test]
    fn parses_stat_with_odd_command_name() {
        let stat = "42 (a b) c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 1000 50";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn reads_this_process() {
        assert!(resident_memory_bytes().is_some_and(|bytes| bytes > 0));
        assert!(cpu_ticks().is_some());
    }
}
