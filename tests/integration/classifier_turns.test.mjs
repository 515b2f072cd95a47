// classifier_turns.test.mjs -- the classifier's turns with simulated browsers (tandem-bench):
// every visitor is posted at every turn, each time a picture made since its previous turn (a
// picture already judged is never taken again in its place:
// tandem_classifier_skipped_total{reason="unchanged"} stays near zero), and the pictures are
// scaled to classifier_max_side. It asserts behaviour, not speed.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer } = await import('../lib/server.mjs');
const { benchBin, runBench } = await import('../lib/bench.mjs');

const INTERVAL_MS = 1000;

// A JPEG's size from its first start-of-frame marker (SOF0..SOF2), or null.
function jpegSize(b) {
  let i = 2;
  while (i + 9 < b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    const len = b.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc2) return { w: b.readUInt16BE(i + 7), h: b.readUInt16BE(i + 5) };
    i += 2 + len;
  }
  return null;
}

// Every post the fake classifier got: { peer, t (ms), size }; each answered "none".
async function fakeClassifier() {
  const fc = { posts: [] };
  fc.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      fc.posts.push({ peer: req.headers['x-tandem-peer'], t: Date.now(), size: jpegSize(Buffer.concat(chunks)) });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"action":"none"}');
    });
  });
  await new Promise((r) => fc.server.listen(0, '127.0.0.1', r));
  fc.port = fc.server.address().port;
  fc.close = () => new Promise((r) => { fc.server.closeAllConnections(); fc.server.close(r); });
  return fc;
}


async function metricsText(url) { return (await fetch(`${url}/metrics`)).text(); }
function metric(text, name) {
  const esc = name.replace(/[{}"]/g, (c) => `\\${c}`);
  const m = new RegExp(`^${esc} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

let server = null;
let fc = null;
after(async () => {
  if (server) await server.stop();
  if (fc) await fc.close();
});

test('each visitor is posted at every turn, a picture made since its previous turn', {
  timeout: 180000,
}, async () => {
  assert.ok(fs.existsSync(benchBin), `${benchBin} is missing: build the tandem-bench target`);
  fc = await fakeClassifier();
  server = await startServer([`--classifier-url=http://127.0.0.1:${fc.port}/`,
    `--classifier-interval-ms=${INTERVAL_MS}`, '--classifier-max-side=160',
    '--max-visitors-per-ip=0', '--max-conns-per-ip=0', '--offers-per-min-per-ip=0']);
  const r = await runBench([`--url=${server.url}`, '--peers=6', '--duration=12', '--mix=stay=100',
    '--ready-timeout=60', '--json'], 150000);
  assert.equal(r.code, 0, `tandem-bench exited ${r.code}\n${r.err}`);
  const text = await metricsText(server.url);

  // The bench's pictures are 320x240: posted at 160x120.
  assert.ok(fc.posts.length > 0, 'nothing was posted');
  for (const p of fc.posts) assert.deepEqual(p.size, { w: 160, h: 120 }, JSON.stringify(p));

  // A turn takes a picture made since the visitor's previous turn, so the previous turn's
  // picture, judged already, is not what it finds: hardly any turn is skipped as unchanged
  // (one may be, for a visitor whose place in the round moved up when another left).
  const unchanged = metric(text, 'tandem_classifier_skipped_total{reason="unchanged"}');
  const busy = metric(text, 'tandem_classifier_skipped_total{reason="busy"}');
  const turns = metric(text, 'tandem_classifier_turns_total');
  const ok = metric(text, 'tandem_classifier_ok_total');
  assert.ok(unchanged >= 0 && busy >= 0, `no skip counts:\n${text}`);
  assert.ok(turns >= 30 && ok >= 30, `${turns} turns, ${ok} verdicts:\n${text}`);
  assert.ok(unchanged * 10 <= turns, `${unchanged} turns skipped as unchanged of ${turns}:\n${text}`);

  // Every visitor is judged at every turn: one post an interval, never a long gap (a turn
  // skipped while a slow capture is out adds one; one more interval of slack for a loaded
  // machine).
  const byPeer = new Map();
  for (const p of fc.posts) {
    if (!byPeer.has(p.peer)) byPeer.set(p.peer, []);
    byPeer.get(p.peer).push(p.t);
  }
  assert.ok(byPeer.size >= 6, `posts for ${byPeer.size} visitors: ${[...byPeer.keys()]}`);
  for (const [peer, times] of byPeer) {
    assert.ok(times.length >= 5, `visitor ${peer} posted ${times.length} times`);
    const mean = (times[times.length - 1] - times[0]) / (times.length - 1);
    assert.ok(mean <= 1.4 * INTERVAL_MS, `visitor ${peer}: ${mean.toFixed(0)} ms between posts on average (${times})`);
    for (let i = 1; i < times.length; i++) {
      const gap = times[i] - times[i - 1];
      assert.ok(gap <= 3 * INTERVAL_MS, `visitor ${peer}: ${gap} ms between posts (${times})`);
    }
  }
});
