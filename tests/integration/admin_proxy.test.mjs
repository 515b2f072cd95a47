// admin_proxy.test.mjs -- /api/nodes/{node}/{path}: any node's admin API through one node
// (docs/admin-api.md, "The other nodes"). Two nodes on one redis-server: node 1 answers for
// node 2 (a visitor listed, a kick with its actor, a POST body passed on) and for itself
// without HTTP; and it refuses cleanly: no token 401, a bad node number or a path trick 400,
// a request that already came through a proxy 400 (no loops), a node that is not live 404, a
// node whose port is closed 502, one that never answers 504 (the others answered meanwhile),
// one that refuses the token 502 (not 401: the console would log out), an answer too large
// 502, a body too large 413. A node alone answers for itself and knows no other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, waitFor, freePort } = await import('../lib/server.mjs');
const { SignalClient } = await import('../lib/signal.mjs');
const { REDIS, startRedis, redis } = await import('../lib/redis.mjs');

const TOKEN = 'admin-proxy-test-token-7d21c0';
const NODE_OF = (id) => Math.floor(id / 2 ** 42);

async function call(url, p, { token = TOKEN, method = 'GET', body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const t0 = Date.now();
  const r = await fetch(`${url}${p}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, json, text, ms: Date.now() - t0, node: r.headers.get('x-tandem-node'), type: r.headers.get('content-type') };
}

// A request with its path as given (fetch would resolve "..", "." and %2e%2e first).
function raw(url, p, headers = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, headers: { Authorization: `Bearer ${TOKEN}`, ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => { let json = null; try { json = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: res.statusCode, json, text }); });
    });
    req.on('error', reject);
    req.end();
  });
}

test('the admin API of every node through one: forwarded, answered here, refused cleanly', {
  skip: !fs.existsSync(REDIS) && 'redis-server is not installed', timeout: 120000,
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-proxy-'));
  const port = await freePort();
  const rs = await startRedis(port, dir);
  const nodes = [];
  const clients = [];
  const servers = [];
  t.after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) { s.closeAllConnections?.(); s.close(); }
    for (const n of nodes) await n.stop().catch(() => {});
    await rs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 1; i <= 2; i++) {
    nodes.push(await startServer([`--admin-token=${TOKEN}`, `--redis-url=redis://127.0.0.1:${port}`,
      `--node-id=${i}`, '--admin-proxy-timeout-ms=1500']));
  }
  const [A, B] = nodes;
  await waitFor('two nodes listed', async () => {
    const j = (await call(A.url, '/api/nodes')).json;
    return { ok: j && j.nodes.length === 2, j };
  }, 10000, 200);

  // A visitor on node 2, listed through node 1.
  const v = new SignalClient(B.url);
  clients.push(v);
  await v.opened;
  v.send({ type: 'hello', resume: null, device: null });
  await v.type('welcome', 5000);
  let r = await call(A.url, '/api/nodes/2/peers');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.node, '2');
  assert.equal(r.json.count, 1);
  const id = r.json.peers[0].id;
  assert.equal(NODE_OF(id), 2);
  // Node 1 itself, answered here (its own list: nobody).
  r = await call(A.url, '/api/nodes/1/peers?x=1');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.count, 0);
  // A query and a 404 of node 2 come back as node 2 said them.
  r = await call(A.url, `/api/nodes/2/peers/${id}/snapshot.jpg?max_side=5`);
  assert.equal(r.status, 400, r.text);
  assert.match(r.json.message, /max_side/);
  r = await call(A.url, '/api/nodes/2/reports/77');
  assert.equal(r.status, 404, r.text);
  // A kick through node 1: the body and the actor reach node 2, whose audit log says so.
  const kicked = v.next((m) => m.code === 'kicked', 5000);
  r = await call(A.url, `/api/nodes/2/peers/${id}/kick`, { method: 'POST', body: { reason: 'proxy test' },
    headers: { 'X-Tandem-Actor': 'mod-through-1' } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { ok: true, peer: id });
  await kicked;
  r = await call(B.url, '/api/audit');
  const entry = r.json.audit.find((e) => e.action === 'kick');
  assert.ok(entry, r.text);
  assert.equal(entry.actor, 'mod-through-1');
  assert.equal(entry.details.reason, 'proxy test');

  // Refusals, each clear, none changing anything.
  r = await call(A.url, '/api/nodes/2/peers', { token: null });
  assert.equal(r.status, 401);
  assert.equal(r.json.error, 'unauthorized');
  r = await call(A.url, '/api/nodes/2/peers', { token: 'wrong' });
  assert.equal(r.status, 401);
  for (const bad of ['x/peers', '02/peers', '-1/peers', '1024/peers', '99999/peers', '2', '2peers', '/peers', '1e1/peers']) {
    r = await call(A.url, `/api/nodes/${bad}`);
    assert.equal(r.status, 400, `${bad}: ${r.text}`);
    assert.equal(r.json.error, 'bad_node', bad);
  }
  for (const bad of ['2/../peers', '2/peers/..', '2/./peers', '2/peers//1', '2/peers%2f1', '2/%2e%2e/admin', '2/',
    `2/${'a'.repeat(300)}`]) {
    r = await raw(A.url, `/api/nodes/${bad}`);
    assert.equal(r.status, 400, `${bad}: ${r.text}`);
    assert.equal(r.json.error, 'bad_path', bad);
  }
  r = await raw(A.url, '/api/nodes/2/peers?a={"x"}');
  assert.equal(r.status, 400);
  // No loops: through a proxy again, or with the mark a proxied request carries.
  r = await call(A.url, '/api/nodes/2/nodes/1/peers');
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'proxy_loop');
  r = await call(A.url, '/api/nodes/2/peers', { headers: { 'X-Tandem-Proxied': '1' } });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'proxy_loop');
  r = await call(A.url, '/api/nodes/1/peers', { method: 'PUT' });
  assert.equal(r.status, 405);
  r = await call(A.url, '/api/nodes/7/peers');
  assert.equal(r.status, 404, r.text);
  assert.match(r.json.message, /node 7 is not among the live nodes/);
  r = await fetch(`${A.url}/api/nodes/2/bans`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` },
    body: 'x'.repeat(100000) });
  assert.equal(r.status, 413);

  // Nodes that misbehave, registered straight into Redis: a closed port, a server that never
  // answers, one that refuses the token, one whose answer is too large.
  const closed = await freePort();
  const hang = net.createServer(() => { /* accepts, never answers */ });
  await new Promise((res) => hang.listen(0, '127.0.0.1', res));
  servers.push(hang);
  const fake = http.createServer((req, res) => {
    if (req.headers['x-tandem-proxied'] !== '1') { res.writeHead(500); res.end('unmarked'); return; }
    if (req.url.startsWith('/api/big')) { res.writeHead(200, { 'Content-Type': 'application/octet-stream' }); res.end(Buffer.alloc(9 << 20)); return; }
    res.writeHead(401, { 'Content-Type': 'application/json' });
    res.end('{"error":"unauthorized","message":"not this token"}');
  });
  await new Promise((res) => fake.listen(0, '127.0.0.1', res));
  servers.push(fake);
  const entry2 = (node, url) => JSON.stringify({ node, admin_url: url, version: 'x', started_ms: 0, visitors: 0, pairs: 0, draining: false });
  const fakes = { 5: `http://127.0.0.1:${closed}`, 6: `http://127.0.0.1:${hang.address().port}`,
    8: `http://127.0.0.1:${fake.address().port}`, 9: entry2(1, 'http://127.0.0.1:1') };
  for (const [k, u] of Object.entries(fakes)) {
    await redis(port, ['HSET', 'tandem:admin:info', k, k === '9' ? u : entry2(Number(k), u)]);
    await redis(port, ['ZADD', 'tandem:admin:nodes', String(Date.now() + 3600000), k]);
  }
  r = await call(A.url, '/api/nodes/5/peers');
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'node_unreachable');
  assert.match(r.json.message, /node 5 could not be reached/);
  // The hanging node: 504 after admin_proxy_timeout_ms; node 2 answers meanwhile.
  const slow = call(A.url, '/api/nodes/6/peers');
  const quick = await call(A.url, '/api/nodes/2/peers');
  assert.equal(quick.status, 200);
  assert.ok(quick.ms < 1000, `node 2 answered in ${quick.ms} ms while node 6 hangs`);
  r = await slow;
  assert.equal(r.status, 504, r.text);
  assert.equal(r.json.error, 'node_timeout');
  assert.ok(r.ms >= 1400 && r.ms < 5000, `504 after ${r.ms} ms`);
  r = await call(A.url, '/api/nodes/8/peers');
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'node_refused');
  r = await call(A.url, '/api/nodes/8/big');
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'node_bad_answer');
  r = await call(A.url, '/api/nodes/9/peers');
  assert.equal(r.status, 502, r.text);
  assert.equal(r.json.error, 'node_bad_entry');
  // And node 1 is as it was.
  r = await call(A.url, '/api/nodes');
  assert.deepEqual(r.json.nodes.map((n) => n.node), [1, 2, 5, 6, 8]);
  assert.equal((await call(A.url, '/api/nodes/1/peers')).status, 200);
  assert.equal((await fetch(`${A.url}/healthz`)).status, 200);
  // Every request above is counted once by what became of it (the 401s and the 413 never
  // reached the route): node 2's answers 5, node 1's own 2, failures 5 (nodes 5, 6, 8 twice,
  // 9), refusals 22 (9 bad nodes, 9 bad paths, 2 loops, a PUT, node 7).
  const m = await (await fetch(`${A.url}/metrics`)).text();
  const count = (result) => Number(new RegExp(`^tandem_admin_proxy_requests_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(m)?.[1]);
  assert.deepEqual({ answered: count('answered'), local: count('local'), failed: count('failed'), refused: count('refused') },
    { answered: 5, local: 2, failed: 5, refused: 22 });
});

test('a node alone answers /api/nodes/0/... itself and knows no other node', { timeout: 30000 }, async (t) => {
  const s = await startServer([`--admin-token=${TOKEN}`]);
  t.after(() => s.stop());
  let r = await call(s.url, '/api/nodes/0/peers');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.count, 0);
  r = await call(s.url, '/api/nodes/1/peers');
  assert.equal(r.status, 404, r.text);
  assert.match(r.json.message, /alone/);
  r = await call(s.url, '/api/nodes/0/peers', { token: null });
  assert.equal(r.status, 401);
});
