// banned.test.mjs -- what a banned or kicked visitor's page does, against the real server's
// admin API. A moderator bans A's device in the middle of a call: A's page stops showing B at
// once, closes its RTCPeerConnection, shows until when (local time) and why, and never
// reconnects; a reload is refused on hello and shows the same, once; a permanent ban says
// "permanently". A kicked page says a moderator ended the visit, does not reconnect, and its
// Start again button begins a new visit that meets B again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, pairUp, waitFor, seesColour, stateIs, watchFrames, deviceHex, adminApi } from './lib.mjs';

const TOKEN = 'banned-test-token';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function setUp(t, name) {
  const server = await startServer([`--admin-token=${TOKEN}`, '--match-rematch-lonely-ms=0']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-${name}-`));
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const [A, B] = await Promise.all([
    openPerson(server.url, 'A', dir, { colour: 'red' }),
    openPerson(server.url, 'B', dir, { colour: 'green' }),
  ]);
  people.push(A, B);
  const frames = watchFrames(A);
  await A.page.reload();
  return { server, api: adminApi(server, TOKEN), A, B, frames };
}

// The ended screen and what the page holds.
const ended = (p) => p.page.evaluate(() => {
  const t = window.tandem;
  const remoteBox = document.getElementById('remote-box');
  return {
    visible: !document.getElementById('ended').hidden,
    title: document.getElementById('ended-title').textContent,
    text: document.getElementById('ended-text').textContent,
    restart: !document.getElementById('ended-restart').hidden,
    focused: document.activeElement && (document.activeElement.id || document.activeElement.className),
    banned: t.banned, kicked: t.kicked, pc: !!t.pc, showing: t.showing,
    remoteShown: remoteBox.classList.contains('showing'), remoteSrc: !!document.getElementById('remote').srcObject,
    oldPc: window.__pc ? window.__pc.signalingState : null,
    inert: document.getElementById('app').inert,
  };
});

test('banned in a call: the picture goes, the page says until when and why, and never reconnects', { timeout: 240000 }, async (t) => {
  const { api, A, B, frames } = await setUp(t, 'banned');
  await pairUp(A, B);
  const token = await A.page.evaluate(() => window.tandem.device);
  assert.equal(token.length, 76);
  assert.equal(await A.page.evaluate(() => localStorage.getItem('tandem.device')), token);
  const hex = deviceHex(token);
  await A.page.evaluate(() => { window.__pc = window.tandem.pc; });
  const sockets = frames.sockets;

  const before = Date.now();
  const r = await api('POST', '/api/bans', { kind: 'device', target: hex, duration_s: 3600, reason: 'nudity on camera' });
  assert.equal(r.status, 201, JSON.stringify(r.data));
  assert.equal(r.data.cut_off.length, 1, JSON.stringify(r.data));

  const e = await waitFor('A shows the banned screen', async () => {
    const x = await ended(A);
    return { ok: x.visible, ...x };
  }, 10000, 50);
  assert.equal(e.title, 'You are banned from Tandem');
  assert.ok(e.banned && typeof e.banned.until === 'number', JSON.stringify(e));
  assert.ok(Math.abs(e.banned.until - (before + 3600000)) < 60000, `until ${e.banned.until}`);
  assert.equal(e.banned.reason, 'nudity on camera');
  const local = await A.page.evaluate((u) => new Date(u).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' }), e.banned.until);
  assert.ok(e.text.includes(`until ${local}`), `the screen does not say until when in local time: ${e.text}`);
  assert.ok(e.text.includes('Reason: nudity on camera'), e.text);
  assert.equal(e.pc, false);
  assert.equal(e.oldPc, 'closed', 'the RTCPeerConnection was not closed');
  assert.equal(e.showing, false);
  assert.equal(e.remoteShown, false);
  assert.equal(e.remoteSrc, false);
  assert.equal(e.restart, false, 'a banned page offers to start again');
  assert.equal(e.inert, true);
  assert.ok(frames.got.some((m) => m.type === 'error' && m.code === 'banned'));
  await A.shot('desktop-banned.png');
  await waitFor('B is not paired any more', async () => ({ ok: (await B.state()).state !== 'paired' }), 10000);

  // No reconnection, however long.
  await sleep(6000);
  assert.equal(frames.sockets, sockets, 'the banned page reconnected');
  assert.equal((await ended(A)).visible, true);

  // A reload connects once, is refused on hello (with the stored device token), and stays so.
  await A.page.reload();
  const again = await waitFor('banned again after a reload', async () => {
    const x = await ended(A);
    return { ok: x.visible, ...x };
  }, 60000);
  assert.equal(again.banned.reason, 'nudity on camera');
  assert.equal(frames.sockets, sockets + 1);
  const hello = frames.sent.filter((m) => m.type === 'hello').at(-1);
  assert.equal(hello.device, token);
  assert.equal(frames.sent.filter((m) => m.type === 'offer').length, 1, 'the reloaded page made an offer');
  await sleep(6000);
  assert.equal(frames.sockets, sockets + 1, 'the reloaded banned page reconnected');

  // Lifted, then banned for good: the page says permanently.
  const ban = r.data.bans[0];
  assert.equal((await api('DELETE', `/api/bans/${ban.id}`)).status, 200);
  assert.equal((await api('POST', '/api/bans', { kind: 'device', target: hex, reason: 'repeated abuse' })).status, 201);
  await A.page.reload();
  const perm = await waitFor('banned for good', async () => {
    const x = await ended(A);
    return { ok: x.visible, ...x };
  }, 60000);
  assert.equal(perm.banned.until, null);
  assert.match(perm.text, /banned permanently/);
  assert.match(perm.text, /Reason: repeated abuse/);
  await A.shot('desktop-banned-permanent.png');
  const errs = A.logs.filter((l) => /pageerror/.test(l));
  assert.deepEqual(errs, []);
});

test('kicked: the page says a moderator ended the visit, does not reconnect, and Start again is a new visit', { timeout: 240000 }, async (t) => {
  const { api, A, B, frames } = await setUp(t, 'kicked');
  await pairUp(A, B);
  const hex = deviceHex(await A.page.evaluate(() => window.tandem.device));
  const me = (await api('GET', '/api/peers')).data.peers.find((p) => p.device === hex);
  assert.ok(me);
  await A.page.evaluate(() => { window.__pc = window.tandem.pc; });
  const sockets = frames.sockets;
  const gen = (await A.state()).gen;

  assert.equal((await api('POST', `/api/peers/${me.id}/kick`, { reason: 'test' })).status, 200);
  const e = await waitFor('A shows the kicked screen', async () => {
    const x = await ended(A);
    return { ok: x.visible, ...x };
  }, 10000, 50);
  assert.equal(e.title, 'A moderator ended your visit');
  assert.equal(e.restart, true);
  assert.equal(e.focused, 'ended-restart');
  assert.equal(e.pc, false);
  assert.equal(e.oldPc, 'closed');
  assert.equal(e.showing, false);
  assert.equal(e.remoteSrc, false);
  assert.equal(e.banned, null);
  assert.ok(frames.got.some((m) => m.type === 'error' && m.code === 'kicked'));
  await A.shot('desktop-kicked.png');
  await sleep(5000);
  assert.equal(frames.sockets, sockets, 'the kicked page reconnected by itself');

  // Start again: a new visit (hello without a resume token, with the device), offer, start.
  const sent = frames.sent.length;
  await A.page.keyboard.press('Enter');
  await waitFor('A meets B again', () => seesColour(A, 'green'), 60000);
  assert.equal(frames.sockets, sockets + 1);
  const types = frames.sent.slice(sent).map((m) => m.type);
  assert.deepEqual(types.slice(0, 3), ['hello', 'offer', 'start'], JSON.stringify(types));
  const hello = frames.sent[sent];
  assert.equal(hello.resume, null);
  assert.equal(deviceHex(hello.device), hex);
  assert.ok((await A.state()).gen > gen);
  assert.equal((await ended(A)).visible, false);
  await waitFor('B sees A', () => seesColour(B, 'red'), 30000);
});
