//! Limits that keep one address, or the operating system's descriptor limit, from locking
//! everyone else out.
//!
//! - **Per address**: at most `--max-connections-per-address` connections at once from one
//!   IPv4 address or one IPv6 /64 (a host usually gets a whole /64), as ergo does (16).
//! - **Connection rate**: an address may open `--connect-rate` connections at once, then
//!   that many per `--connect-rate-secs` (a token bucket: the burst refills steadily).
//! - **Exempt networks** (`--limit-exempt`, loopback by default) skip both.
//! - **File descriptors**: start-up raises the soft `RLIMIT_NOFILE` to the hard limit, and
//!   the server never holds more connections than the descriptors left once a reserve for
//!   the archive files, the search index and the runtime is set aside ([`connection_budget`]).
//!
//! A refused plaintext connection gets one `ERROR` line and is closed; a refused TLS one is
//! closed before its handshake, so a flood of them costs no handshake work.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Descriptors kept free beyond the archive's open files: listeners, the search index,
/// the lock file, the runtime's own, and connections being refused.
pub const FD_RESERVE: usize = 64;

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; a bare address is one host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR/PREFIX` or a bare address.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{s}` is not an address or network (like 10.0.0.0/8)"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}`: the prefix length must be 0 to {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), self.prefix, 32)
                    == masked(u32::from(ip).into(), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), self.prefix, 128) == masked(ip.into(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The top `prefix` bits of a `bits`-wide address.
fn masked(value: u128, prefix: u8, bits: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let keep = u32::from(bits - prefix);
    (value >> keep) << keep
}

/// The unit limits count: an IPv4 address, or the /64 an IPv6 address is in.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((masked(v6.into(), 64, 128)).into()),
        v4 => v4,
    }
}

/// Why a connection was refused; [`Refused::error_line`] is what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The address already holds its share of connections.
    TooMany { limit: usize },
    /// The address opened connections faster than the rate allows.
    TooFast { limit: u32, secs: u64 },
}

impl Refused {
    /// The `ERROR` line sent before closing (plaintext listeners).
    pub fn error_line(&self) -> String {
        match self {
            Refused::TooMany { limit } => {
                format!("ERROR :Too many connections from your address (limit {limit})\r\n")
            }
            Refused::TooFast { limit, secs } => format!(
                "ERROR :Too many new connections from your address (limit {limit} per {secs} s); try again later\r\n"
            ),
        }
    }

    /// A short reason for the log.
    pub fn reason(&self) -> &'static str {
        match self {
            Refused::TooMany { .. } => "too many connections from the address",
            Refused::TooFast { .. } => "connecting too fast from the address",
        }
    }
}

/// Per-address connection limits, shared by every listener.
#[derive(Debug)]
pub struct AddrLimits {
    per_address: usize,
    rate: u32,
    window: Duration,
    exempt: Vec<Cidr>,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<IpAddr, Entry>,
    /// Admissions since the last sweep of idle entries.
    since_sweep: usize,
}

#[derive(Debug)]
struct Entry {
    live: usize,
    /// Connections the address may still open now (refills `rate` per `window`).
    tokens: f64,
    updated: Instant,
}

/// An admitted connection's share of its address; released on drop.
#[derive(Debug)]
pub struct AddrPermit {
    limits: Arc<AddrLimits>,
    key: Option<IpAddr>,
}

impl Drop for AddrPermit {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut table = self.limits.lock();
            if let Some(entry) = table.entries.get_mut(&key) {
                entry.live = entry.live.saturating_sub(1);
            }
        }
    }
}

impl AddrLimits {
    /// `per_address` concurrent connections (0: no limit), `rate` new connections per
    /// `window` with a burst of as many (0: no limit), `exempt` networks skip both.
    pub fn new(per_address: usize, rate: u32, window: Duration, exempt: Vec<Cidr>) -> AddrLimits {
        AddrLimits {
            per_address,
            rate,
            window: window.max(Duration::from_millis(1)),
            exempt,
            table: Mutex::new(Table::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits a connection from `ip`, or says why not.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<AddrPermit, Refused> {
        let exempt = self.exempt.iter().any(|net| net.contains(ip));
        if exempt || (self.per_address == 0 && self.rate == 0) {
            return Ok(AddrPermit {
                limits: self.clone(),
                key: None,
            });
        }
        let key = address_key(ip);
        let now = Instant::now();
        let mut table = self.lock();
        table.since_sweep += 1;
        if table.since_sweep >= 4096 {
            table.since_sweep = 0;
            self.sweep(&mut table.entries, now);
        }
        let rate = f64::from(self.rate);
        let entry = table.entries.entry(key).or_insert(Entry {
            live: 0,
            tokens: rate,
            updated: now,
        });
        if self.per_address > 0 && entry.live >= self.per_address {
            return Err(Refused::TooMany {
                limit: self.per_address,
            });
        }
        if self.rate > 0 {
            let refill =
                now.duration_since(entry.updated).as_secs_f64() / self.window.as_secs_f64() * rate;
            entry.tokens = (entry.tokens + refill).min(rate);
            entry.updated = now;
            if entry.tokens < 1.0 {
                return Err(Refused::TooFast {
                    limit: self.rate,
                    secs: self.window.as_secs().max(1),
                });
            }
            entry.tokens -= 1.0;
        }
        entry.live += 1;
        Ok(AddrPermit {
            limits: self.clone(),
            key: Some(key),
        })
    }

    /// Forgets addresses with no connection whose rate allowance has refilled.
    fn sweep(&self, entries: &mut HashMap<IpAddr, Entry>, now: Instant) {
        let window = self.window;
        entries.retain(|_, e| e.live > 0 || now.duration_since(e.updated) < window);
    }

    /// Addresses currently tracked (for tests).
    pub fn tracked(&self) -> usize {
        self.lock().entries.len()
    }
}

/// Says "refused" in the log at most once a second for each reason, with how many were
/// left unsaid, so a flood of connections cannot flood the log too.
#[derive(Debug, Default)]
pub struct QuietLog {
    last: Mutex<HashMap<&'static str, (Instant, u64)>>,
}

impl QuietLog {
    /// `Some(suppressed)` when a line for `reason` may be logged now (and how many were
    /// skipped since the last one); `None` when this one should stay quiet.
    pub fn allow(&self, reason: &'static str) -> Option<u64> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match last.get_mut(reason) {
            Some((at, skipped)) if now.duration_since(*at) < Duration::from_secs(1) => {
                *skipped += 1;
                None
            }
            Some((at, skipped)) => {
                *at = now;
                Some(std::mem::take(skipped))
            }
            None => {
                last.insert(reason, (now, 0));
                Some(0)
            }
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns `(before, now)`.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn raise_nofile() -> std::io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let before = lim.rlim_cur;
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lim = raised;
        }
        Ok((before as u64, lim.rlim_cur as u64))
    }
}

/// The soft descriptor limit now in force.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
pub fn nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur as u64
}

/// How many archive files the writer keeps open: an eighth of the descriptors, between 16
/// and 512.
pub fn archive_open_files() -> usize {
    usize::try_from(nofile_limit() / 8)
        .unwrap_or(usize::MAX)
        .clamp(16, 512)
}

/// Descriptors this process has open now (from `/proc/self/fd`; 16 where that is missing).
pub fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(16)
}

/// The most connections the server may hold: `max_clients`, or fewer when the descriptor
/// limit minus those already open, the archive's files and [`FD_RESERVE`] allows less.
/// Returns `(connections, descriptor limit)`.
pub fn connection_budget(max_clients: usize) -> (usize, u64) {
    let limit = nofile_limit();
    let kept = open_descriptors() + archive_open_files() + FD_RESERVE;
    let fit = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(kept)
        .max(1);
    (max_clients.min(fit), limit)
}

/// Returns the allocator's free memory to the operating system (`malloc_trim`, glibc
/// only); true when some was released.
pub fn trim_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Whether an accept error means the process or system ran out of descriptors.
pub fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// How much nicer than the chat the server's indexing threads run (see
/// [`lower_thread_priority`]).
const BACKGROUND_NICE: libc::c_int = 10;

/// Lowers the calling thread's CPU priority (nice +10); threads it starts inherit it. For
/// the search index's threads, so indexing yields the CPU to the chat when both want it.
/// Best effort: failure leaves the priority as it was.
pub fn lower_thread_priority() {
    // SAFETY: plain syscalls on the calling thread (its tid); no memory is shared.
    let rc = unsafe {
        let tid = libc::gettid() as libc::id_t;
        let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, nice + BACKGROUND_NICE)
    };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "indexing priority not lowered");
    }
}

/// Puts the calling thread under `SCHED_BATCH`: woken for work, it does not preempt the
/// thread that woke it. The archive writer runs so: on a busy CPU it then takes the rows of
/// many messages per wake-up (the event loop hands over a burst before it yields), instead
/// of preempting the event loop for every message. On an idle CPU it runs at once. Best
/// effort: failure changes nothing else.
pub fn batch_scheduling() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a plain syscall on the calling thread (pid 0) with a valid parameter.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "SCHED_BATCH not set");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "mapped IPv4 is IPv4");
        let host = Cidr::parse("::1").unwrap();
        assert!(host.contains(ip("::1")) && !host.contains(ip("::2")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("nowhere").is_err());
        assert_eq!(Cidr::parse("fe80::/10").unwrap().to_string(), "fe80::/10");
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address_and_permits_release() {
        let limits = Arc::new(AddrLimits::new(2, 0, Duration::from_secs(10), vec![]));
        let a = limits.admit(ip("2001:db8::1")).unwrap();
        let _b = limits.admit(ip("2001:db8::ffff:2")).unwrap();
        assert_eq!(
            limits.admit(ip("2001:db8::3")).unwrap_err(),
            Refused::TooMany { limit: 2 }
        );
        assert!(limits.admit(ip("2001:db8:0:1::1")).is_ok(), "another /64");
        drop(a);
        assert!(limits.admit(ip("2001:db8::3")).is_ok());
    }

    #[test]
    fn the_rate_allows_a_burst_then_refuses_and_exempt_networks_skip_it() {
        let exempt = vec![Cidr::parse("192.0.2.0/24").unwrap()];
        let limits = Arc::new(AddrLimits::new(0, 3, Duration::from_secs(3600), exempt));
        for _ in 0..3 {
            drop(limits.admit(ip("198.51.100.7")).unwrap());
        }
        let refused = limits.admit(ip("198.51.100.7")).unwrap_err();
        assert_eq!(
            refused,
            Refused::TooFast {
                limit: 3,
                secs: 3600
            }
        );
        assert!(
            refused
                .error_line()
                .starts_with("ERROR :Too many new connections")
        );
        for _ in 0..10 {
            drop(limits.admit(ip("192.0.2.9")).unwrap());
        }
        assert_eq!(limits.tracked(), 1, "exempt addresses are not tracked");
    }

    #[test]
    fn the_limit_error_names_the_limit() {
        assert_eq!(
            Refused::TooMany { limit: 16 }.error_line(),
            "ERROR :Too many connections from your address (limit 16)\r\n"
        );
    }
}
