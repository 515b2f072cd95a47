// matching.test.mjs -- interests, text chat, a refresh that resumes, and the skip cool-down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour, stateIs } from './lib.mjs';

async function startWith(p, interests) {
  await waitFor(`${p.name} ready`, stateIs(p, 'ready'));
  await p.page.fill('#interests', interests);
  await p.page.click('#start');
}

test('interests pair people who share them; chat reaches only the partner; a refresh resumes the pair', async (t) => {
  // Widening is pushed far out so the interest rule alone decides; silence_ms is generous so a
  // page reload on a loaded CI machine still counts as a refresh (behaviour, not speed).
  const { server, people } = await launchCall(t, ['--match-widen-ms=120000', '--silence-ms=8000'],
    [['A', 'red'], ['B', 'green'], ['C', 'blue']]);
  const [A, B, C] = people;
  try {

    // B (chess) and A (music, travel) have nothing in common: both wait.
    await startWith(B, 'chess');
    await waitFor('B waiting', stateIs(B, 'waiting'));
    await startWith(A, 'Music, travel');
    await waitFor('A waiting', stateIs(A, 'waiting'));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await B.state()).state, 'waiting');

    // C (cooking, music) shares "music" with A: they pair at once, and both are told.
    await startWith(C, 'cooking, music');
    await waitFor('A sees blue', () => seesColour(A, 'blue'));
    await waitFor('C sees red', () => seesColour(C, 'red'));
    assert.match(await A.shared(), /music/);
    assert.match(await C.shared(), /music/);
    assert.doesNotMatch(await A.shared(), /travel|cooking/);
    assert.equal((await B.state()).state, 'waiting');

    // Chat goes to the partner only.
    await A.page.fill('#chat-input', 'hello from A');
    await A.page.press('#chat-input', 'Enter');
    await waitFor('C gets the chat', async () => ({ ok: (await C.messages()).includes('Stranger: hello from A') }));
    await C.page.fill('#chat-input', 'hi A, C here');
    await C.page.click('#chat-send');
    await waitFor('A gets the reply', async () => ({ ok: (await A.messages()).includes('Stranger: hi A, C here') }));
    assert.ok(!(await B.messages()).some((m) => /hello from A|C here/.test(m)), 'B must not see their chat');

    // A refreshes the page: the visit resumes, the pair survives, C never sees "partner left".
    const watch = setInterval(async () => {
      try { (C.__states ||= []).push((await C.state()).state); } catch { /* page busy */ }
    }, 100);
    await A.page.reload();
    await waitFor('A sees blue again after the refresh', () => seesColour(A, 'blue'), 60000);
    await waitFor('C sees red again', () => seesColour(C, 'red'));
    // Keep watching C for a while after the refresh: it must stay paired throughout.
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(watch);
    assert.ok(C.__states.length > 5);
    assert.deepEqual([...new Set(C.__states)], ['paired'], 'C stayed paired through the refresh');
    assert.ok(!(await C.messages()).includes('Stranger left.'), 'C was never told the partner left');
    assert.deepEqual(await A.counts(), { pcs: 1, offers: 1 }, 'one RTCPeerConnection per page load');

    // A network switch: A's WebSocket drops but its media keeps flowing. It resumes with its
    // token and the pair survives; C is told nothing.
    await A.page.evaluate(() => window.tandem.ws.close());
    await waitFor('A resumed', async () => {
      const ok = await A.page.evaluate(() => window.tandem.ws && window.tandem.ws.readyState === 1);
      return { ok };
    });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await A.state()).state, 'paired');
    assert.equal((await C.state()).state, 'paired');
    await waitFor('A still sees blue', () => seesColour(A, 'blue'));
    assert.ok(!(await C.messages()).includes('Stranger left.'));
    await A.page.fill('#chat-input', 'still here');
    await A.page.press('#chat-input', 'Enter');
    await waitFor('chat after the resume', async () => ({ ok: (await C.messages()).includes('Stranger: still here') }));

    // Chat is rate-limited: a burst beyond the limit gets rate_limited and is not delivered.
    const codes = await A.page.evaluate(() => new Promise((resolve) => {
      const ws = window.tandem.ws;
      const got = [];
      ws.addEventListener('message', (e) => {
        const m = JSON.parse(e.data);
        if (m.type === 'error') got.push(m.code);
      });
      for (let i = 0; i < 12; i++) ws.send(JSON.stringify({ type: 'chat', text: `burst ${i}` }));
      setTimeout(() => resolve(got), 1500);
    }));
    assert.ok(codes.length >= 5 && codes.every((c) => c === 'rate_limited'), `codes: ${codes}`);
    await new Promise((r) => setTimeout(r, 500));
    const burst = (await C.messages()).filter((m) => /burst/.test(m));
    assert.ok(burst.length >= 1 && burst.length <= 12 - codes.length, `delivered ${burst.length}`);
    const tooLong = await A.page.evaluate(() => new Promise((resolve) => {
      const ws = window.tandem.ws;
      ws.addEventListener('message', function h(e) {
        const m = JSON.parse(e.data);
        if (m.type === 'error') { ws.removeEventListener('message', h); resolve(m.code); }
      });
      ws.send(JSON.stringify({ type: 'chat', text: 'x'.repeat(1001) }));
    }));
    assert.equal(tooLong, 'bad_message');

    // Chat after the pair ends is never delivered.
    await C.page.click('#stop');
    await waitFor('A told', async () => ({ ok: (await A.messages()).includes('Stranger left.') }));
    const late = await A.page.evaluate(() => new Promise((resolve) => {
      const ws = window.tandem.ws;
      ws.addEventListener('message', function h(e) {
        const m = JSON.parse(e.data);
        if (m.type === 'error') { ws.removeEventListener('message', h); resolve(m.code); }
      });
      ws.send(JSON.stringify({ type: 'chat', text: 'too late' }));
    }));
    assert.equal(late, 'not_paired');
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!(await C.messages()).some((m) => /too late/.test(m)));
  } catch (e) {
    console.error(server.log().split('\n').slice(-60).join('\n'));
    for (const p of people) console.error(p.logs.join('\n'));
    throw e;
  }
});

test('too many Nexts earn a cool-down with a clear message', async (t) => {
  const { people } = await launchCall(t, ['--match-next-limit=2',
    '--match-rematch-lonely-ms=0', '--match-next-cooldown-ms=4000'], [['A', 'red'], ['B', 'green']]);
  const [A, B] = people;
  await startWith(A, '');
  await startWith(B, '');
  // With nobody else around, the two meet again after each Next (rematch_lonely_ms = 0).
  for (let i = 0; i < 3; i++) {
    await waitFor(`paired ${i}`, stateIs(A, 'paired'));
    await A.page.keyboard.press('Escape');
    await A.page.keyboard.press('Escape'); // the first Esc only asks
    if (i < 2) await waitFor(`A back in the pool ${i}`, async () => ({ ok: (await A.state()).state !== 'paired' || (await A.state()).gen > i + 1 }));
  }
  await waitFor('cool-down message', async () => {
    const s = await A.state();
    return { ok: /too many skips/i.test(s.status), ...s };
  });
  // After the cool-down A is back in the pool by itself and meets B again.
  await waitFor('A paired after the cool-down', stateIs(A, 'paired'), 30000);
  await waitFor('A sees green', () => seesColour(A, 'green'));

  // B's camera and microphone stop (media falls silent): after silence_ms B counts as gone,
  // A is told and goes back to the pool.
  await B.page.evaluate(() => window.tandem.stream.getTracks().forEach((tr) => tr.stop()));
  await waitFor('A told B left', async () => {
    const s = await A.state();
    return { ok: s.state === 'waiting' && (await A.messages()).includes('Stranger left.'), ...s };
  }, 20000);
});
