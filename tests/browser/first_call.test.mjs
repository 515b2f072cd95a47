// first_call.test.mjs -- three people, each with a solid-colour camera, meet through the server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchCall, waitFor, seesColour, pairingColours } from './lib.mjs';


test('two browsers meet, a third waits, Next re-pairs without renegotiation', async (t) => {
  const { server, people } = await launchCall(t, [],
    [['A', 'red'], ['B', 'green'], ['C', 'blue']]);
  const [A, B, C] = people;
  try {
    const byColour = { red: A, green: B, blue: C };

    // Everyone gets media to the server before pressing Start (the button enables itself).
    for (const p of [A, B]) {
      await waitFor(`${p.name} ready`, async () => {
        const s = await p.state();
        return { ok: s.state === 'ready', ...s };
      });
      await p.page.click('#start');
    }
    await waitFor('A sees green', () => seesColour(A, 'green'));
    await waitFor('B sees red', () => seesColour(B, 'red'));

    await waitFor('C ready', async () => ({ ok: (await C.state()).state === 'ready' }));
    await C.page.click('#start');
    await waitFor('C waiting', async () => {
      const s = await C.state();
      return { ok: s.state === 'waiting' && !s.showing, ...s };
    });
    // C keeps waiting while A and B talk: nobody is shown to C.
    await new Promise((r) => setTimeout(r, 1500));
    const cs = await C.state();
    assert.equal(cs.state, 'waiting');
    assert.equal(cs.showing, false);

    // A presses Next (Esc twice: the first press only asks): C is paired with A or B; the
    // third waits and sees no one.
    await A.page.keyboard.press('Escape');
    await A.page.keyboard.press('Escape');
    const pair = await waitFor('C paired with A or B', async () => {
      const s = await C.state();
      if (s.state !== 'paired' || !s.showing) return { ok: false, ...s };
      const seen = await C.seen();
      return { ok: seen === 'red' || seen === 'green', seen };
    });
    const partner = byColour[pair.seen];
    const third = partner === A ? B : A;
    await waitFor(`${partner.name} sees blue`, () => seesColour(partner, 'blue'));
    await waitFor(`${third.name} waits`, async () => {
      const s = await third.state();
      return { ok: s.state === 'waiting' && !s.showing, ...s };
    });
    await new Promise((r) => setTimeout(r, 1000));
    const ts = await third.state();
    assert.equal(ts.state, 'waiting', `${third.name} should still wait`);
    assert.equal(ts.showing, false, `${third.name} should be shown no one`);
    assert.equal(await seesColour(C, partner.colour).then((r) => r.ok), true);

    // One RTCPeerConnection and one offer per browser for the whole visit.
    for (const p of people) {
      assert.deepEqual(await p.counts(), { pcs: 1, offers: 1 }, `${p.name} renegotiated`);
    }

    // Nobody ever saw a colour that was not their partner of the moment (see pairingColours).
    const colourOf = { A: 'red', B: 'green', C: 'blue' };
    const seenBy = {};
    for (const p of people) {
      seenBy[p.name] = pairingColours(p.name, await p.samples());
      for (const [g, c] of seenBy[p.name].entries()) {
        assert.ok(Object.values(colourOf).includes(c) && c !== colourOf[p.name],
          `${p.name} saw ${c} in pairing ${g + 1}`);
      }
    }
    console.log('seen per pairing:', JSON.stringify(seenBy), 'partner of C:', partner.name);
    console.log('server:', server.log().split('\n').filter((l) => /media ready|paired/.test(l)).join('\n'));
    // A saw green then blue (if A was re-paired); B saw red (then blue if re-paired); C saw one.
    assert.equal(seenBy.A[0], 'green');
    assert.equal(seenBy.B[0], 'red');
    assert.deepEqual(seenBy.C, [partner.colour]);
    assert.equal(seenBy[partner.name].at(-1), 'blue');
  } catch (e) {
    console.error(server.log().split('\n').slice(-80).join('\n'));
    for (const p of people) console.error(p.logs.join('\n'));
    throw e;
  }
});
