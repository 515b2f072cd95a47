#!/usr/bin/env bash
# classifier_ab.sh -- what periodic snapshots of everyone cost the forwarding: 200 pairs, a
# fresh server per run, alternating runs with and without the classifier (every peer
# snapshotted every 10 s and posted to a local webhook that answers {"action":"none"}).
# Prints, per run, the whole-process CPU per forwarded packet and where the CPU went by thread
# (media workers, the control loop, the moderation pool); then the ratio of the medians.
#
#   bench/classifier_ab.sh [pairs-of-runs=4] [peers=400] [seconds=60]
#
# The first round of snapshots starts one interval after the server, so a run of 60 s has about
# 50 s of every visitor snapshotted every 10 s (40 snapshots a second at 400 peers); shorter
# runs weigh the snapshots less than a server that runs for hours.
#
# Needs build/tandem and build/bench/tandem-bench (tools/tandem build) and node. Run it on an
# otherwise quiet machine: nothing here asserts, it prints figures.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-4} PEERS=${2:-400} SECS=${3:-60}
HOOK_PORT=18099 HTTP_PORT=18400
OUT=$(mktemp -d)
trap 'kill $HOOK 2>/dev/null || true; rm -rf "$OUT"' EXIT

node -e '
  let n = 0;
  require("http").createServer((q, r) => q.resume().on("end", () => {
    n++; r.setHeader("content-type", "application/json"); r.end("{\"action\":\"none\"}");
  })).listen(+process.argv[1], "127.0.0.1");' "$HOOK_PORT" &
HOOK=$!

# Per-thread CPU seconds of process $1, summed by thread name (media-N counted as "media").
threads() {
  local hz; hz=$(getconf CLK_TCK)
  for t in /proc/"$1"/task/*; do
    # comm may hold spaces: fields after the closing parenthesis, utime and stime are 12 and 13.
    local comm stat; comm=$(cat "$t/comm"); stat=$(sed 's/.*) //' "$t/stat")
    set -- $stat
    echo "${comm%%-*} $(( ${12} + ${13} ))"
  done | awk -v hz="$hz" '{c[$1] += $2} END {for (k in c) printf "%s=%.2f ", k, c[k] / hz}'
}

run() { # $1: with|without
  local extra=()
  [ "$1" = with ] && extra=(--classifier-url=http://127.0.0.1:$HOOK_PORT/ --classifier-interval-ms=10000)
  build/tandem --http-addr=127.0.0.1 --http-port=$HTTP_PORT --media-addr=127.0.0.1 --media-port=0 \
    --public-ip=127.0.0.1 --log-level=warn --max-visitors-per-ip=0 --max-conns-per-ip=0 \
    --offers-per-min-per-ip=0 --data-dir="$OUT/data-$1" "${extra[@]}" >"$OUT/server.log" 2>&1 &
  local sp=$!
  sleep 1
  build/bench/tandem-bench --url=http://127.0.0.1:$HTTP_PORT --peers "$PEERS" --duration "$SECS" \
    --mix stay=100 --server-pid $sp --json >"$OUT/run.json" 2>"$OUT/run.err" || true
  local m snaps posts
  m=$(curl -s http://127.0.0.1:$HTTP_PORT/metrics)
  snaps=$(echo "$m" | awk '$1 == "tandem_snapshots_total" {print $2}')
  posts=$(echo "$m" | awk '$1 == "tandem_classifier_submitted_total" {print $2}')
  local th; th=$(threads $sp)
  kill $sp; wait $sp 2>/dev/null || true
  rm -rf "$OUT/data-$1"
  local us load
  us=$(node -e 'const d = JSON.parse(require("fs").readFileSync(process.argv[1]));
    process.stdout.write(d.server && d.server.valid ? d.server.cpu_us_per_forwarded_packet.toFixed(2) : "nan");
    if (d.crosstalk.total || d.errors.total) process.stdout.write(" (cross-talk " + d.crosstalk.total + ", errors " + d.errors.total + ")");' \
    "$OUT/run.json")
  load=$(cut -d' ' -f1 /proc/loadavg)
  printf '%-8s %s us/packet  snapshots %s  posts %s  load %s  cpu_s: %s\n' "$1" "$us" "${snaps:-0}" \
    "${posts:-0}" "$load" "$th"
  echo "$1 ${us%% *}" >>"$OUT/figures"
}

for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then run with; run without; else run without; run with; fi
done
node -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split(" "));
  const med = (k) => { const v = rows.filter((r) => r[0] === k).map((r) => +r[1]).filter((x) => x > 0).sort((a, b) => a - b);
    const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
  const w = med("with"), wo = med("without");
  console.log(`median us/packet: with ${w.toFixed(2)}, without ${wo.toFixed(2)}: ratio ${(w / wo).toFixed(3)}x`);' "$OUT/figures"
