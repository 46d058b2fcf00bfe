//! What the tool reads from and asks of the kernel: a process's CPU seconds and RSS from
//! /proc, CPU pinning, the descriptor limit, and whether anything else ran during a
//! measurement (other processes' CPU time, steal, the load average).

use std::collections::HashMap;
use std::time::Instant;

/// Clock ticks per second, the unit of the CPU times in /proc.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of a process (all its threads, living and exited), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat_cpu_seconds(&stat)
}

/// A process's CPU time read two ways: the tick counter of /proc/PID/stat (10 ms steps,
/// but it keeps exited threads' time) and the sum of its living threads' nanosecond
/// counters (/proc/PID/task/*/schedstat).
#[derive(Clone, Copy, Debug)]
pub struct CpuTime {
    ticks: f64,
    threads_ns: Option<f64>,
}

impl CpuTime {
    /// The process's CPU time now (`NAN` fields if it cannot be read).
    pub fn read(pid: u32) -> CpuTime {
        CpuTime {
            ticks: cpu_seconds(pid).unwrap_or(f64::NAN),
            threads_ns: threads_cpu_seconds(pid),
        }
    }

    /// Seconds of CPU from `earlier` to this reading: the nanosecond sum (a short load is
    /// then measured to the microsecond, not to ±10 ms), unless the tick counter grew by
    /// more than two ticks beyond it: a thread that ended in between took its time with it
    /// from the sum, and the tick counter's figure is the better one then.
    pub fn since(&self, earlier: &CpuTime) -> f64 {
        let ticks = self.ticks - earlier.ticks;
        match (self.threads_ns, earlier.threads_ns) {
            (Some(now), Some(then)) if ticks <= now - then + 2.0 / ticks_per_second() => now - then,
            _ => ticks,
        }
    }
}

/// The sum of the CPU time of a process's living threads, in seconds.
fn threads_cpu_seconds(pid: u32) -> Option<f64> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread that ended since the listing adds nothing.
        if let Ok(text) = std::fs::read_to_string(path) {
            ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
    }
    Some(ns as f64 / 1e9)
}

fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime is field 14, stime field 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second())
}

/// Resident set size of a process in KiB (VmRSS).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Whether a process is still there (and not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 2..].starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

fn cpu_set(cpu: usize) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes one bit inside the set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set
}

/// Pins one thread (0: the calling one) to one CPU.
pub fn pin_thread(tid: i32, cpu: usize) -> std::io::Result<()> {
    let set = cpu_set(cpu);
    // SAFETY: the set outlives the call and its size is passed along.
    let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Pins every thread of a process to one CPU (threads it starts later inherit the mask).
pub fn pin_process(pid: u32, cpu: usize) -> std::io::Result<()> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        if let Some(tid) = task?.file_name().to_str().and_then(|t| t.parse().ok()) {
            pin_thread(tid, cpu)?;
        }
    }
    Ok(())
}

/// Raises the soft descriptor limit (and the hard one, when allowed) to at least `want`.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want.max(lim.rlim_cur),
        rlim_max: want.max(lim.rlim_max),
    };
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return raised.rlim_cur;
    }
    let soft = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) };
    lim.rlim_max
}

/// CPU time of every user-space process except the ones measured, and the machine's steal
/// time, at one instant: two of them tell whether anything else ran in between.
pub struct Quiet {
    at: Instant,
    others: HashMap<u32, f64>,
    steal: f64,
}

impl Quiet {
    pub fn now(exclude: &[u32]) -> Self {
        let mut others = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for e in dir.flatten() {
                let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                    continue;
                };
                if exclude.contains(&pid) {
                    continue;
                }
                // Kernel threads have an empty command line; softirq work done for the
                // load itself shows up there, so they are not counted as disturbance.
                let user_space = std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| !c.is_empty())
                    .unwrap_or(false);
                if let (true, Some(cpu)) = (user_space, cpu_seconds(pid)) {
                    others.insert(pid, cpu);
                }
            }
        }
        let steal = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| {
                let cpu = s
                    .lines()
                    .next()?
                    .split_whitespace()
                    .nth(8)?
                    .parse::<f64>()
                    .ok()?;
                Some(cpu / ticks_per_second())
            })
            .unwrap_or(0.0);
        Quiet {
            at: Instant::now(),
            others,
            steal,
        }
    }

    /// Since `self`: the CPU seconds other processes used (those alive at both ends), the
    /// steal seconds, and the wall seconds.
    pub fn since(&self, exclude: &[u32]) -> Disturbance {
        let later = Quiet::now(exclude);
        let mut other_cpu = 0.0;
        let mut busiest = (0.0, 0u32);
        for (pid, cpu) in &later.others {
            if let Some(before) = self.others.get(pid) {
                let d = cpu - before;
                other_cpu += d;
                if d > busiest.0 {
                    busiest = (d, *pid);
                }
            }
        }
        let busiest_name = std::fs::read_to_string(format!("/proc/{}/comm", busiest.1))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Disturbance {
            wall: later.at.duration_since(self.at).as_secs_f64(),
            other_cpu,
            steal: later.steal - self.steal,
            busiest: format!("{busiest_name} {:.2}s", busiest.0),
            loadavg: loadavg(),
        }
    }
}

pub struct Disturbance {
    pub wall: f64,
    pub other_cpu: f64,
    pub steal: f64,
    pub busiest: String,
    pub loadavg: f64,
}

impl Disturbance {
    /// More than `share` of one CPU taken by others (or by the hypervisor) on average.
    pub fn disturbed(&self, share: f64) -> bool {
        let allowed = (share * self.wall).max(0.05);
        self.other_cpu > allowed || self.steal > allowed
    }
}

/// The one-minute load average.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}
