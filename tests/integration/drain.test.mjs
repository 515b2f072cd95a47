// drain.test.mjs -- SIGTERM takes a node out of service without cutting the visitors it has.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, waitFor } from '../lib/server.mjs';
import { SignalClient } from '../lib/signal.mjs';

test('SIGTERM: /readyz 503, new visitors refused, current ones continue, exit when they leave', async (t) => {
  const server = await startServer(['--grace-ms=300']);
  t.after(() => server.stop());
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  const c = new SignalClient(server.url);
  await c.opened;
  c.send({ type: 'hello' });
  await c.type('welcome');

  server.proc.kill('SIGTERM');
  await waitFor('readyz 503', async () => ({ ok: (await fetch(`${server.url}/readyz`)).status === 503 }), 5000);
  // A new visitor is refused with a clear reason.
  const d = new SignalClient(server.url);
  await d.opened;
  d.send({ type: 'hello' });
  const e = await d.type('error');
  assert.equal(e.code, 'draining');
  // The current visitor carries on.
  c.send({ type: 'ping' });
  await c.type('pong');
  assert.equal(server.proc.exitCode, null, 'still running while a visitor is connected');
  // When it leaves (and its grace period ends) the process exits cleanly.
  c.close();
  const code = await new Promise((resolve) => {
    if (server.proc.exitCode !== null) resolve(server.proc.exitCode);
    server.proc.once('exit', (c2) => resolve(c2));
    setTimeout(() => resolve('timeout'), 10000);
  });
  assert.equal(code, 0);
});
