// page_chat.test.mjs -- the keyboard and the text chat on a desktop page: Esc in a text field
// never skips; outside one it asks first and skips on the second press; a chat line the server
// refused is marked as not delivered (and can be sent again); the chat and a half-typed line
// are gone when a new partner comes, and after Stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, pairUp, waitFor, contrastProblems } from './lib.mjs';

const nexts = (p) => p.sent().then((s) => s.filter((m) => m.type === 'next').length);

test('Esc only skips outside text fields and when pressed twice; undelivered chat is marked; chat clears', async (t) => {
  // A small chat burst so that a quick run of lines is rate-limited; with nobody else around,
  // the two meet again at once after a Next.
  const server = await startServer(['--chat-burst=2', '--chat-per-sec=1', '--match-rematch-lonely-ms=0']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-chat-'));
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
  try {
    await pairUp(A, B);
    const gen = (await A.state()).gen;

    // Esc while typing in the chat box does not skip: the line is still sent to the same
    // partner afterwards, and the page never sent a Next.
    await A.page.click('#chat-input');
    await A.page.keyboard.type('half typed');
    await A.page.keyboard.press('Escape');
    assert.equal(await A.page.inputValue('#chat-input'), 'half typed');
    await A.page.keyboard.press('Escape');
    await A.page.keyboard.press('Enter');
    await waitFor('B gets the line typed across two Escs', async () => ({ ok: (await B.messages()).includes('Stranger: half typed') }));
    assert.equal(await nexts(A), 0, 'Esc in the chat box sent a Next');
    assert.equal((await A.state()).gen, gen);
    // The same in the interests field (not shown during a chat) does not apply; in any other
    // text field Esc stays the field's own.

    // Outside text fields, one Esc only asks.
    await A.page.fill('#chat-input', 'draft for this stranger');
    await A.page.focus('#next');
    await A.page.keyboard.press('Escape');
    await waitFor('the Esc hint shows', async () => ({ ok: await A.page.isVisible('#esc-hint') }));
    await A.shot('desktop-esc-hint.png');
    assert.equal(await nexts(A), 0, 'one Esc sent a Next');
    assert.equal((await A.state()).state, 'paired');

    // The hint goes away by itself; a lone Esc later asks again rather than skipping.
    await waitFor('the Esc hint goes away', async () => ({ ok: !(await A.page.isVisible('#esc-hint')) }), 10000);
    await A.page.keyboard.press('Escape');
    assert.equal(await nexts(A), 0);
    // The second press within the hint's time skips.
    await A.page.keyboard.press('Escape');
    await waitFor('A sent one Next', async () => ({ ok: (await nexts(A)) === 1 }));

    // A meets B again (nobody else is here): a new pairing, with no trace of the old chat or
    // of the half-typed draft.
    await waitFor('A paired again', async () => {
      const s = await A.state();
      return { ok: s.state === 'paired' && s.gen === gen + 1 && s.showing, ...s };
    });
    await waitFor('B paired again', async () => {
      const s = await B.state();
      return { ok: s.state === 'paired' && s.gen === gen + 1, ...s };
    });
    assert.equal(await A.page.inputValue('#chat-input'), '', 'the draft survived into the next chat');
    const aMsgs = await A.messages();
    assert.equal(aMsgs.length, 1, `A's chat after the re-pair: ${JSON.stringify(aMsgs)}`);
    assert.match(aMsgs[0], /talking to a stranger/);
    assert.ok(!(await B.messages()).some((m) => /half typed/.test(m)), 'B still shows the old chat');
    assert.equal(await A.page.textContent('#notice'), '');

    // A burst of lines: the server takes two and refuses the rest (rate_limited). Each refused
    // line is marked, and exactly the unmarked lines reach B.
    const lines = ['one', 'two', 'three', 'four', 'five'];
    await A.page.evaluate((ls) => {
      const input = document.getElementById('chat-input');
      const form = document.getElementById('chat-form');
      for (const l of ls) { input.value = l; form.requestSubmit(); }
    }, lines);
    await waitFor('every line answered', async () => ({
      ok: (await A.page.$$('#messages li.me.pending')).length === 0
        && (await A.page.$$('#messages li.me')).length === lines.length,
    }));
    const mine = await A.page.$$eval('#messages li.me', (els) => els.map((e) => ({
      text: e.firstChild.nextSibling.textContent.trim(), failed: e.classList.contains('failed'), all: e.textContent,
    })));
    const failed = mine.filter((m) => m.failed).map((m) => m.text);
    const delivered = mine.filter((m) => !m.failed).map((m) => m.text);
    assert.ok(failed.length >= 1 && delivered.length >= 1, JSON.stringify(mine));
    for (const m of mine.filter((x) => x.failed)) assert.match(m.all, /not delivered/i);
    await waitFor('B has every delivered line', async () => {
      const got = await B.messages();
      return { ok: delivered.every((l) => got.includes(`Stranger: ${l}`)), got };
    });
    // B's side ends with a line sent after the burst, so anything refused would be there by now.
    await B.page.fill('#chat-input', 'after the burst');
    await B.page.press('#chat-input', 'Enter');
    await waitFor('A gets B\'s line', async () => ({ ok: (await A.messages()).includes('Stranger: after the burst') }));
    const got = (await B.messages()).filter((m) => m.startsWith('Stranger: ')).map((m) => m.slice(10));
    assert.deepEqual(got, delivered, 'B received exactly the lines not marked');
    await A.shot('desktop-chat-not-delivered.png');
    assert.deepEqual(await contrastProblems(A.page), [], 'contrast while chatting');

    // A refused line can be sent again once the limit allows it.
    const again = A.page.locator('#messages li.failed button').first();
    const retried = failed[0];
    await waitFor('B gets the line sent again', async () => {
      if (await again.count()) await again.click();
      return { ok: (await B.messages()).includes(`Stranger: ${retried}`) };
    }, 20000, 1500);

    // Stop clears the chat and notices on A's side; B is told the stranger left.
    await A.page.fill('#chat-input', 'never sent');
    await A.page.click('#stop');
    await waitFor('A ready', async () => {
      const s = await A.state();
      return { ok: s.state === 'ready' && /press start/i.test(s.status), ...s };
    });
    assert.deepEqual(await A.messages(), []);
    assert.equal(await A.page.inputValue('#chat-input'), '');
    assert.equal(await A.page.textContent('#notice'), '');
    await waitFor('B told', async () => {
      const s = await B.state();
      return { ok: s.state === 'waiting' && (await B.messages()).includes('Stranger left.') && /left/i.test(s.status), ...s };
    });
    assert.equal(await B.page.getAttribute('#chat-input', 'aria-disabled'), 'true');
    assert.equal(await B.page.isDisabled('#chat-send'), true);
    await B.shot('desktop-partner-left.png');
    await A.shot('desktop-after-stop.png');
    // Focus did not fall to <body> when Stop hid itself.
    assert.equal(await A.page.evaluate(() => document.activeElement.id), 'start');
  } catch (e) {
    console.error(server.log().split('\n').slice(-60).join('\n'));
    for (const p of people) console.error(p.logs.join('\n'));
    throw e;
  }
});
