// ipv6.test.mjs -- media over IPv6 at the C level: the server's media_addr is IPv4
// (127.0.0.1) and it advertises only ::1, so each of its two workers also binds an IPv6-only
// UDP socket and TCP listener on the same port number; simulated browsers (tandem-bench,
// reaching the server at http://[::1]) do ICE, DTLS-SRTP and media over ::1, by UDP and by
// ICE-TCP, with pairs across the two workers (sendmmsg on another worker's IPv6 socket). Then a
// server advertising both 127.0.0.1 and ::1 serves a bench over each family (the bench takes
// the candidate of its own socket's family).
// Last, detection: in a network namespace whose interface has an IPv4 and a global IPv6 address,
// an empty public_ip advertises both, and an IPv6 address that cannot be bound is dropped with a
// warning (root only).
// Behaviour only, never speed. Needs IPv6 on the loopback (skipped when ::1 is missing).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchBin, buildDir, runBench } from '../lib/bench.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer } = await import('../lib/server.mjs');
const { metrics } = await import('../lib/signal.mjs');

const haveV6 = await new Promise((resolve) => {
  const s = dgram.createSocket('udp6');
  s.on('error', () => resolve(false));
  s.bind(0, '::1', () => { s.close(); resolve(true); });
});
let server;

before(async () => {
  if (!haveV6) return;
  server = await startServer(['--http-addr=::', '--public-ip=::1', '--media-workers=2',
    '--media-poll-pps=200']);
});
after(async () => { if (server) await server.stop(); });


const v6url = () => `http://[::1]:${new URL(server.url).port}`;

for (const transport of ['udp', 'tcp']) {
  test(`tandem-bench over ::1 (${transport}): 8 browsers with skips, zero cross-talk`, {
    skip: !haveV6 && 'no IPv6 loopback', timeout: 120000,
  }, async () => {
    assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
    const before = await metrics(server.url);
    const r = await runBench([`--url=${v6url()}`, '--peers=8', '--duration=10', '--ramp=0',
      '--mix=stay=50,skip=50', '--skip-min=3', '--skip-max=5', `--transport=${transport}`,
      '--ready-timeout=60', `--server-pid=${server.proc.pid}`, '--seed=5', '--json'], 90000);
    const why = `tandem-bench exited ${r.code}\n--- stderr ---\n${r.err}\n--- server ---\n${server.log().slice(-3000)}`;
    let res;
    try { res = JSON.parse(r.out); } catch { assert.fail(`no JSON on stdout\n${why}\n${r.out}`); }
    assert.equal(r.code, 0, why);
    assert.equal(res.ok, true, why);
    assert.equal(res.config.transport, transport, why);
    assert.equal(res.peers.ever_ready, 8, why);
    assert.ok(res.media.pairings_checked > 0, why);
    assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
    assert.equal(res.crosstalk.total, 0, why);
    assert.equal(res.errors.total, 0, why);
    const m = await metrics(server.url);
    assert.ok(m.tandem_rtp_forwarded_total > before.tandem_rtp_forwarded_total, JSON.stringify(m));
    assert.equal(m.tandem_srtp_errors_total, 0, JSON.stringify(m));
    assert.equal(m.tandem_dtls_failures_total, 0, JSON.stringify(m));
  });
}

test('one server advertising 127.0.0.1 and ::1 serves IPv4 and IPv6 browsers', {
  skip: !haveV6 && 'no IPv6 loopback', timeout: 120000,
}, async (t) => {
  const dual = await startServer(['--http-addr=::', '--public-ip=127.0.0.1,::1',
    '--media-workers=2']);
  t.after(() => dual.stop());
  const port = new URL(dual.url).port;
  for (const url of [`http://[::1]:${port}`, `http://127.0.0.1:${port}`]) {
    const r = await runBench([`--url=${url}`, '--peers=4', '--duration=6', '--ramp=0',
      '--mix=stay=100', '--ready-timeout=60', `--server-pid=${dual.proc.pid}`, '--json'], 60000);
    const why = `${url}: tandem-bench exited ${r.code}\n--- stderr ---\n${r.err}`;
    let res;
    try { res = JSON.parse(r.out); } catch { assert.fail(`no JSON on stdout\n${why}\n${r.out}`); }
    assert.equal(r.code, 0, why);
    assert.equal(res.peers.ever_ready, 4, why);
    assert.ok(res.media.pairings_checked > 0, why);
    assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
    assert.equal(res.crosstalk.total, 0, why);
    assert.equal(res.errors.total, 0, why);
  }
});

// Runs tandem in the namespace until its start line (or its exit); returns what it printed.
function startLine(ns, args) {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, process.env.TANDEM_BIN, ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const done = () => { clearTimeout(killer); p.kill('SIGINT'); resolve(log); };
    const killer = setTimeout(done, 10000);
    const on = (d) => { log += d; if (/ start /.test(log)) done(); };
    p.stdout.on('data', on);
    p.stderr.on('data', on);
    p.on('close', () => { clearTimeout(killer); resolve(log); });
  });
}

test('public_ip detected: the first IPv4 and the first global IPv6; an IPv6 that cannot be bound is dropped', {
  skip: (!process.getuid || process.getuid() !== 0) && 'needs root for a network namespace',
  timeout: 60000,
}, async (t) => {
  const id = `${process.pid % 200 + 20}`;
  const ns = `tandem-det-${id}`, host = `tdd${id}`, peer = `tdq${id}`;
  const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-det-'));
  t.after(() => {
    try { sh('ip', 'netns', 'del', ns); } catch { /* gone */ }
    try { sh('ip', 'link', 'del', host); } catch { /* went with it */ }
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  sh('ip', 'netns', 'add', ns);
  sh('ip', 'link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
  sh('ip', 'link', 'set', peer, 'netns', ns);
  const inNs = (...a) => sh('ip', 'netns', 'exec', ns, ...a);
  inNs('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0');
  inNs('ip', 'addr', 'add', `10.215.${id}.2/24`, 'dev', peer);
  // A unique-local address first (and a link-local one, made by the kernel): neither is
  // detected; the global one is.
  inNs('ip', '-6', 'addr', 'add', `fd00:7a70:${Number(id).toString(16)}::2/64`, 'dev', peer, 'nodad');
  inNs('ip', '-6', 'addr', 'add', `2a00:7a70:${Number(id).toString(16)}::2/64`, 'dev', peer, 'nodad');
  // Both ends up: an interface without carrier is not listed (libuv wants IFF_RUNNING).
  sh('ip', 'link', 'set', host, 'up');
  inNs('ip', 'link', 'set', peer, 'up');
  inNs('ip', 'link', 'set', 'lo', 'up');
  const base = ['--http-port=0', '--media-port=0', '--media-workers=1', `--data-dir=${dataDir}`];
  const v6 = `2a00:7a70:${Number(id).toString(16)}::2`;
  let log = await startLine(ns, base);
  assert.match(log, new RegExp(`public_ip=10\\.215\\.${id}\\.2,${v6} public_ip_from=detected`), log);
  log = await startLine(ns, [...base, '--media-addr6=2001:db8::99']);
  assert.match(log, /warn .*media_ipv6_unavailable/, log);
  assert.match(log, new RegExp(`public_ip=10\\.215\\.${id}\\.2 public_ip_from=detected`), log);
  // Configured, the same failure stops the start instead.
  log = await startLine(ns, [...base, `--public-ip=10.215.${id}.2,${v6}`, '--media-addr6=2001:db8::99']);
  assert.match(log, /listen_failed what=media/, log);
  assert.doesNotMatch(log, / start /, log);
});
