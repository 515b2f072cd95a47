// camera.test.mjs -- a denied or missing camera gets a clear message, and nothing connects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startServer, waitFor } from './lib.mjs';

async function open(url, flags) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-cam-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...flags],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  await page.goto(url);
  return { page, async close() { await ctx.close(); fs.rmSync(dir, { recursive: true, force: true }); } };
}

const texts = (page) => page.evaluate(() => ({
  status: document.getElementById('status').textContent,
  notice: document.getElementById('notice').textContent,
  start: document.getElementById('start').disabled,
  ws: !!(window.tandem && window.tandem.ws),
}));

test('a denied camera and a missing camera each get a clear message', async (t) => {
  const server = await startServer();
  t.after(() => server.stop());

  // Denied: fake devices exist, but the permission prompt is refused.
  const denied = await open(server.url, ['--use-fake-device-for-media-stream', '--deny-permission-prompts']);
  try {
    const s = await waitFor('denied message', async () => {
      const x = await texts(denied.page);
      return { ok: /denied/i.test(x.notice), ...x };
    }, 20000);
    assert.match(s.notice, /allow/i);
    assert.equal(s.start, true, 'Start stays disabled');
    assert.equal(s.ws, false, 'no connection to the server without media');
  } finally { await denied.close(); }

  // Missing: permission granted, but this machine has no camera or microphone.
  const missing = await open(server.url, ['--use-fake-ui-for-media-stream']);
  try {
    const s = await waitFor('missing message', async () => {
      const x = await texts(missing.page);
      return { ok: x.notice.length > 0, ...x };
    }, 20000);
    assert.match(s.notice, /no camera or microphone was found/i);
    assert.equal(s.start, true);
  } finally { await missing.close(); }
});
