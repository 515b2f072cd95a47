// cluster_resume.test.mjs -- resume tokens across the nodes of a cluster, under hostile and
// awkward input (docs/operations.md, "Visits move"; docs/protocol.md, "Resume"):
//  - a token naming a node that is not alive, a token of a live node that it never issued, and
//    a token with a malformed node prefix each start a new visit at once;
//  - a token whose visit still has its live connection on its node is refused (the connection
//    answers the probe), and that visit goes on there untouched;
//  - once that connection closes, the token moves the visit to the other node, whose welcome
//    says resumed; the old node forgets it; the token, used once, opens nothing again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitFor, freePort } from '../lib/server.mjs';
import { SignalClient, metrics } from '../lib/signal.mjs';
import { REDIS, startRedis } from '../lib/redis.mjs';

async function hello(node, resume) {
  const c = new SignalClient(node.url);
  await c.opened;
  const t0 = Date.now();
  c.send({ type: 'hello', resume: resume ?? null });
  const m = await c.next((x) => x.type === 'welcome' || x.type === 'error', 8000);
  return { c, m, ms: Date.now() - t0 };
}

test('resume tokens across nodes: unknown, forged, alive elsewhere, then moved', {
  skip: !fs.existsSync(REDIS) && 'redis-server is not installed',
  timeout: 120000,
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-redis-'));
  const port = await freePort();
  const rs = await startRedis(port, dir);
  const nodes = [];
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.close();
    for (const n of nodes) await n.stop().catch(() => {});
    await rs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 1; i <= 2; i++) {
    nodes.push(await startServer([`--redis-url=redis://127.0.0.1:${port}`, `--node-id=${i}`,
      '--offer-timeout-ms=0', '--grace-ms=10000']));
  }
  const [A, B] = nodes;
  await waitFor('both nodes in the shared pool and alive to each other', async () => {
    const m = await Promise.all(nodes.map((n) => metrics(n.url)));
    return { ok: m.every((x) => x.tandem_cluster_state === 2), st: m.map((x) => x.tandem_cluster_state) };
  }, 15000);
  await new Promise((r) => setTimeout(r, 1500)); // a heartbeat answered with both nodes

  // Tokens that name no live node, or that their node never issued: a new visit, at once.
  const rnd = (n) => [...Array(n)].map(() => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
  for (const [what, tok] of [['a node that is not there', `3ff${rnd(29)}`],
    ['a live node that never issued it', `001${rnd(29)}`],
    ['a prefix that is no node', `zzz${rnd(29)}`],
    ['node 0', `000${rnd(29)}`]]) {
    const v = await hello(B, tok);
    clients.push(v.c);
    assert.equal(v.m.type, 'welcome', `${what}: ${JSON.stringify(v.m)}`);
    assert.equal(v.m.resumed, false, what);
    assert.ok(v.ms < 3000, `${what}: welcomed after ${v.ms} ms`);
    assert.match(v.m.resume, /^002[0-9a-f]{29}$/, 'a token of node 2 names node 2');
    v.c.close();
  }

  // A visit on node 1 whose connection is alive: its token on node 2 is refused after the probe.
  const a = await hello(A);
  clients.push(a.c);
  assert.equal(a.m.type, 'welcome');
  assert.match(a.m.resume, /^001/);
  const twice = await hello(B, a.m.resume);
  clients.push(twice.c);
  assert.equal(twice.m.resumed, false, 'the live connection keeps its visit');
  twice.c.close();
  a.c.send({ type: 'ping' });
  assert.equal((await a.c.type('pong', 3000)).type, 'pong', 'the visit goes on on node 1');
  assert.equal((await metrics(B.url)).tandem_visits_moved_in_total, 0);

  // The page reloads: its connection closes, its token reaches node 2: the visit moves.
  const token = a.m.resume;
  a.c.close();
  const back = await hello(B, token);
  clients.push(back.c);
  assert.equal(back.m.type, 'welcome', JSON.stringify(back.m));
  assert.equal(back.m.resumed, true, 'the visit moved to node 2');
  assert.match(back.m.resume, /^002/, 'a new token, of node 2');
  const ma = await metrics(A.url), mb = await metrics(B.url);
  assert.equal(ma.tandem_visits_moved_out_total, 1);
  assert.equal(mb.tandem_visits_moved_in_total, 1);
  assert.match(A.log(), /visit_moved_out/);
  assert.match(B.log(), /visit_moved_in/);
  // The old token opens nothing, on either node.
  for (const n of nodes) {
    const v = await hello(n, token);
    clients.push(v.c);
    assert.equal(v.m.resumed, false, `${n.url}: a spent token`);
    v.c.close();
  }
  back.c.send({ type: 'ping' });
  assert.equal((await back.c.type('pong', 3000)).type, 'pong');
});
