// page_report.test.mjs -- the Report button and its dialog: the button is there only while
// paired and is reached with Tab; the dialog opens on the first reason, arrow keys choose a
// reason, Esc cancels (without counting towards Esc-Esc skipping); Send moves on at once
// (looking for someone, no next sent) with exactly one `report` frame carrying the chosen
// reason and the note, and the "Thanks" toast comes with `reported`. On a 390x844 phone the
// button and the whole dialog are on screen and can be tapped (screenshots in build/test-out/page).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, pairUp, waitFor, contrastProblems, unlabelled, watchFrames } from './lib.mjs';

const reportVisible = (p) => p.page.isVisible('#report');
const focusedId = (p) => p.page.evaluate(() => document.activeElement && document.activeElement.id);
const checked = (p) => p.page.evaluate(() => document.querySelector('#report-form input[name="reason"]:checked')?.value || null);

async function setUp(t, name, opts = {}) {
  const server = await startServer(['--match-rematch-lonely-ms=0']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `tandem-page-report-${name}-`));
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const A = await openPerson(server.url, 'A', dir, { colour: 'red', ...opts });
  const frames = watchFrames(A);
  // The page connected before the listener was on: reload so every frame is seen.
  await A.page.reload();
  const B = await openPerson(server.url, 'B', dir, { colour: 'green' });
  people.push(A, B);
  return { server, A, B, frames };
}

test('Report: only while paired, keyboard, Esc cancels, Send moves on with one report and a toast', async (t) => {
  const { A, B, frames } = await setUp(t, 'desktop');
  try {
    await waitFor('A ready', async () => ({ ok: (await A.state()).state === 'ready' }), 60000);
    assert.equal(await reportVisible(A), false, 'Report shows before Start');
    // The page sends its device token on hello (null the first time) and keeps the welcome's.
    await waitFor('A has a device token', async () => {
      const d = await A.page.evaluate(() => ({ st: window.tandem.device, ls: localStorage.getItem('tandem.device') }));
      return { ok: typeof d.st === 'string' && d.st.length === 76 && d.ls === d.st, ...d };
    });
    const hellos = frames.sent.filter((m) => m.type === 'hello');
    assert.equal(hellos.length, 1);
    assert.ok('device' in hellos[0], `hello without device: ${JSON.stringify(hellos[0])}`);

    await pairUp(A, B);
    assert.equal(await reportVisible(A), true, 'Report is not shown while paired');
    assert.deepEqual(await unlabelled(A.page), []);

    // Tab from Next reaches Report; Enter opens the dialog on the first reason.
    await A.page.focus('#next');
    await A.page.keyboard.press('Tab');
    assert.equal(await focusedId(A), 'report');
    await A.page.keyboard.press('Enter');
    await waitFor('the dialog opens', async () => ({ ok: await A.page.isVisible('#report-dialog') }));
    const first = await A.page.evaluate(() => document.activeElement.value);
    assert.equal(first, 'nudity', 'the dialog does not start on the first reason');
    const labels = await A.page.$$eval('#report-reasons label', (ls) => ls.map((l) => l.textContent.trim()));
    assert.deepEqual(labels, ['Nudity or sexual content', 'Harassment or hate', 'Looks under 18',
      'Spam or advertising', 'Something else']);
    assert.deepEqual(await contrastProblems(A.page), []);
    assert.deepEqual(await unlabelled(A.page), []);
    await A.shot('desktop-report-dialog.png');

    // Esc cancels: nothing sent, still with B, and no Esc hint (not half of an Esc-Esc skip).
    await A.page.keyboard.press('ArrowDown');
    assert.equal(await checked(A), 'harassment');
    await A.page.keyboard.press('Escape');
    await waitFor('Esc closes the dialog', async () => ({ ok: !(await A.page.isVisible('#report-dialog')) }));
    await A.page.keyboard.press('Escape').catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(frames.sent.filter((m) => m.type === 'report' || m.type === 'next').length, 0,
      `Esc sent something: ${JSON.stringify(frames.sent.map((m) => m.type))}`);
    assert.equal((await A.state()).state, 'paired');
    // The second Esc above, after the dialog, is a first Esc of the page: it only asks.
    await A.page.keyboard.press('Tab'); // moves off; let the hint go
    await waitFor('the Esc hint goes', async () => ({ ok: !(await A.page.isVisible('#esc-hint')) }), 10000);

    // Open again with the keyboard: the dialog starts afresh. Choose "Looks under 18"
    // (two arrows down), type a note, Tab to Send, Enter.
    await A.page.focus('#report');
    await A.page.keyboard.press('Enter');
    await waitFor('the dialog opens again', async () => ({ ok: await A.page.isVisible('#report-dialog') }));
    assert.equal(await checked(A), null, 'a reason was left chosen from last time');
    await A.page.keyboard.press('ArrowDown');
    await A.page.keyboard.press('ArrowDown');
    assert.equal(await checked(A), 'minor');
    await A.page.keyboard.press('Tab');
    assert.equal(await focusedId(A), 'report-note');
    await A.page.keyboard.type('said they are 15');
    await A.page.keyboard.press('Tab');
    assert.equal(await focusedId(A), 'report-send');
    const gen = (await A.state()).gen;
    await A.page.keyboard.press('Enter');

    // At once: the dialog is gone and A is looking for someone (B was the only one).
    await waitFor('A moves on', async () => {
      const s = await A.state();
      return { ok: s.state === 'waiting' && !s.showing && !(await A.page.isVisible('#report-dialog')), ...s };
    }, 5000);
    assert.match((await A.state()).status, /Looking for someone/);
    assert.equal(await reportVisible(A), false, 'Report still shows after leaving');
    await waitFor('B hears A left', async () => ({ ok: (await B.state()).state !== 'paired' }), 10000);

    // The server stores it and says so; the page thanks.
    await waitFor('A gets reported', async () => ({ ok: frames.got.some((m) => m.type === 'reported') }), 30000);
    const got = frames.got.find((m) => m.type === 'reported');
    assert.ok(Number.isInteger(got.id) && got.id > 0, JSON.stringify(got));
    await waitFor('the toast', async () => ({ ok: (await A.page.textContent('#toast')) === 'Thanks — we got your report' && await A.page.isVisible('#toast') }), 5000);
    assert.deepEqual(await A.page.evaluate(() => window.tandem.reportsAcked), [got.id]);
    await A.shot('desktop-report-sent.png');

    const reports = frames.sent.filter((m) => m.type === 'report');
    assert.deepEqual(reports, [{ type: 'report', reason: 'minor', note: 'said they are 15' }]);
    assert.equal(frames.sent.filter((m) => m.type === 'next' || m.type === 'block').length, 0,
      `the page sent next or block itself: ${JSON.stringify(frames.sent.map((m) => m.type))}`);
    assert.deepEqual((await A.sent()).filter((m) => m.type === 'report'), reports);

    // The two never meet again: both are waiting, alone, for a while.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await A.state()).gen, gen, 'A was paired again');
    assert.notEqual((await B.state()).state, 'paired', 'B was paired again');
    assert.equal((await A.state()).state, 'waiting');
  } finally {
    for (const p of [A, B]) {
      const errs = p.logs.filter((l) => /pageerror/.test(l));
      assert.deepEqual(errs, [], `${p.name}: ${errs.join('\n')}`);
    }
  }
});

test('Report on a 390x844 phone: the button and the dialog are on screen and work by touch', async (t) => {
  const { A, B, frames } = await setUp(t, 'phone', { viewport: { width: 390, height: 844 }, mobile: true, size: [120, 160] });
  await pairUp(A, B);
  await waitFor('Report shows', async () => ({ ok: await reportVisible(A) }));
  // Every control of the row fits the screen, on one or two lines, and is tappable.
  const row = await A.page.evaluate(() => ['next', 'report', 'stop', 'block'].map((id) => {
    const r = document.getElementById(id).getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return { id, left: r.left, right: r.right, top: r.top, bottom: r.bottom, h: r.height,
      hit: !!hit && (hit.id === id || document.getElementById(id).contains(hit)), vw: innerWidth, vh: innerHeight };
  }));
  for (const b of row) {
    assert.ok(b.left >= 0 && b.right <= b.vw && b.top >= 0 && b.bottom <= b.vh && b.hit && b.h >= 40,
      `#${b.id} is not on screen, tappable and 40 px tall: ${JSON.stringify(b)}`);
  }
  await A.shot('phone-report-button.png');

  await A.page.tap('#report');
  await waitFor('the dialog opens', async () => ({ ok: await A.page.isVisible('#report-dialog') }));
  const box = await A.page.evaluate(() => {
    const r = document.getElementById('report-dialog').getBoundingClientRect();
    return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, vw: innerWidth, vh: innerHeight };
  });
  assert.ok(box.left >= 0 && box.right <= box.vw && box.top >= 0 && box.bottom <= box.vh,
    `the dialog does not fit the phone: ${JSON.stringify(box)}`);
  assert.deepEqual(await contrastProblems(A.page), []);
  await A.shot('phone-report-dialog.png');

  // Send with no reason chosen does nothing; Cancel closes; then a real report by touch.
  await A.page.tap('#report-send');
  assert.ok(await A.page.isVisible('#report-dialog'));
  assert.equal(frames.sent.filter((m) => m.type === 'report').length, 0);
  await A.page.tap('#report-cancel');
  await waitFor('Cancel closes', async () => ({ ok: !(await A.page.isVisible('#report-dialog')) }));
  assert.equal((await A.state()).state, 'paired');

  await A.page.tap('#report');
  await A.page.tap('text=Spam or advertising');
  await A.page.tap('#report-send');
  await waitFor('A moves on', async () => ({ ok: (await A.state()).state === 'waiting' }), 5000);
  await waitFor('the toast', async () => ({ ok: /Thanks/.test(await A.page.textContent('#toast')) }), 30000);
  const t1 = await A.page.evaluate(() => {
    const r = document.getElementById('toast').getBoundingClientRect();
    return { left: r.left, right: r.right, bottom: r.bottom, vw: innerWidth, vh: innerHeight };
  });
  assert.ok(t1.left >= 0 && t1.right <= t1.vw && t1.bottom <= t1.vh, JSON.stringify(t1));
  await A.shot('phone-report-sent.png');
  assert.deepEqual(frames.sent.filter((m) => m.type === 'report'), [{ type: 'report', reason: 'spam' }]);
});

test('a report the server refuses: the page says so and leaves that stranger as Block does', { timeout: 300000 }, async (t) => {
  // One report per visitor: the second is refused (rate_limited).
  const server = await startServer(['--match-rematch-lonely-ms=0', '--report-max=1']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-report-refused-'));
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const [A, B, C] = await Promise.all([
    openPerson(server.url, 'A', dir, { colour: 'red' }),
    openPerson(server.url, 'B', dir, { colour: 'green' }),
    openPerson(server.url, 'C', dir, { colour: 'blue' }),
  ]);
  people.push(A, B, C);
  const report = async (reason) => {
    await A.page.click('#report');
    await A.page.check(`#report-form input[value="${reason}"]`);
    await A.page.click('#report-send');
  };
  await pairUp(A, B);
  await report('harassment');
  await waitFor('the first is thanked', async () => ({ ok: /Thanks/.test(await A.page.textContent('#toast')) }), 30000);
  // B leaves; C comes and meets A.
  await waitFor('B waits', async () => ({ ok: (await B.state()).state === 'waiting' }), 15000);
  await B.page.click('#stop');
  await waitFor('C ready', async () => ({ ok: (await C.state()).state === 'ready' }), 60000);
  await C.page.click('#start');
  await waitFor('A meets C', async () => ({ ok: (await A.state()).state === 'paired' && await A.seen() === 'blue' }), 60000);

  await report('spam');
  await waitFor('the refusal is shown', async () => {
    const text = await A.page.textContent('#toast');
    return { ok: /not sent/.test(text) && /never meet|not meet/.test(text), text };
  }, 30000);
  const sent = (await A.sent()).map((m) => m.type);
  assert.equal(sent.filter((x) => x === 'report').length, 2);
  assert.equal(sent.filter((x) => x === 'block').length, 1, `A did not leave C: ${sent}`);
  assert.equal(sent.filter((x) => x === 'next').length, 0);
  await waitFor('C is left', async () => ({ ok: (await C.state()).state === 'waiting' }), 15000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await A.state()).state, 'waiting', 'A met C again');
  await A.shot('desktop-report-refused.png');
});
