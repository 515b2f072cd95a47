// hostile_visitors.test.mjs -- visitors that hold places without using them, and clients with
// too many connections (issue "Proof under hostile input", finding 2; docs/security.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, root } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';
import { rawConnect, rawUpgrade, sleep } from '../lib/hostile.mjs';

const chromeOffer = fs.readFileSync(path.join(root, 'tests/data/sdp/chromium-156-offer.sdp'), 'utf8');

async function withServer(args, fn) {
  const server = await startServer(args);
  try {
    await fn(server);
  } finally {
    await server.stop();
  }
}

async function visitor(url) {
  const c = new SignalClient(url);
  await c.opened;
  c.send({ type: 'hello' });
  return c;
}

function closed(c, ms = 3000) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const poll = () => {
      if (c.closed !== null) resolve(c.closed);
      else if (Date.now() - t0 > ms) resolve(null);
      else setTimeout(poll, 20);
    };
    poll();
  });
}

// Before: with --max-peers=20, a burst of hello+close filled the server for the whole grace
// period, and everyone else got `full`. A visitor in grace has lost its page; a new visitor
// now takes the place of the oldest one.
test('a burst of hello+close does not keep the server full', async () => {
  await withServer(['--max-peers=20'], async (server) => {
    for (let i = 0; i < 20; i++) {
      const c = await visitor(server.url);
      await c.type('welcome');
      c.close();
    }
    await sleep(200);
    const c = await visitor(server.url);
    const m = await c.next();
    assert.equal(m.type, 'welcome', `a newcomer got ${JSON.stringify(m)}`);
    c.close();
  });
});

// Before: a hello with no offer lived as long as it answered pings; twenty of them made
// everyone else get `full`. Now a visitor must offer within offer_timeout_ms of its welcome.
test('visitors who never offer are closed, and their places freed', async () => {
  await withServer(['--max-peers=5', '--offer-timeout-ms=800'], async (server) => {
    const idle = [];
    for (let i = 0; i < 5; i++) {
      const c = await visitor(server.url);
      await c.type('welcome');
      idle.push(c);
    }
    const late = await visitor(server.url);
    assert.equal((await late.type('error')).code, 'full');
    for (const c of idle) {
      const e = await c.type('error', 3000);
      assert.equal(e.code, 'timeout');
      assert.equal(await closed(c), 4008);
    }
    const c = await visitor(server.url);
    assert.equal((await c.next()).type, 'welcome');
    c.close();
  });
});

test('a visitor whose media never starts is closed after ready_timeout_ms', async () => {
  await withServer(['--ready-timeout-ms=800'], async (server) => {
    const c = await visitor(server.url);
    await c.type('welcome');
    c.send({ type: 'offer', sdp: chromeOffer });
    await c.type('answer');
    const e = await c.type('error', 3000);
    assert.equal(e.code, 'timeout');
    assert.match(e.message, /media/);
    assert.equal(await closed(c), 4008);
  });
});

test('a WebSocket that never says hello is closed after hello_timeout_ms', async () => {
  await withServer(['--hello-timeout-ms=500'], async (server) => {
    const silent = new SignalClient(server.url);
    await silent.opened;
    const talker = await visitor(server.url);
    await talker.type('welcome');
    assert.equal(await closed(silent), 1008);
    talker.send({ type: 'ping' });
    await talker.type('pong');
    assert.equal(talker.closed, null);
    talker.close();
  });
});

// Nothing limited visitors per client: one address may hold max_visitors_per_ip visitors,
// connected or in grace; past that it gets `ip_limit`.
test('visitors per address are capped; one in grace makes room', async () => {
  await withServer(['--max-visitors-per-ip=3'], async (server) => {
    const cs = [];
    for (let i = 0; i < 3; i++) {
      const c = await visitor(server.url);
      cs.push({ c, token: (await c.type('welcome')).resume });
    }
    const over = await visitor(server.url);
    assert.equal((await over.type('error')).code, 'ip_limit');
    assert.equal(await closed(over), 1013);
    cs[0].c.close();
    await sleep(200);
    const next = await visitor(server.url);
    assert.equal((await next.type('welcome')).resumed, false);
    // The visit in grace gave its place: its token resumes nothing, and the address is full.
    const back = new SignalClient(server.url);
    await back.opened;
    back.send({ type: 'hello', resume: cs[0].token });
    assert.equal((await back.next()).code, 'ip_limit');
    for (const x of [next, cs[1].c, cs[2].c]) x.close();
  });
});

// Nothing limited connections per client: 238 idle upgrades from one address took every
// descriptor. Now one address has at most max_conns_per_ip (64) connections.
test('one address gets at most 64 connections', async () => {
  await withServer([], async (server) => {
    const socks = [];
    let upgraded = 0;
    for (let i = 0; i < 80; i++) {
      const s = await rawConnect(server.url).catch(() => null);
      if (!s) continue;
      socks.push(s);
      if (await rawUpgrade(s, server.url) === 101) upgraded++;
    }
    assert.ok(upgraded <= 64 && upgraded >= 60, `${upgraded} WebSockets from one address`);
    const other = await rawConnect(server.url, { localAddress: '127.0.0.2' });
    assert.equal(await rawUpgrade(other, server.url), 101, 'another address is not affected');
    other.destroy();
    for (const s of socks) s.destroy();
  });
});
