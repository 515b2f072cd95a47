// ops_metrics.test.mjs -- metrics_addr moves /metrics off the public port; the exposition has
// tandem_build_info, the standard process_* metrics and the three latency histograms, which a
// real session (tandem-bench) fills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, freePort, tandemBin } = await import('../lib/server.mjs');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

// name{labels} value lines -> { 'name{labels}': value }.
function parse(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_:][a-z0-9_:]*(?:\{[^}]*\})?) (\S+)$/i.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function checkHistogram(text, name) {
  assert.ok(text.includes(`# TYPE ${name} histogram\n`), `${name} is not a histogram`);
  const buckets = [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))];
  assert.ok(buckets.length >= 5, name);
  let prev = 0;
  let prevLe = -Infinity;
  for (const [, le, v] of buckets) {
    const bound = le === '+Inf' ? Infinity : Number(le);
    assert.ok(bound > prevLe, `${name}: bounds ascend`);
    assert.ok(Number(v) >= prev, `${name}: buckets are cumulative`);
    prev = Number(v);
    prevLe = bound;
  }
  assert.equal(buckets[buckets.length - 1][1], '+Inf');
  const m = parse(text);
  assert.equal(m[`${name}_count`], prev, `${name}: +Inf bucket = count`);
  assert.ok(m[`${name}_sum`] >= 0);
  return m[`${name}_count`];
}

test('metrics_addr: /metrics moves to its own listener; build_info, process_*, histograms', {
  timeout: 120000,
}, async (t) => {
  const mport = await freePort();
  const server = await startServer([`--metrics-addr=127.0.0.1:${mport}`]);
  t.after(() => server.stop());
  const murl = `http://127.0.0.1:${mport}`;

  assert.equal((await fetch(`${server.url}/metrics`)).status, 404);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${murl}/healthz`)).status, 200);
  assert.equal((await fetch(`${murl}/readyz`)).status, 200);
  assert.equal((await fetch(`${murl}/`)).status, 404, 'the metrics listener serves no page');
  const r = await fetch(`${murl}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  const m = parse(text);

  const version = /^tandem (\S+) \((\S+)\)/.exec(spawnSync(tandemBin, ['--version'], { encoding: 'utf8' }).stdout);
  const info = Object.keys(m).find((k) => k.startsWith('tandem_build_info{'));
  assert.ok(info, 'tandem_build_info is missing');
  assert.ok(info.includes(`version="${version[1]}"`) && info.includes(`commit="${version[2]}"`), info);
  assert.equal(m[info], 1);

  assert.ok(!/^tandem_process_/m.test(text), 'tandem_process_* is gone');
  assert.ok(m.process_cpu_seconds_total > 0);
  assert.ok(m.process_resident_memory_bytes > 1e6);
  assert.ok(Math.abs(m.process_start_time_seconds - Date.now() / 1000) < 120);
  assert.ok(m.process_open_fds > 3);
  assert.ok(m.process_max_fds >= m.process_open_fds);
  assert.match(text, /# TYPE process_cpu_seconds_total counter/);

  for (const h of ['tandem_connect_seconds', 'tandem_match_wait_seconds', 'tandem_first_frame_seconds']) {
    assert.equal(checkHistogram(text, h), 0);
  }

  // A short real session fills them: two browsers connect, wait, pair and see a keyframe.
  if (!fs.existsSync(benchBin)) assert.fail(`${benchBin} is missing: build the tandem-bench target`);
  const b = await new Promise((resolve) => {
    const p = spawn(benchBin, [`--url=${server.url}`, '--peers=2', '--duration=4', '--ramp=0',
      '--mix=stay=100', '--ready-timeout=60', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('close', (code) => resolve({ code, err }));
  });
  const after = await (await fetch(`${murl}/metrics`)).text();
  assert.ok(checkHistogram(after, 'tandem_connect_seconds') >= 2, b.err.slice(-2000));
  assert.ok(checkHistogram(after, 'tandem_match_wait_seconds') >= 2, b.err.slice(-2000));
  assert.ok(checkHistogram(after, 'tandem_first_frame_seconds') >= 2, b.err.slice(-2000));
  assert.ok(parse(after).tandem_visits_total >= 2);
});
