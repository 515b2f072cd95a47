// tandemctl.test.mjs -- the built tandemctl (next to TANDEM_BIN) against a running server for
// every command, tables and --json; exit codes 2 (usage), 3 (unreachable), 4 (token refused);
// snapshots and report evidence from simulated browsers with media (tandem-bench); and a
// hostile fake server (not JSON, huge answers, escape sequences, endless paging, silence).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, waitFor, freePort, tandemBin } = await import('../lib/server.mjs');
const { SignalClient } = await import('../lib/signal.mjs');
const ctlBin = path.join(path.dirname(tandemBin), 'tandemctl');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

const TOKEN = 'ctl-test-token-8d2e61f0c3';
const WRONG = 'wrong-token-55aa77';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandemctl-test-'));
const cleanup = [() => fs.rmSync(tmp, { recursive: true, force: true })];
after(async () => { for (const f of cleanup.reverse()) await f(); });

// Runs tandemctl with args and env (no TANDEM_* or proxy variables from outside). Neither token
// ever shows in what it prints.
function ctl(args, env = {}) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
    !/^TANDEM_(URL|ADMIN_TOKEN)$/.test(k) && !/_proxy$/i.test(k)));
  return new Promise((resolve, reject) => {
    const p = spawn(ctlBin, args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      const buf = Buffer.concat(out);
      const text = buf.toString('latin1') + err;
      for (const t of [TOKEN, WRONG]) assert.ok(!text.includes(t), `tandemctl ${args.join(' ')} printed a token`);
      assert.equal(signal, null, `tandemctl ${args.join(' ')} died of ${signal}: ${err}`);
      resolve({ code, buf, out: buf.toString(), err });
    });
  });
}

function ok(r, what) {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.err}`);
  return r;
}

function isJpeg(buf, what) {
  assert.ok(buf.length > 100, `${what}: ${buf.length} bytes`);
  assert.ok(buf[0] === 0xff && buf[1] === 0xd8 && buf[buf.length - 2] === 0xff &&
    buf[buf.length - 1] === 0xd9, `${what}: not a whole JPEG`);
}

test('tandemctl is built next to tandem', () => {
  assert.ok(fs.existsSync(ctlBin), `${ctlBin} is missing: build the tandemctl target`);
});

test('usage errors exit 2, an unreachable server 3, a refused token 4', { timeout: 60000 }, async () => {
  const usage = [
    [], ['frobnicate'], ['peers', 'extra'], ['--bogus', 'peers'], ['peers', '--bogus'],
    ['snapshot', '12'], ['snapshot', 'abc', '-o', 'x.jpg'], ['snapshot', '12', '-o', 'x', '--max-side', '8'],
    ['snapshot', '12', '-o'], ['kick'], ['kick', '-3'], ['kick', '99999999999999999999'],
    ['ban'], ['ban', '--peer', '1', '--ip', '203.0.113.1'], ['ban', '--device', 'abc'],
    ['ban', '--ip', '300.1.2.3'], ['ban', '--ip6-64', '203.0.113.1'], ['ban', '--peer', '1', '--duration', '3w'],
    ['ban', '--peer', '1', '--duration', '0'], ['ban', '--ip', '203.0.113.1', '--device-only'], ['ban', '--peer', '1', '--duration', '4000d'],
    ['unban'], ['unban', 'x'], ['bans', '--kind', 'laser'], ['reports', '--state', 'closed'],
    ['reports', '--limit', '0'], ['report'], ['resolve', '7', '--resolution', ''], ['audit', '--limit', '5000'],
    ['--url', 'ftp://127.0.0.1/', 'peers'], ['--actor', '', 'peers'], ['--actor', 'x'.repeat(65), 'peers'],
    ['--timeout', '0', 'peers'], ['--json=1', 'peers'],
  ];
  for (const args of usage) {
    const r = await ctl(args, { TANDEM_URL: 'http://127.0.0.1:1', TANDEM_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 2, `tandemctl ${args.join(' ')}: exit ${r.code}\n${r.err}`);
    assert.match(r.err, /^tandemctl: /, args.join(' '));
    assert.match(r.err, /usage: tandemctl/, args.join(' '));
    assert.equal(r.out, '', `tandemctl ${args.join(' ')} printed on stdout`);
  }
  const bad = await ctl(['peers'], { TANDEM_URL: 'http://127.0.0.1:1', TANDEM_ADMIN_TOKEN: 'has space' });
  assert.equal(bad.code, 2);
  for (const args of [['help'], ['--help'], ['peers', '--help'], ['-h']]) {
    const r = ok(await ctl(args), args.join(' '));
    assert.match(r.out, /^usage: tandemctl/);
    for (const c of ['peers', 'pairs', 'snapshot', 'kick', 'ban', 'unban', 'bans', 'reports', 'report', 'resolve', 'audit']) {
      assert.match(r.out, new RegExp(`\\n  ${c} `), `help lists ${c}`);
    }
  }

  // A closed port: 3, naming the URL.
  const port = await freePort();
  for (const args of [['peers'], ['--json', 'bans'], ['snapshot', '3', '-o', path.join(tmp, 'no.jpg')]]) {
    const r = await ctl(['--url', `http://127.0.0.1:${port}`, ...args], { TANDEM_ADMIN_TOKEN: TOKEN });
    assert.equal(r.code, 3, r.err);
    assert.match(r.err, new RegExp(`cannot reach the server at http://127\\.0\\.0\\.1:${port}`));
    assert.equal(r.out, '');
  }
  assert.ok(!fs.existsSync(path.join(tmp, 'no.jpg')));

  // A server with a token: a wrong token or none is 4; a server without admin_token too.
  const s = await startServer([`--admin-token=${TOKEN}`]);
  cleanup.push(() => s.stop());
  const off = await startServer([]);
  cleanup.push(() => off.stop());
  const refused = [
    [['--url', s.url, '--token', WRONG, 'peers'], {}],
    [['--url', s.url, 'bans'], { TANDEM_ADMIN_TOKEN: WRONG }],
    [['--url', s.url, 'audit'], {}],
    [['--url', s.url, '--json', 'kick', '3'], { TANDEM_ADMIN_TOKEN: WRONG }],
    [['--url', off.url, 'reports'], { TANDEM_ADMIN_TOKEN: TOKEN }],
  ];
  for (const [args, env] of refused) {
    const r = await ctl(args, env);
    assert.equal(r.code, 4, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /set TANDEM_ADMIN_TOKEN or --token/);
    assert.equal(r.out, '');
  }
  assert.match((await ctl(['--url', s.url, '--token', WRONG, 'peers'])).err, /the admin token was refused/);
  // The flag wins over the variable; the URL may come from TANDEM_URL.
  ok(await ctl(['--url', s.url, '--token', TOKEN, 'peers'], { TANDEM_ADMIN_TOKEN: WRONG }), 'the flag wins');
  const env = ok(await ctl(['--json', 'peers'], { TANDEM_URL: `${s.url}/`, TANDEM_ADMIN_TOKEN: TOKEN }), 'from the environment');
  assert.deepEqual(JSON.parse(env.out), { peers: [], count: 0 });
});

test('a hostile or broken server gets a clean error, never a crash', { timeout: 60000 }, async () => {
  const seen = [];
  const big = `{"pairs":[${'"x",'.repeat(3 << 20)}"x"]}`; // ~12 MiB
  const routes = {
    'GET /api/peers': [200, 'application/json', '<html>not json</html>'],
    'GET /api/pairs': [200, 'application/json', big],
    'GET /api/audit': [500, 'application/json',
      JSON.stringify({ error: 'internal\u001b[31m', message: 'boom\u001b]0;pwned\u0007\u009b2J ok' })],
    'GET /api/reports': [502, 'text/html', '<html>bad gateway</html>'],
    'GET /api/peers/3/snapshot.jpg': [200, 'image/jpeg', 'hello, not a picture'],
    'GET /api/reports/5': [200, 'application/json', JSON.stringify({ report: { id: 5, time_ms: 1733300000000,
      reason: 'spam\u001b[2J', note: '', reporter: { device: 'aa'.repeat(16), ip: '198.51.100.2' },
      reported: { device: 'bb'.repeat(16), ip: '203.0.113.7', peer: null },
      evidence: { jpeg: 'http://evil.example/x.jpg', webm: '/api/reports/5/clip.webm' }, state: 'open',
      resolution: null, resolved_by: null, resolved_ms: null } })],
    'GET /api/reports/5/clip.webm': [200, 'video/webm', Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(5000, 7)])],
    'GET /api/reports/5/snapshot.jpg': [200, 'image/jpeg', Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(300, 1), Buffer.from([0xff, 0xd9])])],
    'DELETE /api/bans/9': [200, 'application/json', '{"ok":true,"id":9}'],
  };
  let stuckPaging = false;
  const srv = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, actor: req.headers['x-tandem-actor'] });
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/api/bans' && req.method === 'GET') {
      // Pages of two, oldest first; or a next_after_id that never moves on.
      const afterId = Number(u.searchParams.get('after_id') || 0);
      const all = [1, 2, 3, 4, 5].map((id) => ({ id, kind: 'ip', target: `203.0.113.${id}`, reason: '',
        by: 'admin', created_ms: 1733300000000, expires_ms: 0, lifted_ms: 0 }));
      const page = all.filter((b) => b.id > afterId).slice(0, 2);
      const next = stuckPaging ? 1 : (page.length === 2 && page[1].id < 5 ? page[1].id : null);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ bans: page, next_after_id: next }));
      return;
    }
    if (u.pathname === '/api/kick-silence' || u.pathname === '/api/peers/1/kick') return; // never answers
    if (u.pathname === '/api/peers/2/kick') { req.socket.destroy(); return; }
    const r = routes[`${req.method} ${u.pathname}`];
    if (!r) { res.writeHead(404, { 'Content-Type': 'application/json' }); res.end('{"error":"not_found","message":"no"}'); return; }
    res.writeHead(r[0], { 'Content-Type': r[1] });
    res.end(r[2]);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  cleanup.push(() => { srv.closeAllConnections(); return new Promise((r) => srv.close(r)); });
  const url = `http://127.0.0.1:${srv.address().port}`;
  const env = { TANDEM_URL: url, TANDEM_ADMIN_TOKEN: TOKEN };

  let r = await ctl(['peers'], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /not a JSON object/);
  r = await ctl(['--json', 'pairs'], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /larger than 8 MiB/);
  assert.equal(r.out, '');
  r = await ctl(['audit'], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /500 internal\?\[31m: boom\?\]0;pwned\?\?2J ok/);
  assert.ok(!/[\u0000-\u0009\u000b-\u001f\u007f\u0080-\u009f]/.test(r.err), `control characters printed: ${JSON.stringify(r.err)}`);
  r = await ctl(['reports'], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /HTTP 502 .* without an admin API error/);
  const jpg = path.join(tmp, 'fake.jpg');
  r = await ctl(['snapshot', '3', '-o', jpg], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /not a JPEG/);
  assert.ok(!fs.existsSync(jpg), 'nothing written');
  // Paging is followed; --json gives every page as one answer.
  r = ok(await ctl(['--json', 'bans'], env), 'bans over three pages');
  assert.deepEqual(JSON.parse(r.out).bans.map((b) => b.id), [1, 2, 3, 4, 5]);
  assert.equal(JSON.parse(r.out).next_after_id, null);
  r = ok(await ctl(['bans', '--all', '--kind', 'ip'], env), 'bans as a table');
  assert.match(r.out, /^ID +KIND +TARGET/);
  assert.match(r.out, /203\.0\.113\.5/);
  assert.match(r.out, /5 bans/);
  const pages = seen.filter((x) => x.url.startsWith('/api/bans?'));
  assert.ok(pages.some((x) => /active=0/.test(x.url) && /kind=ip/.test(x.url) && /after_id=4/.test(x.url)), JSON.stringify(pages));
  stuckPaging = true;
  r = await ctl(['bans'], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /does not move on/);
  // Evidence is fetched from the API's own route, never from a URL the answer names.
  const clip = path.join(tmp, 'fake.webm');
  const pic = path.join(tmp, 'fake2.jpg');
  r = ok(await ctl(['report', '5', '--clip', clip, '--jpeg', pic], env), 'report with evidence');
  assert.match(r.out, /spam\?\[2J/);
  assert.equal(fs.readFileSync(clip).length, 5004);
  assert.equal(fs.readFileSync(pic).length, 306);
  assert.ok(seen.some((x) => x.url === '/api/reports/5/snapshot.jpg'));
  // A server that never answers: 3 after --timeout; one that hangs up: 3.
  r = await ctl(['--timeout', '1', 'kick', '1'], env);
  assert.equal(r.code, 3);
  assert.match(r.err, /no answer from .* within 1 s/);
  r = await ctl(['kick', '2'], env);
  assert.equal(r.code, 3);
  assert.match(r.err, /cannot reach the server/);
  // Every request carried the token and the actor.
  ok(await ctl(['--actor', 'ops bot', 'unban', '9'], env), 'unban');
  assert.ok(seen.every((x) => x.auth === `Bearer ${TOKEN}`));
  assert.equal(seen[seen.length - 1].actor, 'ops bot');
  assert.equal(seen[0].actor, 'tandemctl');
});

test('every command against a running server, with media from tandem-bench', { timeout: 240000 }, async () => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const s = await startServer([`--admin-token=${TOKEN}`, '--max-visitors-per-ip=0', '--max-conns-per-ip=0',
    '--offers-per-min-per-ip=0', '--offer-timeout-ms=0']);
  cleanup.push(() => s.stop());
  const env = { TANDEM_URL: s.url, TANDEM_ADMIN_TOKEN: TOKEN };
  const json = async (args) => JSON.parse(ok(await ctl(['--json', ...args], env), args.join(' ')).out);

  assert.match(ok(await ctl(['peers'], env), 'peers').out, /no live peers/);
  assert.match(ok(await ctl(['bans'], env), 'bans').out, /no bans in force/);
  assert.match(ok(await ctl(['reports'], env), 'reports').out, /no open reports/);

  // Two simulated browsers with media; each reports its partner 1-2 s into the pair.
  const bench = spawn(benchBin, [`--url=${s.url}`, '--peers=2', '--duration=150', '--ramp=0',
    '--mix=report=100', '--skip-min=1', '--skip-max=2', '--ready-timeout=60'], { stdio: 'ignore' });
  cleanup.push(() => { if (bench.exitCode === null) bench.kill('SIGKILL'); });

  const reports = await waitFor('a report with a picture', async () => {
    const j = await json(['reports', '--state', 'any']);
    return { ok: j.reports.some((x) => x.evidence.jpeg), j };
  }, 90000, 300);
  const report = reports.j.reports.find((x) => x.evidence.jpeg);
  const peers = await waitFor('two peers with media', async () => {
    const j = await json(['peers']);
    return { ok: j.count === 2 && j.peers.every((p) => p.media), j };
  }, 60000, 300);
  const [pa, pb] = peers.j.peers;

  // peers and pairs: tables and JSON.
  let r = ok(await ctl(['peers'], env), 'peers');
  const lines = r.out.trim().split('\n');
  assert.match(lines[0], /^ID +STATE +PARTNER +DEVICE +IP +MEDIA$/);
  for (const p of [pa, pb]) {
    assert.ok(lines.some((l) => new RegExp(`^${p.id} +\\w+ +(-|\\d+) +${p.device.slice(0, 8)} +127\\.0\\.0\\.1 +yes$`).test(l)), r.out);
  }
  assert.match(lines[lines.length - 1], /^2 peers$/);
  const pairs = await json(['pairs']);
  assert.equal(typeof pairs.count, 'number');
  assert.ok(Array.isArray(pairs.pairs));
  assert.equal(ok(await ctl(['pairs'], env), 'pairs').code, 0);

  // snapshot: a file, stdout, --json; an unknown peer is the server's 404.
  const file = path.join(tmp, 'snap.jpg');
  r = ok(await ctl(['snapshot', String(pa.id), '-o', file, '--max-age', '0'], env), 'snapshot');
  assert.match(r.out, new RegExp(`peer ${pa.id}: \\d+ bytes of JPEG written to`));
  isJpeg(fs.readFileSync(file), 'snapshot -o file');
  r = ok(await ctl(['snapshot', String(pb.id), '-o', '-', '--max-side', '64'], env), 'snapshot -o -');
  isJpeg(r.buf, 'snapshot -o -');
  const sj = await json(['snapshot', String(pa.id), '-o', file]);
  assert.deepEqual(sj, { peer: pa.id, file, bytes: fs.statSync(file).size });
  r = await ctl(['snapshot', '99999', '-o', path.join(tmp, 'none.jpg')], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /^tandemctl: snapshot: 404 not_found: no live peer 99999$/m);
  assert.ok(!fs.existsSync(path.join(tmp, 'none.jpg')));

  // reports, report with its evidence, resolve.
  r = ok(await ctl(['reports', '--state', 'any'], env), 'reports');
  assert.match(r.out, /^ID +TIME \(UTC\) +STATE +REASON +REPORTED +EVIDENCE +NOTE/);
  assert.match(r.out, new RegExp(`^${report.id} +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +open +spam +${report.reported.device.slice(0, 8)}`, 'm'));
  assert.equal((await json(['reports', '--limit', '1'])).reports.length, 1);
  r = ok(await ctl(['report', String(report.id)], env), 'report');
  assert.match(r.out, new RegExp(`^report +${report.id}$`, 'm'));
  assert.match(r.out, /^reason +spam$/m);
  assert.match(r.out, new RegExp(`^reported +device ${report.reported.device}, ip 127\\.0\\.0\\.1`, 'm'));
  assert.deepEqual((await json(['report', String(report.id)])).report.id, report.id);
  const ejpg = path.join(tmp, 'evidence.jpg');
  r = ok(await ctl(['report', String(report.id), '--jpeg', ejpg], env), 'report --jpeg');
  isJpeg(fs.readFileSync(ejpg), 'report --jpeg');
  const eclip = path.join(tmp, 'evidence.webm');
  assert.ok(report.evidence.webm, `report ${report.id} has a clip: ${JSON.stringify(report.evidence)}`);
  r = ok(await ctl(['report', String(report.id), '--clip', eclip], env), 'report --clip');
  assert.match(r.out, /bytes of WebM clip written to/);
  const webm = fs.readFileSync(eclip);
  assert.ok(webm.length > 1000, `${webm.length} bytes`);
  assert.equal(webm.readUInt32BE(0), 0x1a45dfa3, 'a WebM (EBML) clip');
  // Both to files, or one to stdout (then the report itself is not printed).
  r = ok(await ctl(['report', String(report.id), '--clip', '-'], env), 'report --clip -');
  assert.ok(r.buf.equals(webm), 'the clip on stdout');
  r = await ctl(['report', '99999'], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /404 not_found/);
  r = ok(await ctl(['--actor', 'mod carol', 'resolve', String(report.id), '--resolution', 'banned'], env), 'resolve');
  assert.equal(r.out, `resolved report ${report.id}: banned\n`);
  r = await ctl(['resolve', String(report.id)], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /^tandemctl: resolve: 409 conflict: /m);
  const resolved = (await json(['report', String(report.id)])).report;
  assert.equal(resolved.resolution, 'banned');
  assert.equal(resolved.resolved_by, 'mod carol');

  // kick: the bench's second browser.
  r = ok(await ctl(['kick', String(pb.id), '--reason', 'test'], env), 'kick');
  assert.equal(r.out, `kicked peer ${pb.id}\n`);
  r = await ctl(['--json', 'kick', String(pb.id)], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /404 not_found/);
  assert.ok(!(await json(['peers'])).peers.some((p) => p.id === pb.id));

  // ban by device, address and network, then by peer (cut off at once); bans; unban.
  const dev = await json(['ban', '--device', 'ab'.repeat(16), '--duration', '7d', '--reason', 'spam']);
  assert.equal(dev.bans[0].kind, 'device');
  assert.ok(Math.abs(dev.bans[0].expires_ms - (Date.now() + 7 * 86400000)) < 120000);
  r = ok(await ctl(['ban', '--ip', '203.0.113.9', '--duration', '3600'], env), 'ban --ip');
  assert.match(r.out, /^ban \d+: ip 203\.0\.113\.9, until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, by tandemctl$/m);
  assert.match(r.out, /nobody live was cut off/);
  r = ok(await ctl(['ban', '--ip6-64', '2001:db8:7::/64', '--duration', 'permanent'], env), 'ban --ip6-64');
  assert.match(r.out, /ip6_64 2001:db8:7::\/64, permanent/);
  // --device-only: a visitor's device alone (its address stays free).
  const v = new SignalClient(s.url);
  cleanup.push(() => v.close());
  await v.opened;
  v.send({ type: 'hello', resume: null });
  await v.type('welcome');
  const vp = (await json(['peers'])).peers.find((p) => !p.media);
  assert.ok(vp, 'the visitor is listed');
  const only = await json(['ban', '--peer', String(vp.id), '--device-only']);
  assert.deepEqual(only.bans.map((b) => `${b.kind} ${b.target} ${b.expires_ms}`), [`device ${vp.device} 0`]);
  assert.deepEqual(only.cut_off, [vp.id]);
  await v.next((m) => m.code === 'banned');
  r = ok(await ctl(['--actor', 'mod dave', 'ban', '--peer', String(pa.id), '--duration', '30m', '--reason', 'harassment'], env), 'ban --peer');
  assert.match(r.out, new RegExp(`device ${pa.device}`));
  assert.match(r.out, /ip 127\.0\.0\.1/);
  assert.match(r.out, new RegExp(`cut off: peers? .*\\b${pa.id}\\b`));
  const inForce = await json(['bans']);
  assert.equal(inForce.bans.length, 6);
  assert.equal(inForce.next_after_id, null);
  r = ok(await ctl(['bans', '--kind', 'ip'], env), 'bans --kind ip');
  assert.match(r.out, /^ID +KIND +TARGET +CREATED \(UTC\) +EXPIRES +BY +REASON$/m);
  assert.match(r.out, /127\.0\.0\.1 .* mod dave +harassment/);
  assert.match(r.out, /2 bans/);
  for (const b of inForce.bans) {
    r = ok(await ctl(['unban', String(b.id)], env), 'unban');
    assert.equal(r.out, `lifted ban ${b.id}\n`);
  }
  r = await ctl(['unban', String(inForce.bans[0].id)], env);
  assert.equal(r.code, 1);
  assert.match(r.err, /409 conflict/);
  assert.deepEqual((await json(['bans'])).bans, []);
  assert.equal((await json(['bans', '--all'])).bans.length, 6);
  assert.match(ok(await ctl(['bans', '--all'], env), 'bans --all').out, /LIFTED/);

  // audit: a table and JSON, newest first, with the actors.
  const audit = await json(['audit', '--limit', '3']);
  assert.equal(audit.audit.length, 3);
  assert.deepEqual(audit.audit.map((e) => e.action), ['unban', 'unban', 'unban']);
  r = ok(await ctl(['audit'], env), 'audit');
  assert.match(r.out, /^ID +TIME \(UTC\) +ACTOR +ACTION +TARGET +DETAILS$/m);
  assert.match(r.out, new RegExp(`mod carol +resolve +report:${report.id}`));
  assert.match(r.out, /mod dave +ban +ip:127\.0\.0\.1/);
  assert.match(r.out, /tandemctl +unban +ban:\d+/);
  bench.kill('SIGKILL');
});
