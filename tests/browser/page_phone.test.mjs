// page_phone.test.mjs -- the page on a 390x844 phone next to a desktop: each partner's video is
// shown whole, in its own shape (measured on screenshots: the box of the partner's colour has
// the video's aspect); the controls and the chat input are on screen, also with the on-screen
// keyboard up; no Esc hint on a touch screen; the denied-camera message is on screen and its
// Try again button works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, pairUp, waitFor, stateIs, visiblePicture, COLOURS, contrastProblems, unlabelled } from './lib.mjs';

const PHONE = { width: 390, height: 844 };

// The partner's picture is all there and not stretched: the box of their colour has the
// video's aspect (within 5%, a few pixels of scaling), and lies inside the element.
async function wholePicture(p, colour) {
  const pic = await visiblePicture(p.page, '#remote', COLOURS[colour]);
  const want = pic.video.w / pic.video.h;
  const got = pic.content.w / pic.content.h;
  assert.equal(pic.fit, 'contain', JSON.stringify(pic));
  assert.ok(pic.video.w > 0 && pic.content.w > 20 && pic.content.h > 20, JSON.stringify(pic));
  assert.ok(Math.abs(got / want - 1) < 0.05, `${p.name}: picture ${got.toFixed(3)} for a ${want.toFixed(3)} video: ${JSON.stringify(pic)}`);
  assert.ok(pic.content.x >= 0 && pic.content.y >= 0 && pic.content.x + pic.content.w <= pic.box.w
    && pic.content.y + pic.content.h <= pic.box.h, JSON.stringify(pic));
  return { ...pic, fill: (pic.content.w * pic.content.h) / (pic.box.w * pic.box.h) };
}

// Where elements are, and whether they are the element a tap at their centre would reach.
const layout = (page, ids) => page.evaluate((list) => {
  const o = { vw: innerWidth, vh: innerHeight, scrollH: document.scrollingElement.scrollHeight, els: {} };
  for (const id of list) {
    const el = document.getElementById(id);
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    o.els[id] = { top: Math.round(r.top), bottom: Math.round(r.bottom), left: Math.round(r.left), right: Math.round(r.right),
      onScreen: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth && r.height > 0,
      reachable: !!hit && (hit === el || el.contains(hit)) };
  }
  return o;
}, ids);

function allOnScreen(l, what) {
  assert.ok(l.scrollH <= l.vh + 1, `${what}: the page scrolls (${l.scrollH} > ${l.vh})`);
  for (const [id, e] of Object.entries(l.els)) {
    assert.ok(e.onScreen && e.reachable, `${what}: #${id} is not on screen and reachable: ${JSON.stringify(e)}`);
  }
}

test('on a phone the partner is shown whole and the chat input stays in view', async (t) => {
  const server = await startServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-phone-'));
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // The phone's camera is portrait (3:4), the desktop's landscape (16:9).
  const [A, B] = await Promise.all([
    openPerson(server.url, 'A', dir, { colour: 'red', size: [120, 160], viewport: PHONE, mobile: true }),
    openPerson(server.url, 'B', dir, { colour: 'green', size: [320, 180] }),
  ]);
  people.push(A, B);
  try {
    await waitFor('A ready', stateIs(A, 'ready'));
    await A.shot('phone-ready.png');
    allOnScreen(await layout(A.page, ['start', 'interests', 'lang', 'chat-input']), 'phone, ready');
    await pairUp(A, B);
    // Let the pictures settle to the size the decoder reports.
    await waitFor('A decodes 320x180', async () => {
      const v = await A.page.evaluate(() => [document.getElementById('remote').videoWidth, document.getElementById('remote').videoHeight]);
      return { ok: v[0] === 320 && v[1] === 180, v };
    });
    await waitFor('B decodes 120x160', async () => {
      const v = await B.page.evaluate(() => [document.getElementById('remote').videoWidth, document.getElementById('remote').videoHeight]);
      return { ok: v[0] === 120 && v[1] === 160, v };
    });

    // The phone shows the landscape partner whole, in a box of the video's shape.
    const onPhone = await waitFor('the phone shows the landscape partner whole', async () => {
      const pic = await wholePicture(A, 'green');
      return { ok: pic.fill > 0.9, ...pic };
    });
    console.log('phone picture', JSON.stringify(onPhone));
    // The desktop shows the portrait partner whole (pillarboxed).
    const onDesktop = await wholePicture(B, 'red');
    console.log('desktop picture', JSON.stringify(onDesktop));
    await A.shot('phone-paired-landscape-partner.png');
    await B.shot('desktop-paired-portrait-partner.png');

    // Everything needed during a chat is on screen without scrolling; interests and language
    // are out of the way; there is no keyboard hint on a touch screen.
    const l = await layout(A.page, ['next', 'stop', 'block', 'chat-input', 'chat-send', 'mute', 'camera', 'volume']);
    allOnScreen(l, 'phone, paired');
    assert.equal(await A.page.isVisible('#prefs'), false);
    assert.equal(await A.page.isVisible('#next kbd'), false, 'an Esc hint on a touch screen');
    assert.equal(await B.page.isVisible('#next kbd'), true, 'the Esc hint on the desktop');
    assert.deepEqual(await contrastProblems(A.page), [], 'contrast on the phone');
    assert.deepEqual(await unlabelled(A.page), []);

    // Tapping the chat input focuses it, in view.
    await A.page.tap('#chat-input');
    assert.equal(await A.page.evaluate(() => document.activeElement.id), 'chat-input');
    allOnScreen(await layout(A.page, ['chat-input', 'chat-send']), 'phone, input focused');

    // The on-screen keyboard takes the lower 40% of the screen (the viewport shrinks, as it
    // does with interactive-widget=resizes-content): the input and the partner stay in view.
    await A.page.setViewportSize({ width: PHONE.width, height: 844 - 340 });
    await waitFor('the layout follows the keyboard', async () => {
      const l2 = await layout(A.page, ['chat-input', 'chat-send', 'next', 'stop']);
      return { ok: l2.els['chat-input'].onScreen && l2.els['chat-input'].bottom <= l2.vh && l2.scrollH <= l2.vh + 1, ...l2 };
    });
    allOnScreen(await layout(A.page, ['chat-input', 'chat-send', 'next', 'stop']), 'phone, keyboard up');
    await wholePicture(A, 'green');
    await A.page.keyboard.type('typed on a phone');
    await A.shot('phone-keyboard.png');
    await A.page.keyboard.press('Enter');
    await waitFor('B gets the phone\'s line', async () => ({ ok: (await B.messages()).includes('Stranger: typed on a phone') }));
    assert.equal(await A.page.evaluate(() => document.activeElement.id), 'chat-input', 'focus stays in the input');
    await A.page.setViewportSize(PHONE);
    await A.shot('phone-chatting.png');
  } catch (e) {
    console.error(server.log().split('\n').slice(-40).join('\n'));
    for (const p of people) console.error(p.logs.join('\n'));
    throw e;
  }
});

test('on a phone a denied camera says so on screen, and Try again works once allowed', async (t) => {
  const server = await startServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-deny-'));
  let P = null;
  t.after(async () => {
    if (P) await P.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // No fake permission UI: headless Chromium refuses the camera until the test grants it.
  P = await openPerson(server.url, 'P', dir, { colour: 'blue', viewport: PHONE, mobile: true, fakeUi: false });
  try {
    await waitFor('the denied message', async () => {
      const s = await P.state();
      return { ok: /denied/i.test(s.notice), ...s };
    }, 20000);
    allOnScreen(await layout(P.page, ['notice', 'retry']), 'phone, camera denied');
    assert.equal(await P.page.textContent('#retry'), 'Try again');
    assert.equal(await P.page.isDisabled('#start'), true);
    await P.shot('phone-camera-denied.png');

    // The visitor allows the camera in the browser, then presses Try again: no reload needed.
    await P.browser.grantPermissions(['camera', 'microphone'], { origin: server.url });
    await P.page.tap('#retry');
    await waitFor('P ready', stateIs(P, 'ready'));
    assert.equal(await P.page.isVisible('#alert'), false);
    assert.equal(await P.page.isDisabled('#start'), false);
  } catch (e) {
    console.error(server.log().split('\n').slice(-20).join('\n'));
    console.error(P.logs.join('\n'));
    throw e;
  }
});
