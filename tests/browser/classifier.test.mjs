// classifier.test.mjs -- automated moderation end to end: the real server sends snapshots of
// three Chromium visitors with solid-colour cameras (red, green, blue) to a fake classifier in
// this test, which decodes each JPEG with ffmpeg and answers "kick" for red. Red is kicked;
// green and blue are untouched and keep seeing each other. Then the classifier hangs, then it is
// gone (a closed port): the pair keeps its video and the server keeps answering at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitFor, openPerson, stateIs, seesColour, nearestColour } from './lib.mjs';

// The average colour of a JPEG: ffmpeg scales it to one pixel (area average), raw RGB out.
function jpegColour(jpeg) {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-loglevel', 'error', '-f', 'image2pipe', '-c:v', 'mjpeg',
      '-i', 'pipe:0', '-vf', 'scale=1:1:flags=area', '-f', 'rawvideo', '-pix_fmt', 'rgb24',
      'pipe:1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    ff.stdout.on('data', (d) => out.push(d));
    ff.stderr.on('data', (d) => { err += d; });
    ff.on('error', reject);
    ff.on('close', (code) => {
      const b = Buffer.concat(out);
      if (code !== 0 || b.length < 3) reject(new Error(`ffmpeg: ${code} ${err}`));
      else resolve(nearestColour([b[0], b[1], b[2]]));
    });
    ff.stdin.on('error', () => {});
    ff.stdin.end(jpeg);
  });
}

// The fake classifier. mode: 'judge' (kick red, none otherwise) or 'hang' (read, never answer).
async function fakeClassifier() {
  const fc = { mode: 'judge', seen: [], hung: 0, bad: [], pending: new Set() };
  // One ffmpeg at a time, once per visitor (its camera does not change): on a loaded machine
  // a pile of ffmpeg processes would make every answer later than the server waits.
  const colourOf = new Map();
  let chain = Promise.resolve();
  const judge = (peer, jpeg) => {
    if (!colourOf.has(peer)) {
      chain = chain.then(() => jpegColour(jpeg)).catch((e) => `undecodable: ${e.message}`);
      colourOf.set(peer, chain);
    }
    return colourOf.get(peer);
  };
  fc.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'POST' || req.headers['content-type'] !== 'image/jpeg'
        || !/^\d+$/.test(req.headers['x-tandem-peer'] || '')
        || !/^[0-9a-f]{32}$/.test(req.headers['x-tandem-device'] || '')) {
        fc.bad.push(`${req.method} ${JSON.stringify(req.headers)}`);
        res.writeHead(400).end();
        return;
      }
      if (fc.mode === 'hang') {
        fc.hung++;
        fc.pending.add(res);
        return;
      }
      const colour = await judge(req.headers['x-tandem-peer'], body);
      fc.seen.push({ peer: req.headers['x-tandem-peer'], colour });
      const verdict = colour === 'red' ? { action: 'kick', reason: 'red camera' } : { action: 'none' };
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(verdict));
    });
  });
  await new Promise((r) => fc.server.listen(0, '127.0.0.1', r));
  fc.port = fc.server.address().port;
  fc.close = () => new Promise((r) => {
    for (const res of fc.pending) res.destroy();
    fc.server.closeAllConnections();
    fc.server.close(r);
  });
  return fc;
}

// In the page (an init script, and run once at once): window.__recv lists every message received
// on the page's WebSocket, and its closes, kept in sessionStorage across the reload a kicked
// page does when it comes back as a new visit. Each new WebSocket is listened to within 20 ms.
function recordReceived() {
  if (window.__recv) return;
  window.__recv = JSON.parse(sessionStorage.getItem('test.recv') || '[]');
  const keep = (m) => {
    window.__recv.push(m);
    sessionStorage.setItem('test.recv', JSON.stringify(window.__recv));
  };
  const seen = new WeakSet();
  setInterval(() => {
    const ws = window.tandem && window.tandem.ws;
    if (!ws || seen.has(ws)) return;
    seen.add(ws);
    ws.addEventListener('message', (e) => {
      try { keep(JSON.parse(e.data)); } catch { /* not JSON */ }
    });
    ws.addEventListener('close', (e) => keep({ type: '__close', code: e.code }));
  }, 20);
}

const errorsOf = (p) => p.page.evaluate(() => (window.__recv || [])
  .filter((m) => m.type === 'error' || m.type === '__close').map((m) => m.code));

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// Frames the page decoded so far must keep growing, and the colour stays the partner's.
async function keepsSeeing(p, colour, ms) {
  const before = (await p.inbound()).frames;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = await seesColour(p, colour);
    assert.ok(s.ok, `${p.name} should keep seeing ${colour}: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const after = (await p.inbound()).frames;
  assert.ok(after - before > ms / 1000 * 5, `${p.name} decoded ${after - before} frames in ${ms} ms`);
}

// /healthz answers fast while the classifier is slow or gone: the control loop never waits.
async function healthzWorst(url, ms) {
  let worst = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t0 = Date.now();
    const r = await fetch(`${url}/healthz`);
    assert.equal(r.status, 200);
    worst = Math.max(worst, Date.now() - t0);
    await new Promise((r2) => setTimeout(r2, 100));
  }
  return worst;
}

test('the classifier kicks red only; a hung or dead classifier stalls nothing', { timeout: 240000 }, async (t) => {
  const fc = await fakeClassifier();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-y4m-'));
  const people = [];
  let server = null;
  // Registered first: a server that fails to start must not leave the fake classifier open.
  t.after(async () => {
    for (const p of people) await p.close();
    if (server) await server.stop();
    await fc.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  server = await startServer([`--classifier-url=http://127.0.0.1:${fc.port}/classify`,
    '--classifier-interval-ms=1000', '--classifier-timeout-ms=3000']);
  const cast = [['red', 'red'], ['green', 'green'], ['blue', 'blue']];
  for (const [name, colour] of cast) {
    const p = await openPerson(server.url, name, dir, { colour });
    people.push(p);
    await p.page.addInitScript(recordReceived);
    await p.page.evaluate(recordReceived);
  }
  const [red, green, blue] = people;
  for (const p of [green, blue]) {
    await waitFor(`${p.name} ready`, stateIs(p, 'ready'), 60000);
    // Three Chromiums on a crowded machine: a page may take a while to take a click.
    await p.page.click('#start', { timeout: 90000 });
  }
  // Red may be kicked (and its page reloading) before it could press Start: best effort.
  await red.page.click('#start', { timeout: 5000 }).catch(() => {});

  // Red is kicked by the classifier's verdict; the classifier saw all three colours.
  await waitFor('red kicked', async () => {
    let codes;
    try { codes = await errorsOf(red); } catch (e) { codes = [`evaluate: ${e.message}`]; }
    return { ok: codes.includes('kicked'), codes, seen: fc.seen };
  }, 90000);
  await waitFor('green and blue classified', () => {
    const colours = new Set(fc.seen.map((s) => s.colour));
    return { ok: colours.has('green') && colours.has('blue'), seen: [...colours] };
  }, 30000);
  assert.deepEqual(fc.bad, []);
  assert.ok(!fc.seen.some((s) => s.colour.startsWith('undecodable')), JSON.stringify(fc.seen));
  assert.ok(await metric(server.url, 'tandem_classifier_kicks_total') >= 1);
  assert.match(server.log(), /classifier_verdict peer=\d+ action=kick reason="?red camera"?/);
  // Out of the way: red's page would otherwise come back as a new visit and wait in the pool.
  await red.close();
  people.splice(0, 1);

  // Green and blue meet (if they had not already) and keep seeing each other; never kicked.
  await waitFor('green sees blue', () => seesColour(green, 'blue'), 60000);
  await waitFor('blue sees green', () => seesColour(blue, 'green'), 60000);
  await keepsSeeing(green, 'blue', 3000);

  // The classifier hangs: every request times out (3 s, three tries), and nothing else waits.
  fc.mode = 'hang';
  const failedBefore = await metric(server.url, 'tandem_classifier_failed_total');
  const worstHung = await healthzWorst(server.url, 6000);
  await keepsSeeing(green, 'blue', 3000);
  await keepsSeeing(blue, 'green', 2000);
  assert.ok(fc.hung >= 2, `the hung classifier got ${fc.hung} requests`);
  await waitFor('timeouts counted', async () => ({
    ok: await metric(server.url, 'tandem_classifier_failed_total') > failedBefore,
  }), 30000);
  assert.ok(worstHung < 1000, `/healthz took ${worstHung} ms while the classifier hung`);

  // The classifier is gone: connections refused, retried with back-off, nothing else waits.
  await fc.close();
  const retriesBefore = await metric(server.url, 'tandem_classifier_retries_total');
  const worstDown = await healthzWorst(server.url, 4000);
  await keepsSeeing(green, 'blue', 3000);
  await keepsSeeing(blue, 'green', 2000);
  assert.ok(await metric(server.url, 'tandem_classifier_retries_total') > retriesBefore);
  assert.ok(worstDown < 1000, `/healthz took ${worstDown} ms while the classifier was down`);

  for (const p of [green, blue]) {
    const codes = await errorsOf(p);
    assert.ok(!codes.includes('kicked') && !codes.includes('banned'), `${p.name}: ${codes}`);
    assert.ok(!codes.includes(4004), `${p.name} closed: ${codes}`);
  }
  assert.match(server.log(), /classifier_down/);
});
