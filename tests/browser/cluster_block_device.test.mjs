// cluster_block_device.test.mjs -- a block outlives the visit across the nodes of a cluster
// (docs/operations.md, "Blocks and recent partners across visits"): A on node 1 and B on node 2
// meet across nodes, A blocks B; A's browser comes back as a new visit on node 3 (the same
// device token, as behind one load balancer's origin); A and B, both waiting and alone in the
// shared pool, are never paired again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { launchPerson, startServer, waitFor, seesColour, acceptTerms } from './lib.mjs';
import { freePort } from '../lib/server.mjs';
import { REDIS, startRedis } from '../lib/redis.mjs';

const stateOf = (page) => page.evaluate(() => window.tandem && window.tandem.state);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test('a person blocked on another node is not met again from a new visit on a third', {
  skip: !fs.existsSync(REDIS) && 'redis-server is not installed',
  timeout: 240000,
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-cluster-block-'));
  const rport = await freePort();
  const rs = await startRedis(rport, dir);
  const nodes = [];
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    for (const n of nodes) await n.stop().catch(() => {});
    await rs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // grace 0: a closed tab's visit ends at once. No memory of recent partners: only the block
  // can keep the two apart.
  for (let i = 1; i <= 3; i++) {
    nodes.push(await startServer([`--redis-url=redis://127.0.0.1:${rport}`, `--node-id=${i}`,
      '--grace-ms=0', '--match-recent-k=0']));
  }
  await waitFor('every node in the shared pool', async () => {
    const st = await Promise.all(nodes.map((n) => metric(n, 'tandem_cluster_state')));
    return { ok: st.every((s) => s === 2), st };
  }, 15000);
  const A = await launchPerson(nodes[0].url, 'A', 'red', dir);
  people.push(A);
  const B = await launchPerson(nodes[1].url, 'B', 'green', dir);
  people.push(B);
  for (const p of people) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }), 60000);
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'), 60000);
  await waitFor('B sees red', () => seesColour(B, 'red'), 60000);
  assert.ok(await metric(nodes[0], 'tandem_relay_rx_packets_total') > 0, 'the pair crosses nodes');
  const device = await A.page.evaluate(() => localStorage.getItem('tandem.device'));
  assert.ok(device && device.length === 76, 'A keeps a device token');
  // The two nodes have told each other their visitor's device: the block can name both.
  await sleep(500);
  await A.page.click('#block');
  await waitFor('B waits again', async () => ({ ok: (await B.state()).state === 'waiting' }), 30000);

  // A's browser again, on node 3 this time: a new visit with the same device (pages of one
  // site behind a load balancer share one origin; here each node is its own, so the token
  // is carried over by hand).
  const tab = await A.browser.newPage();
  await tab.addInitScript(acceptTerms);
  await tab.addInitScript((tok) => localStorage.setItem('tandem.device', tok), device);
  await A.page.close();
  await tab.goto(nodes[2].url);
  await waitFor('the new tab is ready', async () => ({ ok: (await stateOf(tab)) === 'ready' }), 60000);
  assert.equal(await tab.evaluate(() => localStorage.getItem('tandem.device')), device,
    'the new visit presented the same device');
  await tab.click('#start');
  await waitFor('the new tab waits', async () => ({ ok: (await stateOf(tab)) === 'waiting' }), 30000);

  // Before: node 3 knew nothing of the block and the matcher paired them at once.
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    assert.equal(await stateOf(tab), 'waiting', 'A\'s new visit was paired with the person A blocked');
    assert.equal((await B.state()).state, 'waiting', 'B was paired with the visitor who blocked B');
    await sleep(250);
  }
});
