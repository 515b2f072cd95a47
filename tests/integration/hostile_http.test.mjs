// hostile_http.test.mjs -- pipelined HTTP from clients that never read (issue "Proof under
// hostile input", finding 4; docs/security.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';
import { rawConnect, rssBytes, sleep } from '../lib/hostile.mjs';

const MB = 1024 * 1024;
let server;

before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

// Before: every request in a 64 KiB read was answered at once, and /metrics is a few KB, so
// one connection held 7.6 MB until the idle timeout. Now a connection stops being answered
// (and read) once 256 KiB of answers wait beyond what the kernel took.
test('pipelined /metrics never read: memory bounded per connection', async () => {
  const pid = server.proc.pid;
  const before = rssBytes(pid);
  const N = 10;
  const flood = Buffer.from('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(3000));
  const socks = [];
  for (let i = 0; i < N; i++) {
    const s = await rawConnect(server.url, { read: false });
    s.write(flood);
    socks.push(s);
  }
  await sleep(1500);
  const grew = rssBytes(pid) - before;
  assert.ok(grew < 24 * MB, `resident memory grew by ${(grew / MB).toFixed(1)} MB for ${N} connections`);
  assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
  for (const s of socks) s.destroy();
});

test('the same flood read to the end gets every answer, in order', async () => {
  const s = await rawConnect(server.url);
  const n = 2000;
  let reqs = '';
  for (let i = 0; i < n; i++) reqs += `GET /healthz?${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
  reqs += 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  s.write(reqs);
  await new Promise((r) => { if (s.closedAt !== null) r(); else s.once('close', r); });
  const answers = s.received.toString().match(/HTTP\/1\.1 200 OK/g) || [];
  assert.equal(answers.length, n + 1);
});
