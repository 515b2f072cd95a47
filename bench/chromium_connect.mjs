#!/usr/bin/env node
// chromium_connect.mjs -- how long real Chromium takes from Start or Next to the new partner's
// face, and where the time goes. A benchmark (prints figures, asserts nothing).
//
//   node bench/chromium_connect.mjs [--pages 4] [--nexts 30] [--starts 10] [--json FILE]
//                                   [--browser-per-page]
//
// Starts a server (build/tandem or $TANDEM_BIN; JSON logs at debug level), opens --pages
// headless Chromium pages (Debian's /usr/bin/chromium or $CHROMIUM) on its page, each with a
// solid-colour camera, presses Start on each, then plays rounds. By default the pages are
// contexts of one Chromium (one browser, GPU, network and audio process for all), each camera a
// canvas of its colour with a tone for a microphone (getUserMedia answered by the page itself);
// --browser-per-page runs a Chromium per page with Chromium's fake camera reading a file, as the
// browser tests do, which costs this machine several times the CPU. In each round one pair
// splits first (one of them presses Next: the two are each other's last partner, so the server
// keeps them waiting: --match-recent-k=1), then one person of another pair acts, and the four
// re-pair crosswise at once:
//   - a "next" round: the actor presses Next (the measured Next);
//   - a "start" round: the actor presses Stop, then Start (the measured Start), into the pool
//     where someone waits.
// Every page records, with its own clock: the click, the `matched` and `partner_video`
// messages, every video frame the remote <video> presents (requestVideoFrameCallback, with its
// receiveTime and processingDuration, and its colour read back on a canvas, so the first frame
// of the new partner's colour is known) and the moment the page reveals the video. The server's
// log gives, for the same person, `match` (the pair made, a keyframe asked of the partner) and
// `first_frame` (the partner's first keyframe forwarded to this person). Stages:
//   click -> match at server -> `matched` at the page (signalling + match)
//   match -> first keyframe forwarded (keyframe request, the partner's encoder, its upload)
//   forwarded -> last packet of that frame at the page (receiveTime) -> decoded
//   (+ processingDuration) -> presented (rVFC callback) -> revealed (class "showing" set).
// The page runs on this machine, so the server's and the pages' wall clocks are the same clock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { makeY4m, acceptTerms } from '../tests/browser/lib.mjs';
import { startServer, waitFor } from '../tests/lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
// playwright-core lives with the tests (tests/node_modules; tools/tandem test installs it).
const { chromium } = createRequire(path.join(here, '..', 'tests', 'package.json'))('playwright-core');
const opts = { pages: 4, nexts: 30, starts: 10, json: null, settle: 400, browserPerPage: false };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  const v = () => process.argv[++i];
  if (a === '--pages') opts.pages = Number(v());
  else if (a === '--nexts') opts.nexts = Number(v());
  else if (a === '--starts') opts.starts = Number(v());
  else if (a === '--json') opts.json = v();
  else if (a === '--settle') opts.settle = Number(v());
  else if (a === '--browser-per-page') opts.browserPerPage = true;
  else if (a === '-h' || a === '--help') {
    console.log(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 30).join('\n'));
    process.exit(0);
  } else { console.error(`unknown option ${a}`); process.exit(2); }
}
if (opts.pages < 4 || opts.pages % 2) { console.error('--pages must be even and at least 4'); process.exit(2); }

const PALETTE = [[220, 30, 30], [30, 200, 40], [30, 60, 230], [230, 220, 30], [200, 40, 200],
  [30, 200, 210], [240, 140, 20], [120, 120, 120], [120, 60, 20], [20, 100, 60]];
if (opts.pages > PALETTE.length) { console.error(`at most ${PALETTE.length} pages`); process.exit(2); }

// In the page: message times, frames of the remote video (colour changes only), reveals.
function instrument(palette) {
  const now = () => performance.timeOrigin + performance.now();
  window.__ev = [];
  const Orig = window.WebSocket;
  window.WebSocket = function (...a) {
    const ws = new Orig(...a);
    ws.addEventListener('message', (e) => {
      try {
        const m = JSON.parse(e.data);
        if (['matched', 'partner_video', 'partner_left', 'state'].includes(m.type)) {
          window.__ev.push({ k: m.type, t: now(), state: m.state });
        }
      } catch { /* not JSON */ }
    });
    return ws;
  };
  window.WebSocket.prototype = Orig.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.__click = (id) => { window.__ev.push({ k: `click_${id}`, t: now() }); document.getElementById(id).click(); };
  const classify = (rgb) => {
    let best = -1, bd = Infinity;
    palette.forEach((c, i) => {
      const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
      if (d < bd) { bd = d; best = i; }
    });
    return Math.sqrt(bd) < 80 ? best : -1;
  };
  document.addEventListener('DOMContentLoaded', () => {
    const v = document.getElementById('remote');
    const box = document.getElementById('remote-box');
    const c = document.createElement('canvas');
    c.width = 8; c.height = 6;
    const g = c.getContext('2d', { willReadFrequently: true });
    let last = -2;
    const onFrame = (t, meta) => {
      const at = now();
      if (v.videoWidth) {
        g.drawImage(v, 0, 0, 8, 6);
        const d = g.getImageData(0, 0, 8, 6).data;
        let r = 0, gg = 0, b = 0;
        for (let i = 0; i < d.length; i += 4) { r += d[i]; gg += d[i + 1]; b += d[i + 2]; }
        const col = classify([r / 48, gg / 48, b / 48]);
        if (col !== last) {
          last = col;
          const o = performance.timeOrigin;
          window.__ev.push({
            k: 'frame', t: at, colour: col,
            receive: meta.receiveTime ? o + meta.receiveTime : null,
            processing: typeof meta.processingDuration === 'number' ? meta.processingDuration * 1000 : null,
            capture: meta.captureTime ? o + meta.captureTime : null,
            presented: meta.presentationTime ? o + meta.presentationTime : null,
            rtp: meta.rtpTimestamp,
          });
        }
      }
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
    let showing = false;
    new MutationObserver(() => {
      const s = box.classList.contains('showing');
      if (s !== showing) { showing = s; window.__ev.push({ k: s ? 'reveal' : 'hide', t: now() }); }
    }).observe(box, { attributes: true, attributeFilter: ['class'] });
  });
}

// In the page (one-browser mode): a camera and microphone of its own, a canvas of one colour
// redrawn at 30 fps and a 440 Hz tone, in place of the devices.
function fakeDevices(rgb) {
  let stream = null;
  const make = () => {
    const c = document.createElement('canvas');
    c.width = 160; c.height = 120;
    const g = c.getContext('2d');
    const draw = () => { g.fillStyle = `rgb(${rgb.join(',')})`; g.fillRect(0, 0, 160, 120); };
    draw();
    setInterval(draw, 33);
    const ac = new AudioContext();
    const osc = ac.createOscillator();
    const gain = ac.createGain();
    gain.gain.value = 0.1;
    const dst = ac.createMediaStreamDestination();
    osc.connect(gain).connect(dst);
    osc.start();
    return new MediaStream([...c.captureStream(30).getVideoTracks(), ...dst.stream.getAudioTracks()]);
  };
  navigator.mediaDevices.getUserMedia = async (want) => {
    if (!stream) stream = make();
    const tracks = [];
    if (want && want.video) tracks.push(...stream.getVideoTracks().map((t) => t.clone()));
    if (want && want.audio) tracks.push(...stream.getAudioTracks().map((t) => t.clone()));
    return new MediaStream(tracks);
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return null;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-cbench-'));
  const server = await startServer(['--log-format=json', '--match-next-limit=0', '--match-recent-k=1',
    '--match-rematch-lonely-ms=30000', '--max-visitors-per-ip=0', '--offers-per-min-per-ip=0']);
  const pages = [];
  let shared = null; // the one Chromium of all pages (unless --browser-per-page)
  const cleanup = async () => {
    for (const p of pages) await p.browser.close().catch(() => {});
    if (shared) await shared.close().catch(() => {});
    await server.stop().catch((e) => console.error(String(e)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('SIGINT', async () => { await cleanup(); process.exit(130); });
  try {
    // The server's log, parsed: events with their wall time.
    const events = () => server.log().split('\n').filter((l) => l.startsWith('{')).map((l) => {
      try { const e = JSON.parse(l); e.t = Date.parse(e.ts); return e; } catch { return null; }
    }).filter(Boolean);

    // One page at a time, so page i is the i-th visit (peer ids in the log).
    const chromeArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required',
      '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows'];
    shared = opts.browserPerPage ? null : await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: chromeArgs,
    });
    for (let i = 0; i < opts.pages; i++) {
      let browser;
      if (shared) {
        browser = await shared.newContext();
      } else {
        const y4m = makeY4m(dir, `p${i}`, PALETTE[i]);
        const userDir = fs.mkdtempSync(path.join(dir, `chrome-${i}-`));
        browser = await chromium.launchPersistentContext(userDir, {
          executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
          args: [...chromeArgs, '--use-fake-device-for-media-stream=fps=30',
            `--use-file-for-fake-video-capture=${y4m}`],
        });
      }
      const page = browser.pages()[0] || await browser.newPage();
      await page.addInitScript(instrument, PALETTE);
      await page.addInitScript(acceptTerms);
      if (shared) await page.addInitScript(fakeDevices, PALETTE[i]);
      const nVisits = events().filter((e) => e.event === 'visit_start').length;
      await page.goto(server.url);
      await waitFor(`page ${i} ready`, async () => ({ ok: await page.evaluate(() => window.tandem && window.tandem.state === 'ready') }), 60000);
      const visit = events().filter((e) => e.event === 'visit_start')[nVisits];
      pages.push({ i, browser, page, peer: visit.peer });
    }
    const st = (p) => p.page.evaluate(() => ({ state: window.tandem.state, showing: window.tandem.showing }));
    const evs = (p) => p.page.evaluate(() => window.__ev);
    const click = (p, id) => p.page.evaluate((x) => window.__click(x), id);
    // Waits until page p shows a partner other than `not` (a page index) and returns it.
    const newPartner = async (p, not) => {
      const r = await waitFor(`page ${p.i} shows a new partner`, async () => {
        const s = await st(p);
        if (s.state !== 'paired' || !s.showing) return { ok: false, ...s };
        const fr = (await evs(p)).filter((e) => e.k === 'frame').at(-1);
        return { ok: !!fr && fr.colour >= 0 && fr.colour !== not && fr.colour !== p.i, colour: fr && fr.colour };
      }, 20000, 50);
      return r.colour;
    };

    // What one measured action (click at page time t0 on page p, new partner q) cost, by stage.
    const measure = async (kind, p, t0, q) => {
      const e = (await evs(p)).filter((x) => x.t >= t0);
      const matched = e.find((x) => x.k === 'matched');
      const pv = e.find((x) => x.k === 'partner_video' && matched && x.t >= matched.t);
      const frame = e.find((x) => x.k === 'frame' && x.colour === q);
      const reveal = e.find((x) => x.k === 'reveal' && matched && x.t >= matched.t);
      const sv = events().filter((x) => x.t >= Math.floor(t0) - 1);
      const m = sv.find((x) => x.event === 'match' && (x.a === p.peer || x.b === p.peer));
      const ff = sv.find((x) => x.event === 'first_frame' && x.peer === p.peer && m && x.t >= m.t);
      const r = (a, b) => (a != null && b != null ? +(b - a).toFixed(1) : null);
      return {
        kind, page: p.i, partner: q,
        toMatchServer: r(t0, m && m.t),            // click -> the server pairs them
        toMatched: r(t0, matched && matched.t),     // click -> `matched` at the page
        matchToKeyframe: ff ? ff.ms : null,         // pair made -> partner's first keyframe forwarded (server)
        toForwarded: r(t0, ff && ff.t),
        toReceived: r(t0, frame && frame.receive),  // last packet of the first new frame at the page
        toDecoded: frame && frame.receive && frame.processing != null ? r(t0, frame.receive + frame.processing) : null,
        toPartnerVideo: r(t0, pv && pv.t),          // `partner_video` (the keyframe's ts) at the page
        toPresented: r(t0, frame && frame.presented), // rVFC metadata: when the compositor presented it
        toRendered: r(t0, frame && frame.t),        // rVFC callback: the new partner's colour on screen
        toRevealed: r(t0, reveal && reveal.t),      // the page shows it
      };
    };

    const results = [];
    // Start: page 2k waits, page 2k+1 starts into it (measured).
    for (let k = 0; k < opts.pages; k += 2) {
      const [a, b] = [pages[k], pages[k + 1]];
      await click(a, 'start');
      await waitFor(`page ${a.i} waiting`, async () => ({ ok: (await st(a)).state === 'waiting' }), 20000, 50);
      await sleep(opts.settle);
      const t0 = await b.page.evaluate(() => performance.timeOrigin + performance.now());
      await click(b, 'start');
      const q = await newPartner(b, -1);
      await newPartner(a, -1);
      results.push(await measure('start', b, t0, q));
    }
    // Who is paired with whom: each page's latest `match` in the server's log.
    const byPeer = new Map(pages.map((p) => [p.peer, p]));
    const partnerOf = new Map();
    const syncPairs = () => {
      for (const e of events()) {
        if (e.event !== 'match') continue;
        const a = byPeer.get(e.a), b = byPeer.get(e.b);
        if (a && b) { partnerOf.set(a.i, b.i); partnerOf.set(b.i, a.i); }
      }
    };
    syncPairs();
    const rounds = opts.nexts + opts.starts;
    for (let r = 0; r < rounds; r++) {
     try {
      // Starts spread through the run: round r is a start round when it crosses a multiple.
      const kind = Math.floor((r + 1) * opts.starts / rounds) > Math.floor(r * opts.starts / rounds) ? 'start' : 'next';
      // Pairs of the moment; one splits and waits, another's member acts.
      const seen = new Set();
      const pairs = [];
      for (const p of pages) {
        if (seen.has(p.i)) continue;
        const q = partnerOf.get(p.i);
        seen.add(p.i); seen.add(q);
        pairs.push([p.i, q]);
      }
      const split = pairs[r % pairs.length];
      const act = pairs[(r + 1) % pairs.length];
      const [s1, s2] = [pages[split[r % 2]], pages[split[1 - (r % 2)]]];
      const [a1, a2] = [pages[act[Math.floor(r / 2) % 2]], pages[act[1 - (Math.floor(r / 2) % 2)]]];
      await click(s1, 'next');
      for (const p of [s1, s2]) {
        await waitFor(`page ${p.i} waiting`, async () => ({ ok: (await st(p)).state === 'waiting' }), 20000, 50);
      }
      await sleep(opts.settle);
      const old = partnerOf.get(a1.i);
      let t0;
      if (kind === 'next') {
        t0 = await a1.page.evaluate(() => performance.timeOrigin + performance.now());
        await click(a1, 'next');
      } else {
        await click(a1, 'stop');
        await waitFor(`page ${a1.i} stopped`, async () => ({ ok: (await st(a1)).state === 'ready' }), 20000, 50);
        await sleep(opts.settle);
        t0 = await a1.page.evaluate(() => performance.timeOrigin + performance.now());
        await click(a1, 'start');
      }
      const q = await newPartner(a1, old);
      for (const p of [a2, s1, s2]) await newPartner(p, partnerOf.get(p.i));
      syncPairs();
      results.push(await measure(kind, a1, t0, q));
      const last = results.at(-1);
      // The receiver's jitter buffer as the round leaves it (the target delay it aims at).
      const jb = await a1.page.evaluate(async () => {
        const out = {};
        (await window.tandem.pc.getStats()).forEach((x) => {
          if (x.type === 'inbound-rtp') {
            out[x.kind] = Math.round(1000 * (x.jitterBufferTargetDelay || 0) / Math.max(1, x.jitterBufferEmittedCount || 0));
          }
        });
        return out;
      }).catch(() => ({}));
      process.stderr.write(`round ${r + 1}/${rounds} ${kind} page ${a1.i}: face in ${last.toRevealed} ms (jitter buffer target, mean so far: video ${jb.video} ms, audio ${jb.audio} ms)\n`);
      await sleep(opts.settle);
     } catch (e) {
      // A round that went wrong ends the run; what was measured so far is summed up.
      console.error(`round ${r + 1} failed, stopping: ${e.message}`);
      console.error(server.log().split('\n').slice(-15).join('\n'));
      break;
     }
    }

    // Stage table: p50/p95 of each cumulative time, and of the increments.
    const stages = [
      ['click -> match at server', 'toMatchServer'],
      ['click -> `matched` at page', 'toMatched'],
      ['click -> first keyframe forwarded', 'toForwarded'],
      ['click -> frame received (last packet)', 'toReceived'],
      ['click -> frame decoded', 'toDecoded'],
      ['click -> frame presented (rVFC metadata)', 'toPresented'],
      ['click -> frame rendered (rVFC callback)', 'toRendered'],
      ['click -> `partner_video` at page', 'toPartnerVideo'],
      ['click -> revealed (face)', 'toRevealed'],
      ['  match -> keyframe forwarded (server)', 'matchToKeyframe'],
    ];
    const summary = {};
    for (const kind of ['next', 'start']) {
      const rs = results.filter((x) => x.kind === kind);
      summary[kind] = { n: rs.length };
      console.log(`\n${kind === 'next' ? 'Next' : 'Start'} to face, ${rs.length} samples (${opts.pages} pages), ms:`);
      console.log(`  ${'stage'.padEnd(42)} ${'p50'.padStart(7)} ${'p95'.padStart(7)} ${'max'.padStart(7)}`);
      for (const [label, key] of stages) {
        const xs = rs.map((x) => x[key]);
        const o = { p50: pct(xs, 50), p95: pct(xs, 95), max: pct(xs, 100), missing: xs.filter((x) => x == null).length };
        summary[kind][key] = o;
        const f = (x) => (x == null ? '-' : x.toFixed(0)).padStart(7);
        console.log(`  ${label.padEnd(42)} ${f(o.p50)} ${f(o.p95)} ${f(o.max)}${o.missing ? `  (${o.missing} missing)` : ''}`);
      }
      // Increments between consecutive stages, per sample, then their medians.
      const inc = (a, b) => rs.map((x) => (x[a] != null && x[b] != null ? x[b] - x[a] : null));
      const parts = {
        signalling_and_match: rs.map((x) => x.toMatchServer),          // click -> paired at the server
        keyframe: rs.map((x) => x.matchToKeyframe),                    // paired -> partner's keyframe forwarded
        server_to_page: inc('toForwarded', 'toReceived'),              // forwarded -> last packet at the page
        decode: inc('toReceived', 'toDecoded'),
        decoded_to_presented: inc('toDecoded', 'toPresented'),
        presented_to_callback: inc('toPresented', 'toRendered'),
        rendered_to_revealed: inc('toRendered', 'toRevealed'),         // waits for `partner_video` too
        matched_message: inc('toMatchServer', 'toMatched'),            // paired -> `matched` handled by the page
      };
      summary[kind].parts = {};
      console.log(`  where it goes (p50 / p95 of each step, ms): ${Object.entries(parts).map(([k, xs]) => {
        const o = { p50: pct(xs, 50), p95: pct(xs, 95) };
        summary[kind].parts[k] = o;
        return `${k} ${o.p50 == null ? '-' : o.p50.toFixed(0)} / ${o.p95 == null ? '-' : o.p95.toFixed(0)}`;
      }).join(', ')}`);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const firstFrame = metrics.split('\n').filter((l) => l.startsWith('tandem_first_frame_seconds'));
    console.log(`\nserver histogram (pair made -> first keyframe forwarded, per receiver, all pairings):\n  ${firstFrame.join('\n  ')}`);
    console.log(`targets: Next-to-face p95 < 250 ms (measured ${summary.next.toRevealed.p95}), `
      + `Start-to-face p95 < 500 ms (measured ${summary.start.toRevealed.p95})`);
    if (opts.json) {
      fs.writeFileSync(opts.json, JSON.stringify({
        when: new Date().toISOString(), host: os.hostname(), cpus: os.cpus().length, opts,
        summary, samples: results, first_frame_histogram: firstFrame,
      }, null, 2));
      console.log(`wrote ${opts.json}`);
    }
  } finally {
    await cleanup();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
