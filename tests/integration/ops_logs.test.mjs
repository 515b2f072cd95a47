// ops_logs.test.mjs -- log_format = json: every line is one JSON object (ts, level, event and
// the event's fields); a session of visits, pairs and Nexts is told at info; no visitor's IP
// address appears unless log_ips = true. Visitors come through a "proxy" (trust_proxy and
// X-Forwarded-For) with an address found nowhere else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer } = await import('../lib/server.mjs');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

const VISITOR_IP = '203.0.113.77';

// A visitor behind the proxy: hello, then a malformed message, then it leaves.
async function proxiedVisit(url) {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { headers: { 'X-Forwarded-For': VISITOR_IP } });
  const got = [];
  ws.on('message', (d) => got.push(JSON.parse(d.toString())));
  await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
  ws.send(JSON.stringify({ type: 'hello' }));
  ws.send('{not json');
  ws.send(JSON.stringify({ type: 'start' })); // before an offer: bad_state
  while (got.length < 3) await new Promise((r) => setTimeout(r, 20));
  ws.close();
  await new Promise((r) => ws.once('close', r));
  return got;
}

function runBench(url) {
  return new Promise((resolve) => {
    const p = spawn(benchBin, [`--url=${url}`, '--peers=4', '--duration=9', '--ramp=0',
      '--mix=skip=100', '--skip-min=2', '--skip-max=3', '--ready-timeout=60', '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    const killer = setTimeout(() => p.kill('SIGKILL'), 90000);
    p.on('close', (code) => { clearTimeout(killer); resolve({ code, err }); });
  });
}

async function stopAndParse(server) {
  await server.stop();
  const lines = server.log().split('\n').filter((l) => l.length);
  return lines.map((l) => {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(l); }, `not JSON: ${l}`);
    return o;
  });
}

test('json logs: one object per line, the session told at info, no visitor address', {
  timeout: 180000,
}, async () => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const server = await startServer(['--log-format=json', '--log-level=info', '--trust-proxy',
    '--grace-ms=300']);
  let events;
  try {
    const replies = await proxiedVisit(server.url);
    assert.equal(replies[0].type, 'welcome');
    const b = await runBench(server.url);
    assert.equal(b.code, 0, b.err.slice(-2000));
    await new Promise((r) => setTimeout(r, 800)); // grace ends, visits end
  } finally {
    events = await stopAndParse(server);
  }
  for (const e of events) {
    assert.match(e.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, JSON.stringify(e));
    assert.ok(['error', 'warn', 'info'].includes(e.level), JSON.stringify(e));
    assert.equal(typeof e.event, 'string', JSON.stringify(e));
  }
  const text = JSON.stringify(events);
  assert.ok(!text.includes(VISITOR_IP), 'a visitor address was logged');
  // The only addresses are the server's own, on the start-up line.
  for (const e of events) {
    assert.ok(!('ip' in e), JSON.stringify(e));
    if (e.event !== 'start') assert.ok(!JSON.stringify(e).includes('127.0.0.1'), JSON.stringify(e));
  }
  const count = (name) => events.filter((e) => e.event === name).length;
  assert.equal(count('start'), 1);
  assert.equal(count('visit_start'), 5, text);
  assert.ok(count('ready') >= 4, text);
  assert.ok(count('match') >= 2, text);
  assert.ok(count('next') >= 2, text);
  assert.ok(count('visit_end') >= 1, text);
  const end = events.find((e) => e.event === 'visit_end');
  assert.equal(typeof end.visit_ms, 'number');
  assert.equal(typeof end.reason, 'string');
  const next = events.find((e) => e.event === 'next');
  assert.ok(next.peer > 0 && next.partner > 0 && typeof next.pair_ms === 'number', JSON.stringify(next));
  const ready = events.find((e) => e.event === 'ready');
  assert.equal(typeof ready.connect_ms, 'number');
  // Clients' protocol mistakes are debug, not info.
  assert.equal(events.filter((e) => e.event === 'error').length, 0, text);
});

test('log_ips = true: the visitor address (X-Forwarded-For behind trust_proxy) is logged', {
  timeout: 60000,
}, async () => {
  const server = await startServer(['--log-format=json', '--log-level=debug', '--trust-proxy',
    '--log-ips']);
  let events;
  try {
    await proxiedVisit(server.url);
  } finally {
    events = await stopAndParse(server);
  }
  const start = events.find((e) => e.event === 'visit_start');
  assert.equal(start.ip, VISITOR_IP, JSON.stringify(events));
  // At debug, the client's mistakes are there with their codes.
  const codes = events.filter((e) => e.event === 'error').map((e) => e.code);
  assert.deepEqual(codes.sort(), ['bad_json', 'bad_state']);
});
