// hostile_ws.test.mjs -- WebSocket floods that must not grow the server's memory, and
// handshakes from other sites' pages (issue "Proof under hostile input", findings 1, 3 and
// 10; docs/security.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';
import {
  rawConnect, rawUpgrade, frame, OP, pump, rssBytes, closedWithin,
} from '../lib/hostile.mjs';

const MB = 1024 * 1024;
let server;

before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

async function stillServes() {
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  const c = new SignalClient(server.url);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome');
  c.send({ type: 'ping' });
  await c.type('pong');
  c.close();
}

// Finding 1: 9M empty pings from a client that never reads took the server from 17 MB to
// 603 MB. Each queued pong now counts against the output budget with its overhead: the
// connection is dropped once 1 MiB is queued.
test('empty pings from a client that never reads: dropped, memory bounded', async () => {
  const pid = server.proc.pid;
  const before = rssBytes(pid);
  const s = await rawConnect(server.url, { read: false });
  assert.equal(await rawUpgrade(s, server.url), 101);
  const sent = await pump(s, frame(OP.PING), 3_000_000);
  assert.ok(await closedWithin(s, 5000), `the server kept the connection after ${sent} pings`);
  const grew = rssBytes(pid) - before;
  assert.ok(grew < 16 * MB, `resident memory grew by ${(grew / MB).toFixed(1)} MB`);
  s.destroy();
  await stillServes();
});

// Finding 3: one-byte fragments of a message never finished held about 6 MB per connection
// for 455 KB sent. Messages are now reassembled in one buffer and have at most 64 frames:
// the 65th closes the connection with 1008.
test('one-byte fragments: at most 64 per message, then closed with 1008', async () => {
  const pid = server.proc.pid;
  const before = rssBytes(pid);
  const N = 20;
  const frags = Buffer.concat([frame(OP.TEXT, 'x', false),
    ...Array(65000).fill(frame(OP.CONT, 'x', false))]);
  const socks = [];
  for (let i = 0; i < N; i++) {
    const s = await rawConnect(server.url);
    assert.equal(await rawUpgrade(s, server.url), 101);
    s.write(frags);
    socks.push(s);
  }
  for (const s of socks) {
    assert.ok(await closedWithin(s, 5000), 'the server kept a connection with 65001 fragments');
    const close = s.received.indexOf(Buffer.from([0x88, 0x02]));
    assert.ok(close >= 0, 'a close frame was sent');
    assert.equal(s.received.readUInt16BE(close + 2), 1008);
  }
  const grew = rssBytes(pid) - before;
  assert.ok(grew < 16 * MB, `resident memory grew by ${(grew / MB).toFixed(1)} MB for ${N} connections`);
  await stillServes();
});

test('a message in a few fragments is still a message', async () => {
  const s = await rawConnect(server.url);
  assert.equal(await rawUpgrade(s, server.url), 101);
  s.write(Buffer.concat([frame(OP.TEXT, '{"type":', false), frame(OP.PING, ''),
    frame(OP.CONT, '"hel', false), frame(OP.CONT, 'lo"}', true)]));
  const deadline = Date.now() + 3000;
  while (!s.received.includes('"welcome"') && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(s.received.includes('"welcome"'), 'the reassembled hello was answered');
  s.destroy();
});

async function upgradeStatus(url, headers) {
  const s = await rawConnect(url);
  const code = await rawUpgrade(s, url, headers);
  s.destroy();
  return code;
}

// Finding 10: the handshake never looked at Origin, so any web site could make its
// visitors' browsers use this server. Now only the page's own origin may, or the
// ws_origins list; clients that send no Origin (not browsers) still may.
test('a WebSocket from another site\'s page is refused with 403', async () => {
  const own = new URL(server.url).origin;
  assert.equal(await upgradeStatus(server.url, { Origin: 'https://evil.example' }), 403);
  assert.equal(await upgradeStatus(server.url, { Origin: 'null' }), 403);
  assert.equal(await upgradeStatus(server.url, { Origin: own }), 101);
  assert.equal(await upgradeStatus(server.url, {}), 101);
  const other = await startServer(['--ws-origins=https://chat.example']);
  try {
    assert.equal(await upgradeStatus(other.url, { Origin: 'https://chat.example' }), 101);
    assert.equal(await upgradeStatus(other.url, { Origin: new URL(other.url).origin }), 403);
    assert.equal(await upgradeStatus(other.url, { Origin: 'https://evil.example' }), 403);
  } finally {
    await other.stop();
  }
});
