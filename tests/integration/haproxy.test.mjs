// haproxy.test.mjs -- tools/haproxy.cfg in front of three Tandem nodes on loopback (Debian's
// haproxy): the page and WebSocket signalling go through it, visitors spread over the nodes
// (no stickiness), a node that drains (SIGTERM: /readyz 503, then gone) gets no new visitors,
// and the visitors it tells to move come back through the load balancer to the others.
// Each node still matches only its own visitors (one pool across nodes is issue "Many nodes").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, waitFor } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const HAPROXY = process.env.HAPROXY || '/usr/sbin/haproxy';

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  }).on('error', reject);
});

// A node's counter from its own /metrics (not through the load balancer).
async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// A visitor through the load balancer: hello, welcome.
async function visit(url) {
  const c = new SignalClient(url);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome', 5000);
  return c;
}

test('tools/haproxy.cfg: page and signalling through HAProxy, spread over three nodes, a draining node gets no new visitors', { skip: !fs.existsSync(HAPROXY) && 'haproxy is not installed' }, async (t) => {
  const nodes = [];
  const clients = [];
  let lb = null;
  t.after(async () => {
    for (const c of clients) c.close();
    if (lb && lb.exitCode === null) lb.kill('SIGKILL');
    for (const n of nodes) await n.stop().catch(() => {});
  });
  for (let i = 0; i < 3; i++) nodes.push(await startServer(['--trust-proxy=true', '--grace-ms=300']));
  const lbPort = await freePort();
  const env = {
    ...process.env,
    TANDEM_LB_BIND: `127.0.0.1:${lbPort}`,
    ...Object.fromEntries(nodes.map((n, i) => [`TANDEM_NODE${i + 1}`, new URL(n.url).host])),
  };
  execFileSync(HAPROXY, ['-c', '-q', '-f', path.join(root, 'tools', 'haproxy.cfg')], { env });
  let lbLog = '';
  lb = spawn(HAPROXY, ['-db', '-f', path.join(root, 'tools', 'haproxy.cfg')], { env });
  lb.stdout.on('data', (d) => { lbLog += d; });
  lb.stderr.on('data', (d) => { lbLog += d; });
  const url = `http://127.0.0.1:${lbPort}`;
  await waitFor('HAProxy answers', async () => {
    try { return { ok: (await fetch(`${url}/readyz`)).status === 200 }; } catch (e) { return { ok: false, e: String(e), log: lbLog }; }
  }, 10000);

  // The page through the load balancer.
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script src="\/app.js"/);

  // Nine visitors spread over the three nodes (least connections: three each).
  const before = await Promise.all(nodes.map((n) => metric(n, 'tandem_visits_total')));
  for (let i = 0; i < 9; i++) clients.push(await visit(url));
  const after = await Promise.all(nodes.map((n) => metric(n, 'tandem_visits_total')));
  const got = after.map((v, i) => v - before[i]);
  assert.deepEqual(got, [3, 3, 3], `visits per node: ${got} (HAProxy log:\n${lbLog})`);
  // Signalling works through it: a ping answered.
  clients[0].send({ type: 'ping' });
  await clients[0].type('pong');

  // Node 1 drains (SIGTERM): its visitors are told to move, and it leaves once they are gone.
  const onFirst = [];
  for (const c of clients) {
    c.next((m) => m.type === 'moving', 8000).then(() => onFirst.push(c)).catch(() => {});
  }
  nodes[0].proc.kill('SIGTERM');
  await waitFor('three visitors told to move', () => ({ ok: onFirst.length === 3, n: onFirst.length }), 8000);
  // HAProxy notices (health check on /readyz, or the refused connection) within a few seconds.
  await new Promise((r) => setTimeout(r, 2500));

  // The moved visitors come back through the load balancer, and new ones arrive: every one
  // lands on nodes 2 and 3.
  const mid = await Promise.all(nodes.slice(1).map((n) => metric(n, 'tandem_visits_total')));
  for (let i = 0; i < 6; i++) clients.push(await visit(url));
  const end = await Promise.all(nodes.slice(1).map((n) => metric(n, 'tandem_visits_total')));
  const more = end.map((v, i) => v - mid[i]);
  assert.equal(more[0] + more[1], 6, `visits on nodes 2 and 3: ${more} (HAProxy log:\n${lbLog})`);
  assert.ok(more[0] >= 2 && more[1] >= 2, `spread over the two: ${more}`);
});
