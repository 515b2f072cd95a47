// cluster_match.test.mjs -- one pool of strangers across three Tandem nodes behind HAProxy,
// sharing one redis-server (docs/operations.md, "Many nodes"):
//  - tandem-bench visitors entering through HAProxy (spread over the nodes) pair across nodes,
//    skip, and get their partner's media both ways over the node-to-node relay, with zero
//    cross-talk;
//  - kill -9 of the node that is the matcher: another node takes over within 5 s and visitors
//    pair again;
//  - Redis stopped: each node matches its own visitors alone; Redis back: the nodes join the
//    shared pool again and cross-node pairs resume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitFor, freePort } from '../lib/server.mjs';
import { REDIS, startRedis, redis } from '../lib/redis.mjs';
import { runBench } from '../lib/bench.mjs';
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

test('one pool across three nodes behind HAProxy: cross-node pairs with media, the matcher killed, Redis away and back', {
  skip: (!fs.existsSync(REDIS) && 'redis-server is not installed') ||
        (!fs.existsSync(HAPROXY) && 'haproxy is not installed'),
  timeout: 300000,
}, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-redis-'));
  const rport = await freePort();
  let rs = await startRedis(rport, dir);
  const nodes = [];
  let lb = null;
  t.after(async () => {
    if (lb && lb.proc.exitCode === null) lb.proc.kill('SIGKILL');
    for (const n of nodes) await n.stop().catch(() => {});
    await rs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const rurl = `redis://127.0.0.1:${rport}`;
  for (let i = 1; i <= 3; i++) {
    nodes.push(await startServer([`--redis-url=${rurl}`, `--node-id=${i}`, '--trust-proxy=true',
      '--max-visitors-per-ip=0', '--max-conns-per-ip=0', '--offers-per-min-per-ip=0',
      '--log-level=info']));
  }
  lb = await startHaproxy(nodes);
  const lbUrl = lb.url;

  const matcherOf = async (live) => {
    const flags = await Promise.all(live.map((n) => metric(n, 'tandem_cluster_matcher')));
    return { ok: flags.filter((f) => f === 1).length === 1, flags, i: flags.indexOf(1) };
  };
  const inPool = async (live) => {
    const st = await Promise.all(live.map((n) => metric(n, 'tandem_cluster_state')));
    return { ok: st.every((s) => s === 2), st };
  };
  await waitFor('every node in the shared pool', () => inPool(nodes), 10000);
  await waitFor('one matcher', () => matcherOf(nodes), 10000);

  // 1. Visitors through HAProxy meet across nodes; their media crosses by the relay.
  const relayBefore = await Promise.all(nodes.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  const res = await benchOk(lbUrl, 24, 20, 'stay=50,skip=40,skipnow=5,vanish=5', 'three nodes');
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
  await benchOk(lbUrl, 12, 10, 'stay=70,skip=30', 'after the matcher died');

  // 3. Redis away: each node matches alone (same-node pairs); back: the shared pool again.
  await rs.stop();
  await waitFor('nodes matching alone', async () => {
    const st = await Promise.all(live.map((n) => metric(n, 'tandem_cluster_state')));
    return { ok: st.every((s) => s === 3), st };
  }, 10000);
  await benchOk(live[0].url, 8, 8, 'stay=70,skip=30', 'Redis away', live[0].proc.pid);
  rs = await startRedis(rport, dir);
  assert.equal(await redis(rport, ['PING']), 'PONG');
  await waitFor('the shared pool again', () => inPool(live), 15000);
  await waitFor('one matcher again', () => matcherOf(live), 10000);
  const relay2 = await Promise.all(live.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  await benchOk(lbUrl, 12, 10, 'stay=70,skip=30', 'Redis back');
  const relay3 = await Promise.all(live.map((n) => metric(n, 'tandem_relay_rx_packets_total')));
  assert.ok(relay3[0] > relay2[0] && relay3[1] > relay2[1], `no cross-node media after Redis came back: ${relay2} -> ${relay3}`);
});
