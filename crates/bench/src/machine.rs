//! Facts about the machine and the checkout a run happened on, read from `/proc` and git.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};
use spiritus_core::{Clock, SystemClock};

/// The machine, the code and the moment of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub date: String,
    pub git_commit: String,
    /// Whether the checkout had uncommitted changes.
    pub git_dirty: bool,
    pub cpu_model: String,
    pub cores: usize,
    pub memory_mib: u64,
    pub kernel: String,
    /// The 1-minute load average when the run started, a sign of other work on the machine.
    pub load_average_at_start: f64,
    pub load_average_at_end: f64,
}

impl Machine {
    pub fn read(repo: &Path) -> Self {
        Self {
            date: SystemClock.now().to_rfc3339(),
            git_commit: git(repo, &["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into()),
            git_dirty: git(repo, &["status", "--porcelain"]).is_some_and(|text| !text.is_empty()),
            cpu_model: cpu_model().unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_mib: memory_kib().unwrap_or(0) / 1024,
            kernel: read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
            load_average_at_start: load_average(),
            load_average_at_end: 0.0,
        }
    }

    pub fn finish(&mut self) {
        self.load_average_at_end = load_average();
    }
}

fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
}

fn cpu_model() -> Option<String> {
    let text = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    text.lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
}

fn memory_kib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    status_kib(&text, "MemTotal:")
}

/// The 1-minute load average, 0 when `/proc/loadavg` cannot be read.
pub fn load_average() -> f64 {
    read_trimmed("/proc/loadavg")
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// A `Name:   1234 kB` value from a `/proc` status-style text, in KiB.
pub fn status_kib(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find(|line| line.starts_with(name))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resident and peak resident memory of a process, in KiB.
pub fn process_memory_kib(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((status_kib(&text, "VmRSS:")?, status_kib(&text, "VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_values_are_read_by_name() {
        let text = "Name:\tspiritus\nVmHWM:\t  51200 kB\nVmRSS:\t  40960 kB\n";
        assert_eq!(status_kib(text, "VmRSS:"), Some(40_960));
        assert_eq!(status_kib(text, "VmHWM:"), Some(51_200));
        assert_eq!(status_kib(text, "VmSwap:"), None);
    }
}
