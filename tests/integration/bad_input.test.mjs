// bad_input.test.mjs -- hostile input on the WebSocket and the media port changes nothing else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, root } from '../lib/server.mjs';
import { SignalClient, metrics } from '../lib/signal.mjs';
import { bindingRequest, responseType } from '../lib/stun.mjs';

const chromeOffer = fs.readFileSync(path.join(root, 'tests/data/sdp/chromium-156-offer.sdp'), 'utf8');
let server;

before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

async function helloed() {
  const c = new SignalClient(server.url);
  await c.opened;
  c.send({ type: 'hello' });
  const w = await c.type('welcome');
  assert.match(w.resume, /^[0-9a-f]{32}$/);
  return c;
}

test('invalid JSON gets bad_json and the connection lives on', async () => {
  const c = await helloed();
  c.send('{"type": "start",');
  const e = await c.type('error');
  assert.equal(e.code, 'bad_json');
  assert.match(e.message, /invalid JSON/);
  c.send({ type: 'ping' });
  await c.type('pong');
  c.close();
});

test('an unknown message type gets unknown_type and the connection lives on', async () => {
  const c = await helloed();
  c.send({ type: 'teleport', where: 'moon' });
  const e = await c.type('error');
  assert.equal(e.code, 'unknown_type');
  assert.equal(e.ref, 'teleport');
  c.send({ type: 'ping' });
  await c.type('pong');
  c.close();
});

test('malformed messages get specific errors and nothing changes', async () => {
  const c = new SignalClient(server.url);
  await c.opened;
  c.send({ type: 'start' });
  assert.equal((await c.type('error')).code, 'bad_state');
  for (const bad of ['[1,2,3]', '"hello"', '{"type": 42}', '{}']) {
    c.send(bad);
    assert.equal((await c.type('error')).code, 'bad_message', bad);
  }
  c.send({ type: 'hello' });
  await c.type('welcome');
  c.send({ type: 'hello' });
  assert.equal((await c.type('error')).code, 'bad_state');
  c.send({ type: 'offer', sdp: 5 });
  assert.equal((await c.type('error')).code, 'bad_message');
  c.send({ type: 'start', interests: 'music' });
  assert.equal((await c.type('error')).code, 'bad_message');
  c.send({ type: 'start', interests: Array(11).fill('x') });
  assert.equal((await c.type('error')).code, 'bad_message');
  c.send({ type: 'ping' });
  await c.type('pong');
  c.close();
});

test('next before start, or after stop, gets bad_state; next while wanting is quiet', async () => {
  const c = await helloed();
  c.send({ type: 'next' });
  let e = await c.type('error');
  assert.equal(e.code, 'bad_state');
  assert.equal(e.ref, 'next');

  // Started but media not flowing yet: the peer wants a partner, so next is a no-op.
  c.send({ type: 'offer', sdp: chromeOffer });
  await c.type('answer');
  c.send({ type: 'start' });
  assert.equal((await c.type('state')).state, 'connecting');
  c.send({ type: 'next' });
  c.send({ type: 'ping' });
  assert.equal((await c.next()).type, 'pong', 'next while wanting is answered with nothing');

  c.send({ type: 'stop' });
  await c.type('state');
  c.send({ type: 'next' });
  e = await c.next((m) => m.type === 'error' && m.ref === 'next');
  assert.equal(e.code, 'bad_state');
  c.close();
});

test('an offer without what Tandem needs gets a clear bad_offer; a good one still works after', async () => {
  const c = await helloed();
  const cases = [
    [chromeOffer.replace(/a=fingerprint:[^\r\n]*\r?\n/g, ''), /fingerprint/],
    [chromeOffer.replace(/a=rtpmap:\d+ VP8\/90000\r?\n/g, ''), /VP8/],
    [chromeOffer.replace(/a=rtcp-mux\r?\n/g, ''), /rtcp-mux/],
    ['this is not SDP', /./],
  ];
  for (const [sdp, re] of cases) {
    c.send({ type: 'offer', sdp });
    const e = await c.type('error');
    assert.equal(e.code, 'bad_offer');
    assert.match(e.message, re);
  }
  c.send({ type: 'offer', sdp: chromeOffer });
  const a = await c.type('answer');
  assert.match(a.sdp, /a=ice-lite/);
  assert.match(a.sdp, /a=setup:passive/);
  c.send({ type: 'offer', sdp: chromeOffer });
  assert.equal((await c.type('error')).code, 'already_negotiated');
  c.close();
});

function udpExchange(port, packet, waitMs = 700) {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const got = [];
    s.on('message', (m) => got.push(m));
    s.bind(0, '127.0.0.1', () => {
      s.send(packet, port, '127.0.0.1');
      setTimeout(() => { s.close(); resolve(got); }, waitMs);
    });
  });
}

test('random bytes on the media port are dropped and counted; STUN with an unknown user or bad integrity is ignored', async () => {
  const c = await helloed();
  c.send({ type: 'offer', sdp: chromeOffer });
  const { sdp } = await c.type('answer');
  const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)[1];
  const pwd = /a=ice-pwd:(\S+)/.exec(sdp)[1];
  const port = Number(/a=candidate:\S+ 1 udp \d+ \S+ (\d+) typ host/.exec(sdp)[1]);
  const offerUfrag = /a=ice-ufrag:(\S+)/.exec(chromeOffer)[1];

  // Random datagrams: none is answered; each is counted as dropped or malformed.
  const m0 = await metrics(server.url);
  const N = 200;
  const sock = dgram.createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', r));
  const answers = [];
  sock.on('message', (m) => answers.push(m));
  for (let i = 0; i < N; i++) {
    const len = 1 + crypto.randomInt(1400);
    sock.send(crypto.randomBytes(len), port, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 800));
  sock.close();
  const m1 = await metrics(server.url);
  assert.equal(answers.length, 0, 'random bytes must never be answered');
  const counted = (k) => m1[k] - m0[k];
  assert.equal(counted('tandem_udp_rx_packets_total'), N);
  assert.equal(counted('tandem_udp_rx_dropped_total') + counted('tandem_stun_malformed_total') +
    counted('tandem_stun_rejected_total'), N, 'every random datagram is counted as dropped');

  // Unknown username: ignored (no response) and counted.
  let r = bindingRequest({ username: `nobody1:${offerUfrag}`, pwd });
  assert.equal((await udpExchange(port, r.packet)).length, 0);
  // Right username, wrong password: bad MESSAGE-INTEGRITY, ignored.
  r = bindingRequest({ username: `${ufrag}:${offerUfrag}`, pwd: 'x'.repeat(24) });
  assert.equal((await udpExchange(port, r.packet)).length, 0);
  const m2 = await metrics(server.url);
  assert.equal(m2.tandem_stun_rejected_total - m1.tandem_stun_rejected_total, 2);

  // The right credentials are answered with a Binding success response.
  r = bindingRequest({ username: `${ufrag}:${offerUfrag}`, pwd });
  const got = await udpExchange(port, r.packet);
  assert.equal(got.length, 1);
  assert.equal(responseType(got[0], r.txid), 0x0101);

  // The server and this connection are unaffected.
  c.send({ type: 'ping' });
  await c.type('pong');
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  c.close();
});
