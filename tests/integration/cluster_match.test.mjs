// cluster_match.test.mjs -- one pool of strangers across three Tandem nodes behind HAProxy,
// sharing one redis-server (docs/operations.md, "Many nodes"):
//  - tandem-bench visitors entering through HAProxy (spread over the nodes) pair across nodes,
//    skip, and get their partner's media both ways over the node-to-node relay, with zero
//    cross-talk;
//  - kill -9 of the node that is the matcher: another node takes over within 5 s and visitors
//    pair again;
//  - Redis stopped: each node matches its own visitors alone; Redis back: the nodes join the
//    shared pool again and cross-node pairs resume;
//  - a refreshed page that lands on another node keeps its pair, with media both ways;
//  - draining a node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitFor, freePort } from '../lib/server.mjs';
import { REDIS, startRedis, redis } from '../lib/redis.mjs';
import { runBench } from '../lib/bench.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
import { HAPROXY, startHaproxy } from '../lib/haproxy.mjs';


async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+(?:\\.\\d+)?)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}


// A bench run that must pass: every visitor READY, every pairing carrying media, no cross-talk.
async function benchOk(url, peers, seconds, mix, what, pid) {
  const r = await runBench([`--url=${url}`, `--peers=${peers}`, `--duration=${seconds}`,
    '--ramp=20', `--mix=${mix}`, '--skip-min=3', '--skip-max=5', '--ready-timeout=40',
    '--seed=5', '--json', ...(pid ? [`--server-pid=${pid}`] : [])], (seconds + 60) * 1000);
  const why = `${what}: tandem-bench exited ${r.code} (${r.signal || 'no signal'})\n${r.err}`;
  let res;
  try { res = JSON.parse(r.out); } catch { assert.fail(`${what}: no JSON\n${why}\n${r.out}`); }
  assert.equal(res.peers.ever_ready, peers, why);
  assert.ok(res.media.pairings_checked > 0, why);
  assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
  assert.equal(res.crosstalk.total, 0, why);
  assert.equal(res.errors.total, 0, why);
  assert.equal(r.code, 0, why);
  return res;
}

// redis-server, three nodes sharing it and tools/haproxy.cfg in front, stopped after t.
async function cluster(t, lbOpts = {}) {
  const c = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-redis-')), nodes: [], lb: null };
  c.rport = await freePort();
  c.rs = await startRedis(c.rport, c.dir);
  t.after(async () => {
    if (c.lb && c.lb.proc.exitCode === null) c.lb.proc.kill('SIGKILL');
    for (const n of c.nodes) await n.stop().catch(() => {});
    await c.rs.stop();
    fs.rmSync(c.dir, { recursive: true, force: true });
  });
  const rurl = `redis://127.0.0.1:${c.rport}`;
  for (let i = 1; i <= 3; i++) {
    c.nodes.push(await startServer([`--redis-url=${rurl}`, `--node-id=${i}`, '--trust-proxy=true',
      '--max-visitors-per-ip=0', '--max-conns-per-ip=0', '--offers-per-min-per-ip=0',
      '--log-level=info']));
  }
  c.lb = await startHaproxy(c.nodes, lbOpts);
  await waitFor('every node in the shared pool', () => inPool(c.nodes), 10000);
  await waitFor('one matcher', () => matcherOf(c.nodes), 10000);
  return c;
}

const matcherOf = async (live) => {
  const flags = await Promise.all(live.map((n) => metric(n, 'tandem_cluster_matcher')));
  return { ok: flags.filter((f) => f === 1).length === 1, flags, i: flags.indexOf(1) };
};
const inPool = async (live) => {
  const st = await Promise.all(live.map((n) => metric(n, 'tandem_cluster_state')));
  return { ok: st.every((s) => s === 2), st };
};

test('one pool across three nodes behind HAProxy: cross-node pairs with media, the matcher killed, Redis away and back', {
  skip: (!fs.existsSync(REDIS) && 'redis-server is not installed') ||
        (!fs.existsSync(HAPROXY) && 'haproxy is not installed'),
  timeout: 300000,
}, async (t) => {
  const c = await cluster(t);
  const { nodes, lb, rport, dir } = c;
  const lbUrl = lb.url;

  // 1. Visitors through HAProxy meet across nodes; their media crosses by the relay.
  const relayBefore = await Promise.all(nodes.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  const res = await benchOk(lbUrl, 24, 14, 'stay=50,skip=40,skipnow=5,vanish=5', 'three nodes');
  assert.ok(res.events.nexts > 0);
  const visits = await Promise.all(nodes.map((n) => metric(n, 'tandem_visits_total')));
  assert.ok(visits.every((v) => v >= 5), `visits per node ${visits}`);
  const relayAfter = await Promise.all(nodes.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  const relayTx = await Promise.all(nodes.map((n) => metric(n, 'tandem_relay_tx_packets_total')));
  for (let i = 0; i < 3; i++) {
    assert.ok(relayAfter[i] - relayBefore[i] > 100, `node ${i + 1} got no relayed media: ${relayAfter}`);
    assert.ok(relayTx[i] > 100, `node ${i + 1} relayed nothing: ${relayTx}`);
  }
  // Every node's visitors took part in the one pool: the matcher decided for all of them.
  const m0 = await matcherOf(nodes);
  assert.ok(await metric(nodes[m0.i], 'tandem_cluster_matcher_decisions_total') > 24 * 3);

  // 2. kill -9 of the matcher: another takes over within 5 s, and visitors pair again.
  const dead = nodes[m0.i];
  const live = nodes.filter((n) => n !== dead);
  dead.proc.kill('SIGKILL');
  await new Promise((r) => dead.proc.once('exit', r));
  const killedAt = Date.now();
  await waitFor('a new matcher', () => matcherOf(live), 5000, 100);
  const takeover = Date.now() - killedAt;
  assert.ok(takeover <= 5000, `took ${takeover} ms`);
  t.diagnostic(`a new matcher ${takeover} ms after kill -9 of the old one`);
  // HAProxy has marked the dead node down after two failed checks (1 s apart).
  await waitFor('HAProxy without the dead node', async () => {
    const st = lb.log().match(/is DOWN/g);
    return { ok: !!st, log: lb.log().slice(-500) };
  }, 10000);
  await benchOk(lbUrl, 12, 8, 'stay=70,skip=30', 'after the matcher died');

  // 3. Redis away: each node matches alone (same-node pairs); back: the shared pool again.
  await c.rs.stop();
  await waitFor('nodes matching alone', async () => {
    const st = await Promise.all(live.map((n) => metric(n, 'tandem_cluster_state')));
    return { ok: st.every((s) => s === 3), st };
  }, 10000);
  await benchOk(live[0].url, 8, 7, 'stay=70,skip=30', 'Redis away', live[0].proc.pid);
  c.rs = await startRedis(rport, dir);
  assert.equal(await redis(rport, ['PING']), 'PONG');
  await waitFor('the shared pool again', () => inPool(live), 15000);
  await waitFor('one matcher again', () => matcherOf(live), 10000);
  const relay2 = await Promise.all(live.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  await benchOk(lbUrl, 12, 8, 'stay=70,skip=30', 'Redis back');
  const relay3 = await Promise.all(live.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  assert.ok(relay3[0] > relay2[0] && relay3[1] > relay2[1], `no cross-node media after Redis came back: ${relay2} -> ${relay3}`);
});

test('draining a node of the cluster: no new visitors there, its calls (across nodes too) go on, then it exits', {
  skip: (!fs.existsSync(REDIS) && 'redis-server is not installed') ||
        (!fs.existsSync(HAPROXY) && 'haproxy is not installed'),
  timeout: 180000,
}, async (t) => {
  const c = await cluster(t);
  const m = await matcherOf(c.nodes);
  const X = c.nodes[(m.i + 1) % 3]; // not the matcher: its leaving is the other test's
  const running = runBench([`--url=${c.lb.url}`, '--peers=18', '--duration=18', '--ramp=20',
    '--mix=stay=100', '--ready-timeout=40', '--seed=9', '--json'], 90000);
  await waitFor('everyone paired', async () => {
    const paired = await Promise.all(c.nodes.map((n) => metric(n, 'tandem_peers_paired')));
    return { ok: paired.reduce((x, y) => x + y, 0) === 18, paired };
  }, 30000);
  const relayX = await metric(X, 'tandem_relay_tx_packets_total');
  assert.ok(await metric(X, 'tandem_peers_paired') > 0);
  X.proc.kill('SIGTERM');
  await waitFor('the drained node not ready', async () => ({ ok: (await fetch(`${X.url}/readyz`)).status === 503 }), 5000);
  await waitFor('HAProxy marking it down', async () => ({ ok: /is DOWN/.test(c.lb.log()), log: c.lb.log().slice(-300) }), 10000);
  const visitsX = await metric(X, 'tandem_visits_total');
  await benchOk(c.lb.url, 6, 6, 'stay=100', 'while a node drains');
  assert.equal(await metric(X, 'tandem_visits_total'), visitsX, 'a new visitor reached the draining node');
  // Its calls went on, relayed ones too, to the end of the run.
  await sleep(2000);
  assert.ok(await metric(X, 'tandem_relay_tx_packets_total') > relayX + 100);
  const r = await running;
  const why = `tandem-bench exited ${r.code}\n${r.err}`;
  const res = JSON.parse(r.out);
  assert.equal(res.crosstalk.total, 0, why);
  assert.equal(res.errors.total, 0, why);
  assert.equal(res.media.pairings_ok, res.media.pairings_checked, why);
  // Its last call over, it exits.
  await waitFor('the drained node exits', async () => ({ ok: X.proc.exitCode !== null }), 20000);
  assert.equal(X.proc.exitCode, 0, X.log().slice(-2000));
});

test('a refresh that lands on another node keeps the pair, with media both ways; reports across nodes', {
  skip: (!fs.existsSync(REDIS) && 'redis-server is not installed') ||
        (!fs.existsSync(HAPROXY) && 'haproxy is not installed'),
  timeout: 180000,
}, async (t) => {
  // Round robin: a reconnecting page lands on another node two times in three.
  const c = await cluster(t, { balance: 'roundrobin' });
  const res = await benchOk(c.lb.url, 16, 16, 'stay=40,refresh=60', 'refreshes across nodes');
  // Every refresh was resumed (the bench counts a new visit after a refresh as an error) ...
  assert.ok(res.events.refreshes >= 8, `only ${res.events.refreshes} refreshes`);
  assert.equal(res.events.resumed, res.events.refreshes);
  // ... many of them on another node, whose visit moved there ...
  const movedIn = await Promise.all(c.nodes.map((n) => metric(n, 'tandem_visits_moved_in_total')));
  const movedOut = await Promise.all(c.nodes.map((n) => metric(n, 'tandem_visits_moved_out_total')));
  const sum = (xs) => xs.reduce((x, y) => x + y, 0);
  t.diagnostic(`refreshes ${res.events.refreshes}, moved in ${movedIn}, out ${movedOut}`);
  assert.ok(sum(movedIn) >= 3, `visits moved in: ${movedIn}`);
  assert.equal(sum(movedIn), sum(movedOut));
  // ... and kept its pair: the partner's media came back to the reloaded page (a pair that
  // ended instead would end the measurement), checked for cross-talk both ways above.
  const back = res.latency.refresh_to_media.n;
  assert.ok(back >= res.events.refreshes - 2, `media came back after ${back} of ${res.events.refreshes} refreshes`);
  assert.ok(res.events.partner_left <= 2, `pairs ended: ${res.events.partner_left}`);

  // A report of a partner on another node is filed there (where its media is) and answered.
  const stored0 = sum(await Promise.all(c.nodes.map((n) => metric(n, 'tandem_reports_total'))));
  const rep = await benchOk(c.lb.url, 12, 10, 'stay=50,report=50', 'reports across nodes');
  const stored = sum(await Promise.all(c.nodes.map((n) => metric(n, 'tandem_reports_total')))) - stored0;
  t.diagnostic(`reports ${rep.events.reports}, acknowledged ${rep.events.reported}, refused ${rep.events.reports_refused}, stored ${stored}`);
  assert.ok(rep.events.reports >= 4, `only ${rep.events.reports} reports`);
  assert.equal(rep.events.reports_refused, 0);
  assert.equal(rep.events.reported, rep.events.reports);
  assert.equal(stored, rep.events.reports);
});
