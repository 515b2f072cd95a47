// hostile_signal.test.mjs -- signalling messages built to break the replies (issue "Proof under
// hostile input", finding 11; docs/security.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';

let server;

before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

// Before: the error message quoted the type cut at 64 bytes, inside the character, so the
// reply was not valid UTF-8, could not be built, and nothing was sent at all.
test('an unknown type cut inside a UTF-8 character still gets unknown_type', async () => {
  const c = new SignalClient(server.url);
  await c.opened;
  for (const [head, ch] of [['a'.repeat(63), 'é'], ['b'.repeat(62), '😀'], ['c'.repeat(62), '€']]) {
    c.send({ type: `${head}${ch}${'z'.repeat(100)}` });
    const e = await c.type('error', 3000);
    assert.equal(e.code, 'unknown_type');
    assert.equal(e.ref, head, 'the type is echoed cut before the character, at most 64 bytes');
    assert.ok(e.message.includes(head));
  }
  // A very long unknown type is echoed 64 bytes long, not whole.
  c.send({ type: 'x'.repeat(30000) });
  const e = await c.type('error', 3000);
  assert.equal(e.code, 'unknown_type');
  assert.equal(e.ref.length, 64);
  c.send({ type: 'hello' });
  await c.type('welcome');
  c.close();
});
