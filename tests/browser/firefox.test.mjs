// firefox.test.mjs -- Chromium and Firefox meet through the server. Their offers differ (Opus
// 111/VP8 96 against Opus 109/VP8 120, other extmap ids, Firefox's bundle-only video), so each
// side decoding the other proves the server maps payload types per receiver.
//
// playwright-core cannot drive Firefox, so Firefox loads the real client from a copy of web/
// (served with --web-dir) plus probe.js, which presses Start and reports what the page shows to
// a small HTTP endpoint of this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, launchPerson, waitFor, root } from './lib.mjs';

const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

const probe = `(() => {
  const q = new URLSearchParams(location.search);
  const report = q.get('probe');
  if (!report) return;
  localStorage.setItem('tandem.terms', 'accepted by the test');
  let pcs = 0;
  const Orig = window.RTCPeerConnection;
  window.RTCPeerConnection = function (...a) { pcs++; return new Orig(...a); };
  window.RTCPeerConnection.prototype = Orig.prototype;
  const canvas = document.createElement('canvas');
  canvas.width = 16; canvas.height = 12;
  setInterval(() => {
    const t = window.tandem;
    if (!t) return;
    const start = document.getElementById('start');
    if (t.state === 'ready' && !start.disabled) start.click();
    const v = document.getElementById('remote');
    let rgb = null;
    if (v && v.videoWidth) {
      const g = canvas.getContext('2d');
      g.drawImage(v, 0, 0, 16, 12);
      const d = g.getImageData(0, 0, 16, 12).data;
      let r = 0, gg = 0, b = 0;
      for (let i = 0; i < d.length; i += 4) { r += d[i]; gg += d[i + 1]; b += d[i + 2]; }
      const n = d.length / 4;
      rgb = [r / n, gg / n, b / n];
    }
    fetch(report, { method: 'POST', mode: 'no-cors', body: JSON.stringify({
      state: t.state, showing: t.showing, rgb, pcs,
      notice: document.getElementById('notice').textContent,
      status: document.getElementById('status').textContent,
    }) }).catch(() => {});
  }, 250);
})();`;

function reportServer() {
  const reports = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      try { reports.push(JSON.parse(body)); } catch { /* ignore */ }
      res.writeHead(204, { 'Access-Control-Allow-Origin': '*' });
      res.end();
    });
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve({ srv, reports, port: srv.address().port })));
}

test('Chromium and Firefox see each other through the server', { skip: !fs.existsSync(FIREFOX) && 'firefox-esr is not installed' }, async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-ff-'));
  const webDir = path.join(tmp, 'web');
  fs.cpSync(path.join(root, 'web'), webDir, { recursive: true });
  const index = path.join(webDir, 'index.html');
  fs.writeFileSync(index, fs.readFileSync(index, 'utf8')
    .replace('<script src="/app.js"', '<script src="/probe.js"></script>\n<script src="/app.js"'));
  fs.writeFileSync(path.join(webDir, 'probe.js'), probe);
  const profile = path.join(tmp, 'profile');
  fs.mkdirSync(profile);
  fs.writeFileSync(path.join(profile, 'user.js'), [
    ['media.navigator.streams.fake', true], ['media.navigator.permission.disabled', true],
    ['media.peerconnection.ice.obfuscate_host_addresses', false],
    ['browser.shell.checkDefaultBrowser', false], ['app.update.enabled', false],
    ['datareporting.policy.dataSubmissionEnabled', false],
    ['toolkit.telemetry.reportingpolicy.firstRun', false],
    ['browser.startup.homepage_override.mstone', 'ignore'],
    ['network.captive-portal-service.enabled', false], ['network.connectivity-service.enabled', false],
    ['browser.safebrowsing.malware.enabled', false], ['browser.safebrowsing.phishing.enabled', false],
    ['extensions.update.enabled', false], ['media.autoplay.default', 0],
  ].map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join('\n'));

  // Firefox never pairs its host candidates with a loopback candidate, so for this test the
  // media port is on this machine's own address (HTTP stays on 127.0.0.1).
  const ip = Object.values(os.networkInterfaces()).flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (!ip) { t.skip('this machine has no non-loopback IPv4 address for Firefox'); return; }
  const rep = await reportServer();
  const server = await startServer([`--web-dir=${webDir}`, `--media-addr=${ip}`, `--public-ip=${ip}`]);
  let ff = null, A = null;
  t.after(async () => {
    if (A) await A.close();
    if (ff && ff.exitCode === null) { ff.kill('SIGTERM'); await new Promise((r) => setTimeout(r, 500)); ff.kill('SIGKILL'); }
    rep.srv.close();
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  try {
    A = await launchPerson(server.url, 'A', 'red', tmp);
    const url = `${server.url}/?probe=${encodeURIComponent(`http://127.0.0.1:${rep.port}/report`)}`;
    ff = spawn(FIREFOX, ['--headless', '--no-remote', '--profile', profile, url],
      { stdio: 'ignore', env: { ...process.env, MOZ_HEADLESS: '1' } });

    await waitFor('A ready', async () => ({ ok: (await A.state()).state === 'ready' }));
    await A.page.click('#start');

    // Firefox decodes Chromium's VP8 (sent with PT 96, received as its own 120): it sees red.
    const { nearestColour } = await import('./lib.mjs');
    await waitFor('Firefox sees red', async () => {
      const last = rep.reports.at(-1);
      if (!last || last.state !== 'paired' || !last.showing || !last.rgb) return { ok: false, last };
      return { ok: nearestColour(last.rgb) === 'red', seen: nearestColour(last.rgb), last };
    }, 90000);
    // Chromium decodes Firefox's VP8 (PT 120 -> 96) and keeps decoding it.
    const frames = () => A.page.evaluate(async () => {
      const r = await window.tandem.pc.getStats();
      let f = 0;
      r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') f = s.framesDecoded; });
      return { f, w: document.getElementById('remote').videoWidth };
    });
    await waitFor('Chromium shows Firefox', async () => {
      const s = await A.state();
      const fr = await frames();
      return { ok: s.state === 'paired' && s.showing && fr.w > 0 && fr.f > 0, ...s, ...fr };
    });
    const f1 = (await frames()).f;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await frames()).f > f1 + 5, 'Chromium keeps decoding Firefox video');
    // And audio flows both ways.
    const audio = await A.page.evaluate(async () => {
      const r = await window.tandem.pc.getStats();
      let n = 0;
      r.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') n = s.packetsReceived; });
      return n;
    });
    assert.ok(audio > 10, `Chromium receives Firefox audio (${audio} packets)`);
    assert.equal(rep.reports.at(-1).pcs, 1, 'Firefox made one RTCPeerConnection');
  } catch (e) {
    console.error(server.log().split('\n').slice(-40).join('\n'));
    console.error('firefox reports:', JSON.stringify(rep.reports.slice(-3)));
    throw e;
  }
});
