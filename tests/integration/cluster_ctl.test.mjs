// cluster_ctl.test.mjs -- tandemctl sees the whole cluster: three Tandem nodes on one
// redis-server, tandemctl pointed at node 1 only. `nodes` lists every node with its admin URL,
// visitors and the matcher; `peers` lists a visitor on node 3 (NODE column, its id carrying
// node 3); `reports` lists a report made on node 2 (a cluster id: node 2 in its high bits),
// `report` and `resolve` reach it through node 1; `kick` ends the visit on node 3; `audit`
// shows that kick from node 3's log; --node keeps to one node. Hostile entries written
// straight into Redis are skipped (and counted); a node that hangs is reported (exit 3, the
// others' rows printed) and leaves the list within seconds. And a fake server's list of nodes with bad entries (a URL with a path, a control
// character, a node twice, ...): tandemctl skips them and never sends anything there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, waitFor, freePort, tandemBin } = await import('../lib/server.mjs');
const { SignalClient } = await import('../lib/signal.mjs');
const { REDIS, startRedis, redis } = await import('../lib/redis.mjs');
const ctlBin = path.join(path.dirname(tandemBin), 'tandemctl');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

const TOKEN = 'cluster-ctl-test-token-51c9e2aa';
const NODE_OF = (id) => Math.floor(id / 2 ** 42);

function ctl(args, url) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) =>
    !/^TANDEM_(URL|ADMIN_TOKEN)$/.test(k) && !/_proxy$/i.test(k)));
  return new Promise((resolve, reject) => {
    const p = spawn(ctlBin, ['--url', url, ...args], { env: { ...base, TANDEM_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('error', reject);
    p.on('close', (code, signal) => {
      assert.equal(signal, null, `tandemctl ${args.join(' ')} died of ${signal}: ${err}`);
      assert.ok(!(out + err).includes(TOKEN), 'the token is never printed');
      resolve({ code, out, err });
    });
  });
}

async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test('tandemctl pointed at one node sees every node: nodes, peers, reports, kick, audit', {
  skip: !fs.existsSync(REDIS) && 'redis-server is not installed', timeout: 240000,
}, async (t) => {
  assert.ok(fs.existsSync(ctlBin), `${ctlBin} is missing: build the tandemctl target`);
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-ctl-redis-'));
  const port = await freePort();
  const rs = await startRedis(port, dir);
  const nodes = [];
  const clients = [];
  let bench = null;
  t.after(async () => {
    if (bench && bench.exitCode === null) bench.kill('SIGKILL');
    for (const c of clients) c.close();
    for (const n of nodes) await n.stop().catch(() => {});
    await rs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 1; i <= 3; i++) {
    nodes.push(await startServer([`--admin-token=${TOKEN}`, `--redis-url=redis://127.0.0.1:${port}`,
      `--node-id=${i}`, '--max-visitors-per-ip=0', '--max-conns-per-ip=0', '--offers-per-min-per-ip=0',
      '--offer-timeout-ms=0']));
  }
  const [A, B, C] = nodes;
  const json = async (args, url = A.url) => {
    const r = await ctl(['--json', ...args], url);
    assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\n${r.err}`);
    return JSON.parse(r.out);
  };

  // Every node registers itself within a second or two; any node lists them all.
  const listed = await waitFor('three nodes listed', async () => {
    const j = await json(['nodes']);
    return { ok: j.nodes.length === 3, j };
  }, 10000, 200);
  assert.equal(listed.j.self, 1);
  assert.equal(listed.j.redis_up, true);
  assert.deepEqual(listed.j.nodes.map((n) => [n.node, n.admin_url]), nodes.map((n, i) => [i + 1, n.url]));
  assert.equal(listed.j.nodes.filter((n) => n.matcher).length, 1, 'one matcher');
  assert.ok(listed.j.nodes.every((n) => n.draining === false && typeof n.version === 'string'));
  let r = await ctl(['nodes'], B.url);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^NODE +ADMIN URL +VERSION +UP +VISITORS +PAIRS +ROLE$/m);
  assert.match(r.out, new RegExp(`^2\\* +${B.url.replace(/\./g, '\\.')} `, 'm'));
  assert.match(r.out, /matcher/);
  assert.match(r.out, /^3 nodes, 0 visitors, 0 pairs/m);

  // A visitor on node 3 and one on node 2: node 1's tandemctl lists both, with their nodes.
  const v3 = new SignalClient(C.url);
  const v2 = new SignalClient(B.url);
  clients.push(v3, v2);
  for (const v of [v3, v2]) {
    await v.opened;
    v.send({ type: 'hello', resume: null, device: null });
    await v.type('welcome', 5000);
  }
  const peers = await json(['peers']);
  assert.equal(peers.count, 2, JSON.stringify(peers));
  assert.deepEqual(peers.peers.map((p) => [p.node, NODE_OF(p.id)]), [[2, 2], [3, 3]]);
  assert.deepEqual(peers.nodes.map((n) => [n.node, n.ok]), [[1, true], [2, true], [3, true]]);
  r = await ctl(['peers'], A.url);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^NODE +ID +STATE +PARTNER +DEVICE +IP +MEDIA$/m);
  assert.match(r.out, new RegExp(`^3 +${peers.peers[1].id} `, 'm'));
  assert.match(r.out, /^2 peers$/m);
  // --node keeps to one node (its answer as it sent it).
  const only3 = await json(['--node', '3', 'peers']);
  assert.deepEqual(only3.peers.map((p) => p.id), [peers.peers[1].id]);
  assert.equal(only3.nodes, undefined);
  assert.equal((await ctl(['--node', '9', 'peers'], A.url)).code, 1, 'node 9 is not live');
  const visitorsSeen = await waitFor('visitors in the node list', async () => {
    const j = await json(['nodes']);
    return { ok: j.nodes.map((n) => n.visitors).join() === '0,1,1', j };
  }, 5000, 200);
  assert.ok(visitorsSeen.ok);

  // A kick through node 1 of the visitor on node 3 ends that visit on node 3.
  const id3 = peers.peers[1].id;
  const kicked = v3.next((m) => m.code === 'kicked', 5000);
  r = await ctl(['kick', String(id3), '--reason', 'cluster ctl test'], A.url);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, new RegExp(`^kicked peer ${id3}$`, 'm'));
  await kicked;
  await waitFor('the WebSocket closed with 4004', () => ({ ok: v3.closed === 4004, closed: v3.closed }), 3000, 20);
  assert.deepEqual((await json(['--node', '3', 'peers'])).peers, []);
  // The kick is in node 3's audit log, which node 1's tandemctl reads.
  const audit = await json(['audit']);
  const entry = audit.audit.find((e) => e.action === 'kick');
  assert.ok(entry, JSON.stringify(audit));
  assert.equal(entry.node, 3);
  assert.equal(entry.target, `peer:${id3}`);
  // Kicking a peer of a node that is not live, or gone already: a clean refusal.
  r = await ctl(['kick', String(id3)], A.url);
  assert.equal(r.code, 1);
  assert.match(r.err, /404 not_found: no live peer/);
  r = await ctl(['kick', String(7 * 2 ** 42 + 1)], A.url);
  assert.equal(r.code, 1);
  assert.match(r.err, /node 7 is not among the live nodes/);

  // Two simulated browsers with media on node 2 report each other: node 1 lists the reports.
  v2.close();
  bench = spawn(benchBin, [`--url=${B.url}`, '--peers=2', '--duration=120', '--ramp=0',
    '--mix=report=100', '--skip-min=1', '--skip-max=2', '--ready-timeout=60'], { stdio: 'ignore' });
  const reps = await waitFor('a report on node 2', async () => {
    const j = await json(['reports', '--state', 'any']);
    return { ok: j.reports.length > 0, j };
  }, 90000, 500);
  bench.kill('SIGKILL');
  const rep = reps.j.reports[0];
  assert.equal(rep.node, 2);
  assert.equal(NODE_OF(rep.id), 2, `a cluster id of node 2: ${rep.id}`);
  assert.equal(rep.evidence.jpeg === null || rep.evidence.jpeg === `/api/reports/${rep.id}/snapshot.jpg`, true);
  r = await ctl(['reports', '--state', 'any'], C.url);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^NODE +ID +TIME \(UTC\) +STATE +REASON +REPORTED +EVIDENCE +NOTE$/m);
  assert.match(r.out, new RegExp(`^2 +${rep.id} `, 'm'));
  // One report, read and resolved through node 1; node 1's own API says where it lives.
  assert.equal((await json(['report', String(rep.id)])).report.id, rep.id);
  const direct = await fetch(`${A.url}/api/reports/${rep.id}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(direct.status, 404);
  assert.match((await direct.json()).message, /belongs to node 2/);
  r = await ctl(['resolve', String(rep.id), '--resolution', 'warned'], A.url);
  assert.equal(r.code, 0, r.err);
  const after = await json(['report', String(rep.id)], C.url);
  assert.equal(after.report.state, 'resolved');
  assert.equal(after.report.resolution, 'warned');

  // Hostile entries in Redis: not JSON, a URL with a path, an entry filed under another node,
  // a node number out of range. None is listed; each is counted.
  const bad0 = (await Promise.all(nodes.map((n) => metric(n, 'tandem_cluster_bad_input_total')))).reduce((a, b) => a + b, 0);
  const hostile = {
    7: 'not json{',
    8: JSON.stringify({ node: 8, admin_url: 'http://evil.example/steal?', version: 'x', started_ms: 0, visitors: 0, pairs: 0, draining: false }),
    9: JSON.stringify({ node: 1, admin_url: 'http://evil.example:1', version: 'x', started_ms: 0, visitors: 0, pairs: 0, draining: false }),
    1000: JSON.stringify({ node: 5000, admin_url: 'http://evil.example:1', version: 'x', started_ms: 0, visitors: 0, pairs: 0, draining: false }),
  };
  for (const [k, v] of Object.entries(hostile)) {
    await redis(port, ['HSET', 'tandem:admin:info', k, v]);
    await redis(port, ['ZADD', 'tandem:admin:nodes', String(Date.now() + 3600000), k]);
  }
  const clean = await json(['nodes']);
  assert.deepEqual(clean.nodes.map((n) => n.node), [1, 2, 3]);
  assert.ok(!JSON.stringify(clean).includes('evil'));
  const bad1 = (await Promise.all(nodes.map((n) => metric(n, 'tandem_cluster_bad_input_total')))).reduce((a, b) => a + b, 0);
  assert.ok(bad1 >= bad0 + 4, `bad input counted: ${bad0} -> ${bad1}`);
  for (const k of Object.keys(hostile)) await redis(port, ['ZREM', 'tandem:admin:nodes', k]);

  // A node that hangs: the listing says so (exit 3) and still shows what the others gave;
  // once its entry lapses (5 s without a beat) it leaves the list and the rest answer.
  C.proc.kill('SIGSTOP');
  r = await ctl(['--timeout', '2', 'peers'], A.url);
  assert.equal(r.code, 3, r.err);
  assert.match(r.err, new RegExp(`no answer from ${C.url.replace(/\./g, '\\.')} within 2 s`));
  assert.match(r.out, /\(from the nodes that answered\)/);
  await waitFor('node 3 gone from the list', async () => {
    const j = await json(['nodes']);
    return { ok: j.nodes.map((n) => n.node).join() === '1,2', j };
  }, 15000, 500);
  r = await ctl(['peers'], A.url);
  assert.equal(r.code, 0, r.err);
  assert.doesNotMatch(r.out, /nodes that answered/);
  C.proc.kill('SIGCONT');
});

test('tandemctl takes nothing on trust from a list of nodes: bad entries are skipped, never contacted', { timeout: 60000 }, async (t) => {
  const http = await import('node:http');
  const hits = [];
  const trap = http.createServer((req, res) => { hits.push(req.url); res.writeHead(200); res.end('{}'); });
  await new Promise((r) => trap.listen(0, '127.0.0.1', r));
  const trapUrl = `http://127.0.0.1:${trap.address().port}`;
  let nodesAnswer = null;
  const seen = [];
  const fake = http.createServer((req, res) => {
    seen.push(req.url);
    const u = new URL(req.url, 'http://x');
    const body = u.pathname === '/api/nodes' ? nodesAnswer
      : u.pathname === '/api/peers' ? JSON.stringify({ peers: [], count: 0 })
        : u.pathname === '/api/peers/8796093022213/kick' ? JSON.stringify({ ok: true, peer: 8796093022213 }) : null;
    res.writeHead(body ? 200 : 404, { 'Content-Type': 'application/json' });
    res.end(body ?? '{"error":"not_found","message":"no"}');
  });
  await new Promise((r) => fake.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${fake.address().port}`;
  t.after(() => { fake.closeAllConnections(); fake.close(); trap.closeAllConnections(); trap.close(); });
  const entry = (node, admin_url, extra = {}) => ({ node, admin_url, version: 'v', started_ms: 0, visitors: 0, pairs: 0, draining: false, ...extra });
  nodesAnswer = JSON.stringify({ self: 1, redis_up: true, matcher: 1, nodes: [
    entry(1, url),
    entry(2, `${trapUrl}/steal?x=`),
    entry(3, trapUrl, { version: '\u001b[2J' }),
    entry(4, trapUrl, { visitors: -1 }),
    entry(5, `file:///etc/passwd`),
    entry(1, trapUrl),
  ] });
  let r = await ctl(['nodes'], url);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^1 node, /m);
  assert.ok(!r.out.includes(trapUrl));
  assert.equal((r.err.match(/warning/g) || []).length, 5, r.err);
  r = await ctl(['peers'], url);
  assert.equal(r.code, 0, r.err);
  for (const id of [2 * 2 ** 42 + 5, 3 * 2 ** 42 + 5]) {
    r = await ctl(['kick', String(id)], url);
    assert.equal(r.code, 1);
    assert.match(r.err, /is not among the live nodes/);
  }
  assert.deepEqual(hits, [], 'the token never went to a URL the list should not have named');
  // A peer of node 2 with node 2's URL valid: the kick goes there, not to the node asked.
  nodesAnswer = JSON.stringify({ self: 1, redis_up: true, matcher: null, nodes: [entry(1, url), entry(2, trapUrl)] });
  r = await ctl(['kick', String(2 * 2 ** 42 + 5)], url);
  assert.deepEqual(hits, [`/api/peers/${2 * 2 ** 42 + 5}/kick`]);
  // Not a list of nodes at all: exit 1.
  for (const bad of ['[]', '{"self":"1","redis_up":true,"nodes":[]}', '{"self":1,"redis_up":true,"nodes":{}}',
    '{"self":5000,"redis_up":true,"nodes":[]}', 'not json']) {
    nodesAnswer = bad;
    r = await ctl(['nodes'], url);
    assert.equal(r.code, 1, `${bad}: ${r.err}`);
    assert.equal(r.out, '');
  }
});
