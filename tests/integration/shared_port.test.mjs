// shared_port.test.mjs -- ICE-TCP on the HTTPS port (media_on_https_port) against the real
// server: an answer offers the port as a third candidate; a framed ICE check with a session's
// credentials is answered there; garbage, silence and unknown sessions are closed and counted;
// HTTPS, WSS and the plain-HTTP 400 carry on; with the key off, none of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startServer, getInsecure, root } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';
import { bindingRequest, responseType } from '../lib/stun.mjs';

const chromeOffer = fs.readFileSync(path.join(root, 'tests/data/sdp/chromium-156-offer.sdp'), 'utf8');
const offerUfrag = /a=ice-ufrag:(\S+)/.exec(chromeOffer)[1];

function makeCert(dir) {
  const cert = path.join(dir, 'c.crt');
  const key = path.join(dir, 'c.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '2', '-subj', '/CN=shared', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

// GET over HTTPS with any certificate accepted: the body.
function getText(url) {
  return new Promise((resolve, reject) => {
    https.get(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function metrics(url) {
  const out = {};
  for (const line of (await getText(`${url}/metrics`)).split('\n')) {
    const m = /^(tandem_\w+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// Connects to port, writes each chunk (a pause between), and collects what comes back until the
// server closes or waitMs passes: { data, closed, ms } (ms from connect to close).
function exchange(port, chunks, waitMs = 3000) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const t0 = Date.now();
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ data, closed, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    s.on('data', (d) => { data = Buffer.concat([data, d]); });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
    s.on('error', (e) => (e.code === 'ECONNRESET' ? finish(true) : reject(e)));
    s.on('connect', async () => {
      for (const c of chunks) {
        if (s.destroyed) return;
        s.write(c);
        await new Promise((r) => setTimeout(r, 30));
      }
    });
  });
}

const framed = (b) => Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);

// A plain-HTTP GET: its status.
function plainStatus(port) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz' }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on('error', reject);
  });
}

test('the HTTPS port takes ICE-TCP for live sessions and closes everything else', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-shared-'));
  const { cert, key } = makeCert(dir);
  const server = await startServer([`--tls-cert=${cert}`, `--tls-key=${key}`]);
  const clients = [];
  t.after(async () => {
    for (const c of clients) c.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const port = Number(new URL(server.url).port);
  assert.match(server.log(), /media_on_https_port=true/);
  const m0 = await metrics(server.url);

  // Garbage of several kinds: closed at once, never answered.
  const garbage = [crypto.randomBytes(300), Buffer.alloc(16), Buffer.from('SSH-2.0-OpenSSH_9.2\r\n'),
    Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]), Buffer.from([0x08, 0x01, 0, 1, 0, 0])];
  for (const g of garbage) {
    const r = await exchange(port, [g]);
    assert.ok(r.closed, `garbage ${g.subarray(0, 8).toString('hex')} must be closed`);
    assert.equal(r.data.length, 0);
  }
  // Silence: closed after the first-bytes timeout (5 s).
  const quiet = await exchange(port, [], 9000);
  assert.ok(quiet.closed && quiet.ms >= 4500 && quiet.ms < 8000, `silence closed after ${quiet.ms} ms`);

  // A session over WSS, and its answer's candidates: UDP > TCP on the media port > TCP here.
  const c = new SignalClient(server.url, { rejectUnauthorized: false });
  clients.push(c);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome');
  c.send({ type: 'offer', sdp: chromeOffer });
  const { sdp } = await c.type('answer');
  const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)[1];
  const pwd = /a=ice-pwd:(\S+)/.exec(sdp)[1];
  const cands = [...sdp.matchAll(/a=candidate:(\d) 1 (udp|tcp) (\d+) \S+ (\d+) typ host/g)]
    .slice(0, 3).map((m) => ({ id: m[1], proto: m[2], prio: Number(m[3]), port: Number(m[4]) }));
  assert.deepEqual(cands.map((x) => x.proto), ['udp', 'tcp', 'tcp']);
  assert.equal(cands[2].port, port, 'the third candidate is the HTTPS port');
  assert.ok(cands[0].prio > cands[1].prio && cands[1].prio > cands[2].prio);
  assert.match(sdp, new RegExp(`a=candidate:3 1 tcp \\d+ \\S+ ${port} typ host tcptype passive`));

  // A check for a session nobody has: closed, unanswered.
  let req = bindingRequest({ username: `nobody12:${offerUfrag}`, pwd });
  let r = await exchange(port, [framed(req.packet)]);
  assert.ok(r.closed);
  assert.equal(r.data.length, 0);

  // The session's own check, its first frame split in two: answered on this connection with a
  // framed Binding success, by the session's media worker.
  req = bindingRequest({ username: `${ufrag}:${offerUfrag}`, pwd });
  const f = framed(req.packet);
  r = await exchange(port, [f.subarray(0, 7), f.subarray(7)], 2000);
  assert.ok(r.data.length >= 22, `a framed answer (got ${r.data.length} bytes)`);
  const len = r.data.readUInt16BE(0);
  assert.equal(r.data.length, 2 + len);
  assert.equal(responseType(r.data.subarray(2), req.txid), 0x0101);

  // The right ufrag with a wrong password: handed to the worker, which answers nothing.
  req = bindingRequest({ username: `${ufrag}:${offerUfrag}`, pwd: 'x'.repeat(24) });
  r = await exchange(port, [framed(req.packet)], 1000);
  assert.equal(r.data.length, 0);

  // Counted; HTTPS, the plain-HTTP 400 and signalling are unaffected.
  const m1 = await metrics(server.url);
  assert.equal(m1.tandem_https_media_total - m0.tandem_https_media_total, 2);
  assert.equal(m1.tandem_https_refused_total - m0.tandem_https_refused_total, garbage.length + 2);
  assert.equal(await getInsecure(`${server.url}/healthz`), 200);
  assert.equal(await plainStatus(port), 400);
  c.send({ type: 'ping' });
  await c.type('pong');
  assert.equal(server.proc.exitCode, null);
});

test('media_on_https_port=false: HTTPS only, no candidate, an ICE frame gets the plain 400', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-shared-'));
  const { cert, key } = makeCert(dir);
  const server = await startServer([`--tls-cert=${cert}`, `--tls-key=${key}`,
    '--media-on-https-port=false']);
  const c = new SignalClient(server.url, { rejectUnauthorized: false });
  t.after(async () => {
    c.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const port = Number(new URL(server.url).port);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome');
  c.send({ type: 'offer', sdp: chromeOffer });
  const { sdp } = await c.type('answer');
  assert.doesNotMatch(sdp, /a=candidate:3 /);
  const req = bindingRequest({ username: `${/a=ice-ufrag:(\S+)/.exec(sdp)[1]}:${offerUfrag}`,
    pwd: /a=ice-pwd:(\S+)/.exec(sdp)[1] });
  const r = await exchange(port, [framed(req.packet)]);
  assert.match(r.data.toString(), /^HTTP\/1\.1 400/);
  assert.equal(await getInsecure(`${server.url}/healthz`), 200);
});
