// block_device.test.mjs -- a block outlives the visit (issue "Proof under hostile input",
// finding 8; docs/security.md): A blocks B, closes the tab and opens the page again in the same
// browser (a new visit, the same device token); A and B, both waiting and alone in the pool,
// are never paired again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour, acceptTerms } from './lib.mjs';

const stateOf = (page) => page.evaluate(() => window.tandem && window.tandem.state);

test('a blocked person is not met again from a new visit of the same browser', { timeout: 240000 }, async (t) => {
  // grace 0: the closed tab's visit ends at once, so the new tab is a new visit. No memory of
  // recent partners: only the block can keep the two apart.
  const { server, people } = await launchCall(t, ['--grace-ms=0', '--match-recent-k=0'], [['A', 'red'], ['B', 'green']]);
  const [A, B] = people;
  for (const p of people) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }), 60000);
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'), 60000);
  await waitFor('B sees red', () => seesColour(B, 'red'), 60000);
  const device = await A.page.evaluate(() => localStorage.getItem('tandem.device'));
  assert.ok(device && device.length === 76, 'A keeps a device token');

  await A.page.click('#block');
  await waitFor('B waits again', async () => ({ ok: (await B.state()).state === 'waiting' }), 30000);

  // A new tab in A's browser: a new visit (sessionStorage is per tab), the same device.
  const tab = await A.browser.newPage();
  await tab.addInitScript(acceptTerms);
  await A.page.close();
  await tab.goto(server.url);
  await waitFor('the new tab is ready', async () => ({ ok: (await stateOf(tab)) === 'ready' }), 60000);
  assert.equal(await tab.evaluate(() => localStorage.getItem('tandem.device')), device,
    'the new visit presented the same device');
  await tab.click('#start');
  await waitFor('the new tab waits', async () => ({ ok: (await stateOf(tab)) === 'waiting' }), 30000);

  // Before: the new visit was a stranger to the engine and met B at once.
  const until = Date.now() + 8000;
  while (Date.now() < until) {
    assert.equal(await stateOf(tab), 'waiting', 'A\'s new visit was paired with the person A blocked');
    assert.equal((await B.state()).state, 'waiting', 'B was paired with the visitor who blocked B');
    await new Promise((r) => setTimeout(r, 250));
  }
  const peers = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(peers, /tandem_peers_waiting 2/);
});
