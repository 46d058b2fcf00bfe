//! Side-by-side load benchmark: drives linechat or any IRC daemon over plain IRC and reports
//! deliveries per server CPU-second, delivery latency, RSS per idle connection,
//! registrations per second and history latency, checking that every message arrives
//! exactly once and in order.
//!
//! `cargo bench --bench load -- --help` lists the options; `benches/compare.sh` runs it
//! against linechat, ngircd, InspIRCd and ircd-hybrid and writes BENCHMARKS.md. Loopback only.

#[path = "load/cluster.rs"]
mod cluster;
#[path = "load/conn.rs"]
mod conn;
#[path = "load/report.rs"]
mod report;
#[path = "load/scenarios.rs"]
mod scenarios;
#[path = "load/sys.rs"]
mod sys;
#[path = "load/target.rs"]
mod target;
#[path = "load/traffic.rs"]
mod traffic;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use conn::Transport;
use report::Record;
use target::{LinechatOpts, Target};
use traffic::Talk;

const SCENARIOS: &[&str] = &[
    "fanout",
    "rooms",
    "idle",
    "connect",
    "history",
    "ws-fanout",
    "cluster",
];

#[derive(Parser, Debug)]
#[command(about = "Side-by-side IRC server load benchmark (loopback only)")]
struct Opts {
    /// `linechat` starts the release chat-server afresh for every scenario and run; an
    /// address (127.0.0.1:6667) drives a daemon already listening there.
    #[arg(long, default_value = "linechat")]
    target: String,
    /// Name of an external target in the report (default: its address).
    #[arg(long)]
    name: Option<String>,
    /// PID of an external target (for its CPU time and RSS).
    #[arg(long)]
    pid: Option<u32>,
    /// File holding the PID of an external target.
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// Process name of an external target, found with `pgrep -o -x`.
    #[arg(long)]
    pgrep: Option<String>,
    /// Comma-separated scenarios: fanout, rooms, idle, connect, history, ws-fanout,
    /// cluster (the fan-out over 1, 2 and 3 nodes through NATS; needs nats-server), or all.
    #[arg(long, default_value = "fanout,rooms,idle,connect")]
    scenarios: String,
    /// Runs of each scenario (linechat: a fresh server each time).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Number of the first run in the report (for scripts that run one at a time).
    #[arg(long, default_value_t = 1)]
    run_index: usize,
    /// Pin the server (all its threads) to this CPU.
    #[arg(long)]
    server_cpu: Option<usize>,
    /// Pin this tool (the load generator) to this CPU.
    #[arg(long)]
    client_cpu: Option<usize>,
    /// linechat: put the log directory (archive and index) on /dev/shm.
    #[arg(long)]
    log_dir_tmpfs: bool,
    /// linechat: run with `--search-index off`.
    #[arg(long)]
    index_off: bool,
    /// linechat: the chat-server binary.
    #[arg(long, default_value = env!("CARGO_BIN_EXE_chat-server"))]
    server_bin: PathBuf,
    /// linechat: --sendq-bytes (the daemons' configs raise theirs as far).
    #[arg(long, default_value_t = 16 << 20)]
    sendq: u64,
    /// Append one JSON record per scenario run to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print the summary table of the JSON records in this file and exit.
    #[arg(long)]
    summarize: Option<PathBuf>,
    /// Messages per second per sender (0: as fast as the server takes them).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    #[arg(long, default_value_t = 100)]
    fanout_clients: usize,
    #[arg(long, default_value_t = 10)]
    fanout_senders: usize,
    #[arg(long, default_value_t = 1000)]
    fanout_messages: usize,
    #[arg(long, default_value_t = 100)]
    rooms: usize,
    #[arg(long, default_value_t = 1000)]
    rooms_clients: usize,
    #[arg(long, default_value_t = 50)]
    rooms_messages: usize,
    #[arg(long, default_value_t = 5000)]
    idle_clients: usize,
    #[arg(long, default_value_t = 2000)]
    connect_clients: usize,
    /// Registrations in flight at once while setting up clients (`idle`, `fanout`, …).
    #[arg(long, default_value_t = 100)]
    parallel: usize,
    /// Registrations in flight at once in `connect`.
    #[arg(long, default_value_t = 50)]
    connect_parallel: usize,
    /// WebSocket clients in `ws-fanout` (the same load also runs over TCP beside it).
    #[arg(long, default_value_t = 1000)]
    ws_clients: usize,
    /// Messages per sender in `ws-fanout` (10 senders).
    #[arg(long, default_value_t = 100)]
    ws_messages: usize,
    /// Messages seeded into the room that `history` queries.
    #[arg(long, default_value_t = 2000)]
    history_seed: usize,
    /// A run is disturbed when other processes (or steal) took more than this share of
    /// one CPU during it.
    #[arg(long, default_value_t = 0.10)]
    disturbed_share: f64,
    /// Give up on missing deliveries after this many seconds without progress.
    #[arg(long, default_value_t = 15)]
    stall_secs: u64,
    /// Serve DNS on this UDP address, answering every query "no such name" at once, and
    /// nothing else (for daemons that insist on reverse lookups: benches/compare.sh).
    #[arg(long)]
    dns_stub: Option<String>,
    /// Exit 0 even when a run was disturbed by other processes (the default exit status 3
    /// tells benches/compare.sh to repeat the run).
    #[arg(long)]
    ignore_disturbed: bool,
    /// Tiny parameters, for CI: every scenario runs in a second or two.
    #[arg(long)]
    tiny: bool,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() {
    let mut o = Opts::parse();
    if let Some(file) = &o.summarize {
        let text = std::fs::read_to_string(file).expect("read the JSON records");
        let records: Vec<Record> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("a JSON record per line"))
            .collect();
        print!("{}", report::summary(&records));
        return;
    }
    if let Some(addr) = &o.dns_stub {
        dns_stub(addr);
    }
    if o.tiny {
        (o.fanout_clients, o.fanout_senders, o.fanout_messages) = (10, 3, 20);
        (o.rooms, o.rooms_clients, o.rooms_messages) = (4, 20, 5);
        (o.idle_clients, o.connect_clients) = (50, 50);
        (o.ws_clients, o.ws_messages, o.history_seed) = (10, 10, 50);
    }
    let scenarios: Vec<String> = if o.scenarios == "all" {
        SCENARIOS.iter().map(|s| s.to_string()).collect()
    } else {
        o.scenarios
            .split(',')
            .map(|s| s.trim().to_string())
            .collect()
    };
    for s in &scenarios {
        assert!(SCENARIOS.contains(&s.as_str()), "unknown scenario {s}");
    }
    let limit = sys::raise_nofile(o.idle_clients.max(o.rooms_clients) as u64 * 2 + 1024);
    if let Some(cpu) = o.client_cpu {
        sys::pin_thread(0, cpu).expect("pin the load generator");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    eprintln!(
        "load: target {}, scenarios {}, {} run(s), descriptor limit {limit}",
        o.target,
        scenarios.join(","),
        o.runs
    );
    let mut records = Vec::new();
    let mut external = None;
    if o.target != "linechat" {
        let name = o.name.clone().unwrap_or_else(|| o.target.clone());
        let t = Target::external(
            &name,
            &o.target,
            o.pid,
            o.pidfile.as_ref(),
            o.pgrep.as_deref(),
            o.server_cpu,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        external = Some(t);
    }
    let lo = LinechatOpts {
        bin: o.server_bin.clone(),
        tmpfs: o.log_dir_tmpfs,
        index_off: o.index_off,
        server_cpu: o.server_cpu,
        sendq: o.sendq,
    };
    println!("{}", Record::markdown_header());
    for run in o.run_index..o.run_index + o.runs {
        for s in &scenarios {
            let got = match &external {
                Some(t) => one(&rt, &o, t, s, run),
                // One record per node count, each on fresh nodes and NATS.
                None if s == "cluster" => cluster::records(&rt, &o, &lo, run),
                None => {
                    let mut got = Vec::new();
                    // ws-fanout measures two loads, each on a fresh server.
                    for variant in 0..if s == "ws-fanout" { 2 } else { 1 } {
                        let t = Target::start_linechat(&lo).unwrap_or_else(|e| panic!("{e}"));
                        std::thread::sleep(Duration::from_millis(300));
                        let mut r = one_variant(&rt, &o, &t, s, run, variant);
                        got.append(&mut r);
                    }
                    got
                }
            };
            for r in got {
                println!("{}", r.markdown_row());
                if let Some(path) = &o.json {
                    let mut f = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .expect("open the JSON file");
                    writeln!(f, "{}", serde_json::to_string(&r).unwrap()).unwrap();
                }
                records.push(r);
            }
        }
    }
    if o.runs > 1 || scenarios.len() > 1 {
        println!();
        print!("{}", report::summary(&records));
    }
    if records.iter().any(|r| !r.ok) {
        eprintln!("load: some checks FAILED");
        std::process::exit(1);
    }
    if records.iter().any(|r| r.disturbed) && !o.ignore_disturbed {
        eprintln!("load: some runs were disturbed by other processes");
        std::process::exit(3);
    }
}

fn one(rt: &tokio::runtime::Runtime, o: &Opts, t: &Target, s: &str, run: usize) -> Vec<Record> {
    one_variant(rt, o, t, s, run, 0)
}

fn one_variant(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    t: &Target,
    s: &str,
    run: usize,
    variant: usize,
) -> Vec<Record> {
    let mut rec = Record {
        target: t.name.clone(),
        scenario: s.to_string(),
        run,
        ok: true,
        ..Default::default()
    };
    let stall = Duration::from_secs(o.stall_secs);
    let fanout = |clients, messages, transport| fanout_talk(o, clients, messages, transport);
    match s {
        "fanout" => talk(
            rt,
            o,
            t,
            &fanout(o.fanout_clients, o.fanout_messages, Transport::Tcp),
            &mut rec,
        ),
        "rooms" => {
            let spec = Talk {
                rooms: o.rooms,
                clients: o.rooms_clients,
                senders_per_room: o.rooms_clients.div_ceil(o.rooms),
                messages: o.rooms_messages,
                rate: o.rate,
                transport: Transport::Tcp,
                stall,
            };
            talk(rt, o, t, &spec, &mut rec);
        }
        "ws-fanout" => {
            let Some(ws) = t.ws_addr.clone() else {
                return Vec::new();
            };
            let transport = if variant == 0 {
                Transport::Ws
            } else {
                rec.scenario = format!("tcp-fanout-{}", o.ws_clients);
                Transport::Tcp
            };
            let spec = fanout(o.ws_clients, o.ws_messages, transport);
            let addr = if transport == Transport::Ws {
                ws
            } else {
                t.addr.clone()
            };
            talk_at(rt, o, t, &addr, &spec, &mut rec);
        }
        "idle" => idle(rt, o, t, &mut rec),
        "connect" => connect(rt, o, t, &mut rec),
        "history" => {
            if !t.linechat {
                return Vec::new();
            }
            history(rt, o, t, &mut rec);
        }
        "cluster" => {
            eprintln!("cluster: linechat nodes only; skipped for {}", t.name);
            return Vec::new();
        }
        _ => unreachable!(),
    }
    if !t.alive() {
        rec.ok = false;
        rec.notes.push_str("server died; ");
    }
    vec![rec]
}

fn judge(o: &Opts, t: &Target, q: &sys::Quiet, rec: &mut Record) {
    judge_pids(o, &[t.pid, std::process::id()], q, rec);
}

/// Whether processes other than `measured` ran since `q` (taken excluding the same ones).
fn judge_pids(o: &Opts, measured: &[u32], q: &sys::Quiet, rec: &mut Record) {
    let d = q.since(measured);
    rec.set("other_cpu_s", d.other_cpu);
    rec.set("steal_s", d.steal);
    rec.set("loadavg", d.loadavg);
    if d.disturbed(o.disturbed_share) {
        rec.disturbed = true;
        rec.notes
            .push_str(&format!("busiest other process {}; ", d.busiest));
    }
}

fn talk(rt: &tokio::runtime::Runtime, o: &Opts, t: &Target, spec: &Talk, rec: &mut Record) {
    talk_at(rt, o, t, &t.addr, spec, rec);
}

fn talk_at(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    t: &Target,
    addr: &str,
    spec: &Talk,
    rec: &mut Record,
) {
    talk_on(rt, o, &[t], &[], &[addr.to_string()], spec, rec);
}

/// The load on clients spread round-robin over `addrs`, served by `servers` (their CPU
/// seconds summed into the server CPU, their RSS summed); the CPU seconds of the processes
/// `apart` (NATS) during the load are returned, with the checked deliveries.
fn talk_on(
    rt: &tokio::runtime::Runtime,
    o: &Opts,
    servers: &[&Target],
    apart: &[u32],
    addrs: &[String],
    spec: &Talk,
    rec: &mut Record,
) -> (traffic::Checked, Vec<f64>) {
    let ready = rt.block_on(traffic::prepare_on(addrs, spec, o.parallel));
    let failed = ready.failed;
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    let mut measured: Vec<u32> = servers.iter().map(|t| t.pid).collect();
    measured.extend(apart.iter().copied().chain([std::process::id()]));
    let cpus = || -> Vec<sys::CpuTime> {
        let pids = servers.iter().map(|t| t.pid).chain(apart.iter().copied());
        pids.map(sys::CpuTime::read).collect()
    };
    let mut before = None;
    let checked = rt.block_on(traffic::run(spec, ready, || {
        before = Some((cpus(), sys::Quiet::now(&measured)));
    }));
    let used: Vec<f64> = match &before {
        Some((then, _)) => cpus().iter().zip(then).map(|(n, t)| n.since(t)).collect(),
        None => vec![f64::NAN; servers.len() + apart.len()],
    };
    let (cpu, apart_cpu) = (
        used[..servers.len()].iter().sum::<f64>(),
        used[servers.len()..].to_vec(),
    );
    if let Some((_, q)) = &before {
        judge_pids(o, &measured, q, rec);
    }
    rec.set("clients", spec.clients as f64);
    rec.set("messages", spec.sent_total() as f64);
    rec.set("expected", checked.expected as f64);
    rec.set("deliveries", checked.delivered as f64);
    rec.set("lost", checked.lost as f64);
    rec.set("duplicates", checked.duplicates as f64);
    rec.set("reordered", checked.reordered as f64);
    rec.set("dropped", (checked.dropped + failed) as f64);
    rec.set("wall_s", checked.wall);
    rec.set("server_cpu_s", cpu);
    rec.set("deliveries_per_cpu_s", checked.delivered as f64 / cpu);
    rec.set("deliveries_per_s", checked.delivered as f64 / checked.wall);
    rec.set("cpu_us_per_message", cpu * 1e6 / spec.sent_total() as f64);
    let rss: u64 = servers.iter().map(|t| t.rss_kib()).sum();
    rec.set("rss_kib", rss as f64);
    if let Some(h) = checked.latency.as_ref().filter(|h| !h.is_empty()) {
        rec.set("p50_ms", h.value_at_quantile(0.50) as f64 / 1000.0);
        rec.set("p99_ms", h.value_at_quantile(0.99) as f64 / 1000.0);
        rec.set("max_ms", h.max() as f64 / 1000.0);
    }
    if !checked.clean() || failed > 0 || checked.expected == 0 {
        rec.ok = false;
        rec.notes.push_str(&format!(
            "lost {}, duplicates {}, reordered {}, dropped {}, not joined {failed}; ",
            checked.lost, checked.duplicates, checked.reordered, checked.dropped
        ));
    }
    (checked, apart_cpu)
}

fn idle(rt: &tokio::runtime::Runtime, o: &Opts, t: &Target, rec: &mut Record) {
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(700)).await });
    let rss0 = t.rss_kib();
    let q = sys::Quiet::now(&[t.pid, std::process::id()]);
    let held = rt.block_on(async {
        let idle = scenarios::idle(&t.addr, o.idle_clients, o.parallel).await;
        // Let the server settle (buffers shrink, lazy state is made) before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
        (idle.held, idle.failed, idle.still_held(), idle)
    });
    let rss1 = t.rss_kib();
    judge(o, t, &q, rec);
    let (registered, failed, still, conns) = held;
    rec.set("clients", o.idle_clients as f64);
    rec.set("held", still as f64);
    rec.set("rss_before_kib", rss0 as f64);
    rec.set("rss_after_kib", rss1 as f64);
    rec.set(
        "rss_per_conn_kib",
        (rss1 as f64 - rss0 as f64) / registered.max(1) as f64,
    );
    if failed > 0 || still < registered {
        rec.ok = false;
        rec.notes.push_str(&format!(
            "{failed} failed to register, {} dropped while idle; ",
            registered - still
        ));
    }
    rt.block_on(async move {
        for c in conns.conns {
            c.abort();
        }
    });
}

fn connect(rt: &tokio::runtime::Runtime, o: &Opts, t: &Target, rec: &mut Record) {
    let cpu0 = t.cpu();
    let q = sys::Quiet::now(&[t.pid, std::process::id()]);
    let (ok, failed, wall) = rt.block_on(scenarios::connect(
        &t.addr,
        o.connect_clients,
        o.connect_parallel,
    ));
    let cpu = t.cpu().since(&cpu0);
    judge(o, t, &q, rec);
    rec.set("clients", o.connect_clients as f64);
    rec.set("wall_s", wall);
    rec.set("server_cpu_s", cpu);
    rec.set("regs_per_s", ok as f64 / wall);
    rec.set("regs_per_cpu_s", ok as f64 / cpu);
    if failed > 0 {
        rec.ok = false;
        rec.notes
            .push_str(&format!("{failed} registrations failed; "));
    }
}

/// The fan-out load: one room, `clients` clients, `--fanout-senders` of them sending
/// `messages` each (the `fanout`, `history`, `ws-fanout` and `cluster` scenarios).
fn fanout_talk(o: &Opts, clients: usize, messages: usize, transport: Transport) -> Talk {
    Talk {
        rooms: 1,
        clients,
        senders_per_room: o.fanout_senders,
        messages,
        rate: o.rate,
        transport,
        stall: Duration::from_secs(o.stall_secs),
    }
}

fn history(rt: &tokio::runtime::Runtime, o: &Opts, t: &Target, rec: &mut Record) {
    let spec = fanout_talk(o, o.fanout_clients, o.fanout_messages, Transport::Tcp);
    let q = sys::Quiet::now(&[t.pid, std::process::id()]);
    match rt.block_on(scenarios::history(&t.addr, &spec, o.history_seed)) {
        Ok(h) => {
            judge(o, t, &q, rec);
            let ms =
                |h: &hdrhistogram::Histogram<u64>, p: f64| h.value_at_quantile(p) as f64 / 1000.0;
            rec.set("latest_requests", h.latest.len() as f64);
            rec.set("search_requests", h.search.len() as f64);
            if !h.latest.is_empty() {
                rec.set("latest_p50_ms", ms(&h.latest, 0.5));
                rec.set("latest_p99_ms", ms(&h.latest, 0.99));
            }
            if !h.search.is_empty() {
                rec.set("search_p50_ms", ms(&h.search, 0.5));
                rec.set("search_p99_ms", ms(&h.search, 0.99));
            }
            rec.set("deliveries", h.load.delivered as f64);
            rec.notes.push_str(&format!(
                "LATEST p50 {:.1} ms p99 {:.1} ms ({} requests), SEARCH p50 {:.1} ms p99 {:.1} ms ({} requests); ",
                ms(&h.latest, 0.5),
                ms(&h.latest, 0.99),
                h.latest.len(),
                ms(&h.search, 0.5),
                ms(&h.search, 0.99),
                h.search.len()
            ));
            if h.errors > 0 || !h.load.clean() || h.latest.is_empty() || h.search.is_empty() {
                rec.ok = false;
                rec.notes.push_str(&format!(
                    "{} request errors, load lost {} dup {} reordered {}; ",
                    h.errors, h.load.lost, h.load.duplicates, h.load.reordered
                ));
            }
        }
        Err(e) => {
            rec.ok = false;
            rec.notes.push_str(&format!("{e}; "));
        }
    }
}

/// Answers every DNS query on `addr` with NXDOMAIN, forever.
fn dns_stub(addr: &str) -> ! {
    let sock = std::net::UdpSocket::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let mut buf = [0u8; 1500];
    loop {
        let Ok((n, from)) = sock.recv_from(&mut buf) else {
            continue;
        };
        if n < 12 {
            continue;
        }
        let mut reply = buf[..n].to_vec();
        // QR, the opcode and RD as asked, RA, RCODE 3 (no such name); no answers.
        reply[2] = 0x80 | (buf[2] & 0x79);
        reply[3] = 0x80 | 3;
        reply[6..12].fill(0);
        let _ = sock.send_to(&reply, from);
    }
}
