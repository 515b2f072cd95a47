// console.test.mjs -- the moderation console at /admin against the real server: a wrong token
// is refused; the live grid shows each browser's own colour; one click on Ban cuts that browser
// off at once (told `banned`, its remote video stops, its partner moves on); a reload and a new
// device from the same address are refused; the audit log and the bans list show the ban; a
// report made over the signalling protocol shows in the Reports view with its picture and clip.
//
// Every browser here connects from 127.0.0.1, and a ban of a live peer bans its address too, so
// the server runs with trust_proxy and each browser names its own address in X-Forwarded-For
// (documentation addresses, 198.51.100.0/24): otherwise banning red would ban everyone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  startServer, openPerson, pairUp, waitFor, stateIs, seesColour, nearestColour, COLOURS,
  contrastProblems, unlabelled, pageOut, tileColours, meanColour,
} from './lib.mjs';

const TOKEN = 'console-test-token-3f9a';
const ADDR = { red: '198.51.100.10', green: '198.51.100.20', blue: '198.51.100.30' };

// A person (lib.mjs openPerson) whose WebSocket comes from `addr`, with every message its page
// receives recorded in p.frames ({at, ws, msg}; ws numbers the page's WebSockets) from its
// first page load on.
async function person(url, name, colour, dir, addr) {
  const p = await openPerson('about:blank', name, dir, { colour });
  await p.browser.setExtraHTTPHeaders({ 'X-Forwarded-For': addr });
  p.frames = [];
  let sockets = 0;
  p.page.on('websocket', (ws) => {
    const n = ++sockets;
    ws.on('framereceived', (f) => {
      try { p.frames.push({ at: Date.now(), ws: n, msg: JSON.parse(f.payload) }); } catch { /* not JSON */ }
    });
  });
  await p.page.goto(url);
  return p;
}

const framesOf = (p, pred, since = 0) => p.frames.filter((f) => f.at >= since && pred(f.msg));
const isBanned = (m) => m.type === 'error' && m.code === 'banned';


// Video packets received and frames decoded on the RTCPeerConnection the page has now (kept,
// so that a page that makes a new one later does not count): {packets, frames}, or 'closed'.
const watchDecoded = (p) => p.page.evaluate(() => { window.__watchedPc = window.tandem.pc; });
const decoded = (p) => p.page.evaluate(async () => {
  const pc = window.__watchedPc;
  if (!pc || pc.connectionState === 'closed' || pc.signalingState === 'closed') return 'closed';
  const o = { packets: 0, frames: 0 };
  try {
    (await pc.getStats()).forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') { o.packets = s.packetsReceived || 0; o.frames = s.framesDecoded || 0; }
    });
  } catch { return 'closed'; }
  return o;
});

test('the console: log in, a live grid of colours, one-click ban cuts off at once and sticks, audit, reports', async (t) => {
  const server = await startServer([`--admin-token=${TOKEN}`, '--trust-proxy=true']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-console-'));
  const people = [];
  let admin = null;
  t.after(async () => {
    for (const p of people) await p.close();
    if (admin) await admin.close().catch(() => {});
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const api = async (p) => {
    const r = await fetch(`${server.url}${p}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200, `${p}: ${r.status}`);
    return r.json();
  };
  try {
    const [red, green, blue] = await Promise.all([
      person(server.url, 'red', 'red', dir, ADDR.red),
      person(server.url, 'green', 'green', dir, ADDR.green),
      person(server.url, 'blue', 'blue', dir, ADDR.blue),
    ]);
    people.push(red, green, blue);
    await pairUp(red, green);
    await waitFor('blue ready', stateIs(blue, 'ready'), 60000);

    // The server sees each browser at its own address.
    const peers = (await api('/api/peers')).peers;
    const idOf = {};
    for (const [name, ip] of Object.entries(ADDR)) {
      const mine = peers.filter((x) => x.ip === ip);
      assert.equal(mine.length, 1, `${name} (${ip}) in ${JSON.stringify(peers)}`);
      idOf[name] = mine[0].id;
    }

    // The console, in a browser of its own.
    admin = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    });
    const ctx = await admin.newContext({ viewport: { width: 1366, height: 800 } });
    const con = await ctx.newPage();
    const conLogs = [];
    con.on('console', (m) => conLogs.push(`[console] ${m.text()}`));
    con.on('pageerror', (e) => conLogs.push(`[console] pageerror ${e.message}`));
    await con.addInitScript(meanColour);
    await con.goto(`${server.url}/admin`);
    t.after(() => { if (process.env.TANDEM_TEST_VERBOSE) console.log(conLogs.join('\n')); });

    // A wrong token: the login says so and nothing else shows.
    await con.fill('#token', 'not-the-token');
    await con.click('#login-submit');
    await waitFor('the login error', async () => {
      const text = await con.textContent('#login-error');
      return { ok: /not accepted/i.test(text), text };
    });
    assert.equal(await con.isVisible('#console'), false);
    assert.equal(await con.evaluate(() => sessionStorage.getItem('tandem.admin.token')), null);
    assert.deepEqual(await unlabelled(con), [], 'unlabelled controls on the login');
    assert.deepEqual(await contrastProblems(con), [], 'contrast on the login');

    // The right token (Enter submits), with a name for the audit log.
    await con.fill('#token', TOKEN);
    await con.fill('#actor', 'mod-test');
    await con.press('#token', 'Enter');
    await waitFor('the console shows', async () => ({ ok: await con.isVisible('#grid') }));
    assert.equal(await con.evaluate(() => sessionStorage.getItem('tandem.admin.token')), TOKEN);

    // The grid: each browser's tile shows its own colour.
    const want = { [idOf.red]: 'red', [idOf.green]: 'green', [idOf.blue]: 'blue' };
    const grid = await waitFor('the grid shows red, green and blue', async () => {
      const tiles = await tileColours(con);
      const seen = Object.fromEntries(tiles.map((x) => [x.peer, x.rgb ? nearestColour(x.rgb) : x.text]));
      const ok = Object.entries(want).every(([id, c]) => seen[id] === c) && tiles.length === 3;
      return { ok, seen, want };
    }, 45000, 500);
    t.diagnostic(`grid: ${JSON.stringify(grid.seen)}`);
    // The pictures keep coming: each tile is refreshed every few seconds.
    const shotAt = await con.getAttribute(`.tile[data-peer="${idOf.blue}"]`, 'data-shot-at');
    await waitFor('blue\'s snapshot refreshed', async () => {
      const now = await con.getAttribute(`.tile[data-peer="${idOf.blue}"]`, 'data-shot-at');
      return { ok: now !== shotAt, now, shotAt };
    }, 15000, 500);
    fs.mkdirSync(pageOut, { recursive: true });
    await con.screenshot({ path: path.join(pageOut, 'console-live.png') });
    assert.deepEqual(await unlabelled(con), [], 'unlabelled controls on the live view');
    assert.deepEqual(await contrastProblems(con), [], 'contrast on the live view');

    // Before the ban red's remote video plays (green's picture).
    assert.equal((await seesColour(red, 'green')).ok, true);
    await watchDecoded(red);
    const d0 = await decoded(red);
    await new Promise((r) => setTimeout(r, 500));
    const d1 = await decoded(red);
    assert.ok(d0 !== 'closed' && d1.frames > d0.frames, `red decodes green's video before the ban: ${JSON.stringify([d0, d1])}`);
    const redHello = ((await red.sent()) || []).find((m) => m.type === 'hello');

    // One click on Ban on red's tile (the one showing red): 201, red cut off, the tile gone.
    const banned = con.waitForResponse((r) => r.url().endsWith('/api/bans') && r.request().method() === 'POST');
    const clickedAt = Date.now();
    await con.click(`.tile[data-peer="${idOf.red}"] button.ban`);
    const res = await banned;
    const answeredAt = Date.now();
    assert.equal(res.status(), 201);
    const body = await res.json();
    assert.deepEqual(JSON.parse(res.request().postData()),
      { peer: idOf.red, duration_s: 86400, reason: 'Banned from the console' });
    assert.deepEqual(body.cut_off, [idOf.red], 'only red is cut off');
    assert.deepEqual(body.bans.map((b) => b.kind).sort(), ['device', 'ip']);
    assert.ok(body.bans.some((b) => b.kind === 'ip' && b.target === ADDR.red), JSON.stringify(body.bans));
    assert.ok(body.bans.every((b) => b.by === 'mod-test'), JSON.stringify(body.bans));
    await waitFor('red\'s tile gone', async () => ({ ok: (await con.$$(`.tile[data-peer="${idOf.red}"]`)).length === 0 }), 5000);
    assert.match(await con.textContent('#flash'), new RegExp(`Peer ${idOf.red} banned`));

    // (a) red is told at once, and its remote video stops: nothing decoded after a short
    // while for the jitter buffer.
    const told = await waitFor('red told banned', async () => {
      const f = framesOf(red, isBanned, clickedAt);
      return { ok: f.length > 0, at: f[0] && f[0].at };
    }, 5000, 50);
    assert.ok(told.at - answeredAt < 2000, `red was told ${told.at - answeredAt} ms after the answer`);
    const bannedMsg = framesOf(red, isBanned, clickedAt)[0].msg;
    assert.equal(bannedMsg.reason, 'Banned from the console');
    assert.ok(typeof bannedMsg.until === 'number' && Math.abs(bannedMsg.until - (answeredAt + 86400000)) < 60000,
      `until ${bannedMsg.until}`);
    // Red's video packets and decoded frames, every 100 ms for 3 s: when each last grew. The
    // packets stop when the server stops forwarding; the last frames may still be decoded a
    // little later, out of the jitter buffer.
    let last = await decoded(red);
    const grew = { packets: answeredAt, frames: answeredAt };
    while (Date.now() - answeredAt < 4000) {
      await new Promise((r) => setTimeout(r, 100));
      const n = await decoded(red);
      if (n === 'closed') { last = n; break; }
      for (const k of ['packets', 'frames']) if (n[k] !== last[k]) grew[k] = Date.now();
      last = n;
    }
    const after = { packets: grew.packets - answeredAt, frames: grew.frames - answeredAt };
    assert.ok(after.packets < 1000 && after.frames < 3000,
      `red still got video after the ban was answered: ${JSON.stringify({ after, last })}`);
    t.diagnostic(`red told banned ${told.at - answeredAt} ms after the API answered; its last video packet `
      + `came within ${after.packets} ms, its last frame was decoded within ${after.frames} ms `
      + `(${JSON.stringify(d1)} before, ${JSON.stringify(last)} after)`);

    // (b) green moves on: told its partner left, back in the pool, and meets blue.
    await waitFor('green told partner_left', async () => ({
      ok: framesOf(green, (m) => m.type === 'partner_left', clickedAt).length > 0,
    }), 5000, 50);
    assert.equal(framesOf(green, isBanned).length, 0, 'green was banned too');
    await waitFor('green waiting', stateIs(green, 'waiting'), 10000);
    await blue.page.click('#start');
    await waitFor('green sees blue', () => seesColour(green, 'blue'), 60000);
    await waitFor('blue sees green', () => seesColour(blue, 'green'), 60000);

    // (c) red reloads (the same browser: the same localStorage and device token if the page
    // keeps one): refused again on hello.
    const reloadAt = Date.now();
    await red.page.reload();
    await waitFor('red refused after a reload', async () => ({ ok: framesOf(red, isBanned, reloadAt).length > 0 }), 45000);
    assert.equal(framesOf(red, (m) => m.type === 'welcome', reloadAt).length, 0, 'red was welcomed after the reload');
    // The device ban on its own: the same browser from another address. Only possible when the
    // page sends the device token of its welcome in its hello.
    const helloAfter = ((await red.sent()) || []).filter((m) => m.type === 'hello').pop();
    if (helloAfter && helloAfter.device) {
      await red.browser.setExtraHTTPHeaders({ 'X-Forwarded-For': '198.51.100.11' });
      const movedAt = Date.now();
      await red.page.reload();
      await waitFor('red refused from another address (its device)', async () => ({
        ok: framesOf(red, isBanned, movedAt).length > 0,
      }), 45000);
    } else {
      t.diagnostic(`the page sends no device token in hello (${JSON.stringify(redHello)}): `
        + 'the device ban alone (same device, new address) is not checked here');
    }

    // (d) a new device (a fresh browser profile) from red's address: refused too. The same
    // browser from a new address is welcome: the ban is red's, not everyone's.
    const twin = await person(server.url, 'red-twin', 'yellow', dir, ADDR.red);
    people.push(twin);
    await waitFor('a new device at red\'s address refused', async () => ({
      ok: framesOf(twin, isBanned).length > 0, frames: twin.frames.map((f) => f.msg.type + (f.msg.code ? `:${f.msg.code}` : '')),
      sent: await twin.sent(), state: await twin.state(),
    }), 45000);
    assert.equal(framesOf(twin, (m) => m.type === 'welcome').length, 0, 'the new device was welcomed');
    await twin.browser.setExtraHTTPHeaders({ 'X-Forwarded-For': '198.51.100.40' });
    const elsewhereAt = Date.now();
    await twin.page.reload();
    const welcomed = await waitFor('the new device welcomed from another address', async () => {
      const w = framesOf(twin, (m) => m.type === 'welcome', elsewhereAt);
      return { ok: w.length > 0, ws: w.length && w[0].ws };
    }, 45000);
    // (The page before the reload may still have been refused on its last retry.)
    assert.equal(twin.frames.filter((f) => f.ws === welcomed.ws && isBanned(f.msg)).length, 0);

    // (e) the audit log lists the ban (both parts, by the name given at login), and so does
    // the Bans view.
    await con.click('#tab-audit');
    const audit = await waitFor('the audit log lists the ban', async () => {
      const rows = await con.$$eval('#audit tr', (trs) => trs.map((tr) => ({ action: tr.dataset.action, text: tr.textContent })));
      const bans = rows.filter((r) => r.action === 'ban');
      return { ok: bans.some((r) => r.text.includes(ADDR.red)) && bans.length >= 2 && bans.every((r) => r.text.includes('mod-test')), rows };
    }, 10000);
    t.diagnostic(`audit: ${JSON.stringify(audit.rows)}`);
    await con.screenshot({ path: path.join(pageOut, 'console-audit.png') });
    await con.click('#tab-bans');
    await waitFor('the bans list', async () => {
      const rows = await con.$$eval('#bans tr', (trs) => trs.map((tr) => tr.textContent));
      return { ok: rows.length === 2 && rows.some((r) => r.includes(ADDR.red)), rows };
    }, 10000);
    // Keyboard: the tabs move with the arrow keys.
    await con.focus('#tab-bans');
    await con.keyboard.press('ArrowRight');
    assert.equal(await con.evaluate(() => document.activeElement.id), 'tab-audit');
    assert.equal(await con.getAttribute('#tab-audit', 'aria-selected'), 'true');

    // (f) green reports blue over the signalling protocol (the page exposes its socket as
    // window.tandem.ws); the Reports view shows it with its picture (blue) and its clip. The
    // report is committed with its evidence before it is acknowledged, so what the API says
    // then is what the page must show.
    const reportAt = Date.now();
    await green.page.evaluate(() => window.tandem.ws.send(JSON.stringify({ type: 'report', reason: 'spam' })));
    const ack = await waitFor('green\'s report acknowledged', async () => {
      const f = framesOf(green, (m) => m.type === 'reported', reportAt);
      return { ok: f.length > 0, id: f.length && f[0].msg.id,
        errors: framesOf(green, (m) => m.type === 'error', reportAt).map((x) => x.msg) };
    }, 15000);
    const { report } = await api(`/api/reports/${ack.id}`);
    t.diagnostic(`report ${ack.id} evidence: ${JSON.stringify(report.evidence)}`);
    assert.equal(report.reported.ip, ADDR.blue);
    assert.ok(report.evidence && report.evidence.jpeg, 'the report has no picture');
    await con.click('#tab-reports');
    const sel = `#reports li.report[data-report="${ack.id}"]`;
    const rep = await waitFor('the report with its picture', async () => con.evaluate((s) => {
      const li = document.querySelector(s);
      if (!li) return { ok: false, why: 'no report' };
      const img = li.querySelector('img.ev-jpeg');
      const text = li.textContent;
      if (!img || !img.complete || !img.naturalWidth) return { ok: false, why: 'picture not shown yet', text };
      return { ok: true, rgb: window.__meanColour(img), src: img.src, text };
    }, sel), 20000, 500);
    assert.equal(nearestColour(rep.rgb), 'blue', `the evidence picture: ${JSON.stringify(rep.rgb)}`);
    assert.match(rep.src, /^blob:/);
    assert.match(rep.text, /spam/);
    if (report.evidence.webm) {
      // The clip is a playable video: its metadata loads and it has a length.
      const clip = await waitFor('the clip loads', async () => con.evaluate((s) => {
        const v = document.querySelector(`${s} video.ev-webm`);
        if (!v) return { ok: false, why: 'no video element' };
        return { ok: v.readyState >= 1 && v.duration > 0, src: v.src, readyState: v.readyState,
          duration: v.duration, error: v.error && v.error.message };
      }, sel), 15000, 300);
      assert.match(clip.src, /^blob:/);
      // Near its end the clip shows the reported person: blue. A frame is read back once the
      // seek has painted it (a video frame callback, or 1 s); one second before the end first,
      // then two and three (a frame still being decoded reads back black).
      const frame = await con.evaluate(async (s) => {
        const v = document.querySelector(`${s} video.ev-webm`);
        v.muted = true;
        const samples = [];
        for (const back of [1, 2, 3]) {
          await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no seek: readyState ${v.readyState}`)), 10000);
            v.addEventListener('seeked', () => { clearTimeout(timer); resolve(); }, { once: true });
            v.currentTime = Math.max(0, v.duration - back);
          });
          await new Promise((r) => { v.requestVideoFrameCallback(() => r()); setTimeout(r, 1000); });
          const [r, g, b] = window.__meanColour(v);
          samples.push({ at: v.currentTime, rgb: [r, g, b] });
          if (b > 150 && r < 100) break; /* blue: done */
        }
        const last = samples[samples.length - 1];
        return { rgb: last.rgb, samples, w: v.videoWidth, h: v.videoHeight, duration: v.duration };
      }, sel);
      t.diagnostic(`clip: ${JSON.stringify(frame)}`);
      assert.equal(nearestColour(frame.rgb), 'blue', `the clip near its end: ${JSON.stringify(frame)}`);
    } else {
      assert.match(rep.text, /No clip was captured/);
      t.diagnostic('the server captured no clip for the report (evidence.webm null): the video element is not checked');
    }
    await con.screenshot({ path: path.join(pageOut, 'console-reports.png'), fullPage: true });
    assert.deepEqual(await unlabelled(con), [], 'unlabelled controls on the reports view');
    assert.deepEqual(await contrastProblems(con), [], 'contrast on the reports view');
    // Dismiss resolves it: it leaves the open queue.
    await con.click(`${sel} button[aria-label^="Dismiss"]`);
    await waitFor('the report dismissed', async () => ({ ok: (await con.$$(sel)).length === 0 }), 5000);
    const one = await api(`/api/reports/${ack.id}`);
    assert.equal(one.report.state, 'resolved');
    assert.equal(one.report.resolution, 'dismissed');

    // Ban reported: green reports blue once more (its partner of a moment ago); the button
    // bans blue's device and address, blue is cut off, and the report is resolved "banned".
    const report2At = Date.now();
    await green.page.evaluate(() => window.tandem.ws.send(JSON.stringify({ type: 'report', reason: 'harassment' })));
    const ack2 = await waitFor('green\'s second report acknowledged', async () => {
      const f = framesOf(green, (m) => m.type === 'reported', report2At);
      return { ok: f.length > 0, id: f.length && f[0].msg.id,
        errors: framesOf(green, (m) => m.type === 'error', report2At).map((x) => x.msg) };
    }, 15000);
    const sel2 = `#reports li.report[data-report="${ack2.id}"]`;
    await waitFor('the second report shows', async () => {
      await con.click('#reports-refresh');
      await con.waitForTimeout(500);
      return { ok: (await con.$$(sel2)).length === 1 };
    }, 10000, 200);
    const banPosts = [];
    con.on('request', (r) => { if (r.url().endsWith('/api/bans') && r.method() === 'POST') banPosts.push(JSON.parse(r.postData())); });
    const blueBanAt = Date.now();
    await con.click(`${sel2} button[aria-label^="Ban the person reported"]`);
    await waitFor('the second report resolved', async () => ({ ok: (await con.$$(sel2)).length === 0 }), 10000);
    await waitFor('blue told banned', async () => ({ ok: framesOf(blue, isBanned, blueBanAt).length > 0 }), 5000, 50);
    assert.deepEqual(banPosts.map((b) => b.kind), ['device', 'ip']);
    assert.equal(banPosts[1].target, ADDR.blue);
    assert.ok(banPosts.every((b) => b.duration_s === 86400 && /report #/.test(b.reason)), JSON.stringify(banPosts));
    const two = await api(`/api/reports/${ack2.id}`);
    assert.equal(two.report.resolution, 'banned');
    assert.equal(banPosts[0].target, two.report.reported.device);

    // Kick: green (still here, alone) is told (an `error` with code `kicked`) and its tile
    // goes; the audit has it. A kick is no ban: the page may come back as a new visit.
    await con.click('#tab-live');
    const greenTile = `.tile[data-peer="${idOf.green}"]`;
    await waitFor('green\'s tile', async () => ({ ok: (await con.$$(greenTile)).length === 1 }), 15000);
    const kickAt = Date.now();
    await con.click(`${greenTile} button.kick`);
    await waitFor('green told kicked', async () => ({
      ok: framesOf(green, (m) => m.type === 'error' && m.code === 'kicked', kickAt).length > 0,
      frames: framesOf(green, () => true, kickAt).map((f) => f.msg.type + (f.msg.code ? `:${f.msg.code}` : '')),
    }), 5000, 50);
    await waitFor('green\'s tile gone', async () => ({ ok: (await con.$$(greenTile)).length === 0 }), 5000);
    assert.equal(await con.evaluate(() => document.activeElement.classList.contains('tile')
      || document.activeElement.id === 'main'), true, 'focus after the kick is on a tile or the main area');
    const audited = await api('/api/audit');
    assert.ok(audited.audit.some((a) => a.action === 'kick' && a.target === `peer:${idOf.green}` && a.actor === 'mod-test'),
      JSON.stringify(audited.audit.slice(0, 3)));

    // Log out: back to the login; the token is forgotten.
    await con.click('#logout');
    await waitFor('logged out', async () => ({ ok: await con.isVisible('#login-form') }), 5000);
    assert.equal(await con.evaluate(() => sessionStorage.getItem('tandem.admin.token')), null);

    // A token refused in the middle of a session (here: the page's copy spoiled) returns to
    // the login with the reason.
    await con.fill('#token', TOKEN);
    await con.click('#login-submit');
    await waitFor('logged in again', async () => ({ ok: await con.isVisible('#grid') }), 5000);
    await con.evaluate(() => { window.tandemAdmin.token = 'spoiled'; });
    await waitFor('back at the login after a 401', async () => {
      const text = await con.textContent('#login-error');
      return { ok: (await con.isVisible('#login-form')) && /logged out/i.test(text), text };
    }, 10000);
  } catch (e) {
    console.error(server.log().split('\n').slice(-80).join('\n'));
    for (const p of people) console.error(p.logs.slice(-30).join('\n'));
    throw e;
  }
});
