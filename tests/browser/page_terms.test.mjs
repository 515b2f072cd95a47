// page_terms.test.mjs -- the terms/18+ notice (the operator's text from terms_text) blocks the
// first Start until accepted, once per device; the language and interests go out with start;
// focus, labels, contrast and the favicon (no request fails) on a desktop page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, waitFor, stateIs, contrastProblems, unlabelled } from './lib.mjs';

const starts = (p) => p.sent().then((s) => s.filter((m) => m.type === 'start'));
const dialogOpen = (p) => p.page.evaluate(() => document.getElementById('terms').open);

test('the terms notice blocks Start until accepted, once per device', async (t) => {
  const server = await startServer(['--terms-text=Operator rules: be excellent to each other.\\nNo one under 18.']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-terms-'));
  let P = null;
  t.after(async () => {
    if (P) await P.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  try {
    P = await openPerson(server.url, 'P', dir, { colour: 'blue', terms: false });
    await waitFor('P ready', stateIs(P, 'ready'));
    assert.deepEqual(await contrastProblems(P.page), [], 'contrast before Start');
    assert.deepEqual(await unlabelled(P.page), [], 'every control has a name');

    // Start opens the notice with the operator's text; nothing is sent yet.
    await P.page.click('#start');
    await waitFor('the notice is open', async () => ({ ok: await dialogOpen(P) }));
    const text = await P.page.textContent('#terms-text');
    assert.match(text, /Operator rules: be excellent to each other\./);
    assert.match(text, /No one under 18\./);
    assert.equal(await P.page.$$eval('#terms-text p', (ps) => ps.length), 2, 'two paragraphs');
    assert.equal(await P.page.evaluate(() => document.activeElement.id), 'terms-accept');
    await P.shot('desktop-terms.png');
    assert.deepEqual(await contrastProblems(P.page), [], 'contrast in the notice');
    assert.deepEqual(await starts(P), []);

    // Esc closes the notice (and is not a Next); still nothing sent, still ready.
    await P.page.keyboard.press('Escape');
    await waitFor('the notice is closed', async () => ({ ok: !(await dialogOpen(P)) }));
    assert.deepEqual(await starts(P), []);
    assert.equal((await P.state()).state, 'ready');

    // A reload does not count as accepting.
    await P.page.reload();
    await waitFor('P ready after the reload', stateIs(P, 'ready'));
    await P.page.selectOption('#lang', 'de');
    await P.page.fill('#interests', 'chess, Jazz');
    await P.page.click('#start');
    await waitFor('the notice is open again', async () => ({ ok: await dialogOpen(P) }));
    assert.deepEqual(await starts(P), []);
    await P.page.click('#terms-cancel');
    assert.deepEqual(await starts(P), [], '"Not now" does not start');
    assert.equal(await P.page.evaluate(() => localStorage.getItem('tandem.terms')), null);

    // Accepting starts at once, with the language and interests.
    await P.page.click('#start');
    await waitFor('the notice is open a third time', async () => ({ ok: await dialogOpen(P) }));
    await P.page.click('#terms-accept');
    await waitFor('P waiting', async () => {
      const s = await P.state();
      return { ok: s.state === 'waiting' && /looking for someone/i.test(s.status), ...s };
    });
    assert.deepEqual(await starts(P), [{ type: 'start', interests: ['chess', 'Jazz'], lang: 'de' }]);
    // Focus went to the button that ends the session, not to <body>.
    assert.equal(await P.page.evaluate(() => document.activeElement.id), 'stop');
    assert.equal(await P.page.isVisible('#prefs'), false, 'interests and language hide during a session');
    await P.shot('desktop-waiting.png');
    assert.deepEqual(await contrastProblems(P.page), [], 'contrast while waiting');
    assert.deepEqual(await unlabelled(P.page), []);

    // Once accepted, Start starts directly, after a reload too; the choices are remembered.
    await P.page.click('#stop');
    await waitFor('P ready again', stateIs(P, 'ready'));
    await P.page.reload();
    await waitFor('P ready after the second reload', stateIs(P, 'ready'));
    assert.equal(await P.page.inputValue('#lang'), 'de');
    await P.page.click('#start');
    await waitFor('P waiting without the notice', stateIs(P, 'waiting'));
    assert.equal(await dialogOpen(P), false);
    assert.equal((await starts(P)).length, 1, 'one start on this page load');

    // The rules can be read again at any time, without an accept button.
    await P.page.click('#show-terms');
    await waitFor('the rules are open', async () => ({ ok: await dialogOpen(P) }));
    assert.equal(await P.page.isVisible('#terms-accept'), false);
    await P.page.click('#terms-cancel');

    // A favicon that costs no request, and no request failed (no /favicon.ico 404).
    assert.match(await P.page.getAttribute('link[rel="icon"]', 'href'), /^data:image\/svg\+xml,/);
    assert.deepEqual(P.bad, []);
  } catch (e) {
    console.error(server.log().split('\n').slice(-30).join('\n'));
    if (P) console.error(P.logs.join('\n'), await P.page.evaluate(() => JSON.stringify({ ...window.tandem, ws: window.tandem.ws && window.tandem.ws.readyState, pc: !!window.tandem.pc, stream: null })));
    throw e;
  }
});

test('without terms_text the page shows its own notice', async (t) => {
  const server = await startServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-terms2-'));
  let P = null;
  t.after(async () => {
    if (P) await P.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  P = await openPerson(server.url, 'P', dir, { colour: 'blue', terms: false });
  await waitFor('P ready', stateIs(P, 'ready'));
  await P.page.click('#start');
  await waitFor('the notice is open', async () => ({ ok: await dialogOpen(P) }));
  assert.match(await P.page.textContent('#terms-text'), /18 or older/);
  assert.deepEqual(await starts(P), []);
});
