// bench_smoke.test.mjs -- 20 simulated browsers (tandem-bench) against the real server for 20 s:
// every one reaches READY, gets its partners' audio and video, and never anyone else's media;
// then the same over ICE-TCP (--transport=tcp).
// It asserts behaviour only, never speed: the figures tandem-bench prints are not checked here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchBin, buildDir, runBench } from '../lib/bench.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// tests/lib/server.mjs reads TANDEM_BIN when it loads; point it at the same build.
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer } = await import('../lib/server.mjs');
const { metrics } = await import('../lib/signal.mjs');

let server;

// A low --media-poll-pps puts the workers in timer-driven receive, as under real load.
// Two media workers, whatever the machine: pairs span workers, and --floor runs its per-worker floor.
before(async () => { server = await startServer(['--media-poll-pps=200', '--media-workers=2']); });
after(async () => { if (server) await server.stop(); });


test('tandem-bench: 20 browsers with skips, a refresh and a vanish; zero cross-talk', {
  timeout: 240000,
}, async () => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const args = [
    `--url=${server.url}`, '--peers=20', '--duration=20', '--ramp=20',
    '--mix=stay=50,skip=30,skipnow=5,refresh=10,vanish=5', '--skip-min=3', '--skip-max=6',
    // A loaded machine may be slow to connect; the test is about correctness, not speed.
    '--ready-timeout=60', `--server-pid=${server.proc.pid}`, '--seed=7', '--json',
    // After the run: the bare relay floor on the same packets (it must run; its figure is not
    // checked).
    '--floor',
  ];
  const r = await runBench(args, 180000);
  const why = `tandem-bench exited ${r.code} (${r.signal || 'no signal'})\n--- stderr ---\n${r.err}`;
  let res;
  try { res = JSON.parse(r.out); } catch { assert.fail(`no JSON on stdout\n${why}\n${r.out}`); }

  assert.equal(r.code, 0, why);
  assert.equal(res.ok, true, why);
  // Every simulated browser reached READY (ICE, DTLS, SRTP, media flowing).
  assert.equal(res.peers.total, 20);
  assert.equal(res.peers.ever_ready, 20, why);
  assert.equal(res.errors.ready_timeout, 0, why);
  // Every pairing of 3 s or more carried the partner's audio and video; the stayers had some.
  assert.ok(res.media.pairings_checked > 0, why);
  assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
  const stay = res.peers.by_behaviour.stay;
  assert.ok(stay.peers > 0);
  assert.equal(stay.peers_with_media, stay.peers, why);
  // Zero cross-talk, by every test the bench makes, and no errors of any kind.
  assert.equal(res.crosstalk.total, 0, why);
  assert.ok(res.crosstalk.runs_audited > 0, why);
  assert.equal(res.errors.total, 0, why);
  // The mix really happened: skips, refreshes that resumed their visit (a refused resume counts
  // as an error above), a vanish.
  assert.ok(res.events.nexts > 0, why);
  assert.ok(res.events.refreshes > 0 && res.events.resumed > 0, why);
  assert.ok(res.events.vanished > 0, why);
  assert.ok(res.media.rx_packets > 0 && res.media.tx_packets > 0, why);
  // --floor ran relay_floor over one stream per peer and got a figure.
  assert.ok(res.server.floor && res.server.floor.us_per_packet > 0, why);

  // And the server saw it: packets forwarded, no SRTP or DTLS trouble.
  const m = await metrics(server.url);
  // The floor also ran with one relay thread per media worker, the server's shape.
  assert.equal(m.tandem_media_workers, 2, JSON.stringify(m));
  const fw = res.server.floor_per_worker;
  assert.ok(fw && fw.relay_threads === 2 && fw.us_per_packet > 0, why);
  assert.ok(m.tandem_rtp_forwarded_total > 0, JSON.stringify(m));
  assert.equal(m.tandem_srtp_errors_total, 0, JSON.stringify(m));
  assert.equal(m.tandem_dtls_failures_total, 0, JSON.stringify(m));
  // Every session that carried media freed its DTLS object after the handshake.
  assert.ok(m.tandem_dtls_released_total > 0, JSON.stringify(m));
});

test('a forged DTLS alert from a browser\'s address does not end its live session', {
  timeout: 120000,
}, async () => {
  // The server frees its DTLS state once SRTP flows, so it cannot authenticate a later alert;
  // it must only end a session whose media stopped too. Each simulated browser injects one
  // alert record 2 s into its media and keeps sending.
  const before = await metrics(server.url);
  const r = await runBench([`--url=${server.url}`, '--peers=6', '--duration=8', '--ramp=0',
    '--mix=stay=100', '--forge-alert', `--server-pid=${server.proc.pid}`, '--json'], 60000);
  const why = `tandem-bench exited ${r.code}\n--- stderr ---\n${r.err}`;
  let res;
  try { res = JSON.parse(r.out); } catch { assert.fail(`no JSON on stdout\n${why}\n${r.out}`); }
  assert.equal(r.code, 0, why);
  assert.equal(res.media.forged_alerts, 6, why);
  assert.equal(res.errors.total, 0, why);
  assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
  assert.ok(res.media.pairings_checked >= 6, why);
  const after = await metrics(server.url);
  assert.equal(after.tandem_media_failures_total, before.tandem_media_failures_total,
    JSON.stringify(after));
  assert.ok(after.tandem_dtls_released_total >= before.tandem_dtls_released_total + 6,
    JSON.stringify(after));
});

test('tandem-bench --transport=tcp: 8 browsers with skips over ICE-TCP; zero cross-talk', {
  timeout: 120000,
}, async () => {
  // Each simulated browser plays Chromium with UDP blocked: it connects to the answer's passive
  // TCP candidate (the server offers both by default) and sends STUN, DTLS, SRTP and SRTCP in
  // RFC 4571 frames. The server counts TCP and UDP packets together in /metrics, so the proof
  // that media went over TCP is the bench's own per-transport count.
  const before = await metrics(server.url);
  const r = await runBench([`--url=${server.url}`, '--peers=8', '--duration=12', '--ramp=0',
    '--mix=stay=50,skip=50', '--skip-min=3', '--skip-max=5', '--transport=tcp',
    '--ready-timeout=60', `--server-pid=${server.proc.pid}`, '--seed=3', '--json'], 90000);
  const why = `tandem-bench exited ${r.code}\n--- stderr ---\n${r.err}`;
  let res;
  try { res = JSON.parse(r.out); } catch { assert.fail(`no JSON on stdout\n${why}\n${r.out}`); }
  assert.equal(r.code, 0, why);
  assert.equal(res.ok, true, why);
  assert.equal(res.config.transport, 'tcp', why);
  assert.equal(res.peers.ever_ready, 8, why);
  assert.equal(res.crosstalk.total, 0, why);
  assert.ok(res.crosstalk.runs_audited > 0, why);
  assert.equal(res.errors.total, 0, why);
  assert.equal(res.errors.tcp, 0, why);
  assert.ok(res.events.nexts > 0, why);
  assert.ok(res.media.pairings_checked > 0, why);
  assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
  // Every media session connected over TCP, and everything the server sent came that way:
  // no UDP datagram reached any browser, and the frames carried at least every RTP packet.
  const tr = res.media.transport;
  assert.equal(tr.kind, 'tcp', why);
  assert.equal(tr.tcp_connects, res.peers.visits, why);
  assert.equal(tr.tcp_connected, tr.tcp_connects, why);
  assert.equal(tr.udp_rx_datagrams, 0, why);
  assert.ok(res.media.rx_packets > 0, why);
  assert.ok(tr.tcp_rx_frames >= res.media.rx_packets, why);
  // The server forwarded it, with no SRTP or DTLS trouble and nothing dropped on a slow stream.
  const after = await metrics(server.url);
  assert.ok(after.tandem_rtp_forwarded_total > before.tandem_rtp_forwarded_total,
    JSON.stringify(after));
  assert.equal(after.tandem_srtp_errors_total, before.tandem_srtp_errors_total, JSON.stringify(after));
  assert.equal(after.tandem_dtls_failures_total, before.tandem_dtls_failures_total,
    JSON.stringify(after));
  assert.equal(after.tandem_tcp_dropped_total, before.tandem_tcp_dropped_total,
    JSON.stringify(after));
});

const floorBin = path.join(buildDir, 'bench', 'relay_floor');

for (const relays of [1, 3]) test(`relay_floor: many streams, both profiles, ${relays} relay thread(s); every packet relayed and the samples verify`, {
  timeout: 60000,
}, async () => {
  assert.ok(fs.existsSync(floorBin), `${floorBin} is missing: build the relay_floor target`);
  const r = await new Promise((resolve, reject) => {
    const p = spawn(floorBin, ['-q', '-p', 'both', '-n', '8', '-r', '3000', '-d', '1', '-A', '50',
      '-S', '120', '-s', '900', '-w', String(relays)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
  const why = `relay_floor exited ${r.code}\n${r.out}\n${r.err}`;
  assert.equal(r.code, 0, why);
  const lines = r.out.trim().split('\n').filter((l) => l.startsWith('floor '));
  assert.equal(lines.length, 2, why);
  for (const l of lines) {
    const f = Object.fromEntries(l.split(' ').slice(1).map((kv) => kv.split('=')));
    assert.equal(f.streams, '8', why);
    assert.equal(f.relays, String(relays), why);
    assert.equal(Number(f.relayed), Number(f.sent), why);
    assert.ok(Number(f.verified) > 0, why);
    assert.equal(f.verify_fail, '0', why);
  }
});
