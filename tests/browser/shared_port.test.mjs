// shared_port.test.mjs -- one TCP port for a locked-down network: Chromium A runs in a network
// namespace of its own (a veth pair to this host, made and removed by the test) where nftables
// drops everything to the server but TCP to its HTTPS port. A loads the page over HTTPS (a
// self-signed certificate Chromium is told to trust) and gets its call over ICE-TCP on that same
// port (media_on_https_port); Chromium B, on the host, is on UDP. They see each other, and A's
// selected candidate pair is TCP to the HTTPS port. Needs root (CI is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { startServer, launchPerson, waitFor, seesColour, stateIs } from './lib.mjs';

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

test('only TCP to the HTTPS port: page, signalling and media over that one port', { skip: !isRoot && 'needs root for a network namespace' }, async (t) => {
  const id = `${(process.pid + 97) % 200 + 20}`;
  const ns = `tandem-443-${id}`, host = `tsh${id}`, peer = `tsp${id}`;
  const hostIp = `10.214.${id}.1`, nsIp = `10.214.${id}.2`;
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
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  sh('ip', ['link', 'set', peer, 'netns', ns]);
  sh('ip', ['addr', 'add', `${hostIp}/24`, 'dev', host]);
  sh('ip', ['link', 'set', host, 'up']);
  sh('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/24`, 'dev', peer]);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up']);
  sh('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);

  const { cert, key, spki } = makeCert(dir, ['127.0.0.1', hostIp]);
  server = await startServer(['--http-addr=0.0.0.0', '--media-addr=0.0.0.0', `--public-ip=${hostIp}`,
    `--tls-cert=${cert}`, `--tls-key=${key}`]);
  const port = Number(new URL(server.url).port);
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
    people.push(await launchPerson(`https://${hostIp}:${port}`, 'A', 'red', dir, flags));
  } finally {
    if (saved === undefined) delete process.env.CHROMIUM; else process.env.CHROMIUM = saved;
  }
  people.push(await launchPerson(server.url, 'B', 'green', dir, flags));
  const [A, B] = people;
  assert.equal(await A.page.evaluate(() => window.isSecureContext && location.protocol), 'https:');
  for (const p of people) {
    await waitFor(`${p.name} ready`, stateIs(p, 'ready'), 60000);
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
