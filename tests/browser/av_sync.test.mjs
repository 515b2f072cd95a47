// av_sync.test.mjs -- media_av_sync=false: the server's answer puts the partner's audio and video
// in separate streams (so Chromium shows video without holding it for lip sync), and a call and
// a Next work as with the default. The default (one stream) is what every other browser test runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour } from './lib.mjs';

// The msid stream id of each m= section of the page's remote description (the server's answer).
const streamIds = (p) => p.page.evaluate(() => {
  const sdp = window.tandem.pc.remoteDescription.sdp;
  const out = {};
  for (const sec of sdp.split('\r\nm=').slice(1)) {
    const kind = sec.split(' ')[0];
    const m = /a=msid:(\S+) /.exec(sec);
    out[kind] = m ? m[1] : null;
  }
  return out;
});

test('media_av_sync=false: audio and video in separate streams, calls and Next work', async (t) => {
  const { people } = await launchCall(t, ['--media-av-sync=false'],
    [['A', 'red'], ['B', 'green'], ['C', 'blue']]);
  const [A, B, C] = people;
  for (const p of people) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }));
  }
  const ids = await streamIds(A);
  assert.ok(ids.audio && ids.video, `both tracks have a stream: ${JSON.stringify(ids)}`);
  assert.notEqual(ids.audio, ids.video, 'audio and video are in separate streams');
  await A.page.click('#start');
  await B.page.click('#start');
  await waitFor('A sees green', () => seesColour(A, 'green'));
  await waitFor('B sees red', () => seesColour(B, 'red'));
  await C.page.click('#start');
  await A.page.click('#next');
  // C is paired with A or B (the other waits): the two see each other.
  let other = null;
  await waitFor('C sees A or B', async () => {
    for (const [p, colour] of [[A, 'red'], [B, 'green']]) {
      if ((await seesColour(C, colour)).ok) { other = p; return { ok: true }; }
    }
    return { ok: false };
  });
  await waitFor(`${other.name} sees blue`, () => seesColour(other, 'blue'));
});
