#!/usr/bin/env bash
# cluster_ab.sh -- what a pair across nodes costs against a pair on one node: alternating runs
# of tandem-bench (all stay, --peers) against one Tandem node, and through tools/haproxy.cfg
# against three nodes sharing one redis-server (where most pairs cross nodes, their media by
# the node-to-node relay). Per run: the nodes' CPU (all of them) per packet delivered to a
# simulated browser, and the relay's datagrams per delivered packet (RTCP included, so a run
# where every pair crosses nodes shows a little over 1: f is then taken as 1). Then, from the
# medians, the CPU per delivered packet of a cross-node pair over that of a same-node pair:
#   c_mix = (1 - f) c_same + f c_cross,   so   c_cross = (c_mix - (1 - f) c_same) / f
# Also the Next-to-first-frame latencies of a run with skips through the three nodes.
#
# A third kind of run takes the number of nodes out of the comparison: the same three nodes,
# but each node's visitors come from a tandem-bench of their own pointed at that node (no
# balancer), started a few seconds apart so that each one's visitors pair among themselves (the
# relayed fraction says how far that held). With the balancer runs it gives the same-node and
# cross-node costs on three nodes alike (two equations, two unknowns), so the fixed cost of
# running three nodes instead of one (their idle loops, Redis, more media workers each waking up
# on its own) is not charged to the relay.
#
#   bench/cluster_ab.sh [pairs-of-runs=3] [peers=120] [seconds=30]
#
# Needs build/tandem, build/bench/tandem-bench, redis-server and haproxy. Run it on an otherwise
# quiet machine: nothing here asserts, it prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3} PEERS=${2:-120} SECS=${3:-30}
RPORT=18690 BASE=18700 LBPORT=18699
OUT=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}" "${NODES[@]}" ${LB:-}; do kill "$p" 2>/dev/null || true; done
  rm -rf "$OUT"
}
NODES=()
trap cleanup EXIT

redis-server --port $RPORT --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" >"$OUT/redis.log" 2>&1 &
PIDS+=($!)
sleep 0.5

cpu() { # utime+stime of pid $1 in seconds
  local stat; stat=$(sed 's/.*) //' /proc/"$1"/stat); set -- $stat
  awk -v t=$(( ${12} + ${13} )) -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.3f", t / hz}'
}
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }

start_nodes() { # $1: how many; sets NODES (pids) and URL
  redis-cli -p $RPORT flushall >/dev/null
  NODES=()
  for i in $(seq 1 "$1"); do
    build/tandem --http-addr=127.0.0.1 --http-port=$((BASE + i)) --media-addr=127.0.0.1 \
      --media-port=0 --public-ip=127.0.0.1 --redis-url=redis://127.0.0.1:$RPORT --node-id="$i" \
      --data-dir="$OUT/d$i" --trust-proxy=true --max-visitors-per-ip=0 --max-conns-per-ip=0 \
      --offers-per-min-per-ip=0 --media-record-ms=0 --log-level=warn >"$OUT/n$i.log" 2>&1 &
    NODES+=($!)
  done
  URL=http://127.0.0.1:$((BASE + 1))
  if [ "$1" -gt 1 ]; then
    TANDEM_LB_BIND=127.0.0.1:$LBPORT TANDEM_NODE1=127.0.0.1:$((BASE + 1)) \
      TANDEM_NODE2=127.0.0.1:$((BASE + 2)) TANDEM_NODE3=127.0.0.1:$((BASE + 3)) \
      haproxy -db -f tools/haproxy.cfg >"$OUT/lb.log" 2>&1 &
    LB=$!
    URL=http://127.0.0.1:$LBPORT
  fi
  sleep 2.5
}

stop_nodes() {
  for p in "${NODES[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${LB:-}" ] && kill "$LB" 2>/dev/null || true
  local lb=${LB:-}
  LB=
  wait "${NODES[@]}" $lb 2>/dev/null || true
  rm -rf "$OUT"/d*
}

run() { # $1: nodes; prints "nodes us_per_delivered relay_fraction"
  start_nodes "$1"
  local before=() after=() relay=0 i
  for p in "${NODES[@]}"; do before+=("$(cpu "$p")"); done
  build/bench/tandem-bench --url="$URL" --peers "$PEERS" --duration "$SECS" --mix stay=100 \
    --server-pid "${NODES[0]}" --json >"$OUT/run.json" 2>"$OUT/run.err" || true
  for p in "${NODES[@]}"; do after+=("$(cpu "$p")"); done
  for i in $(seq 1 "$1"); do
    relay=$((relay + $(metric $((BASE + i)) tandem_relay_rx_packets_total)))
  done
  stop_nodes
  local cpu_s=0
  for i in "${!NODES[@]}"; do
    cpu_s=$(awk -v s="$cpu_s" -v a="${after[$i]}" -v b="${before[$i]}" 'BEGIN {printf "%.3f", s + a - b}')
  done
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1]));
    const rx = d.media.rx_packets, cpu = +process.argv[2], relay = +process.argv[3];
    const bad = d.crosstalk.total || d.errors.total ? ` (cross-talk ${d.crosstalk.total}, errors ${d.errors.total})` : "";
    console.log(`${process.argv[4]} ${(cpu * 1e6 / rx).toFixed(2)} ${(relay / rx).toFixed(3)} ${rx}${bad}`);' \
    "$OUT/run.json" "$cpu_s" "$relay" "$1"
}

run_local() { # three nodes, a tandem-bench per node; prints "3L us_per_delivered relay_fraction"
  start_nodes 3
  local before=() after=() relay=0 i pids=()
  for p in "${NODES[@]}"; do before+=("$(cpu "$p")"); done
  for i in 1 2 3; do
    build/bench/tandem-bench --url="http://127.0.0.1:$((BASE + i))" --peers $((PEERS / 3)) \
      --duration "$SECS" --mix stay=100 --server-pid "${NODES[$((i - 1))]}" --json \
      >"$OUT/run$i.json" 2>"$OUT/run$i.err" &
    pids+=($!)
    [ "$i" -lt 3 ] && sleep 4
  done
  wait "${pids[@]}" || true
  for p in "${NODES[@]}"; do after+=("$(cpu "$p")"); done
  for i in 1 2 3; do
    relay=$((relay + $(metric $((BASE + i)) tandem_relay_rx_packets_total)))
  done
  stop_nodes
  local cpu_s=0
  for i in "${!NODES[@]}"; do
    cpu_s=$(awk -v s="$cpu_s" -v a="${after[$i]}" -v b="${before[$i]}" 'BEGIN {printf "%.3f", s + a - b}')
  done
  node -e '
    const fs = require("fs");
    let rx = 0, bad = 0;
    for (const f of process.argv.slice(3)) {
      const d = JSON.parse(fs.readFileSync(f));
      rx += d.media.rx_packets;
      bad += d.crosstalk.total + d.errors.total;
    }
    const cpu = +process.argv[1], relay = +process.argv[2];
    console.log(`3L ${(cpu * 1e6 / rx).toFixed(2)} ${(relay / rx).toFixed(3)} ${rx}${bad ? ` (cross-talk or errors: ${bad})` : ""}`);' \
    "$cpu_s" "$relay" "$OUT/run1.json" "$OUT/run2.json" "$OUT/run3.json"
}

echo "nodes  us/delivered  relayed  delivered   (3L: three nodes, a tandem-bench per node)"
for _ in $(seq 1 "$RUNS"); do
  run 1 | tee -a "$OUT/figures"
  run 3 | tee -a "$OUT/figures"
  run_local | tee -a "$OUT/figures"
done
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
  const med = (a) => { a = a.slice().sort((x, y) => x - y); return a[a.length >> 1]; };
  const same = med(rows.filter((r) => r[0] === "1").map((r) => +r[1]));
  const three = rows.filter((r) => r[0] === "3");
  const mix = med(three.map((r) => +r[1])), f = Math.min(1, med(three.map((r) => +r[2])));
  const cross = (mix - (1 - f) * same) / f;
  console.log(`same-node ${same.toFixed(2)} us, three nodes ${mix.toFixed(2)} us with ${(f * 100).toFixed(0)}% relayed: cross-node ${cross.toFixed(2)} us per delivered packet, ${(cross / same).toFixed(2)}x a same-node pair`);
  const loc = rows.filter((r) => r[0] === "3L");
  if (loc.length) {
    const cl = med(loc.map((r) => +r[1])), fl = Math.min(1, med(loc.map((r) => +r[2])));
    if (f - fl > 0.5) {
      const d = (mix - cl) / (f - fl), same3 = cl - fl * d, cross3 = same3 + d;
      console.log(`on three nodes alike: a tandem-bench per node ${cl.toFixed(2)} us with ${(fl * 100).toFixed(0)}% relayed: same-node ${same3.toFixed(2)} us, cross-node ${cross3.toFixed(2)} us per delivered packet, ${(cross3 / same3).toFixed(2)}x`);
    } else {
      console.log(`on three nodes alike: not computed, the per-node runs relayed ${(fl * 100).toFixed(0)}%`);
    }
  }' \
  "$OUT/figures"

# Next to first frame across nodes: skips through the three nodes.
start_nodes 3
build/bench/tandem-bench --url="$URL" --peers 40 --duration 30 --mix stay=20,skip=80 \
  --skip-min 2 --skip-max 4 2>&1 | grep -E "next_to_frame|next_to_matched|cross-talk:|errors:|RESULT" || true
stop_nodes
