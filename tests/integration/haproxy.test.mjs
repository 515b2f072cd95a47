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
import { HAPROXY, startHaproxy } from '../lib/haproxy.mjs';

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
    if (lb && lb.proc.exitCode === null) lb.proc.kill('SIGKILL');
    for (const n of nodes) await n.stop().catch(() => {});
  });
  for (let i = 0; i < 3; i++) nodes.push(await startServer(['--trust-proxy=true', '--grace-ms=300']));
  lb = await startHaproxy(nodes);
  const url = lb.url;

  // The page through the load balancer.
  const page = await fetch(`${url}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script src="\/app.js"/);

  // Nine visitors spread over the three nodes (least connections: three each).
  const before = await Promise.all(nodes.map((n) => metric(n, 'tandem_visits_total')));
  for (let i = 0; i < 9; i++) clients.push(await visit(url));
  const after = await Promise.all(nodes.map((n) => metric(n, 'tandem_visits_total')));
  const got = after.map((v, i) => v - before[i]);
  assert.deepEqual(got, [3, 3, 3], `visits per node: ${got} (HAProxy log:\n${lb.log()})`);
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
  assert.equal(more[0] + more[1], 6, `visits on nodes 2 and 3: ${more} (HAProxy log:\n${lb.log()})`);
  assert.ok(more[0] >= 2 && more[1] >= 2, `spread over the two: ${more}`);
});
