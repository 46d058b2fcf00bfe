#!/usr/bin/env bash
# Side-by-side benchmark: linechat against ngircd, InspIRCd and ircd-hybrid (Debian's
# packages), interleaved in one sitting, written to BENCHMARKS.md.
#
#   benches/compare.sh                      # 5 runs of fanout, rooms, idle, connect
#   RUNS=3 SCENARIOS=fanout,rooms benches/compare.sh
#   TOOL_ARGS=--tiny RUNS=1 OUT=/tmp/b.md benches/compare.sh   # a quick smoke run
#
# Environment: RUNS (5), SCENARIOS (fanout,rooms,idle,connect), LINECHAT_EXTRA
# (history,ws-fanout: linechat-only scenarios, one set per run), VARIANTS ("tmpfs noindex":
# linechat with its log dir on /dev/shm and with --search-index off, run on fanout and
# rooms), SERVER_CPU (0), CLIENT_CPU (1), TOOL_ARGS (extra options for the load tool),
# RETRIES (3: a run disturbed by other processes is repeated up to this often), OUT
# (BENCHMARKS.md). Needs root (apt-get, and the daemons run as user irc). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-5}
SCENARIOS=${SCENARIOS:-fanout,rooms,idle,connect}
LINECHAT_EXTRA=${LINECHAT_EXTRA-history,ws-fanout}
VARIANTS=${VARIANTS-tmpfs noindex}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
TOOL_ARGS=${TOOL_ARGS-}
RETRIES=${RETRIES:-3}
OUT=${OUT:-BENCHMARKS.md}
COMMAND="$0 $*"
for v in RUNS SCENARIOS LINECHAT_EXTRA VARIANTS SERVER_CPU CLIENT_CPU TOOL_ARGS RETRIES OUT; do
  [ -n "${!v}" ] && COMMAND="$v='${!v}' $COMMAND"
done

log() { echo "== $*" >&2; }

# --- the daemons, from Debian's packages --------------------------------------------
# ngircd conflicts with ircd-hybrid as a package (both provide "ircd"), so it is unpacked
# under target/ instead of installed.
DAEMONS=target/bench-daemons
export DEBIAN_FRONTEND=noninteractive
if ! command -v inspircd >/dev/null || ! command -v ircd-hybrid >/dev/null || ! dpkg -s libident >/dev/null 2>&1; then
  log "installing inspircd, ircd-hybrid (and ngircd's libraries)"
  apt-get update -qq
  apt-get install -y -qq inspircd ircd-hybrid libident >/dev/null
fi
NGIRCD=$(command -v ngircd || true)
if [ -z "$NGIRCD" ]; then
  NGIRCD=$ROOT/$DAEMONS/ngircd/usr/sbin/ngircd
  if [ ! -x "$NGIRCD" ]; then
    log "unpacking ngircd under $DAEMONS"
    mkdir -p "$DAEMONS/ngircd"
    (cd "$DAEMONS" && apt-get download ngircd >/dev/null 2>&1 && dpkg-deb -x ngircd_*.deb ngircd)
  fi
fi
# Stop the packages' own service instances: the benchmark starts its own, in the foreground.
for s in ngircd inspircd ircd-hybrid; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$s" 2>/dev/null; then
    systemctl stop "$s" || true
  elif [ -x "/etc/init.d/$s" ]; then
    "/etc/init.d/$s" stop >/dev/null 2>&1 || true
  fi
done

# --- the tool and a frozen copy of the server binary -----------------------------------
log "building the load tool and the release server"
BUILD_LOG=$(mktemp)
cargo bench --bench load --no-run 2>&1 | tee "$BUILD_LOG" >&2
TOOL=$(sed -n 's/.*Executable .*(\(.*\)).*/\1/p' "$BUILD_LOG" | tail -1)
rm -f "$BUILD_LOG"
[ -x "$TOOL" ] || { echo "could not find the load tool's executable" >&2; exit 1; }
WORK=$(mktemp -d /tmp/linechat-compare.XXXXXX)
chmod 755 "$WORK"
cp target/release/chat-server "$WORK/chat-server"
cp "$TOOL" "$WORK/load"
TOOL=$WORK/load
RESULTS=$WORK/results.jsonl
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
log "work directory $WORK"
# ircd-hybrid always looks up each client's hostname: it runs in a mount namespace whose
# resolv.conf points at a loopback stub that answers "no such name" at once, so no lookup
# leaves the machine or waits for a timeout.
DNS_STUB=127.0.0.153
echo "nameserver $DNS_STUB" >"$WORK/resolv.conf"
chmod 644 "$WORK/resolv.conf"
"$TOOL" --dns-stub "$DNS_STUB:53" &
STUB_PID=$!
trap 'kill $STUB_PID 2>/dev/null || true' EXIT

PORT_NGIRCD=16667
PORT_INSPIRCD=16668
PORT_HYBRID=16669

wait_port() {
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Starts a fresh daemon (as user irc, pinned to SERVER_CPU); sets DPID and DPORT.
start_daemon() {
  local name=$1 dir=$WORK/$1
  rm -rf "$dir"; mkdir -p "$dir"
  local port
  case $name in
    ngircd) port=$PORT_NGIRCD ;;
    inspircd) port=$PORT_INSPIRCD ;;
    ircd-hybrid) port=$PORT_HYBRID ;;
  esac
  sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" "benches/daemons/$name.conf" >"$dir/$name.conf"
  echo bench >"$dir/motd.txt"
  chown -R irc:irc "$dir"
  local run=(taskset -c "$SERVER_CPU" setpriv --reuid irc --regid irc --init-groups)
  case $name in
    ngircd) "${run[@]}" "$NGIRCD" --nodaemon --config "$dir/$name.conf" >"$dir/out.log" 2>&1 & ;;
    inspircd) "${run[@]}" inspircd --nofork --config "$dir/$name.conf" >"$dir/out.log" 2>&1 & ;;
    ircd-hybrid)
      (cd "$dir" && exec taskset -c "$SERVER_CPU" unshare -m sh -c \
        'mount --bind "$0" /etc/resolv.conf && exec setpriv --reuid irc --regid irc --init-groups "$@"' \
        "$WORK/resolv.conf" ircd-hybrid -foreground -configfile "$dir/$name.conf" \
        -pidfile "$dir/hybrid.pid" -logfile "$dir/ircd.log" -klinefile "$dir/kline.db" \
        -dlinefile "$dir/dline.db" -xlinefile "$dir/xline.db" -resvfile "$dir/resv.db") \
        >"$dir/out.log" 2>&1 &
      ;;
  esac
  DPID=$!
  DPORT=$port
  if ! wait_port "$port"; then
    echo "$name did not start; its output:" >&2
    cat "$dir/out.log" >&2
    kill "$DPID" 2>/dev/null || true
    return 1
  fi
}

stop_daemon() {
  kill "$DPID" 2>/dev/null || true
  wait "$DPID" 2>/dev/null || true
  sleep 0.3
}

# One measurement, repeated while the tool reports it disturbed (exit 3).
measure() {
  local target=$1 scenario=$2 run=$3 attempt rc
  for attempt in $(seq 0 "$RETRIES"); do
    local args=(--scenarios "$scenario" --run-index "$run" --json "$RESULTS"
      --server-cpu "$SERVER_CPU" --client-cpu "$CLIENT_CPU" $TOOL_ARGS)
    rc=0
    case $target in
      linechat) "$TOOL" "${args[@]}" --server-bin "$WORK/chat-server" || rc=$? ;;
      linechat-tmpfs) "$TOOL" "${args[@]}" --server-bin "$WORK/chat-server" --log-dir-tmpfs || rc=$? ;;
      linechat-noindex) "$TOOL" "${args[@]}" --server-bin "$WORK/chat-server" --index-off || rc=$? ;;
      *)
        start_daemon "$target" || return 0
        "$TOOL" "${args[@]}" --target "127.0.0.1:$DPORT" --name "$target" --pid "$DPID" || rc=$?
        stop_daemon
        ;;
    esac
    if [ "$rc" -ne 3 ]; then return 0; fi
    log "$target $scenario run $run was disturbed (attempt $((attempt + 1))); repeating"
    sleep 2
  done
}

# --- the sitting: round-robin, a fresh server for every measurement ---------------------
TARGETS=(linechat ngircd inspircd ircd-hybrid)
START=$(date -u '+%Y-%m-%d %H:%M UTC')
for run in $(seq 1 "$RUNS"); do
  for scenario in ${SCENARIOS//,/ }; do
    # Rotate the order each run so no target always goes first.
    n=${#TARGETS[@]}
    for i in $(seq 0 $((n - 1))); do
      t=${TARGETS[$(((i + run) % n))]}
      log "run $run/$RUNS: $scenario on $t"
      measure "$t" "$scenario" "$run"
    done
    case $scenario in
      fanout | rooms)
        for v in $VARIANTS; do
          log "run $run/$RUNS: $scenario on linechat-$v"
          measure "linechat-$v" "$scenario" "$run"
        done
        ;;
    esac
  done
  for scenario in ${LINECHAT_EXTRA//,/ }; do
    log "run $run/$RUNS: $scenario on linechat"
    measure linechat "$scenario" "$run"
  done
done
END=$(date -u '+%H:%M UTC')

# --- BENCHMARKS.md ---------------------------------------------------------------------
version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo "?"; }
NGIRCD_VERSION=$("$NGIRCD" --version 2>/dev/null | head -1 | awk '{print $2}')
{
  echo "# Benchmarks: linechat beside ngircd, InspIRCd and ircd-hybrid"
  echo
  echo "Written by \`benches/compare.sh\` (see the README's benchmark section); raw records in"
  echo "\`$RESULTS\` while that directory lasts."
  echo
  echo "- Date: $START – $END"
  echo "- Machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r)"
  echo "- Command: \`$COMMAND\`"
  echo "- linechat $(git rev-parse --short HEAD)$(git diff --quiet -- src bin || echo ' (with uncommitted changes)'), archive and search index on, log dir on disk"
  echo "  (\`linechat (tmpfs)\`: on /dev/shm; \`linechat (index off)\`: \`--search-index off\`)."
  echo "- Daemons from Debian's packages: ngircd ${NGIRCD_VERSION:-?}, InspIRCd $(version inspircd), ircd-hybrid $(version ircd-hybrid);"
  echo "  configs in \`benches/daemons/\` (flood control off, send queues 16 MiB, no per-IP limits,"
  echo "  no ident lookups; ircd-hybrid always looks hostnames up: a loopback stub answers at once)."
  echo "  InspIRCd 3 completes registrations on its once-a-second timer, hence its \`connect\` rate."
  echo "  ergo is not packaged in Debian, so it is left out."
  echo "- Server pinned to CPU $SERVER_CPU, load generator to CPU $CLIENT_CPU; a fresh server for every"
  echo "  measurement; targets interleaved round-robin within each run. A run in which other"
  echo "  processes (or steal) took more than 10% of a CPU is repeated (up to $RETRIES times) and left"
  echo "  out of the medians; every run checks loss, duplicates and per-sender order."
  echo
  echo "Loads: \`fanout\` one room, 100 clients, 10 senders × 1000 messages, as fast as the server"
  echo "takes them; \`rooms\` 100 rooms, 1000 clients, each sending 50; \`idle\` 5000 registered idle"
  echo "clients (RSS after − before, per connection); \`connect\` 2000 registrations, 50 at a time;"
  echo "\`history\` CHATHISTORY LATEST 50 and SEARCH on a 2000-message room while \`fanout\` runs"
  echo "(linechat only); \`ws-fanout\` 1000 WebSocket clients, 10 senders × 100 messages, beside the"
  echo "same load over TCP (\`tcp-fanout-1000\`; linechat only). Medians of the clean runs (n = how many)."
  echo "Spread = (max − min) / median of linechat's runs. Ratio = linechat / best daemon: above 1 is"
  echo "better for throughput figures, below 1 is better for latency and memory."
  echo
  "$TOOL" --summarize "$RESULTS"
  echo
  echo "Load during the sitting: $(cat /proc/loadavg)."
} >"$OUT"
log "wrote $OUT"
cat "$OUT"
