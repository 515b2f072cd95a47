// lib.mjs -- shared helpers for the browser tests: the real server, real Chromium, fake cameras.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../lib/server.mjs';
export { startServer, waitFor, tandemBin, root } from '../lib/server.mjs';


export const COLOURS = {
  red: [220, 30, 30],
  green: [30, 200, 40],
  blue: [30, 60, 230],
  yellow: [230, 220, 30],
};

// BT.601 full-range RGB -> YCbCr, the way Chromium's fake capture reads C420jpeg.
function yuv([r, g, b]) {
  const y = 0.299 * r + 0.587 * g + 0.114 * b;
  const u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b;
  const v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b;
  const c = (x) => Math.max(0, Math.min(255, Math.round(x)));
  return [c(y), c(u), c(v)];
}

// A solid-colour .y4m file for --use-file-for-fake-video-capture (the browser loops it).
export function makeY4m(dir, name, rgb, w = 160, h = 120, frames = 10) {
  const file = path.join(dir, `${name}.y4m`);
  const [y, u, v] = yuv(rgb);
  const header = Buffer.from(`YUV4MPEG2 W${w} H${h} F30:1 Ip A1:1 C420jpeg\n`);
  const frame = Buffer.concat([
    Buffer.from('FRAME\n'),
    Buffer.alloc(w * h, y), Buffer.alloc((w / 2) * (h / 2), u), Buffer.alloc((w / 2) * (h / 2), v),
  ]);
  fs.writeFileSync(file, Buffer.concat([header, ...Array(frames).fill(frame)]));
  return file;
}

// Counts RTCPeerConnections and offers the page makes: the client must make exactly one each.
const initScript = () => {
  window.__pcCount = 0;
  window.__offers = 0;
  const Orig = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) {
    window.__pcCount++;
    return new Orig(...a);
  };
  window.RTCPeerConnection.prototype = Orig.prototype;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try { if (JSON.parse(data).type === 'offer') window.__offers++; } catch { /* not JSON */ }
    return send.call(this, data);
  };
  // Samples the remote video every 50 ms while the page shows it: {gen, colour}.
  window.__samples = [];
  window.__sampleRemote = () => {
    const v = document.getElementById('remote');
    if (!v || !v.videoWidth) return null;
    const c = document.createElement('canvas');
    c.width = 16; c.height = 12;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0, 16, 12);
    const d = g.getImageData(0, 0, 16, 12).data;
    let r = 0, gg = 0, b = 0;
    for (let i = 0; i < d.length; i += 4) { r += d[i]; gg += d[i + 1]; b += d[i + 2]; }
    const n = d.length / 4;
    return [r / n, gg / n, b / n];
  };
  setInterval(() => {
    const t = window.tandem;
    if (!t || !t.showing || t.state !== 'paired') return;
    const rgb = window.__sampleRemote();
    if (rgb) window.__samples.push({ gen: t.pairGen, rgb, at: Date.now() });
  }, 50);
};

export function nearestColour(rgb) {
  let best = null, bestD = Infinity;
  for (const [name, c] of Object.entries(COLOURS)) {
    const d = (c[0] - rgb[0]) ** 2 + (c[1] - rgb[1]) ** 2 + (c[2] - rgb[2]) ** 2;
    if (d < bestD) { bestD = d; best = name; }
  }
  return Math.sqrt(bestD) < 90 ? best : `unknown(${rgb.map(Math.round).join(',')})`;
}

// The colour a page showed in each of its pairings, in order, from its samples ({gen, rgb,
// at}). Throws unless every pairing shows one colour, except that the next pairing's colour
// may follow it at its end: the server links the new pair and sends 'matched' at the same
// moment, and on a busy machine the page can render the new partner's first frame before its
// script has read the message. A previous partner's colour after a later one, a third colour,
// or an unknown one all fail.
export function pairingColours(name, samples) {
  const byGen = new Map();
  for (const s of [...samples].sort((x, y) => x.at - y.at)) {
    if (!byGen.has(s.gen)) byGen.set(s.gen, []);
    byGen.get(s.gen).push(nearestColour(s.rgb));
  }
  const gens = [...byGen.keys()].sort((x, y) => x - y);
  const first = gens.map((g) => byGen.get(g)[0]);
  gens.forEach((g, i) => {
    const runs = byGen.get(g).filter((c, j, a) => j === 0 || a[j - 1] !== c);
    const ok = runs.length === 1 || (runs.length === 2 && i + 1 < gens.length
      && gens[i + 1] === g + 1 && runs[1] === first[i + 1]);
    if (!ok) throw new Error(`${name} saw ${runs.join(' then ')} in pairing ${g}`);
  });
  return first;
}

export async function launchPerson(url, name, colour, dir, extraFlags = []) {
  const y4m = makeY4m(dir, name, COLOURS[colour]);
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-chrome-${name}-`));
  const browser = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=fps=30',
      `--use-file-for-fake-video-capture=${y4m}`, '--autoplay-policy=no-user-gesture-required',
      ...extraFlags],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`[${name}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[${name}] pageerror ${e.message}`));
  await page.addInitScript(initScript);
  await page.goto(url);
  return {
    name, colour, browser, page, logs,
    async close() {
      await browser.close().catch(() => {});
      fs.rmSync(userDir, { recursive: true, force: true });
    },
    state: () => page.evaluate(() => ({
      state: window.tandem && window.tandem.state,
      showing: !!(window.tandem && window.tandem.showing),
      gen: window.tandem ? window.tandem.pairGen : 0,
      status: document.getElementById('status').textContent,
      notice: document.getElementById('notice').textContent,
    })),
    async seen() {
      const rgb = await page.evaluate(() => window.__sampleRemote());
      return rgb ? nearestColour(rgb) : null;
    },
    samples: () => page.evaluate(() => window.__samples),
    messages: () => page.$$eval('#messages li', (els) => els.map((e) => e.textContent)),
    shared: () => page.textContent('#shared'),
    counts: () => page.evaluate(() => ({ pcs: window.__pcCount, offers: window.__offers })),
  };
}


// A fresh server (started with serverArgs) and one Chromium per [name, colour] of `cast`,
// launched together. Everything is closed and removed when test t ends. { server, people }.
export async function launchCall(t, serverArgs, cast) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-y4m-'));
  const server = await startServer(serverArgs);
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const launched = await Promise.allSettled(
    cast.map(([name, colour]) => launchPerson(server.url, name, colour, dir)));
  for (const r of launched) if (r.status === 'fulfilled') people.push(r.value);
  const failed = launched.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return { server, people };
}

// The page shows its partner's video and it is `colour`.
export async function seesColour(p, colour) {
  const s = await p.state();
  if (s.state !== 'paired' || !s.showing) return { ok: false, ...s };
  const seen = await p.seen();
  return { ok: seen === colour, seen, want: colour, ...s };
}

// A waitFor() condition: the page's state is `want`.
export const stateIs = (p, want) => async () => {
  const s = await p.state();
  return { ok: s.state === want, ...s };
};
