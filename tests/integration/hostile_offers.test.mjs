// hostile_offers.test.mjs -- offers and resumes are rate-limited (issue "Proof under hostile
// input", finding 5; docs/security.md): every offer costs a media session and a DTLS handshake,
// so one visitor cycling resume -> offer, or one address opening visit after visit, is refused
// past its limit with `rate_limited` and a retry time, and nobody else is affected.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, root } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';
import { sleep } from '../lib/hostile.mjs';

const SDP = fs.readFileSync(path.join(root, 'tests/data/sdp/chromium-156-offer.sdp'), 'utf8');
const servers = [];
after(async () => { for (const s of servers) await s.stop(); });

async function start(args) {
  const s = await startServer(args);
  servers.push(s);
  return s;
}

async function hello(url, resume) {
  const c = new SignalClient(url);
  await c.opened;
  c.send({ type: 'hello', resume: resume ?? null });
  return { c, w: await c.next((m) => m.type === 'welcome' || m.type === 'error', 5000) };
}

// What one offer gets: its answer, or an error.
async function offer(c) {
  c.send({ type: 'offer', sdp: SDP });
  return c.next((m) => m.type === 'answer' || m.type === 'error', 5000);
}

async function closed(c) {
  if (c.closed === null) await new Promise((r) => c.ws.once('close', r));
}

// Before: a visitor could resume and offer again as fast as it liked, a handshake each time.
test('one visitor cycling resume and offer is limited per visitor', async () => {
  const s = await start(['--offers-per-min=6', '--resumes-per-min=100']); // a burst of 3
  let { c, w } = await hello(s.url);
  const got = [];
  for (let i = 0; i < 5; i++) {
    got.push(await offer(c));
    c.close();
    await closed(c);
    ({ c, w } = await hello(s.url, w.resume));
    assert.equal(w.resumed, true, `resume ${i + 1} takes the visit over`);
  }
  const types = got.map((m) => m.type === 'answer' ? 'answer' : m.code);
  assert.deepEqual(types.slice(0, 3), ['answer', 'answer', 'answer']);
  assert.equal(types[3], 'rate_limited', `the 4th offer within the burst: ${types}`);
  assert.equal(got[3].ref, 'offer');
  assert.ok(got[3].retry_ms > 0 && got[3].retry_ms <= 10000, `retry_ms ${got[3].retry_ms}`);
  // Another visitor from the same address is not affected by this one's limit.
  const other = await hello(s.url);
  assert.equal((await offer(other.c)).type, 'answer');
  const m = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(m, /tandem_rate_limited_total [1-9]/);
  c.close();
  other.c.close();
});

// Before: new visits from one address, each with an offer, cost a handshake each with nothing
// to stop them but the visitor cap.
test('offers from one address are limited per address', async () => {
  const s = await start(['--offers-per-min-per-ip=8', '--max-visitors-per-ip=0']); // burst 4
  const results = [];
  const clients = [];
  for (let i = 0; i < 6; i++) {
    const { c } = await hello(s.url);
    clients.push(c);
    const r = await offer(c);
    results.push(r.type === 'answer' ? 'answer' : `${r.code}:${r.ref}`);
  }
  assert.deepEqual(results.slice(0, 4), ['answer', 'answer', 'answer', 'answer']);
  assert.deepEqual(results.slice(4), ['rate_limited:offer', 'rate_limited:offer']);
  for (const c of clients) c.close();
});

test('resumes of one visit are limited; the refused connection is closed', async () => {
  const s = await start(['--resumes-per-min=4']); // a burst of 2
  let { c, w } = await hello(s.url);
  const outcomes = [];
  for (let i = 0; i < 3; i++) {
    c.close();
    await closed(c);
    const r = await hello(s.url, w.resume);
    if (r.w.type === 'welcome') {
      outcomes.push('welcome');
      ({ c, w } = r);
    } else {
      outcomes.push(`${r.w.code}:${r.w.ref}`);
      await closed(r.c);
      assert.equal(r.c.closed, 1013);
      c = r.c;
    }
    await sleep(50);
  }
  assert.deepEqual(outcomes, ['welcome', 'welcome', 'rate_limited:hello']);
});
