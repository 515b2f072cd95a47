// ops_drain.test.mjs -- SIGTERM with visitors in a pair and visitors not in one: the idle ones
// are told to move at once, the pair finishes, the process exits when it ends (long before
// drain_timeout_ms); and at a short drain_timeout_ms a pair still talking is told before being
// closed. The pairs are tandem-bench browsers (real ICE, DTLS, SRTP, media); --trace-peer shows
// what they were sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, waitFor } = await import('../lib/server.mjs');
const { SignalClient, metrics } = await import('../lib/signal.mjs');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

function startBench(url, seconds) {
  const p = spawn(benchBin, [`--url=${url}`, '--peers=2', `--duration=${seconds}`, '--ramp=0',
    '--mix=stay=100', '--ready-timeout=60', '--trace-peer=all', '--json'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  const b = { proc: p, out: '', err: '' };
  p.stdout.on('data', (d) => { b.out += d; });
  p.stderr.on('data', (d) => { b.err += d; });
  b.done = new Promise((resolve) => p.on('close', (code) => resolve(code)));
  return b;
}

// What tandem-bench peer i received, parsed: lines "tandem-bench: peer i (...) t s <- {json}".
function received(bench, i) {
  const out = [];
  for (const line of bench.err.split('\n')) {
    const m = /^tandem-bench: peer (\d+) \([a-z]+\) ([0-9.]+) s <- (\{.*\})$/.exec(line);
    if (m && Number(m[1]) === i) {
      try { out.push(JSON.parse(m[3])); } catch { /* cut at 300 bytes: not a message we need */ }
    }
  }
  return out;
}

function exited(proc, ms) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
    setTimeout(() => resolve('timeout'), ms);
  });
}

async function idleVisitor(url) {
  const c = new SignalClient(url);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome');
  return c;
}

test('SIGTERM: idle visitors move within seconds, the pair finishes, the process exits when it ends', {
  timeout: 120000,
}, async (t) => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const server = await startServer(['--grace-ms=500']);
  t.after(() => server.stop());
  const bench = startBench(server.url, 14);
  t.after(() => { if (bench.proc.exitCode === null) bench.proc.kill('SIGKILL'); });
  const idle = [await idleVisitor(server.url), await idleVisitor(server.url)];
  await waitFor('the bench pair', async () => ({ ok: (await metrics(server.url)).tandem_peers_paired === 2 }), 60000);

  const t0 = Date.now();
  server.proc.kill('SIGTERM');
  for (const c of idle) {
    const m = await c.type('moving', 3000);
    assert.equal(m.reason, 'draining');
    assert.ok(m.retry_ms >= 1000 && m.retry_ms <= 5000);
  }
  assert.ok(Date.now() - t0 < 3000, 'told within seconds');
  await waitFor('idle visitors closed', () => ({ ok: idle.every((c) => c.closed === 1012) }), 5000);
  // Out of service, refusing newcomers, while the pair goes on.
  assert.equal((await fetch(`${server.url}/readyz`)).status, 503);
  const late = new SignalClient(server.url);
  await late.opened;
  late.send({ type: 'hello' });
  assert.equal((await late.type('error')).code, 'draining');
  const m = await metrics(server.url);
  assert.equal(m.tandem_peers, 2, JSON.stringify(m));
  assert.equal(m.tandem_peers_paired, 2, JSON.stringify(m));
  assert.equal(server.proc.exitCode, null, 'still running while the pair talks');

  // The pair ends when the bench does; then the process exits, well before drain_timeout_ms.
  const benchCode = await bench.done;
  const code = await exited(server.proc, 15000);
  assert.equal(code, 0, server.log());
  assert.ok(Date.now() - t0 < 40000);
  // The pair was never cut: its media checked out, nothing but the run's end closed it.
  const res = JSON.parse(bench.out);
  assert.equal(benchCode, 0, bench.err.slice(-3000));
  assert.equal(res.errors.total, 0, bench.err.slice(-3000));
  assert.ok(res.media.pairings_checked >= 2 && res.media.pairings_ok === res.media.pairings_checked,
    JSON.stringify(res.media));
  for (const i of [0, 1]) assert.ok(!received(bench, i).some((x) => x.type === 'moving'));
  const log = server.log();
  assert.match(log, /drain_start visitors=4 moved=2 paired=2/);
  assert.match(log, /drain_done /);
});

test('SIGTERM at a short drain_timeout_ms: the pair still talking is told to move, then closed', {
  timeout: 120000,
}, async (t) => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const server = await startServer(['--drain-timeout-ms=2000']);
  t.after(() => server.stop());
  const bench = startBench(server.url, 60);
  t.after(() => { if (bench.proc.exitCode === null) bench.proc.kill('SIGKILL'); });
  await waitFor('the bench pair', async () => ({ ok: (await metrics(server.url)).tandem_peers_paired === 2 }), 60000);

  const t0 = Date.now();
  server.proc.kill('SIGTERM');
  const code = await exited(server.proc, 15000);
  assert.equal(code, 0, server.log());
  const took = Date.now() - t0;
  assert.ok(took >= 1900 && took < 9000, `exited after ${took} ms`);
  await new Promise((r) => setTimeout(r, 300)); // the bench's last trace lines
  for (const i of [0, 1]) {
    // "moving" is the last message, and the server then closed the WebSocket.
    const msgs = received(bench, i);
    const last = msgs[msgs.length - 1];
    assert.deepEqual(last && { type: last.type, reason: last.reason },
      { type: 'moving', reason: 'drain_timeout' }, JSON.stringify(msgs.slice(-3)));
    const lines = bench.err.split('\n');
    const told = lines.findIndex((l) => l.startsWith(`tandem-bench: peer ${i} `) && l.includes('"type":"moving"'));
    const closed = lines.findIndex((l) => l.startsWith(`tandem-bench: peer ${i}: `) && l.includes('closed the WebSocket'));
    assert.ok(told >= 0 && closed > told, bench.err.slice(-2000));
  }
  const log = server.log();
  assert.match(log, /drain_timeout drain_ms=\d+ visitors=2 paired=2/);
  assert.match(log, /visit_end peer=\d+ reason=drain_timeout/);
});
