// report.test.mjs -- issue 9's must-show for reports, with three real browsers: A (red) and B
// (green) talk for ~11 s, A reports B ("nudity") with the page's Report button. A gets
// `reported` with an id and meets C (blue) at once; the admin API lists the report against
// B's device; its JPEG is B's green picture and its WebM clip holds ~10 s of VP8 and Opus.
// Then A and B are the only two looking, and are never paired again.
//
// Who meets C: a partner left by Next, Block or a report goes back into the pool with its old
// place in line, so B (waiting longer than C) would get C, not A. So B and C meet first and C
// blocks B: B and C can never be paired, and after the report A is the only one C can meet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, openPerson, pairUp, waitFor, seesColour, stateIs, nearestColour, watchFrames,
  deviceHex, adminApi,
} from './lib.mjs';

const TOKEN = 'report-test-token';

// The colour of a JPEG: ffmpeg scales it to one pixel.
function jpegColour(buf) {
  const r = spawnSync('ffmpeg', ['-v', 'error', '-i', 'pipe:', '-vf', 'scale=1:1', '-f', 'rawvideo',
    '-pix_fmt', 'rgb24', '-'], { input: buf });
  assert.equal(r.status, 0, `ffmpeg: ${r.stderr}`);
  return [...r.stdout.subarray(0, 3)];
}

function probe(file) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name',
    '-show_entries', 'format=duration', '-of', 'json', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffprobe: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('A reports B: reported, A meets C, the report and its evidence are B\'s, A and B never meet again',
  { timeout: 300000 }, async (t) => {
    const server = await startServer([`--admin-token=${TOKEN}`, '--match-rematch-lonely-ms=0']);
    const api = adminApi(server, TOKEN);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-report-'));
    const people = [];
    t.after(async () => {
      for (const p of people) await p.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const [A, B, C] = await Promise.all([
      openPerson(server.url, 'A', dir, { colour: 'red' }),
      openPerson(server.url, 'B', dir, { colour: 'green' }),
      openPerson(server.url, 'C', dir, { colour: 'blue' }),
    ]);
    people.push(A, B, C);
    // Every frame of A's, from a fresh page load on (a reload resumes its visit).
    const frames = watchFrames(A);
    await A.page.reload();
    try {
      // Every page has its device token from its welcome.
      const dev = {};
      for (const p of [A, B, C]) {
        const tok = await waitFor(`${p.name}'s device token`, async () => {
          const d = await p.page.evaluate(() => window.tandem.device);
          return typeof d === 'string' && d.length === 76 ? d : { ok: false, d };
        });
        dev[p.name] = deviceHex(tok);
      }
      assert.equal(new Set(Object.values(dev)).size, 3, `three browsers, three devices: ${JSON.stringify(dev)}`);

      // B and C meet, and C blocks B; both keep looking, alone.
      await pairUp(B, C);
      await C.page.click('#block');
      await waitFor('C waits', stateIs(C, 'waiting'), 15000);
      await waitFor('B waits', stateIs(B, 'waiting'), 15000);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal((await B.state()).state, 'waiting', 'B and C were paired again after a block');
      // A starts and meets B (C blocked B, and B has waited longer than C).
      await waitFor('A ready', stateIs(A, 'ready'), 60000);
      await A.page.click('#start');
      await waitFor('A sees green', () => seesColour(A, 'green'), 60000);
      await waitFor('B sees red', () => seesColour(B, 'red'), 60000);
      assert.equal((await C.state()).state, 'waiting');
      const peers = (await api('GET', '/api/peers')).data.peers;
      const peerB = peers.find((p) => p.device === dev.B);
      const peerA = peers.find((p) => p.device === dev.A);
      assert.ok(peerA && peerB, `A and B in /api/peers by device: ${JSON.stringify(peers)}`);
      assert.equal(peerA.partner, peerB.id, JSON.stringify(peers));

      // Long enough that the server holds 10 s of B's media.
      await new Promise((r) => setTimeout(r, 11000));
      assert.equal(await A.seen(), 'green');

      await A.page.click('#report');
      await A.page.check('#report-form input[value="nudity"]');
      await A.page.click('#report-send');

      // A sees C (blue) soon; B is not shown any more.
      await waitFor('A sees blue', () => seesColour(A, 'blue'), 30000);
      await waitFor('C sees red', () => seesColour(C, 'red'), 30000);
      const reported = await waitFor('A gets reported', async () => {
        const m = frames.got.find((x) => x.type === 'reported');
        return m || { ok: false };
      }, 30000);
      assert.ok(Number.isInteger(reported.id) && reported.id > 0, JSON.stringify(reported));
      await waitFor('the toast', async () => ({ ok: /Thanks/.test(await A.page.textContent('#toast')) }), 5000);
      assert.deepEqual(frames.sent.filter((m) => m.type === 'report'), [{ type: 'report', reason: 'nudity' }]);
      assert.equal(frames.sent.filter((m) => m.type === 'next').length, 0);

      // The report, against B's device, from A's.
      const list = await api('GET', '/api/reports');
      assert.equal(list.status, 200);
      const rep = list.data.reports.find((r) => r.id === reported.id);
      assert.ok(rep, `report ${reported.id} not listed: ${JSON.stringify(list.data)}`);
      assert.equal(rep.reason, 'nudity');
      assert.equal(rep.reported.device, dev.B);
      assert.equal(rep.reporter.device, dev.A);
      assert.equal(rep.reported.peer, peerB.id);
      assert.equal(rep.state, 'open');

      // The picture: a JPEG of B's green.
      const jpg = await api('GET', `/api/reports/${reported.id}/snapshot.jpg`, null, true);
      assert.equal(jpg.status, 200);
      assert.equal(jpg.type, 'image/jpeg');
      assert.ok(jpg.data[0] === 0xff && jpg.data[1] === 0xd8, 'not a JPEG');
      const rgb = jpegColour(jpg.data);
      assert.equal(nearestColour(rgb), 'green', `the evidence picture is ${rgb}`);

      // The clip (checked at the end).
      const webm = await api('GET', `/api/reports/${reported.id}/clip.webm`, null, true);

      // C leaves: A and B are the only two looking. They are never paired again.
      await C.page.click('#stop');
      await waitFor('A waits', stateIs(A, 'waiting'), 15000);
      await waitFor('B waits', stateIs(B, 'waiting'), 15000);
      const genA = (await A.state()).gen;
      for (let i = 0; i < 16; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const [a, b] = [await A.state(), await B.state()];
        assert.equal(a.state, 'waiting', `A left waiting: ${JSON.stringify(a)}`);
        assert.equal(b.state, 'waiting', `B left waiting: ${JSON.stringify(b)}`);
        assert.equal(a.gen, genA);
      }
      const pairs = (await api('GET', '/api/pairs')).data;
      assert.equal(pairs.count, 0, JSON.stringify(pairs));

      // The clip: VP8 and Opus, about 10 s.
      assert.ok(rep.evidence.webm, `the report has no clip: ${JSON.stringify(rep)}`);
      assert.equal(webm.status, 200);
      const file = path.join(dir, 'clip.webm');
      fs.writeFileSync(file, webm.data);
      const info = probe(file);
      const codecs = info.streams.map((x) => x.codec_name).sort();
      assert.deepEqual(codecs, ['opus', 'vp8'], JSON.stringify(info));
      const dur = Number(info.format.duration);
      assert.ok(dur >= 8 && dur <= 12, `the clip lasts ${dur} s`);
    } catch (e) {
      console.log(server.log().split('\n').filter((l) => /report|error|warn/i.test(l)).slice(-40).join('\n'));
      throw e;
    }
  });
