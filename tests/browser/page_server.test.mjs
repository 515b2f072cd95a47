// page_server.test.mjs -- what the page says when the server cannot take a new visitor: it is
// being taken out of service (SIGTERM: `draining`), or it is full (`full`, max_peers). A
// visitor already there keeps going while the server drains. And a `banned` answer to Start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, openPerson, waitFor, stateIs } from './lib.mjs';

async function setup(t, args) {
  const server = await startServer(args);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-page-server-'));
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { server, dir, people };
}

test('a draining server: the new visitor is told, the visitor already there carries on', async (t) => {
  const { server, dir, people } = await setup(t, []);
  const P = await openPerson(server.url, 'P', dir, { colour: 'red' });
  people.push(P);
  await waitFor('P ready', stateIs(P, 'ready'));
  server.proc.kill('SIGTERM');
  await waitFor('the server drains', async () => ({ ok: (await fetch(`${server.url}/readyz`)).status === 503 }));

  const Q = await openPerson(server.url, 'Q', dir, { colour: 'green', viewport: { width: 390, height: 844 }, mobile: true });
  people.push(Q);
  const s = await waitFor('Q is told the server is closing', async () => {
    const x = await Q.state();
    return { ok: /server is closing/i.test(x.status), ...x };
  });
  assert.equal(await Q.page.isDisabled('#start'), true);
  await Q.shot('phone-server-closing.png');
  // Q keeps trying (behind a load balancer the next try reaches another node) and says so.
  assert.match(s.status, /reconnecting/i);

  // P, already here, still starts and waits in the pool.
  await P.page.click('#start');
  await waitFor('P waiting', stateIs(P, 'waiting'));
});

test('a full server: the visitor is told and the page tries again later', async (t) => {
  const { server, dir, people } = await setup(t, ['--max-peers=1', '--grace-ms=1000']);
  const P = await openPerson(server.url, 'P', dir, { colour: 'red' });
  people.push(P);
  await waitFor('P ready', stateIs(P, 'ready'));
  const Q = await openPerson(server.url, 'Q', dir, { colour: 'green' });
  people.push(Q);
  const s = await waitFor('Q is told the server is full', async () => {
    const x = await Q.state();
    const m = /server is full — trying again in (\d+) s/i.exec(x.status);
    return { ok: !!m, n: m && Number(m[1]), ...x };
  });
  assert.ok(s.n > 5 && s.n <= 30, s.status);
  assert.equal(await Q.page.isDisabled('#start'), true);
  await Q.shot('desktop-server-full.png');
  // When P leaves, Q gets in on its next try.
  await P.close();
  people.splice(people.indexOf(P), 1);
  await waitFor('Q ready once there is room', stateIs(Q, 'ready'), 60000);
});

test('a banned visitor is told, and Start is theirs again', async (t) => {
  const { server, dir, people } = await setup(t, []);
  const P = await openPerson(server.url, 'P', dir, { colour: 'red' });
  people.push(P);
  await waitFor('P ready', stateIs(P, 'ready'));
  // The server has no way to ban anyone yet (moderation/ is rate limits only), so the answer
  // it would send to Start is handed to the page's socket as if it came from the server.
  await P.page.click('#start');
  await waitFor('P waiting', stateIs(P, 'waiting'));
  await P.page.click('#stop');
  await waitFor('P ready again', stateIs(P, 'ready'));
  await P.page.evaluate(() => {
    window.tandem.wantStart = true;
    window.tandem.ws.onmessage({ data: JSON.stringify({ type: 'error', code: 'banned', message: 'you cannot be matched right now', ref: 'start' }) });
  });
  const s = await waitFor('P told', async () => {
    const x = await P.state();
    return { ok: /cannot be matched/i.test(x.status) && /cannot be matched/i.test(x.notice), ...x };
  });
  assert.equal(s.state, 'ready');
  assert.equal(await P.page.isDisabled('#start'), false);
  assert.equal(await P.page.isVisible('#start'), true);
  await P.shot('desktop-banned.png');
});
