// page_media.test.mjs -- mute and camera off reach the partner, read from what the partner's
// RTCPeerConnection decodes: audio energy stops growing, video frames stop (no video is sent;
// the pair lives on audio) and the partner is told there is no picture, and both come back. The
// self-view is mirrored, the partner's video is not; the volume control sets the partner's
// volume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, pairUp, waitFor, nearestColour } from './lib.mjs';

// Growth of B's inbound counters over `ms`, measured on B's page.
async function rates(p, ms = 2000) {
  const a = await p.inbound();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  const b = await p.inbound();
  const s = (Date.now() - t0) / 1000;
  return { fps: (b.frames - a.frames) / s, energy: b.energy - a.energy, audioPps: (b.audioPackets - a.audioPackets) / s };
}

test('mute and camera off reach the partner; the self-view is mirrored', async (t) => {
  const server = await startServer();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-media-'));
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

    // Before: B hears A (the fake microphone beeps) and decodes A's video smoothly.
    const before = await waitFor('B decodes A\'s audio and video', async () => {
      const r = await rates(B);
      return { ok: r.energy > 0.01 && r.fps > 8, ...r };
    });
    console.log('before', JSON.stringify(before));

    // Mute: B's audio energy stops growing (packets keep coming: silence, not a gap).
    await A.page.click('#mute');
    assert.equal(await A.page.getAttribute('#mute', 'aria-pressed'), 'true');
    const muted = await waitFor('B hears silence', async () => {
      const r = await rates(B);
      return { ok: r.energy < 1e-6 && r.audioPps > 10, ...r };
    });
    console.log('muted', JSON.stringify(muted));

    // Camera off: B's decoded frames stop (A sends no video at all) and B is told.
    await A.page.click('#camera');
    assert.equal(await A.page.getAttribute('#camera', 'aria-pressed'), 'true');
    assert.ok(await A.page.isVisible('#local-box .cam-off'), 'A sees that the camera is off');
    const dark = await waitFor('B decodes no more frames', async () => {
      const r = await rates(B, 2000);
      return { ok: r.fps === 0 && r.audioPps > 10, ...r };
    });
    console.log('camera off', JSON.stringify(dark));
    await waitFor('B is told there is no picture', async () => ({ ok: await B.page.isVisible('#dark-note') }));
    await A.shot('desktop-muted-camera-off.png');
    await B.shot('desktop-partner-camera-off.png');
    // The pair outlives the server's silence limit (3 s) with no video at all: audio keeps it.
    const f0 = (await B.inbound()).frames;
    await new Promise((r) => setTimeout(r, 4500));
    assert.equal((await B.state()).state, 'paired', 'B should still be paired with A');
    assert.equal((await A.state()).state, 'paired', 'A should still be paired with B');
    assert.equal((await B.inbound()).frames, f0, 'no frame from A while its camera is off');

    // Both back on: colour, a full frame rate and sound again.
    await A.page.click('#camera');
    await A.page.click('#mute');
    await waitFor('B sees red again', async () => {
      const rgb = await B.page.evaluate(() => window.__sampleRemote());
      return { ok: !!rgb && nearestColour(rgb) === 'red', rgb };
    });
    await waitFor('the no-picture note goes', async () => ({ ok: !(await B.page.isVisible('#dark-note')) }));
    const back = await waitFor('B decodes A again', async () => {
      const r = await rates(B);
      return { ok: r.energy > 0.01 && r.fps > 8, ...r };
    });
    console.log('back', JSON.stringify(back));

    // Mirrored self-view, unmirrored partner.
    const tf = await A.page.evaluate(() => ({
      local: getComputedStyle(document.getElementById('local')).transform,
      remote: getComputedStyle(document.getElementById('remote')).transform,
    }));
    assert.equal(tf.local, 'matrix(-1, 0, 0, 1, 0, 0)');
    assert.equal(tf.remote, 'none');

    // The volume control sets the partner's volume, and is remembered.
    await B.page.locator('#volume').fill('0.3');
    assert.equal(await B.page.evaluate(() => document.getElementById('remote').volume), 0.3);
    assert.equal(await B.page.evaluate(() => localStorage.getItem('tandem.volume')), '0.3');
  } catch (e) {
    console.error(server.log().split('\n').slice(-40).join('\n'));
    for (const p of people) console.error(p.logs.join('\n'));
    throw e;
  }
});
