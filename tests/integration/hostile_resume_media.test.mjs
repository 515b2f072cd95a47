// hostile_resume_media.test.mjs -- a resumed visit's new offer swaps its media: the partner is
// told (issue "Proof under hostile input", finding 9; docs/protocol.md "Resume"). Two real
// Chromium pages with solid-colour fake cameras.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour, stateIs } from '../browser/lib.mjs';

test('a page reload swaps its media; the partner is told partner_reconnected', async (t) => {
  const { people } = await launchCall(t, ['--silence-ms=8000'], [['A', 'red'], ['B', 'green']]);
  const [A, B] = people;
  for (const p of people) {
    await waitFor(`${p.name} ready`, stateIs(p, 'ready'));
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'));
  await waitFor('B sees red', () => seesColour(B, 'red'));
  // B's page keeps its WebSocket through A's reload: record what it is told.
  await B.page.evaluate(() => {
    window.__types = [];
    window.tandem.ws.addEventListener('message', (e) => window.__types.push(JSON.parse(e.data).type));
  });
  // Before: the new offer replaced A's media and B was never told anything.
  await A.page.reload();
  await waitFor('A sees green again', () => seesColour(A, 'green'), 60000);
  await waitFor('B sees red again', () => seesColour(B, 'red'));
  const types = await B.page.evaluate(() => window.__types);
  assert.ok(types.includes('partner_reconnected'), `B was told: ${types.join(', ')}`);
  assert.ok(!types.includes('partner_left'), 'the pair survived the reload');
  assert.equal((await B.state()).state, 'paired');
});
