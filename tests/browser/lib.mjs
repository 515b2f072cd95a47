// lib.mjs -- shared helpers for the browser tests: the real server, real Chromium, fake cameras.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { startServer } from '../lib/server.mjs';
export { startServer, waitFor, tandemBin, root } from '../lib/server.mjs';


// A network namespace `ns` joined to this one by a veth pair (`host` here, `peer` there), with
// IPv4 addresses only, and settled before anything starts in it: Chromium aborts whatever it
// is loading with net::ERR_NETWORK_CHANGED when an address or link changes under it, and a new
// link's IPv6 address comes (and finishes duplicate detection) a second or two after the link
// is up. So IPv6 is off on both ends before they go up, and this returns once both links are up.
// The caller removes the namespace and the host end (`ip netns del`, `ip link del`).
export async function vethNamespace({ ns, host, peer, hostIps, nsIps }) {
  const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const inNs = (cmd, args) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);
  const noIpv6 = (run, dev) => {
    try { run('sh', ['-c', `echo 1 > /proc/sys/net/ipv6/conf/${dev}/disable_ipv6`]); } catch { /* no IPv6 here at all */ }
  };
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  sh('ip', ['link', 'set', peer, 'netns', ns]);
  noIpv6(sh, host);
  noIpv6(inNs, peer);
  for (const ip of hostIps) sh('ip', ['addr', 'add', `${ip}/24`, 'dev', host]);
  for (const ip of nsIps) inNs('ip', ['addr', 'add', `${ip}/24`, 'dev', peer]);
  inNs('ip', ['link', 'set', 'lo', 'up']);
  inNs('ip', ['link', 'set', peer, 'up']);
  sh('ip', ['link', 'set', host, 'up']);
  const up = () => / state UP /.test(String(sh('ip', ['-o', 'link', 'show', 'dev', host])))
    && / state UP /.test(String(inNs('ip', ['-o', 'link', 'show', 'dev', peer])));
  for (let i = 0; !up(); i++) {
    if (i >= 100) throw new Error(`the veth pair ${host}/${peer} did not come up in 5 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

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
    return v && v.videoWidth ? window.__meanColour(v) : null;
  };
  setInterval(() => {
    const t = window.tandem;
    if (!t || !t.showing || t.state !== 'paired') return;
    const rgb = window.__sampleRemote();
    if (rgb) window.__samples.push({ gen: t.pairGen, rgb, at: Date.now() });
  }, 50);
};

// In a page: window.__meanColour(el), the mean [r, g, b] of a video or image element as drawn
// into a 16x12 canvas. The pages of openPerson and launchPerson have it; another page (the
// console) gets it from page.addInitScript(meanColour) before it loads.
export function meanColour() {
  window.__meanColour = (el) => {
    const c = document.createElement('canvas');
    c.width = 16; c.height = 12;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(el, 0, 0, 16, 12);
    const d = g.getImageData(0, 0, 16, 12).data;
    let r = 0, gg = 0, b = 0;
    for (let i = 0; i < d.length; i += 4) { r += d[i]; gg += d[i + 1]; b += d[i + 2]; }
    const n = d.length / 4;
    return [r / n, gg / n, b / n];
  };
}

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
  await page.addInitScript(meanColour);
  await page.addInitScript(initScript);
  await page.addInitScript(acceptTerms);
  try {
    await page.goto(url);
  } catch (e) {
    // Nobody else holds this browser yet: left open, it would keep the test process alive.
    await browser.close().catch(() => {});
    fs.rmSync(userDir, { recursive: true, force: true });
    throw e;
  }
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


// ---- helpers for the page tests (page_*.test.mjs) ----
import { waitFor as waitUntil, root as repoRoot } from '../lib/server.mjs';

// An init script: this browser has accepted the terms/18+ notice before (as a returning
// visitor has), so Start starts at once.
export function acceptTerms() {
  try { localStorage.setItem('tandem.terms', 'accepted by the test harness'); } catch { /* no storage */ }
}

// Where the page tests leave their screenshots.
export const pageOut = process.env.TANDEM_PAGE_OUT || path.join(repoRoot, 'build', 'test-out', 'page');

// Like launchPerson, with options: colour, camera size [w, h], viewport {width, height},
// mobile (a phone: touch, isMobile), terms (false: the notice was never accepted), flags.
// Returns the same object as launchPerson plus the context.
export async function openPerson(url, name, dir, opts = {}) {
  const { colour = 'red', size = [160, 120], viewport = { width: 1280, height: 720 },
    mobile = false, terms = true, flags = [], fakeUi = true } = opts;
  const y4m = makeY4m(dir, name, COLOURS[colour], size[0], size[1]);
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-chrome-${name}-`));
  const browser = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true, viewport, isMobile: mobile, hasTouch: mobile,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(fakeUi ? ['--use-fake-ui-for-media-stream'] : []), '--use-fake-device-for-media-stream=fps=30',
      `--use-file-for-fake-video-capture=${y4m}`, '--autoplay-policy=no-user-gesture-required',
      ...flags],
  });
  const page = browser.pages()[0] || await browser.newPage();
  const logs = [];
  const bad = [];
  page.on('console', (m) => logs.push(`[${name}] ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`[${name}] pageerror ${e.message}`));
  page.on('response', (r) => { if (r.status() >= 400) bad.push(`${r.status()} ${r.url()}`); });
  await page.addInitScript(meanColour);
  await page.addInitScript(initScript);
  await page.addInitScript(recordSent);
  if (terms) await page.addInitScript(acceptTerms);
  await page.goto(url);
  return {
    name, colour, browser, page, logs, bad,
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
    messages: () => page.$$eval('#messages li', (els) => els.map((e) => e.textContent)),
    // Inbound media as the page's RTCPeerConnection decodes it.
    inbound: () => page.evaluate(async () => {
      const r = await window.tandem.pc.getStats();
      const o = { frames: 0, energy: 0, level: 0, audioPackets: 0, videoPackets: 0 };
      r.forEach((s) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'video') { o.frames = s.framesDecoded || 0; o.videoPackets = s.packetsReceived || 0; }
        if (s.kind === 'audio') {
          o.energy = s.totalAudioEnergy || 0; o.level = s.audioLevel || 0; o.audioPackets = s.packetsReceived || 0;
        }
      });
      return o;
    }),
    // The messages the page sent on its WebSockets (offers without their SDP).
    sent: () => page.evaluate(() => window.__sent),
    async shot(file) {
      fs.mkdirSync(pageOut, { recursive: true });
      await page.screenshot({ path: path.join(pageOut, file) });
    },
  };
}

// Two people ready and paired, each seeing the other's colour. `people` from openPerson.
export async function pairUp(a, b) {
  for (const p of [a, b]) {
    await waitUntil(`${p.name} ready`, stateIs(p, 'ready'), 60000);
    await p.page.click('#start');
  }
  await waitUntil(`${a.name} sees ${b.colour}`, () => seesColour(a, b.colour), 60000);
  await waitUntil(`${b.name} sees ${a.colour}`, () => seesColour(b, a.colour), 60000);
}

// An init script: window.__sent lists every message the page sends on a WebSocket.
export function recordSent() {
  window.__sent = [];
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const m = JSON.parse(data);
      window.__sent.push(m.type === 'offer' ? { type: 'offer' } : m);
    } catch { /* not JSON */ }
    return send.call(this, data);
  };
}

// Text on the page whose contrast is below WCAG AA (4.5:1, 3:1 for large text), placeholders
// and the empty-chat hint included. Disabled controls are exempt (WCAG 1.4.3). [] when none.
export const contrastProblems = (page) => page.evaluate(() => {
  const parse = (c) => {
    const m = /rgba?\(([^)]+)\)/.exec(c || '');
    if (!m) return null;
    const v = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
    return { r: v[0], g: v[1], b: v[2], a: v.length > 3 ? v[3] : 1 };
  };
  const over = (fg, bg) => ({ r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a),
    b: fg.b * fg.a + bg.b * (1 - fg.a), a: 1 });
  const lum = ({ r, g, b }) => {
    const f = (x) => { x /= 255; return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
  const bgOf = (el) => {
    const chain = [];
    for (let e = el; e; e = e.parentElement) chain.push(e);
    let bg = { r: 255, g: 255, b: 255, a: 1 };
    for (const e of chain.reverse()) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) bg = over(c, bg);
    }
    return bg;
  };
  const out = [];
  const check = (el, colour, what, cs) => {
    const fg = parse(colour);
    const bg = bgOf(el);
    const r = ratio(over(fg, bg), bg);
    const px = parseFloat(cs.fontSize), bold = Number(cs.fontWeight) >= 700;
    const need = px >= 24 || (bold && px >= 18.66) ? 3 : 4.5;
    if (r < need) out.push({ what, ratio: Math.round(r * 100) / 100, need, fg: colour, bg: `rgb(${Math.round(bg.r)},${Math.round(bg.g)},${Math.round(bg.b)})` });
  };
  for (const el of document.querySelectorAll('body *')) {
    if (!el.getClientRects().length || el.closest('.sr-only, [hidden], button:disabled, select:disabled, input:disabled')) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility !== 'visible' || Number(cs.opacity) === 0) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim();
    if (text) check(el, cs.color, `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''} "${text.slice(0, 40)}"`, cs);
    if ((el.tagName === 'INPUT' || el.tagName === 'TEXTAREA') && el.placeholder && !el.value) {
      check(el, getComputedStyle(el, '::placeholder').color, `placeholder of #${el.id} "${el.placeholder}"`, cs);
    }
    const before = getComputedStyle(el, '::before');
    if (before.content && before.content !== 'none' && before.content !== 'normal' && before.content.length > 2) {
      check(el, before.color, `::before of ${el.tagName.toLowerCase()}#${el.id}`, cs);
    }
  }
  return out;
});

// Controls (buttons, inputs, selects) on screen without an accessible name. [] when none.
export const unlabelled = (page) => page.evaluate(() => [...document.querySelectorAll('button, input, select, textarea')]
  .filter((el) => el.getClientRects().length && !el.closest('[hidden]'))
  .filter((el) => {
    const by = el.getAttribute('aria-labelledby');
    return !(el.getAttribute('aria-label') || (by && document.getElementById(by)?.textContent.trim())
      || (el.labels && [...el.labels].some((l) => l.textContent.trim()))
      || (el.tagName === 'BUTTON' && el.textContent.trim()) || el.title);
  }).map((el) => el.outerHTML.slice(0, 80)));

// Where the video in `selector` really shows its picture: a screenshot of the element's area,
// read back on a canvas in the page, and the box of the pixels of the partner's colour `rgb`
// (overlays such as the self-view and buttons are other colours; letterbox bars are black).
// { box: {w, h} (the element, CSS px), content: {x, y, w, h} (inside it), video: {w, h}, fit }.
export async function visiblePicture(page, selector, rgb) {
  const el = page.locator(selector);
  const png = await el.screenshot({ scale: 'css' });
  return page.evaluate(async ({ b64, sel, rgb }) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    let x0 = c.width, y0 = c.height, x1 = -1, y1 = -1;
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const i = (y * c.width + x) * 4;
        if (Math.abs(d[i] - rgb[0]) + Math.abs(d[i + 1] - rgb[1]) + Math.abs(d[i + 2] - rgb[2]) < 90) {
          if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
        }
      }
    }
    const v = document.querySelector(sel);
    return { box: { w: c.width, h: c.height }, content: { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 },
      video: { w: v.videoWidth, h: v.videoHeight }, fit: getComputedStyle(v).objectFit };
  }, { b64: png.toString('base64'), sel: selector, rgb });
}

// Every JSON frame p's page sends and gets on its WebSockets, as playwright sees them, and
// every WebSocket it opens: { sent, got, sockets }. Only those opened after this call.
export function watchFrames(p) {
  const frames = { sent: [], got: [], sockets: 0 };
  p.page.on('websocket', (ws) => {
    frames.sockets++;
    ws.on('framesent', (f) => { try { frames.sent.push(JSON.parse(f.payload)); } catch { /* not JSON */ } });
    ws.on('framereceived', (f) => { try { frames.got.push(JSON.parse(f.payload)); } catch { /* not JSON */ } });
  });
  return frames;
}

// The device id (32 hex digits, as the admin API shows it) inside a device token: the token is
// base64url of version (1 byte) | device id (16) | issue time (8) | HMAC (32).
export const deviceHex = (token) => Buffer.from(token, 'base64url').subarray(1, 17).toString('hex');

// The admin API of a server started with --admin-token=token: JSON, or a Buffer with raw.
export function adminApi(server, token) {
  return async (method, route, body, raw = false) => {
    const r = await fetch(`${server.url}${route}`, {
      method, headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const data = raw ? Buffer.from(await r.arrayBuffer()) : await r.json().catch(() => null);
    return { status: r.status, type: r.headers.get('content-type'), data };
  };
}

// In the console page (/admin, loaded after page.addInitScript(meanColour)): each tile of the
// live grid, its peer id and node, its text (the placeholder's when it shows no picture) and the
// mean colour of its snapshot (null while it shows none), read back through a canvas.
export const tileColours = (page) => page.evaluate(() => [...document.querySelectorAll('#grid .tile')].map((t) => {
  const img = t.querySelector('img.snap');
  const ph = t.querySelector('.placeholder');
  const o = { peer: Number(t.dataset.peer), node: Number(t.dataset.node), text: t.textContent };
  if (!img || img.hidden || !img.complete || !img.naturalWidth) return { ...o, text: ph ? ph.textContent : o.text, rgb: null };
  return { ...o, rgb: window.__meanColour(img) };
}));
