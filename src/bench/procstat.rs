//! CPU time and memory of processes on this machine, from `/proc` (Linux).

use std::collections::HashMap;
use std::fs;

/// Clock ticks per second of `utime`/`stime` (USER_HZ).
pub fn ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|t| *t > 0.0)
        .unwrap_or(100.0)
}

/// The fields of `/proc/<pid>/stat` after the command name, which may hold spaces.
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 1..];
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// User plus system CPU ticks a process has used.
pub fn cpu_ticks(pid: i32) -> Option<u64> {
    let f = stat_fields(pid)?;
    // After the name: state(0) ppid(1) ... utime(11) stime(12).
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

pub fn parent_of(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// A process and its direct children (a PostgreSQL server: the postmaster and its
/// backends and background workers).
pub fn family(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if parent_of(child) == Some(pid) {
                out.push(child);
            }
        }
    }
    out
}

/// CPU ticks per process, to subtract later.
pub fn sample(pids: &[i32]) -> HashMap<i32, u64> {
    pids.iter()
        .filter_map(|&p| cpu_ticks(p).map(|t| (p, t)))
        .collect()
}

/// CPU seconds used between two samples; processes born in between count from zero, those
/// that ended in between are lost (the benchmark keeps its sessions open throughout).
pub fn cpu_seconds_between(before: &HashMap<i32, u64>, after: &HashMap<i32, u64>) -> f64 {
    let ticks: u64 = after
        .iter()
        .map(|(pid, t)| t.saturating_sub(*before.get(pid).unwrap_or(&0)))
        .sum();
    ticks as f64 / ticks_per_second()
}

/// A `/proc/<pid>/status` figure in kB (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: i32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` is a PostgreSQL server process on this machine.
pub fn is_postgres(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().starts_with("postgres"))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        assert!(cpu_ticks(me).is_some());
        assert!(status_kb(me, "VmRSS").unwrap() > 0);
        assert!(family(parent_of(me).unwrap()).contains(&me));
    }
}
