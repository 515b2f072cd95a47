// ice_tcp.test.mjs -- with --media-transports=tcp the server offers only a passive TCP candidate:
// Chromium connects over ICE-TCP (RFC 6544/4571) and two people see each other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour } from './lib.mjs';

// The protocol of the candidate pair the page's PeerConnection selected.
const selectedProtocol = (p) => p.page.evaluate(async () => {
  const stats = await window.tandem.pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  return { local: local && local.protocol, remote: remote && remote.protocol };
});

test('ICE-TCP only: two browsers meet over TCP', async (t) => {
  const { server, people } = await launchCall(t, ['--media-transports=tcp'],
    [['A', 'red'], ['B', 'green']]);
  const [A, B] = people;
  for (const p of people) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }));
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'));
  await waitFor('B sees red', () => seesColour(B, 'red'));
  for (const p of people) {
    const proto = await selectedProtocol(p);
    assert.deepEqual(proto, { local: 'tcp', remote: 'tcp' }, `${p.name}'s selected pair`);
  }
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  assert.match(metrics, /tandem_tcp_dropped_total 0\b/);
});
