// bench_shard.test.mjs -- one tandem-bench run driven by two processes (--shard 1/2 and 2/2)
// against the real server, summed up by --merge: visitors of the two shards are paired with
// each other, their sender ids never collide, the merged summary is the sum of the shards
// (latency percentiles over every sample), no cross-talk; and the merge finds cross-talk in a
// doctored shard result that the shard alone could not have seen.
// It asserts behaviour only, never speed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { benchBin, buildDir, runBench } from '../lib/bench.mjs';

// tests/lib/server.mjs reads TANDEM_BIN when it loads; point it at the same build.
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer } = await import('../lib/server.mjs');

let server;
let dir;

before(async () => {
  server = await startServer(['--log-level=warn']);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-shard-'));
});
after(async () => {
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

// The shard number inside a sender id (16 hex digits: nonce, shard, visit).
const shardOf = (id) => parseInt(id.slice(8, 10), 16);

// Nearest rank, as tandem-bench's stats_pct.
function pct(values, q) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.max(0, Math.ceil(q * v.length) - 1)];
}

async function merge(files) {
  const r = await runBench(['--merge', '--json', ...files], 60000);
  let res = null;
  try { res = JSON.parse(r.out); } catch { /* checked by the caller */ }
  return { ...r, res };
}

test('two tandem-bench shards against one server, merged: cross-shard pairs, sums, no cross-talk', {
  timeout: 240000,
}, async () => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const common = [`--url=${server.url}`, '--peers=8', '--duration=12', '--ramp=8',
    '--mix=stay=50,skip=50', '--skip-min=3', '--skip-max=4', '--ready-timeout=60',
    `--server-pid=${server.proc.pid}`, '--seed=11', '--json'];
  // Both shards at once, as two machines would run them.
  const runs = await Promise.all([1, 2].map((k) => runBench([...common, `--shard=${k}/2`], 150000)));
  const shards = runs.map((r, i) => {
    const why = `shard ${i + 1} exited ${r.code} (${r.signal || 'no signal'})\n--- stderr ---\n${r.err}`;
    let res;
    try { res = JSON.parse(r.out); } catch { assert.fail(`no JSON on stdout\n${why}\n${r.out}`); }
    assert.equal(r.code, 0, why);
    assert.equal(res.ok, true, why);
    return { res, why };
  });
  const files = shards.map((s, i) => {
    const f = path.join(dir, `shard${i + 1}.json`);
    fs.writeFileSync(f, JSON.stringify(s.res));
    return f;
  });

  // Each shard drove its half of the seats (0, 2, 4, 6 and 1, 3, 5, 7), every one READY.
  for (const [i, { res, why }] of shards.entries()) {
    assert.equal(res.config.peers, 8, why);
    assert.equal(res.peers.total, 4, why);
    assert.equal(res.peers.ever_ready, 4, why);
    assert.equal(res.shards.k, i + 1, why);
    assert.equal(res.shards.n, 2, why);
    const seats = new Set(res.shard.visits.map((v) => v.peer));
    assert.deepEqual([...seats].sort(), [0, 2, 4, 6].map((p) => p + i), why);
    // Its visits' ids carry its shard number, and nobody else's do.
    for (const v of res.shard.visits) assert.equal(shardOf(v.id), i + 1, v.id);
  }
  const ids1 = new Set(shards[0].res.shard.visits.map((v) => v.id));
  const ids2 = new Set(shards[1].res.shard.visits.map((v) => v.id));
  assert.equal([...ids1].filter((id) => ids2.has(id)).length, 0, 'the shards issued the same id');
  // One run: both shards share the nonce (the first 8 hex digits of every id).
  assert.equal([...ids1][0].slice(0, 8), [...ids2][0].slice(0, 8));

  // Visitors of the two shards were paired with each other: shard 1's visitors received runs
  // of media that shard 2's visitors sent (ids of shard 2), and the other way round.
  const fromOther = (s, other) => s.res.shard.visits.flatMap((v) => v.s)
    .filter((seg) => (other.has(seg[0]))).length;
  assert.ok(fromOther(shards[0], ids2) > 0, shards[0].why);
  assert.ok(fromOther(shards[1], ids1) > 0, shards[1].why);
  // A shard checks such media on its own side only: it is left to the merge.
  assert.ok(shards[0].res.shards.deferred_runs > 0, shards[0].why);

  const m = await merge(files);
  const why = `--merge exited ${m.code}\n--- stderr ---\n${m.err}\n${shards.map((s) => s.why).join('\n')}`;
  assert.ok(m.res, `no JSON on stdout\n${why}\n${m.out}`);
  const res = m.res;
  assert.equal(m.code, 0, why);
  assert.equal(res.ok, true, why);
  assert.equal(res.shards.merged, true, why);
  assert.equal(res.shards.n, 2, why);
  assert.equal(res.shards.deferred_runs, 0, why);
  assert.equal(res.shards.cross_shard_runs,
    fromOther(shards[0], ids2) + fromOther(shards[1], ids1), why);
  // Zero cross-talk across both shards, every run of media audited with both sides at hand.
  assert.equal(res.crosstalk.total, 0, why);
  assert.equal(res.crosstalk.runs_audited,
    shards[0].res.crosstalk.runs_audited + shards[1].res.crosstalk.runs_audited, why);
  assert.ok(res.crosstalk.runs_audited > 0, why);
  assert.equal(res.errors.total, 0, why);

  // The merged counts are the sums of the shards'.
  const sum = (f) => f(shards[0].res) + f(shards[1].res);
  assert.equal(res.config.peers, 8, why);
  assert.equal(res.peers.total, 8, why);
  assert.equal(res.peers.ever_ready, 8, why);
  for (const k of ['visits', 'visits_ready']) assert.equal(res.peers[k], sum((s) => s.peers[k]), k);
  for (const k of Object.keys(res.events)) assert.equal(res.events[k], sum((s) => s.events[k]), k);
  for (const k of ['tx_packets', 'tx_bytes', 'rx_packets', 'rx_bytes', 'plis', 'keyframes_sent',
    'pairings_checked', 'pairings_ok']) {
    assert.equal(res.media[k], sum((s) => s.media[k]), k);
  }
  for (const b of Object.keys(res.peers.by_behaviour)) {
    for (const k of Object.keys(res.peers.by_behaviour[b])) {
      assert.equal(res.peers.by_behaviour[b][k], sum((s) => s.peers.by_behaviour[b][k]), `${b}.${k}`);
    }
  }
  assert.ok(res.events.matched > 0 && res.events.nexts > 0, why);
  assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
  // Latency figures over every sample of both shards: counts summed, percentiles of the pool.
  for (const k of Object.keys(res.latency)) {
    const pool = [...shards[0].res.shard.samples[k], ...shards[1].res.shard.samples[k]];
    assert.equal(res.latency[k].n, pool.length, k);
    assert.equal(res.latency[k].n, sum((s) => s.latency[k].n), k);
    if (!pool.length) continue;
    assert.ok(Math.abs(res.latency[k].p50 - pct(pool, 0.5)) < 1e-6, k);
    assert.ok(Math.abs(res.latency[k].p95 - pct(pool, 0.95)) < 1e-6, k);
    assert.ok(Math.abs(res.latency[k].max - Math.max(...pool)) < 1e-6, k);
  }
  assert.ok(res.latency.match_to_keyframe.n > 0, why);

  // A doctored shard 2: one of its visitors "received" a second or more of media from a
  // visitor of shard 1 who never received it back. Shard 2 alone could not see that (the
  // sender's media is in shard 1's result); the merge must.
  const bad = structuredClone(shards[1].res);
  let doctored = false;
  for (const v of bad.shard.visits) {
    for (const seg of v.s) {
      if (doctored || !ids1.has(seg[0]) || seg[2] - seg[1] < 1500000) continue;
      const stranger = shards[0].res.shard.visits.find((u) => u.id !== seg[0]
        && !u.s.some((x) => x[0] === v.id));
      if (!stranger) continue;
      seg[0] = stranger.id;
      doctored = true;
    }
  }
  if (!doctored) {
    // Every visitor of shard 1 met this one: name a visit of shard 1 that never was instead.
    const v = bad.shard.visits.find((u) => u.s.some((x) => ids1.has(x[0])));
    const seg = v.s.find((x) => ids1.has(x[0]));
    seg[0] = `${seg[0].slice(0, 10)}7fffff`;
    doctored = true;
  }
  const badFile = path.join(dir, 'shard2-doctored.json');
  fs.writeFileSync(badFile, JSON.stringify(bad));
  const d = await merge([files[0], badFile]);
  const dwhy = `--merge exited ${d.code}\n--- stderr ---\n${d.err}`;
  assert.equal(d.code, 1, dwhy);
  assert.equal(d.res.ok, false, dwhy);
  assert.ok(d.res.crosstalk.outside_pairing > 0, dwhy);
  assert.ok(d.res.crosstalk.total > 0, dwhy);
  assert.match(d.err, /CROSS-TALK/);

  // Not the shards of one run: shard 1 twice, or one shard missing.
  assert.equal((await merge([files[0], files[0]])).code, 2);
  assert.equal((await merge([files[1]])).code, 2);
});
