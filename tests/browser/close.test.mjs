// close.test.mjs -- once media flows the server frees each browser's DTLS object (about 75 KiB);
// after that a browser that closes its RTCPeerConnection (close_notify) is still noticed: its
// session ends and its partner is told, as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour } from './lib.mjs';
import { metrics } from '../lib/signal.mjs';

test('DTLS is freed once media flows; closing the PeerConnection still ends the session', async (t) => {
  const { server, people } = await launchCall(t, [], [['A', 'red'], ['B', 'green']]);
  const [A, B] = people;
  for (const p of [A, B]) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }));
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'));
  await waitFor('B sees red', () => seesColour(B, 'red'));

  // Both browsers' DTLS objects are gone, and media still flows both ways.
  const m0 = await metrics(server.url);
  assert.equal(m0.tandem_dtls_handshakes_total, 2, JSON.stringify(m0));
  assert.equal(m0.tandem_dtls_released_total, 2, JSON.stringify(m0));
  const fwd0 = m0.tandem_rtp_forwarded_total;
  await new Promise((r) => setTimeout(r, 1000));
  const m1 = await metrics(server.url);
  assert.ok(m1.tandem_rtp_forwarded_total > fwd0 + 50, JSON.stringify(m1));
  assert.equal(m1.tandem_media_failures_total, 0, JSON.stringify(m1));

  // A closes its PeerConnection: Chrome sends close_notify (which the server can no longer
  // authenticate) and stops sending. The server ends A's media session, tells A, and B learns
  // that the stranger left.
  await A.page.evaluate(() => window.tandem.pc.close());
  await waitFor('the server ended A\'s media session', async () => {
    const m = await metrics(server.url);
    return { ok: m.tandem_media_failures_total === 1, failures: m.tandem_media_failures_total };
  });
  await waitFor('B is no longer paired', async () => {
    const s = await B.state();
    return { ok: s.state !== 'paired' && !s.showing, ...s };
  });
});
