// admin_api.test.mjs -- the admin API (docs/admin-api.md) against the real server: every route
// is 401 without the token, with a wrong one, and on a server without admin_token; bad JSON,
// missing and ill-typed fields, unknown ids and wrong methods get the documented errors; then
// kicks and bans on live WebSocket visitors, and snapshots, reports and their evidence, resolve
// and the audit log with simulated browsers sending real media (tandem-bench).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, waitFor } = await import('../lib/server.mjs');
const { SignalClient } = await import('../lib/signal.mjs');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

const TOKEN = 'admin-api-test-token-4f1c9e2b7a';
const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

// Every route of docs/admin-api.md with its method, and paths under /api/ that are no route.
const ROUTES = [
  ['GET', '/api/peers'], ['GET', '/api/pairs'], ['GET', '/api/peers/1/snapshot.jpg'],
  ['POST', '/api/peers/1/kick'], ['POST', '/api/bans'], ['GET', '/api/bans'],
  ['DELETE', '/api/bans/1'], ['GET', '/api/reports'], ['GET', '/api/reports/1'],
  ['GET', '/api/reports/1/snapshot.jpg'], ['GET', '/api/reports/1/clip.webm'],
  ['POST', '/api/reports/1/resolve'], ['GET', '/api/audit'], ['GET', '/api/nodes'],
  ['GET', '/api/nope'], ['GET', '/api/'], ['DELETE', '/api/peers/1/kick/again'],
];

async function api(url, method, p, { token = TOKEN, body, raw, actor, headers = {} } = {}) {
  const h = { ...headers };
  if (token !== null) h.Authorization = `Bearer ${token}`;
  if (actor) h['X-Tandem-Actor'] = actor;
  let b;
  if (raw !== undefined) { b = raw; h['Content-Type'] = 'application/json'; }
  else if (body !== undefined) { b = JSON.stringify(body); h['Content-Type'] = 'application/json'; }
  const r = await fetch(`${url}${p}`, { method, headers: h, body: b });
  const buf = Buffer.from(await r.arrayBuffer());
  let json = null;
  if ((r.headers.get('content-type') || '').startsWith('application/json')) {
    json = JSON.parse(buf.toString());
  }
  return { status: r.status, json, buf, type: r.headers.get('content-type') };
}

// The documented error shape: {"error": code, "message": a non-empty string}.
function isError(r, status, code, what) {
  assert.equal(r.status, status, `${what}: status (${r.buf.toString().slice(0, 200)})`);
  assert.ok(r.json, `${what}: the body is JSON (${r.type})`);
  assert.equal(r.json.error, code, `${what}: ${JSON.stringify(r.json)}`);
  assert.equal(typeof r.json.message, 'string', what);
  assert.ok(r.json.message.length > 0, `${what}: a message`);
}

function isJpeg(buf, what) {
  assert.ok(buf.length > 100, `${what}: ${buf.length} bytes`);
  assert.ok(buf[0] === 0xff && buf[1] === 0xd8 && buf[buf.length - 2] === 0xff &&
    buf[buf.length - 1] === 0xd9, `${what}: not a whole JPEG`);
}

// A JPEG's size from its first SOFn marker.
function jpegSize(buf) {
  for (let i = 2; i + 9 < buf.length;) {
    if (buf[i] !== 0xff) return null;
    const m = buf[i + 1];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      return { h: buf.readUInt16BE(i + 5), w: buf.readUInt16BE(i + 7) };
    }
    i += 2 + buf.readUInt16BE(i + 2);
  }
  return null;
}

async function visitor(url, device) {
  const v = new SignalClient(url);
  await v.opened;
  v.send({ type: 'hello', resume: null, ...(device ? { device } : {}) });
  return v;
}

async function closedWith(v, code) {
  await waitFor(`the WebSocket closed with ${code}`, () => ({ ok: v.closed !== null, closed: v.closed }), 5000, 20);
  assert.equal(v.closed, code);
}

test('every route is 401 without the token, with a wrong one, and with the API off', { timeout: 120000 }, async () => {
  const on = await startServer([`--admin-token=${TOKEN}`]);
  cleanup.push(() => on.stop());
  const off = await startServer([]);
  cleanup.push(() => off.stop());
  const wrong = [
    ['no Authorization header', null, {}],
    ['a wrong token', 'not-the-token', {}],
    ['the token with a byte more', `${TOKEN}x`, {}],
    ['a prefix of the token', TOKEN.slice(0, -1), {}],
    ['an empty bearer token', '', {}],
    ['the token as Basic credentials', null, { Authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }],
    ['the token without "Bearer"', null, { Authorization: TOKEN }],
  ];
  const bodies = { POST: '{"kind":"ip","target":"203.0.113.1"}' };
  for (const [method, p] of ROUTES) {
    for (const [why, token, headers] of wrong) {
      const r = await api(on.url, method, p, { token, headers, raw: bodies[method] });
      isError(r, 401, 'unauthorized', `${method} ${p} with ${why}`);
      assert.match(r.json.message, /token/i);
    }
    // A server without admin_token: the API is off, whatever is sent.
    for (const token of [TOKEN, '', 'x']) {
      const r = await api(off.url, method, p, { token, raw: bodies[method] });
      isError(r, 401, 'unauthorized', `${method} ${p} on a server without admin_token`);
    }
  }
  // Nothing was done by any of them.
  const bans = await api(on.url, 'GET', '/api/bans?active=0');
  assert.equal(bans.status, 200);
  assert.deepEqual(bans.json.bans, []);
  const audit = await api(on.url, 'GET', '/api/audit');
  assert.deepEqual(audit.json.audit, []);
});

test('bad JSON, missing and ill-typed fields, unknown ids, wrong methods', { timeout: 120000 }, async () => {
  const s = await startServer([`--admin-token=${TOKEN}`]);
  cleanup.push(() => s.stop());
  const u = s.url;

  // Bodies that are not a JSON object.
  for (const p of ['/api/bans', '/api/peers/1/kick', '/api/reports/1/resolve']) {
    for (const raw of ['{"kind":', 'not json', '[1,2]', '"text"', '42', 'null', '{"a":1}{"b":2}',
      '{"reason":"x","reason":"y"}']) {
      const r = await api(u, 'POST', p, { raw });
      isError(r, 400, 'bad_json', `POST ${p} with ${raw}`);
    }
  }
  // A ban and a resolve need a body; a kick's is optional (then the peer is looked for).
  isError(await api(u, 'POST', '/api/bans', { raw: '' }), 400, 'bad_json', 'POST /api/bans without a body');
  isError(await api(u, 'POST', '/api/reports/1/resolve', { raw: '' }), 400, 'bad_json', 'resolve without a body');
  isError(await api(u, 'POST', '/api/peers/1/kick', { raw: '' }), 404, 'not_found', 'kick without a body');

  // A field missing, ill-typed or out of range: 400 bad_request naming it.
  const dev = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';
  const bad = [
    ['/api/bans', {}, 'kind'],
    ['/api/bans', { kind: 'laser', target: dev }, 'kind'],
    ['/api/bans', { kind: 7, target: dev }, 'kind'],
    ['/api/bans', { kind: 'device' }, 'target'],
    ['/api/bans', { kind: 'device', target: 'abc' }, 'target'],
    ['/api/bans', { kind: 'device', target: `${dev}00` }, 'target'],
    ['/api/bans', { kind: 'ip', target: '300.1.1.1' }, 'target'],
    ['/api/bans', { kind: 'ip', target: 12 }, 'target'],
    ['/api/bans', { kind: 'ip6_64', target: '203.0.113.1' }, 'target'],
    ['/api/bans', { kind: 'ip', target: '203.0.113.1', duration_s: '1h' }, 'duration_s'],
    ['/api/bans', { kind: 'ip', target: '203.0.113.1', duration_s: -1 }, 'duration_s'],
    ['/api/bans', { kind: 'ip', target: '203.0.113.1', duration_s: 1.5 }, 'duration_s'],
    ['/api/bans', { kind: 'ip', target: '203.0.113.1', duration_s: 11 * 366 * 86400 }, 'duration_s'],
    ['/api/bans', { kind: 'ip', target: '203.0.113.1', reason: 5 }, 'reason'],
    ['/api/bans', { kind: 'ip', target: '203.0.113.1', reason: 'x'.repeat(1001) }, 'reason'],
    ['/api/bans', { peer: '12' }, 'peer'],
    ['/api/peers/1/kick', { reason: 5 }, 'reason'],
    ['/api/reports/1/resolve', {}, 'resolution'],
    ['/api/reports/1/resolve', { resolution: '' }, 'resolution'],
    ['/api/reports/1/resolve', { resolution: 3 }, 'resolution'],
    ['/api/reports/1/resolve', { resolution: 'x'.repeat(201) }, 'resolution'],
  ];
  for (const [p, body, field] of bad) {
    const r = await api(u, 'POST', p, { body });
    isError(r, 400, 'bad_request', `POST ${p} ${JSON.stringify(body).slice(0, 80)}`);
    assert.ok(r.json.message.includes(field), `the message names ${field}: ${r.json.message}`);
  }
  // Query parameters out of range.
  const badq = [
    ['/api/bans?limit=0', 'limit'], ['/api/bans?limit=1001', 'limit'], ['/api/bans?active=2', 'active'],
    ['/api/bans?kind=laser', 'kind'], ['/api/bans?after_id=x', 'after_id'],
    ['/api/reports?state=closed', 'state'], ['/api/reports?limit=5000', 'limit'],
    ['/api/reports?before_id=-3', 'before_id'], ['/api/audit?limit=0', 'limit'],
    ['/api/peers/1/snapshot.jpg?max_side=8', 'max_side'],
    ['/api/peers/1/snapshot.jpg?max_age_ms=x', 'max_age_ms'],
  ];
  for (const [p, field] of badq) {
    const r = await api(u, 'GET', p);
    isError(r, 400, 'bad_request', `GET ${p}`);
    assert.ok(r.json.message.includes(field), `the message names ${field}: ${r.json.message}`);
  }
  // A bad X-Tandem-Actor.
  isError(await api(u, 'GET', '/api/peers', { actor: 'x'.repeat(65) }), 400, 'bad_request', 'a 65-byte actor');

  // Unknown peers, bans, reports, routes: 404.
  const missing = [
    ['GET', '/api/peers/999/snapshot.jpg'], ['POST', '/api/peers/999/kick', {}],
    ['POST', '/api/bans', { peer: 999 }], ['DELETE', '/api/bans/999'],
    ['GET', '/api/reports/999'], ['GET', '/api/reports/999/snapshot.jpg'],
    ['GET', '/api/reports/999/clip.webm'], ['POST', '/api/reports/999/resolve', { resolution: 'dismissed' }],
    ['GET', '/api/nope'], ['GET', '/api/'], ['GET', '/api/peers/abc/kick'], ['GET', '/api/peers/0/snapshot.jpg'],
    ['GET', '/api/reports/1/other.bin'], ['POST', '/api/bans/1/lift'],
  ];
  for (const [m, p, body] of missing) isError(await api(u, m, p, { body }), 404, 'not_found', `${m} ${p}`);

  // A route with a method it does not have: 405.
  const wrongMethod = [
    ['DELETE', '/api/peers'], ['POST', '/api/pairs'], ['POST', '/api/peers/1/snapshot.jpg'],
    ['GET', '/api/peers/1/kick'], ['PUT', '/api/bans'], ['GET', '/api/bans/1'], ['POST', '/api/bans/1'],
    ['POST', '/api/reports'], ['DELETE', '/api/reports/1'], ['POST', '/api/reports/1/clip.webm'],
    ['GET', '/api/reports/1/resolve'], ['DELETE', '/api/audit'], ['POST', '/api/nodes'],
  ];
  for (const [m, p] of wrongMethod) isError(await api(u, m, p), 405, 'method_not_allowed', `${m} ${p}`);

  // None of that changed anything.
  assert.deepEqual((await api(u, 'GET', '/api/bans?active=0')).json, { bans: [], next_after_id: null });
  assert.deepEqual((await api(u, 'GET', '/api/audit')).json, { audit: [], next_before_id: null });
  assert.deepEqual((await api(u, 'GET', '/api/reports?state=any')).json, { reports: [], next_before_id: null });
  assert.deepEqual((await api(u, 'GET', '/api/peers')).json, { peers: [], count: 0 });
  assert.deepEqual((await api(u, 'GET', '/api/pairs')).json, { pairs: [], count: 0 });
  // A node alone lists itself, node 0, at the address its API is served on.
  const alone = (await api(u, 'GET', '/api/nodes')).json;
  assert.equal(alone.self, 0);
  assert.equal(alone.redis_up, false);
  assert.equal(alone.matcher, null);
  assert.equal(alone.nodes.length, 1);
  assert.equal(alone.nodes[0].node, 0);
  assert.equal(alone.nodes[0].admin_url, u);
  assert.equal(alone.nodes[0].self, true);
});

test('kicks and bans cut live visitors off; bans page, lift, and are audited', { timeout: 120000 }, async () => {
  const s = await startServer([`--admin-token=${TOKEN}`, '--offer-timeout-ms=0']);
  cleanup.push(() => s.stop());
  const u = s.url;
  const actor = 'mod alice';

  // A visitor (signalling only, no media): listed with its device, connecting, no partner.
  const v1 = await visitor(u);
  cleanup.push(() => v1.close());
  const w1 = await v1.type('welcome');
  assert.equal(typeof w1.device, 'string');
  const peers = (await api(u, 'GET', '/api/peers')).json;
  assert.equal(peers.count, 1);
  const p1 = peers.peers[0];
  assert.equal(p1.state, 'connecting');
  assert.equal(p1.partner, null);
  assert.equal(p1.media, false);
  assert.equal(p1.ip, '127.0.0.1');
  assert.match(p1.device, /^[0-9a-f]{32}$/);
  assert.ok(Math.abs(p1.visit_ms - Date.now()) < 60000, `visit_ms ${p1.visit_ms}`);
  const device = p1.device;
  // No media: no snapshot.
  isError(await api(u, 'GET', `/api/peers/${p1.id}/snapshot.jpg`), 409, 'conflict', 'a snapshot without media');

  // Kick: the visitor is told and closed with 4004; it is gone from the list; audited.
  const k = await api(u, 'POST', `/api/peers/${p1.id}/kick`, { body: { reason: 'rude' }, actor });
  assert.equal(k.status, 200);
  assert.deepEqual(k.json, { ok: true, peer: p1.id });
  const kicked = await v1.next((m) => m.type === 'kicked' || m.code === 'kicked');
  assert.ok(kicked);
  await closedWith(v1, 4004);
  assert.equal((await api(u, 'GET', '/api/peers')).json.count, 0);
  isError(await api(u, 'POST', `/api/peers/${p1.id}/kick`, { body: {} }), 404, 'not_found', 'a kicked peer');

  // The same browser comes back (its device token): same device. A device ban cuts it off.
  const v2 = await visitor(u, w1.device);
  cleanup.push(() => v2.close());
  await v2.type('welcome');
  const p2 = (await api(u, 'GET', '/api/peers')).json.peers[0];
  assert.equal(p2.device, device);
  const t0 = Date.now();
  const b = await api(u, 'POST', '/api/bans', { body: { kind: 'device', target: device, duration_s: 3600, reason: 'nudity' }, actor });
  assert.equal(b.status, 201, b.buf.toString());
  assert.equal(b.json.bans.length, 1);
  const ban = b.json.bans[0];
  assert.equal(ban.kind, 'device');
  assert.equal(ban.target, device);
  assert.equal(ban.reason, 'nudity');
  assert.equal(ban.by, actor);
  assert.equal(ban.lifted_ms, 0);
  assert.ok(Math.abs(ban.expires_ms - (t0 + 3600000)) < 60000, `expires_ms ${ban.expires_ms}`);
  assert.deepEqual(b.json.cut_off, [p2.id]);
  const told = await v2.next((m) => m.code === 'banned');
  assert.equal(told.type, 'error');
  assert.equal(told.reason, 'nudity');
  assert.equal(told.until, ban.expires_ms);
  await closedWith(v2, 4003);
  // It cannot come back with that device; a new browser from the same address can.
  const v3 = await visitor(u, w1.device);
  cleanup.push(() => v3.close());
  assert.equal((await v3.next((m) => m.code === 'banned' || m.type === 'welcome')).code, 'banned');
  await closedWith(v3, 4003);
  const v4 = await visitor(u);
  cleanup.push(() => v4.close());
  await v4.type('welcome');

  // Address bans, IPv4 and IPv6 /64 (written as an address inside it), a permanent one.
  const ipb = await api(u, 'POST', '/api/bans', { body: { kind: 'ip', target: '203.0.113.7', duration_s: 0 }, actor });
  assert.equal(ipb.status, 201);
  assert.equal(ipb.json.bans[0].expires_ms, 0);
  assert.deepEqual(ipb.json.cut_off, []);
  const netb = await api(u, 'POST', '/api/bans', { body: { kind: 'ip6_64', target: '2001:db8:1:2:aaaa::1' } });
  assert.equal(netb.status, 201);
  assert.equal(netb.json.bans[0].target, '2001:db8:1:2::/64');
  assert.equal(netb.json.bans[0].by, 'admin', 'the default actor');

  // Listing: active ones oldest first; by kind; paging by after_id.
  const all = (await api(u, 'GET', '/api/bans')).json;
  assert.deepEqual(all.bans.map((x) => x.id), [ban.id, ipb.json.bans[0].id, netb.json.bans[0].id]);
  assert.equal(all.next_after_id, null);
  assert.deepEqual((await api(u, 'GET', '/api/bans?kind=ip6_64')).json.bans.map((x) => x.kind), ['ip6_64']);
  const page1 = (await api(u, 'GET', '/api/bans?limit=2')).json;
  assert.equal(page1.bans.length, 2);
  assert.equal(page1.next_after_id, page1.bans[1].id);
  const page2 = (await api(u, 'GET', `/api/bans?limit=2&after_id=${page1.next_after_id}`)).json;
  assert.deepEqual(page2.bans.map((x) => x.id), [netb.json.bans[0].id]);
  assert.equal(page2.next_after_id, null);

  // Lifting: ok, then 409; the device may come back.
  const del = await api(u, 'DELETE', `/api/bans/${ban.id}`, { actor });
  assert.equal(del.status, 200);
  assert.deepEqual(del.json, { ok: true, id: ban.id });
  isError(await api(u, 'DELETE', `/api/bans/${ban.id}`), 409, 'conflict', 'a lifted ban lifted again');
  assert.ok(!(await api(u, 'GET', '/api/bans')).json.bans.some((x) => x.id === ban.id));
  const lifted = (await api(u, 'GET', '/api/bans?active=0')).json.bans.find((x) => x.id === ban.id);
  assert.ok(lifted.lifted_ms >= t0, 'lifted_ms is set');
  const v5 = await visitor(u, w1.device);
  cleanup.push(() => v5.close());
  await v5.type('welcome');

  // A live peer's ban: its device and its address, both; it is cut off at once.
  const live = (await api(u, 'GET', '/api/peers')).json.peers;
  assert.equal(live.length, 2);
  const p4 = live.find((x) => x.device !== device);
  const p5 = live.find((x) => x.device === device);
  const pb = await api(u, 'POST', '/api/bans', { body: { peer: p4.id, duration_s: 60, reason: 'harassment' }, actor });
  assert.equal(pb.status, 201, pb.buf.toString());
  assert.deepEqual(pb.json.bans.map((x) => x.kind).sort(), ['device', 'ip']);
  assert.ok(pb.json.bans.some((x) => x.kind === 'ip' && x.target === '127.0.0.1'));
  assert.ok(pb.json.bans.some((x) => x.kind === 'device' && x.target === p4.device));
  // Both visitors come from 127.0.0.1: the address ban cuts off v5 too.
  assert.deepEqual([...pb.json.cut_off].sort((x, y) => x - y), [p4.id, p5.id].sort((x, y) => x - y));
  await v4.next((m) => m.code === 'banned');
  await v5.next((m) => m.code === 'banned');
  assert.equal((await api(u, 'GET', '/api/peers')).json.count, 0);
  for (const x of pb.json.bans) assert.equal((await api(u, 'DELETE', `/api/bans/${x.id}`)).status, 200);
  const v6 = await visitor(u);
  cleanup.push(() => v6.close());
  await v6.type('welcome');

  // The audit log, newest first: who did what to whom.
  const audit = (await api(u, 'GET', '/api/audit')).json;
  assert.equal(audit.next_before_id, null);
  const acts = audit.audit.map((e) => `${e.actor} ${e.action} ${e.target}`);
  assert.deepEqual(acts.slice(-4).reverse(), [
    `${actor} kick peer:${p1.id}`,
    `${actor} ban device:${device}`,
    `${actor} ban ip:203.0.113.7`,
    'admin ban ip6_64:2001:db8:1:2::/64',
  ]);
  assert.ok(acts.includes(`${actor} unban ban:${ban.id}`), acts.join('\n'));
  const ids = audit.audit.map((e) => e.id);
  assert.deepEqual(ids, [...ids].sort((a, z) => z - a), 'newest first');
  for (const e of audit.audit) assert.ok(Math.abs(e.time_ms - Date.now()) < 120000);
  const one = (await api(u, 'GET', '/api/audit?limit=1')).json;
  assert.equal(one.audit.length, 1);
  assert.equal(one.next_before_id, one.audit[0].id);
  const rest = (await api(u, 'GET', `/api/audit?before_id=${one.next_before_id}`)).json;
  assert.deepEqual(rest.audit.map((e) => e.id), ids.slice(1));
});

function spawnBench(url, args) {
  const p = spawn(benchBin, [`--url=${url}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err = (err + d).slice(-20000); });
  cleanup.push(async () => { if (p.exitCode === null) p.kill('SIGKILL'); });
  return { proc: p, err: () => err };
}

test('snapshots of a peer with media; a report with evidence, resolved', { timeout: 180000 }, async () => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const s = await startServer([`--admin-token=${TOKEN}`, '--max-visitors-per-ip=0', '--max-conns-per-ip=0',
    '--offers-per-min-per-ip=0']);
  cleanup.push(() => s.stop());
  const u = s.url;
  // Two simulated browsers with media; each reports its partner 1-2 s into the pair (reason spam).
  const bench = spawnBench(u, ['--peers=2', '--duration=120', '--ramp=0', '--mix=report=100',
    '--skip-min=1', '--skip-max=2', '--ready-timeout=60']);

  const rep = await waitFor('a report with a picture', async () => {
    const r = (await api(u, 'GET', '/api/reports')).json;
    return { ok: r.reports.some((x) => x.evidence.jpeg), r, bench: bench.err().slice(-500) };
  }, 90000, 250);
  const report = rep.r.reports.find((x) => x.evidence.jpeg);
  assert.equal(report.reason, 'spam');
  assert.equal(report.state, 'open');
  assert.equal(report.resolution, null);
  assert.match(report.reporter.device, /^[0-9a-f]{32}$/);
  assert.match(report.reported.device, /^[0-9a-f]{32}$/);
  assert.equal(report.reported.ip, '127.0.0.1');
  assert.equal(report.evidence.jpeg, `/api/reports/${report.id}/snapshot.jpg`);
  const one = await api(u, 'GET', `/api/reports/${report.id}`);
  assert.equal(one.status, 200);
  assert.equal(one.json.report.id, report.id);
  const jpg = await api(u, 'GET', report.evidence.jpeg);
  assert.equal(jpg.status, 200);
  assert.equal(jpg.type, 'image/jpeg');
  isJpeg(jpg.buf, 'the evidence picture');
  const clip = await api(u, 'GET', `/api/reports/${report.id}/clip.webm`);
  assert.equal(report.evidence.webm, `/api/reports/${report.id}/clip.webm`);
  assert.equal(clip.status, 200);
  assert.equal(clip.type, 'video/webm');
  assert.equal(clip.buf.readUInt32BE(0), 0x1a45dfa3, 'WebM (EBML) magic');
  assert.ok(clip.buf.length > 1000, `a clip of ${clip.buf.length} bytes`);

  // A live peer with media: its picture now, and scaled down.
  const peers = (await api(u, 'GET', '/api/peers')).json.peers;
  const withMedia = peers.find((x) => x.media);
  assert.ok(withMedia, JSON.stringify(peers));
  const snap = await api(u, 'GET', `/api/peers/${withMedia.id}/snapshot.jpg?max_age_ms=0`);
  assert.equal(snap.status, 200, snap.buf.toString().slice(0, 200));
  assert.equal(snap.type, 'image/jpeg');
  isJpeg(snap.buf, 'a snapshot');
  const small = await api(u, 'GET', `/api/peers/${withMedia.id}/snapshot.jpg?max_side=64`);
  assert.equal(small.status, 200);
  isJpeg(small.buf, 'a scaled snapshot');
  const dim = jpegSize(small.buf);
  assert.ok(dim && Math.max(dim.w, dim.h) <= 64 && Math.max(dim.w, dim.h) >= 16, JSON.stringify(dim));

  // Resolve: ok once, then 409; listed as resolved with who and how; audited.
  const res = await api(u, 'POST', `/api/reports/${report.id}/resolve`, { body: { resolution: 'dismissed' }, actor: 'mod bob' });
  assert.equal(res.status, 200);
  assert.deepEqual(res.json, { ok: true, id: report.id });
  isError(await api(u, 'POST', `/api/reports/${report.id}/resolve`, { body: { resolution: 'banned' } }), 409, 'conflict', 'resolved twice');
  const done = (await api(u, 'GET', `/api/reports/${report.id}`)).json.report;
  assert.equal(done.state, 'resolved');
  assert.equal(done.resolution, 'dismissed');
  assert.equal(done.resolved_by, 'mod bob');
  assert.ok(done.resolved_ms >= report.time_ms);
  assert.ok(!(await api(u, 'GET', '/api/reports')).json.reports.some((x) => x.id === report.id), 'not open any more');
  assert.ok((await api(u, 'GET', '/api/reports?state=resolved')).json.reports.some((x) => x.id === report.id));
  const audit = (await api(u, 'GET', '/api/audit')).json.audit;
  assert.ok(audit.some((e) => e.actor === 'mod bob' && e.action === 'resolve' && e.target === `report:${report.id}`),
    JSON.stringify(audit));
  // Snapshots are not audited.
  assert.ok(!audit.some((e) => /snapshot/.test(e.action)));
  bench.proc.kill('SIGKILL');
});
