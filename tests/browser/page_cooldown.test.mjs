// page_cooldown.test.mjs -- too many Nexts: the page shows the cool-down with a countdown (the
// server's retry_ms), with chat, Next and Block off, and comes back by itself. On a phone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, pairUp, waitFor, seesColour } from './lib.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, mobile: true };

const ui = (p) => p.page.evaluate(() => ({
  state: window.tandem.state,
  status: document.getElementById('status').textContent,
  overlay: document.getElementById('remote-overlay').textContent,
  chatReadOnly: document.getElementById('chat-input').readOnly,
  chatAriaDisabled: document.getElementById('chat-input').getAttribute('aria-disabled'),
  sendDisabled: document.getElementById('chat-send').disabled,
  nextOff: document.getElementById('next').disabled || document.getElementById('next').hidden,
  blockOff: document.getElementById('block').disabled || document.getElementById('block').hidden,
  stopOn: !document.getElementById('stop').disabled && !document.getElementById('stop').hidden,
  messages: document.querySelectorAll('#messages li').length,
}));

test('the Next cool-down shows a countdown, turns chat off and ends by itself', async (t) => {
  const server = await startServer(['--match-next-limit=1', '--match-next-cooldown-ms=15000',
    '--match-rematch-lonely-ms=0']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-cool-'));
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const [A, B] = await Promise.all([
    openPerson(server.url, 'A', dir, { colour: 'red', ...PHONE }),
    openPerson(server.url, 'B', dir, { colour: 'green' }),
  ]);
  people.push(A, B);
  try {
    await pairUp(A, B);
    // First Next: within the limit. A and B meet again at once (nobody else is here).
    await A.page.fill('#chat-input', 'hello');
    await A.page.press('#chat-input', 'Enter');
    await waitFor('B gets hello', async () => ({ ok: (await B.messages()).includes('Stranger: hello') }));
    await A.page.click('#next');
    await waitFor('A paired again', async () => {
      const s = await A.state();
      return { ok: s.state === 'paired' && s.gen === 2 && s.showing, ...s };
    });
    await A.page.fill('#chat-input', 'half typed');
    // Second Next: over the limit, a cool-down of 15 s.
    await A.page.click('#next');
    const first = await waitFor('A in the cool-down', async () => {
      const u = await ui(A);
      const m = /back in the queue in (\d+) s/i.exec(u.status);
      return { ok: u.state === 'cooldown' && !!m, n: m && Number(m[1]), ...u };
    });
    assert.ok(first.n >= 1 && first.n <= 15, `countdown starts at ${first.n}`);
    assert.doesNotMatch(first.status, /connected|talking|video is on its way/i);
    assert.equal(first.chatReadOnly, true, 'chat input takes no text');
    assert.equal(first.chatAriaDisabled, 'true');
    assert.equal(first.sendDisabled, true);
    assert.equal(first.nextOff, true);
    assert.equal(first.blockOff, true);
    assert.equal(first.stopOn, true, 'Stop stays available');
    assert.equal(first.messages, 0, 'the old chat is gone');
    assert.equal(await A.page.inputValue('#chat-input'), '', 'the half-typed line is gone');
    assert.match(first.overlay, /back in \d+ s/i);
    // Typing into the chat does nothing while it is off. (Playwright's click would wait for
    // the aria-disabled input to be enabled: focus it directly.)
    await A.page.focus('#chat-input');
    await A.page.keyboard.type('x');
    await A.page.keyboard.press('Enter');
    assert.equal(await A.page.inputValue('#chat-input'), '');
    assert.equal((await A.state()).state, 'cooldown', 'still in the cool-down after typing');
    assert.ok(!(await A.sent()).some((m) => m.type === 'chat' && m.text !== 'hello'));
    await A.shot('phone-cooldown.png');
    // It counts down.
    const later = await waitFor('the countdown moves', async () => {
      const u = await ui(A);
      const m = /back in the queue in (\d+) s/i.exec(u.status);
      return { ok: !!m && Number(m[1]) < first.n, n: m && Number(m[1]), ...u };
    }, 15000);
    assert.equal(later.chatReadOnly, true);
    // B was left behind and is told so truthfully.
    await waitFor('B waits', async () => {
      const s = await B.state();
      return { ok: s.state === 'waiting' && /left/i.test(s.status), ...s };
    });
    await B.shot('desktop-partner-left-cooldown.png');

    // After the cool-down A is back in the pool by itself and meets B again.
    await waitFor('A paired after the cool-down', async () => {
      const s = await A.state();
      return { ok: s.state === 'paired' && s.showing, ...s };
    }, 30000);
    await waitFor('A sees green', () => seesColour(A, 'green'));
    const after = await ui(A);
    assert.equal(after.chatReadOnly, false);
    assert.equal(after.sendDisabled, false);
    assert.match(after.status, /talking to a stranger/i);
    await A.shot('phone-paired.png');
  } catch (e) {
    console.error(server.log().split('\n').slice(-60).join('\n'));
    for (const p of people) console.error(p.logs.join('\n'));
    throw e;
  }
});
