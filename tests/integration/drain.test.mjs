// drain.test.mjs -- SIGTERM takes a node out of service: visitors not in a pair are told to move
// (docs/protocol.md, "moving") and the process exits once nobody is left.
// With pairs in progress: tests/integration/ops_drain.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';

function exited(proc, ms) {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
    setTimeout(() => resolve('timeout'), ms);
  });
}

test('SIGTERM with idle visitors only: each is told to move, then closed; the process exits at once', async (t) => {
  const server = await startServer(['--grace-ms=300']);
  t.after(() => server.stop());
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  const c = new SignalClient(server.url);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome');
  c.send({ type: 'ping' });
  await c.type('pong');

  const t0 = Date.now();
  server.proc.kill('SIGTERM');
  const m = await c.type('moving', 5000);
  assert.equal(m.reason, 'draining');
  assert.ok(Number.isInteger(m.retry_ms) && m.retry_ms >= 1000 && m.retry_ms <= 5000, JSON.stringify(m));
  // The moving message is the last one: the server closes with 1012 (service restart).
  await new Promise((resolve) => { if (c.closed !== null) resolve(); else c.ws.once('close', resolve); });
  assert.equal(c.closed, 1012);
  // Nobody is left, so the drain ends now, not after drain_timeout_ms (10 min).
  assert.equal(await exited(server.proc, 10000), 0, server.log());
  assert.ok(Date.now() - t0 < 10000);
  assert.match(server.log(), /drain_start visitors=1 moved=1 paired=0/);
  assert.match(server.log(), /visit_end peer=1 reason=moved/);
});
