//! Where a run happened: git revision, CPU, core count, memory and kernel.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// The machine and source a run measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Online CPUs available to this process.
    pub cpus: usize,
    /// `MemTotal` from `/proc/meminfo`, in bytes.
    pub memory_bytes: u64,
    /// `uname -srm`.
    pub kernel: String,
}

impl Machine {
    /// Describes this machine; fields that cannot be read are empty or zero.
    pub fn describe() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Self {
            cpu_model: cpu_model(&cpuinfo).unwrap_or_default(),
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            memory_bytes: mem_total_bytes(&meminfo).unwrap_or(0),
            kernel: command_line("uname", &["-srm"]).unwrap_or_default(),
        }
    }

    /// One line for tables: `Intel Xeon …, 2 CPUs, 23.5 GiB, Linux 6.1 x86_64`.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} CPUs, {:.1} GiB, {}",
            self.cpu_model,
            self.cpus,
            self.memory_bytes as f64 / (1u64 << 30) as f64,
            self.kernel
        )
    }
}

/// The checked-out revision (`git rev-parse --short HEAD`), with `-dirty` when files are modified.
pub fn git_revision() -> String {
    let Some(head) = command_line("git", &["rev-parse", "--short", "HEAD"]) else {
        return "unknown".to_owned();
    };
    let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| !status.is_empty());
    if dirty {
        format!("{head}-dirty")
    } else {
        head
    }
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn cpu_model(cpuinfo: &str) -> Option<String> {
    let line = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))?;
    Some(line.split_once(':')?.1.trim().to_owned())
}

fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("Example CPU @ 2.0GHz"));
        assert_eq!(mem_total_bytes("MemTotal:  1024 kB\n"), Some(1024 * 1024));
        assert_eq!(mem_total_bytes(""), None);
    }
}
