// cluster_block_device.test.mjs -- three nodes on one redis-server, and browsers on them.
// A block outlives the visit across the nodes of a cluster (docs/operations.md, "Blocks and
// recent partners across visits"): A on node 1 and B on node 2 meet across nodes, A blocks B;
// A's browser comes back as a new visit on node 3 (the same device token, as behind one load
// balancer's origin); A and B, both waiting and alone in the shared pool, are never paired
// again. Then the console on node 1 reads the whole cluster (docs/operations.md, "Seeing the
// whole cluster"): its live grid shows A on node 3 and B on node 2 in their colours; C on
// node 1 reports its partner, whose node keeps the report, and the console shows it with its
// picture and clip; one click on Ban of a browser on another node cuts that browser off.
//
// Every browser names its own address in X-Forwarded-For (trust_proxy; documentation
// addresses), as console.test.mjs does: a ban of a live peer bans its address too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  launchPerson, startServer, waitFor, seesColour, acceptTerms, nearestColour, contrastProblems, unlabelled, pageOut,
  tileColours, meanColour,
} from './lib.mjs';
import { freePort } from '../lib/server.mjs';
import { REDIS, startRedis } from '../lib/redis.mjs';

const stateOf = (page) => page.evaluate(() => window.tandem && window.tandem.state);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TOKEN = 'cluster-console-token-94be1f';
const ADDR = { A: '198.51.100.10', B: '198.51.100.20', C: '198.51.100.30' };
const NODE_OF = (id) => Math.floor(id / 2 ** 42);

// launchPerson, its WebSocket from `addr`.
async function personAt(url, name, colour, dir, addr) {
  const p = await launchPerson('about:blank', name, colour, dir);
  await p.browser.setExtraHTTPHeaders({ 'X-Forwarded-For': addr });
  await p.page.goto(url);
  return p;
}


async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

test('three nodes: a person blocked on another node is not met again from a new visit on a third; the console on one node reads them all', {
  skip: !fs.existsSync(REDIS) && 'redis-server is not installed',
  timeout: 290000,
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
      '--grace-ms=0', '--match-recent-k=0', `--admin-token=${TOKEN}`, '--trust-proxy=true']));
  }
  await waitFor('every node in the shared pool', async () => {
    const st = await Promise.all(nodes.map((n) => metric(n, 'tandem_cluster_state')));
    return { ok: st.every((s) => s === 2), st };
  }, 15000);
  const A = await personAt(nodes[0].url, 'A', 'red', dir, ADDR.A);
  people.push(A);
  const B = await personAt(nodes[1].url, 'B', 'green', dir, ADDR.B);
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

  await t.test('the console on node 1 reads and acts on the whole cluster', async (st) => {
    await consoleStory(st, nodes, dir, people, { A, tab, B });
  });
});

async function consoleStory(t, nodes, dir, people, { A, tab, B }) {
  const api = async (node, p) => {
    const r = await fetch(`${node.url}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, `${p}: ${r.status}`);
    return r.json();
  };
  const idOn = async (node, ip) => {
    const mine = (await api(node, '/api/peers')).peers.filter((p) => p.ip === ip);
    assert.equal(mine.length, 1, `${ip} on ${node.url}`);
    return mine[0].id;
  };
  const idA = await idOn(nodes[2], ADDR.A);
  const idB = await idOn(nodes[1], ADDR.B);
  assert.deepEqual([NODE_OF(idA), NODE_OF(idB)], [3, 2]);

  // The console, served by node 1 (a page of A's browser: one browser fewer to start).
  const con = await A.browser.newPage();
  const logs = [];
  con.on('console', (m) => logs.push(`[console] ${m.text()}`));
  con.on('pageerror', (e) => logs.push(`[console] pageerror ${e.message}`));
  t.after(() => { if (process.env.TANDEM_TEST_VERBOSE) console.log(logs.join('\n')); });
  await con.addInitScript(meanColour);
  await con.goto(`${nodes[0].url}/admin`);
  await con.fill('#token', TOKEN);
  await con.fill('#actor', 'mod-cluster');
  await con.click('#login-submit');
  await waitFor('the console shows', async () => ({ ok: await con.isVisible('#tab-live') }));

  // The live grid: A (red) on node 3 and B (green) on node 2, each through node 1.
  const grid = await waitFor('the grid shows red on node 3 and green on node 2', async () => {
    const tiles = await tileColours(con);
    const seen = Object.fromEntries(tiles.map((x) => [x.peer, [x.node, x.rgb ? nearestColour(x.rgb) : null]]));
    const ok = tiles.length === 2 && JSON.stringify(seen[idA]) === '[3,"red"]' && JSON.stringify(seen[idB]) === '[2,"green"]';
    return { ok, seen, tiles: tiles.map((x) => x.text) };
  }, 45000, 500);
  assert.match(grid.tiles.join(' '), /node 3/);
  t.diagnostic(`grid: ${JSON.stringify(grid.seen)}`);
  fs.mkdirSync(pageOut, { recursive: true });
  await con.screenshot({ path: path.join(pageOut, 'console-cluster-live.png') });
  assert.deepEqual(await unlabelled(con), [], 'unlabelled controls on the live view');
  assert.deepEqual(await contrastProblems(con), [], 'contrast on the live view (node tags)');

  // C on node 1 meets one of them and reports them: the report is kept by the node of the
  // person reported, and the console shows it with its picture and clip.
  const C = await personAt(nodes[0].url, 'C', 'blue', dir, ADDR.C);
  people.push(C);
  await waitFor('C ready', async () => ({ ok: (await C.state()).state === 'ready' }), 60000);
  await C.page.click('#start');
  const met = await waitFor('C meets someone', async () => {
    const c = await C.seen();
    return { ok: c === 'red' || c === 'green', c };
  }, 60000);
  // X (the one met) and Y (the other) as their pages: A's is the tab on node 3.
  const [X, idX, Y, idY] = met.c === 'red' ? [tab, idA, B.page, idB] : [B.page, idB, tab, idA];
  await sleep(3000); // a few seconds of the pair before the report
  await C.page.evaluate(() => window.tandem.ws.send(JSON.stringify({ type: 'report', reason: 'spam' })));
  const ack = await waitFor('C\'s report acknowledged', async () => {
    const ids = await C.page.evaluate(() => window.tandem.reportsAcked);
    return { ok: ids.length > 0, id: ids[0] };
  }, 15000);
  assert.equal(NODE_OF(ack.id), NODE_OF(idX), `report ${ack.id} is kept by the node of peer ${idX}`);
  const { report } = await api(nodes[0], `/api/nodes/${NODE_OF(ack.id)}/reports/${ack.id}`);
  assert.ok(report.evidence.jpeg && report.evidence.webm, `evidence: ${JSON.stringify(report.evidence)}`);
  await con.click('#tab-reports');
  const sel = `#reports li.report[data-report="${ack.id}"]`;
  const shown = await waitFor('the report with its picture and clip', async () => con.evaluate((s) => {
    const li = document.querySelector(s);
    if (!li) return { ok: false, why: 'no report' };
    const img = li.querySelector('img.ev-jpeg');
    const v = li.querySelector('video.ev-webm');
    if (!img || !img.complete || !img.naturalWidth || !v) return { ok: false, why: 'evidence not shown yet', text: li.textContent };
    return { ok: v.readyState >= 1 && v.duration > 0, rgb: window.__meanColour(img), node: li.dataset.node,
      duration: v.duration, src: [img.src, v.src], text: li.textContent };
  }, sel), 30000, 500);
  t.diagnostic(`report ${ack.id}: ${JSON.stringify(shown)}`);
  assert.equal(nearestColour(shown.rgb), met.c, 'the evidence picture is the person reported');
  assert.equal(Number(shown.node), NODE_OF(idX));
  assert.match(shown.text, new RegExp(`node ${NODE_OF(idX)}`));
  await con.screenshot({ path: path.join(pageOut, 'console-cluster-reports.png'), fullPage: true });

  // C moves on and meets the other one, Y; one click on Ban of Y's tile (on Y's own node,
  // through node 1) cuts Y off: told banned, its page closed; nobody else is.
  await waitFor('C meets Y', async () => ({ ok: (await C.seen()) === (met.c === 'red' ? 'green' : 'red') }), 60000);
  await con.click('#tab-live');
  const yTile = `.tile[data-peer="${idY}"]`;
  await waitFor('Y\'s tile', async () => ({ ok: (await con.$$(yTile)).length === 1 }), 15000);
  const banned = con.waitForResponse((r) => r.url().endsWith(`/api/nodes/${NODE_OF(idY)}/bans`) && r.request().method() === 'POST');
  await con.click(`${yTile} button.ban`);
  const res = await banned;
  const answeredAt = Date.now();
  assert.equal(res.status(), 201, await res.text());
  assert.deepEqual((await res.json()).cut_off, [idY]);
  const told = await waitFor('Y told banned', async () => ({ ok: !!(await Y.evaluate(() => window.tandem.banned)) }), 5000, 50);
  assert.ok(told.ok);
  t.diagnostic(`Y (peer ${idY}, node ${NODE_OF(idY)}) told banned ${Date.now() - answeredAt} ms after the API answered`);
  await waitFor('Y\'s tile gone', async () => ({ ok: (await con.$$(yTile)).length === 0 }), 5000);
  await waitFor('C waits again', async () => ({ ok: (await C.state()).state === 'waiting' }), 10000);
  assert.equal(await X.evaluate(() => !!window.tandem.banned), false, 'X was banned too');
  assert.equal(await C.page.evaluate(() => !!window.tandem.banned), false, 'C was banned too');

  // The audit log, merged: the ban, from Y's node.
  await con.click('#tab-audit');
  await waitFor('the audit log lists the ban on Y\'s node', async () => {
    const rows = await con.$$eval('#audit tr', (trs) => trs.map((tr) => ({ action: tr.dataset.action, node: tr.dataset.node, text: tr.textContent })));
    return { ok: rows.some((r) => r.action === 'ban' && Number(r.node) === NODE_OF(idY) && r.text.includes('mod-cluster')), rows };
  }, 10000);
}
