// hostile_fds.test.mjs -- idle WebSockets from many addresses against a server with 256
// descriptors (issue "Proof under hostile input", finding 2; docs/security.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawConnect, rawUpgrade, sleep } from '../lib/hostile.mjs';

// The server runs under a hard limit of 256 descriptors (so it cannot raise it): a wrapper
// script sets it and execs the real binary, with the same pid.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const realBin = process.env.TANDEM_BIN || path.join(root, 'build', 'tandem');
const wrapper = path.join(os.tmpdir(), `tandem-nofile-${process.pid}.sh`);
fs.writeFileSync(wrapper, `#!/bin/sh\nulimit -n 256\nexec "${realBin}" "$@"\n`, { mode: 0o755 });
process.env.TANDEM_BIN = wrapper;
const { startServer } = await import('../lib/server.mjs');

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); fs.rmSync(wrapper, { force: true }); });

async function healthz() {
  try {
    const r = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(3000) });
    return r.status;
  } catch {
    return 0;
  }
}

// Before: 238 idle WebSocket upgrades took every descriptor and /healthz failed for
// everyone. Now connections stop well short of the limit, and the last few only serve
// /healthz and /readyz.
test('300 idle WebSockets from 8 addresses: /healthz still answers, the rest are refused', async () => {
  const socks = [];
  let upgraded = 0;
  for (let i = 0; i < 300; i++) {
    let s;
    try {
      s = await rawConnect(server.url, { localAddress: `127.0.0.${2 + (i % 8)}` });
    } catch {
      continue; /* refused outright */
    }
    socks.push(s);
    if (await rawUpgrade(s, server.url) === 101) upgraded++;
  }
  console.log(`${upgraded} of 300 WebSockets let in`);
  assert.ok(upgraded > 100, `only ${upgraded} WebSockets were let in`);
  assert.ok(upgraded < 256, `${upgraded} WebSockets were let in with 256 descriptors`);
  for (let i = 0; i < 5; i++) assert.equal(await healthz(), 200, 'healthz under the flood');
  const r = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(3000) });
  assert.equal(r.status, 200);
  const late = await rawConnect(server.url).catch(() => null);
  assert.notEqual(late && await rawUpgrade(late, server.url), 101, 'no WebSocket past the budget');
  if (late) late.destroy();
  for (const s of socks) s.destroy();
  await sleep(300);
  const again = await rawConnect(server.url);
  assert.equal(await rawUpgrade(again, server.url), 101, 'WebSockets again once the flood is gone');
  again.destroy();
  assert.equal(server.proc.exitCode, null, 'the server is alive');
});
