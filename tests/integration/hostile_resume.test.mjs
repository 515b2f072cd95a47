// hostile_resume.test.mjs -- resume tokens used by someone else (issue "Proof under hostile
// input", finding 9; docs/security.md, docs/protocol.md "Resume").
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';
import { rawConnect, rawUpgrade, frame, OP, serverMessages, sleep } from '../lib/hostile.mjs';

let server;

before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

async function hello(resume) {
  const c = new SignalClient(server.url);
  await c.opened;
  c.send({ type: 'hello', resume: resume ?? null });
  return { c, w: await c.type('welcome', 5000) };
}

// Before: the token never changed, so whoever had seen it once could resume the visit for
// as long as it lasted.
test('every welcome brings a new token; an old one resumes nothing', async () => {
  const a = await hello();
  const t1 = a.w.resume;
  a.c.close();
  await sleep(100);
  const b = await hello(t1);
  assert.equal(b.w.resumed, true);
  const t2 = b.w.resume;
  assert.notEqual(t2, t1, 'a resume rotates the token');
  b.c.close();
  await sleep(100);
  const old = await hello(t1);
  assert.equal(old.w.resumed, false, 'the old token is dead');
  old.c.close();
  const c = await hello(t2);
  assert.equal(c.w.resumed, true, 'the new one works');
  c.c.close();
});

// Before: a second connection with the token took over the visit from a live connection,
// which was closed. Now the live one is pinged; it answers (the ws package answers pings),
// so it keeps its visit and the newcomer gets a visit of its own.
test('a resume does not take a visit from a live connection', async () => {
  const a = await hello();
  const b = await hello(a.w.resume);
  assert.equal(b.w.resumed, false, 'the newcomer starts its own visit');
  assert.notEqual(b.w.resume, a.w.resume);
  await sleep(300);
  assert.equal(a.c.closed, null, 'the live connection keeps its visit');
  a.c.send({ type: 'ping' });
  await a.c.type('pong');
  // Its token was not spent by the attempt.
  a.c.close();
  await sleep(100);
  const again = await hello(a.w.resume);
  assert.equal(again.w.resumed, true);
  again.c.close();
  b.c.close();
});

// A network switch: the old connection is dead but not closed (no FIN ever came). It shows
// no sign of life within 2 s of the probe, so the resume takes the visit over.
test('a resume takes a visit over from a dead connection within about 2 s', async () => {
  const s = await rawConnect(server.url);
  assert.equal(await rawUpgrade(s, server.url), 101);
  s.write(frame(OP.TEXT, JSON.stringify({ type: 'hello' })));
  await sleep(300);
  const w = serverMessages(s.received).find((m) => m.type === 'welcome');
  assert.ok(w, 'the raw client was welcomed');
  s.pause(); /* dead from now on: reads nothing, answers nothing */
  const t0 = Date.now();
  const b = await hello(w.resume);
  assert.equal(b.w.resumed, true);
  assert.ok(Date.now() - t0 >= 1500, 'the dead connection was given its chance');
  b.c.send({ type: 'ping' });
  await b.c.type('pong');
  b.c.close();
  s.destroy();
});

test('a resume that is being checked is told to wait', async () => {
  const s = await rawConnect(server.url);
  assert.equal(await rawUpgrade(s, server.url), 101);
  s.write(frame(OP.TEXT, JSON.stringify({ type: 'hello' })));
  await sleep(300);
  const w = serverMessages(s.received).find((m) => m.type === 'welcome');
  s.pause();
  const b = new SignalClient(server.url);
  await b.opened;
  b.send({ type: 'hello', resume: w.resume });
  b.send({ type: 'start' });
  const e = await b.type('error');
  assert.equal(e.code, 'bad_state');
  assert.equal((await b.type('welcome', 5000)).resumed, true);
  b.close();
  s.destroy();
});
