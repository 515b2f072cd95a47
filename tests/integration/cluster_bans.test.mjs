// cluster_bans.test.mjs -- three Tandem nodes sharing one redis-server (redis_url, node_id):
// a ban made through node A's admin API cuts off a visitor on node C within a second and
// refuses its device on node B; every node lists it; an unban through node B lets the device
// back in on node C; a ban made on node A while Redis is stopped is enforced on the others
// once Redis is back; device tokens issued by one node are honoured by the others; garbage
// in Redis changes nothing. (Without redis_url nothing changes: every other test runs so.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitFor, freePort } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';
import { REDIS, startRedis, redis } from '../lib/redis.mjs';

const TOKEN = 'cluster-bans-test-token-8d2f61c0';

async function api(node, method, p, body) {
  const r = await fetch(`${node.url}${p}`, {
    method,
    headers: { Authorization: `Bearer ${TOKEN}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: r.status, json: await r.json().catch(() => null) };
}

async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// A visitor: hello (with a device token or none), then welcome or an error.
async function visit(node, device) {
  const c = new SignalClient(node.url);
  await c.opened;
  c.send({ type: 'hello', resume: null, device: device ?? null });
  const m = await c.next((x) => x.type === 'welcome' || x.type === 'error', 5000);
  return { c, m };
}

// The device (hex) of node's live visitor, from its admin API.
async function deviceOf(node) {
  const r = await api(node, 'GET', '/api/peers');
  assert.equal(r.status, 200);
  assert.equal(r.json.peers.length, 1, JSON.stringify(r.json));
  return r.json.peers[0].device;
}

test('bans hold on every node through Redis: cut off within a second, refused elsewhere, lifted anywhere, made while Redis was away', { skip: !fs.existsSync(REDIS) && 'redis-server is not installed', timeout: 180000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-redis-'));
  const port = await freePort();
  let rs = await startRedis(port, dir);
  const nodes = [];
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.close();
    for (const n of nodes) await n.stop().catch(() => {});
    await rs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 1; i <= 3; i++) {
    nodes.push(await startServer([`--admin-token=${TOKEN}`, `--redis-url=${url}`, `--node-id=${i}`, "--grace-ms=300"]));
  }
  const [A, B, C] = nodes;
  for (const n of nodes) assert.equal(await metric(n, 'tandem_redis_up'), 1, n.log());
  // The first node's device key is the cluster's; the others took it.
  assert.match(A.log(), /device_key_shared/);
  assert.match(B.log(), /device_key_adopted/);
  assert.equal((await redis(port, ['GET', 'tandem:device_key'])).length, 64);

  // A visitor on C; its device token was issued by C and is honoured by A and B.
  const v = await visit(C);
  clients.push(v.c);
  assert.equal(v.m.type, 'welcome');
  const tok = v.m.device;
  const dev = await deviceOf(C);
  for (const n of [A, B]) {
    const w = await visit(n, tok);
    assert.equal(w.m.type, 'welcome', `${n.url}: ${JSON.stringify(w.m)}`);
    assert.equal(w.m.device, tok, 'the same device on another node');
    w.c.close();
  }
  await waitFor('the probes gone', async () => ({ ok: (await api(A, 'GET', '/api/peers')).json.peers.length === 0 && (await api(B, 'GET', '/api/peers')).json.peers.length === 0 }), 10000);

  // A ban through node A's admin API: the visitor on C is told `banned` within a second.
  const banned = v.c.next((m) => m.code === 'banned', 3000);
  const t0 = Date.now();
  const r = await api(A, 'POST', '/api/bans', { kind: 'device', target: dev, reason: 'cluster test' });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const id = r.json.bans[0].id;
  assert.equal(Math.floor(id / 2 ** 42), 1, `a cluster id of node 1: ${id}`);
  const told = await banned;
  const took = Date.now() - t0;
  assert.ok(took < 1000, `cut off ${took} ms after the ban`);
  assert.equal(told.reason, 'cluster test');
  await waitFor('the WebSocket closed with 4003', () => ({ ok: v.c.closed === 4003, closed: v.c.closed }), 3000, 20);
  // Every node lists it.
  for (const n of nodes) {
    const l = await api(n, 'GET', '/api/bans');
    assert.deepEqual(l.json.bans.map((b) => b.id), [id], `${n.url} lists the cluster's bans`);
  }
  // The same device on node B is refused.
  const again = await visit(B, tok);
  clients.push(again.c);
  assert.equal(again.m.code, 'banned', JSON.stringify(again.m));

  // Unban through node B (a ban node A made): the device gets back in on node C.
  const u = await api(B, 'DELETE', `/api/bans/${id}`);
  assert.equal(u.status, 200, JSON.stringify(u.json));
  assert.equal((await api(B, 'DELETE', `/api/bans/${id}`)).status, 409, 'lifted twice');
  await waitFor('C lets the device in', async () => {
    const w = await visit(C, tok);
    w.c.close();
    return { ok: w.m.type === 'welcome', m: w.m };
  }, 3000, 100);
  for (const n of nodes) {
    assert.deepEqual((await api(n, 'GET', '/api/bans')).json.bans, [], `${n.url}: nothing in force`);
  }
  // Node A's own store agrees (its history shows the ban lifted).
  const hist = await api(A, 'GET', '/api/bans?active=0');
  assert.equal(hist.json.bans.length, 1);
  assert.equal(hist.json.bans[0].id, id);
  assert.ok(hist.json.bans[0].lifted_ms > 0, JSON.stringify(hist.json));

  // Garbage in Redis changes nothing: bad messages and entries are counted and ignored.
  await redis(port, ['PUBLISH', 'tandem:bans', '{"op":"ban","ban":{"id":"x"}}']);
  await redis(port, ['PUBLISH', 'tandem:bans', '\u0000\u00ff not json']);
  await redis(port, ['HSET', 'tandem:bans', '4398046511199', '{"id":1}']);
  await redis(port, ['HSET', 'tandem:bans', 'nonsense', 'x']);
  await waitFor('bad input counted', async () => ({ ok: await metric(B, 'tandem_cluster_bad_input_total') >= 2 }), 5000);
  assert.equal((await visit(C, tok)).m.type, 'welcome');
  await redis(port, ['HDEL', 'tandem:bans', '4398046511199', 'nonsense']);

  // Redis goes away: every node goes on alone; a ban made on A meanwhile holds on A at once
  // and on B and C once Redis is back.
  const w = await visit(B);
  clients.push(w.c);
  assert.equal(w.m.type, 'welcome');
  const wdev = await deviceOf(B);
  await rs.stop();
  await waitFor('the nodes see Redis down', async () => ({ ok: (await Promise.all(nodes.map((n) => metric(n, 'tandem_redis_up')))).every((x) => x === 0) }), 10000);
  const r2 = await api(A, 'POST', '/api/bans', { kind: 'device', target: wdev, reason: 'while away' });
  assert.equal(r2.status, 201, JSON.stringify(r2.json));
  const id2 = r2.json.bans[0].id;
  assert.equal((await visit(A, w.m.device)).m.code, 'banned', 'enforced on A at once');
  // Lifting another node's ban needs Redis: a clear 503, nothing changed.
  const u2 = await api(B, 'DELETE', `/api/bans/${id2}`);
  assert.equal(u2.status, 503);
  assert.equal(u2.json.error, 'cluster_unreachable');
  assert.equal(w.c.closed, null, 'B does not know of it yet');
  const wBanned = w.c.next((m) => m.code === 'banned', 20000);
  const t1 = Date.now();
  rs = await startRedis(port, dir);
  await wBanned;
  t.diagnostic(`the visitor on B was cut off ${Date.now() - t1} ms after Redis came back`);
  assert.equal((await visit(C, w.m.device)).m.code, 'banned', 'and refused on C');
  for (const n of nodes) {
    await waitFor(`${n.url} up again`, async () => ({ ok: await metric(n, 'tandem_redis_up') === 1 }), 10000);
    assert.ok((await metric(n, 'tandem_redis_reconnects_total')) >= 1);
  }
  // A ban of node 1, listed by node 3.
  assert.deepEqual((await api(C, 'GET', '/api/bans')).json.bans.map((b) => b.id), [id2]);

  // A node that starts now knows every ban in force before its first visitor, and honours
  // the cluster's device tokens.
  const D = await startServer([`--admin-token=${TOKEN}`, `--redis-url=${url}`, '--node-id=4', '--grace-ms=300']);
  nodes.push(D);
  assert.deepEqual((await api(D, 'GET', '/api/bans')).json.bans.map((b) => b.id), [id2]);
  assert.equal((await visit(D, w.m.device)).m.code, 'banned', 'refused on a node started after the ban');
  assert.equal((await visit(D, tok)).m.type, 'welcome', 'the lifted one is welcome there');

  // Lifted on the node that made it while Redis is away: lifted there at once, and on the
  // others once Redis is back.
  await rs.stop();
  await waitFor('A sees Redis down', async () => ({ ok: await metric(A, 'tandem_redis_up') === 0 }), 10000);
  assert.equal((await api(A, 'DELETE', `/api/bans/${id2}`)).status, 200);
  assert.equal((await visit(A, w.m.device)).m.type, 'welcome', 'lifted on A at once');
  assert.equal((await visit(B, w.m.device)).m.code, 'banned', 'B does not know yet');
  rs = await startRedis(port, dir);
  for (const n of [B, C, D]) {
    await waitFor(`${n.url} lets the device in`, async () => {
      const x = await visit(n, w.m.device);
      x.c.close();
      return { ok: x.m.type === 'welcome', m: x.m };
    }, 15000, 250);
  }
  assert.equal(await redis(port, ['HLEN', 'tandem:bans']), 0);

  // A second live node with node_id 1 is told off (its ban ids would collide with A's).
  const E = await startServer([`--redis-url=${url}`, '--node-id=1']);
  nodes.push(E);
  await waitFor('node_id_conflict logged', () => ({ ok: /node_id_conflict/.test(E.log()) }), 5000);
  assert.equal(await metric(E, 'tandem_cluster_node_id_conflicts_total'), 1);

  // Many bans (of a node 9 that is not running): a node starting reads them all, page by page,
  // before its first visitor, and lists them in pages.
  const many = [];
  const base = 9 * 2 ** 42;
  const created = Date.now();
  for (let i = 1; i <= 700; i++) {
    many.push(String(base + i), JSON.stringify({ id: base + i, kind: 'ip', target: `10.9.${i >> 8}.${i & 255}`, reason: 'bulk', by: 'test', created_ms: created, expires_ms: 0 }));
  }
  assert.equal(await redis(port, ['HSET', 'tandem:bans', ...many]), 700);
  const F = await startServer([`--admin-token=${TOKEN}`, `--redis-url=${url}`, '--node-id=7']);
  nodes.push(F);
  const page1 = await api(F, 'GET', '/api/bans?limit=500');
  assert.equal(page1.json.bans.length, 500);
  assert.equal(page1.json.bans[0].id, base + 1);
  const page2 = await api(F, 'GET', `/api/bans?limit=500&after_id=${page1.json.next_after_id}`);
  assert.equal(page2.json.bans.length, 200);
  assert.equal(page2.json.bans[199].id, base + 700);
  assert.equal(page2.json.next_after_id, null);
});
