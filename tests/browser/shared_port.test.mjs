// shared_port.test.mjs -- one TCP port for a locked-down network. Chromium A runs in a network
// namespace of its own (a veth pair to this host, made and removed by the test) where nftables
// drops everything to the server but TCP to port 443, the server's HTTPS port. A loads the page
// over HTTPS (a self-signed certificate Chromium is told to trust) and gets its call over
// ICE-TCP on that same port (media_on_https_port); Chromium B, on the host, is on UDP. They see
// each other, and A's selected candidate pair is TCP to port 443. The link's addresses are in
// 198.18.0.0/15 (RFC 2544's benchmarking range), which libwebrtc counts as public: it takes a
// candidate on 80 or 443 only at a public address. Then what the docs state of browsers and low
// ports is pinned: Chromium opens ICE-TCP below 1024 only to 80 and 443 at a public address;
// Firefox to any port. Needs root (CI is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { startServer, launchPerson, waitFor, seesColour, stateIs, vethNamespace } from './lib.mjs';

const isRoot = process.getuid && process.getuid() === 0;
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

// A self-signed certificate for the host's addresses, and the hash Chromium is told to trust.
function makeCert(dir, ips) {
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '2', '-subj', '/CN=tandem-shared-port',
    '-addext', `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`,
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const x = new crypto.X509Certificate(fs.readFileSync(cert));
  const spki = crypto.createHash('sha256')
    .update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { cert, key, spki };
}

// GET over HTTPS with any certificate accepted: the body.
function getText(url) {
  return new Promise((resolve, reject) => {
    https.get(url, { rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

// The candidate pair the page's PeerConnection selected: its local protocol and remote port.
const selectedPair = (p) => p.page.evaluate(async () => {
  const stats = await window.tandem.pc.getStats();
  let out = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      const pair = stats.get(s.selectedCandidatePairId);
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      out = { protocol: local.protocol, remotePort: remote.port, remoteProtocol: remote.protocol,
        tcpType: local.tcpType || null };
    }
  });
  return out;
});

test('only TCP to port 443: page, signalling and media over that one port', { skip: !isRoot && 'needs root for a network namespace' }, async (t) => {
  const id = `${(process.pid + 97) % 200 + 20}`;
  const ns = `tandem-443-${id}`, host = `tsh${id}`, peer = `tsp${id}`;
  const hostIp = `198.18.${id}.1`, nsIp = `198.18.${id}.2`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-shared-'));
  const people = [];
  let server = null;
  t.after(async () => {
    for (const p of people) await p.close();
    if (server) await server.stop();
    try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    try { sh('ip', ['link', 'del', host]); } catch { /* went with the namespace */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await vethNamespace({ ns, host, peer, hostIps: [hostIp], nsIps: [nsIp] });

  const { cert, key, spki } = makeCert(dir, ['127.0.0.1', hostIp]);
  server = await startServer(['--http-addr=0.0.0.0', '--http-port=443', '--media-addr=0.0.0.0',
    `--public-ip=${hostIp}`, `--tls-cert=${cert}`, `--tls-key=${key}`]);
  const port = 443;
  assert.ok(!/https_media_low_port/.test(server.log()), 'no warning for 443 at a public address');
  // The namespace reaches the server by TCP to the HTTPS port and nothing else: no UDP, no TCP
  // to the media ports.
  fs.writeFileSync(path.join(dir, 'rules.nft'),
    `table inet tandem_only443 {\n chain out {\n  type filter hook output priority 0;\n` +
    `  ip daddr ${hostIp} tcp dport ${port} accept\n  ip daddr ${hostIp} drop\n }\n}\n`);
  sh('ip', ['netns', 'exec', ns, 'nft', '-f', path.join(dir, 'rules.nft')]);

  const flags = [`--ignore-certificate-errors-spki-list=${spki}`];
  const wrapper = path.join(dir, 'chromium-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  fs.chmodSync(wrapper, 0o755);
  const saved = process.env.CHROMIUM;
  process.env.CHROMIUM = wrapper;
  try {
    people.push(await launchPerson(`https://${hostIp}`, 'A', 'red', dir, flags));
  } finally {
    if (saved === undefined) delete process.env.CHROMIUM; else process.env.CHROMIUM = saved;
  }
  people.push(await launchPerson(server.url, 'B', 'green', dir, flags));
  const [A, B] = people;
  assert.equal(await A.page.evaluate(() => window.isSecureContext && location.protocol), 'https:');
  for (const p of people) {
    // On failure: what the page's ICE saw, and what the server counted.
    await waitFor(`${p.name} ready`, stateIs(p, 'ready'), 60000).catch(async (e) => {
      const pairs = await p.page.evaluate(async () => {
        const out = [];
        (await window.tandem.pc.getStats()).forEach((s) => {
          if (s.type === 'candidate-pair' || s.type === 'remote-candidate' || s.type === 'local-candidate') out.push(JSON.stringify(s));
        });
        return out;
      }).catch((x) => [String(x)]);
      // A page still at "Starting…" never ran its scripts: which loads finished, and how.
      const loads = await p.page.evaluate(() => ({
        readyState: document.readyState,
        resources: performance.getEntriesByType('resource').map((r) => `${r.name} ${Math.round(r.duration)} ms ${r.responseStatus || ''}`),
      })).catch((x) => String(x));
      const text = await getText(`${server.url}/metrics`).catch(() => '');
      console.log(`${p.name}: ${JSON.stringify(loads)}\n${p.logs.join('\n')}`);
      console.log(server.log().split('\n').slice(-40).join('\n'));
      console.log(pairs.join('\n'));
      console.log(text.split('\n').filter((l) => /https|stun|tcp/.test(l) && !l.startsWith('#')).join('\n'));
      throw e;
    });
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'), 60000);
  await waitFor('B sees red', () => seesColour(B, 'red'), 60000);
  const a = await selectedPair(A);
  const b = await selectedPair(B);
  console.log(`A's selected pair: ${JSON.stringify(a)}; B's: ${JSON.stringify(b)}`);
  assert.equal(a.protocol, 'tcp', 'A (only TCP to the HTTPS port) should be on ICE-TCP');
  assert.equal(a.remotePort, port, "A's pair should be the HTTPS port's candidate");
  assert.equal(b.protocol, 'udp', 'B should be on UDP');
  const m = Number(/^tandem_https_media_total (\d+)/m.exec(await getText(`${server.url}/metrics`))[1]);
  assert.ok(m >= 1, `tandem_https_media_total ${m}`);
});

// What the docs build on, pinned: below port 1024 the Chromium under test opens an ICE-TCP
// connection only to 80 and 443, and only at a public address (libwebrtc's VerifyCandidate); at
// 1024 and above, anywhere. Listeners on this host count the connections a Chromium in a
// namespace makes to the candidates of a hand-made answer, on a private address (10.218/16) and
// a public one (198.19/16). If this fails, docs/operations.md should say what changed.
test('Chromium opens ICE-TCP below port 1024 only to 80 and 443 at a public address', { skip: !isRoot && 'needs root for a network namespace' }, async (t) => {
  const id = `${(process.pid + 131) % 200 + 20}`;
  const ns = `tandem-low-${id}`, host = `tlh${id}`, peer = `tlp${id}`;
  const hostIp = `10.218.${id}.1`, nsIp = `10.218.${id}.2`;
  const pubIp = `198.19.${id}.1`, nsPubIp = `198.19.${id}.2`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-lowport-'));
  const ports = [80, 443, 1023, 1024, 8443];
  const hits = Object.fromEntries(ports.map((p) => [p, 0]));
  const pubHits = Object.fromEntries(ports.map((p) => [p, 0]));
  const servers = [];
  let browser = null;
  t.after(async () => {
    if (browser) await browser.close().catch(() => {});
    for (const srv of servers) srv.close();
    try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    try { sh('ip', ['link', 'del', host]); } catch { /* went with the namespace */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await vethNamespace({ ns, host, peer, hostIps: [hostIp, pubIp], nsIps: [nsIp, nsPubIp] });
  for (const [ip, count] of [[hostIp, hits], [pubIp, pubHits]]) {
    for (const p of ports) {
      const srv = net.createServer((c) => { count[p]++; c.destroy(); });
      await new Promise((resolve, reject) => srv.once('error', reject).listen(p, ip, resolve));
      servers.push(srv);
    }
  }
  const wrapper = path.join(dir, 'chromium-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  fs.chmodSync(wrapper, 0o755);
  browser = await chromium.launch({ executablePath: wrapper, headless: true, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  await page.evaluate(async ({ ips, list }) => {
    const pc = new RTCPeerConnection();
    window.__keep = pc;
    pc.addTransceiver('audio');
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const mid = /a=mid:(\S+)/.exec(offer.sdp)[1];
    const fp = /a=fingerprint:(.+)/.exec(offer.sdp)[1];
    const cands = ips.flatMap((ip, k) => list.map((p, i) =>
      `a=candidate:${k * 10 + i + 1} 1 tcp ${1518338047 - k * 10 - i} ${ip} ${p} typ host tcptype passive\r\n`)).join('');
    await pc.setRemoteDescription({ type: 'answer', sdp: 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' +
      `a=ice-lite\r\na=group:BUNDLE ${mid}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n` +
      'a=ice-ufrag:abcdefgh\r\na=ice-pwd:abcdefghabcdefghabcdefgh\r\n' +
      `a=fingerprint:${fp}\r\na=setup:passive\r\na=mid:${mid}\r\na=recvonly\r\na=rtcp-mux\r\n` +
      `a=rtpmap:111 opus/48000/2\r\n${cands}a=end-of-candidates\r\n` });
  }, { ips: [hostIp, pubIp], list: ports });
  await waitFor('connections to 1024 and 8443 at both, 80 and 443 at the public address', () => ({
    ok: hits[1024] > 0 && hits[8443] > 0 && pubHits[1024] > 0 && pubHits[8443] > 0 && pubHits[80] > 0 && pubHits[443] > 0,
    private: hits, public: pubHits,
  }), 20000);
  await new Promise((r) => setTimeout(r, 2000));
  console.log(`ICE-TCP connections by remote port: private ${JSON.stringify(hits)}, public ${JSON.stringify(pubHits)}`);
  assert.equal(hits[443] + hits[80] + hits[1023], 0, 'Chromium connected below 1024 at a private address');
  assert.equal(pubHits[1023], 0, 'Chromium connected to 1023');
});

// The same with Firefox (which playwright-core cannot drive: it loads a page of this test that
// makes the offer and applies the hand-made answer): it connects to every port, 443 included,
// so on 443 the HTTPS port's candidate serves Firefox (docs/operations.md).
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';
test('Firefox opens ICE-TCP to candidates on any port, 443 included', { skip: (!isRoot && 'needs root to listen on 80 and 443') || (!fs.existsSync(FIREFOX) && 'firefox-esr is not installed') }, async (t) => {
  const ip = Object.values(os.networkInterfaces()).flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!ip) { t.skip('no non-loopback IPv4 address'); return; }
  const ports = [80, 443, 1023, 1024, 8443];
  const hits = Object.fromEntries(ports.map((p) => [p, 0]));
  const servers = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-ff-lowport-'));
  let ff = null;
  t.after(() => {
    if (ff) ff.kill('SIGKILL');
    for (const srv of servers) srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const p of ports) {
    const srv = net.createServer((c) => { hits[p]++; c.destroy(); });
    const err = await new Promise((resolve) => srv.once('error', resolve).listen(p, ip, () => resolve(null)));
    if (err) { t.skip(`port ${p} on ${ip}: ${err.code}`); return; }
    servers.push(srv);
  }
  let applied = null;
  const page = `<!doctype html><script>
(async () => {
  const pc = new RTCPeerConnection();
  window.keep = pc;
  pc.addTransceiver('audio');
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const mid = /a=mid:(\\S+)/.exec(offer.sdp)[1];
  const fp = /a=fingerprint:(.+)/.exec(offer.sdp)[1];
  const cands = ${JSON.stringify(ports)}.map((p, i) => 'a=candidate:' + (i + 1) + ' 1 tcp ' +
    (1518338047 - i) + ' ${ip} ' + p + ' typ host tcptype passive\\r\\n').join('');
  await pc.setRemoteDescription({ type: 'answer', sdp: 'v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n' +
    'a=ice-lite\\r\\na=group:BUNDLE ' + mid + '\\r\\nm=audio 9 UDP/TLS/RTP/SAVPF 109\\r\\nc=IN IP4 0.0.0.0\\r\\n' +
    'a=ice-ufrag:abcdefgh\\r\\na=ice-pwd:abcdefghabcdefghabcdefgh\\r\\na=fingerprint:' + fp +
    '\\r\\na=setup:passive\\r\\na=mid:' + mid + '\\r\\na=recvonly\\r\\na=rtcp-mux\\r\\n' +
    'a=rtpmap:109 opus/48000/2\\r\\n' + cands + 'a=end-of-candidates\\r\\n' });
  fetch('/done', { method: 'POST', body: 'ok' });
})().catch((e) => fetch('/done', { method: 'POST', body: String(e) }));
</script>`;
  const web = http.createServer((req, res) => {
    if (req.url === '/done') {
      let b = '';
      req.on('data', (d) => { b += d; });
      req.on('end', () => { applied = b; res.end(); });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(page);
  });
  await new Promise((resolve) => web.listen(0, '127.0.0.1', resolve));
  servers.push(web);
  const profile = path.join(dir, 'profile');
  fs.mkdirSync(profile);
  ff = spawn(FIREFOX, ['--headless', '--no-remote', '--profile', profile,
    `http://127.0.0.1:${web.address().port}/`], { stdio: 'ignore' });
  await waitFor('the answer applied', () => ({ ok: applied !== null, applied }), 30000);
  assert.equal(applied, 'ok');
  await waitFor('connections to every port', () => ({ ok: ports.every((p) => hits[p] > 0), ...hits }), 20000);
  console.log(`Firefox's ICE-TCP connections by remote port: ${JSON.stringify(hits)}`);
});
