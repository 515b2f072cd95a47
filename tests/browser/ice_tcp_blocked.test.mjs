// ice_tcp_blocked.test.mjs -- a browser whose UDP to the server is blocked still gets a call:
// Chromium A runs in a network namespace of its own (a veth pair to this host, made and removed
// by the test) where nftables drops every UDP datagram to the server, so it connects over
// ICE-TCP; Chromium B, on the host, connects over UDP. They see each other. Needs root (CI is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launchPerson, waitFor, seesColour, vethNamespace } from './lib.mjs';

const isRoot = process.getuid && process.getuid() === 0;
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

// The protocol of the candidate pair the page's PeerConnection selected.
const selectedProtocol = (p) => p.page.evaluate(async () => {
  const stats = await window.tandem.pc.getStats();
  let proto = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      const pair = stats.get(s.selectedCandidatePairId);
      proto = stats.get(pair.localCandidateId).protocol;
    }
  });
  return proto;
});

test('UDP blocked: one browser over ICE-TCP, the other over UDP, both ways', { skip: !isRoot && 'needs root for a network namespace' }, async (t) => {
  const id = `${process.pid % 200 + 20}`;
  const ns = `tandem-tcp-${id}`, host = `tdh${id}`, peer = `tdp${id}`;
  const hostIp = `10.213.${id}.1`, nsIp = `10.213.${id}.2`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-ns-'));
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
  fs.writeFileSync(path.join(dir, 'rules.nft'),
    `table inet tandem_block {\n chain out {\n  type filter hook output priority 0;\n  ip daddr ${hostIp} meta l4proto udp drop\n }\n}\n`);
  sh('ip', ['netns', 'exec', ns, 'nft', '-f', path.join(dir, 'rules.nft')]);
  // Chromium in the namespace: a wrapper playwright launches like the real binary.
  const wrapper = path.join(dir, 'chromium-ns');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  fs.chmodSync(wrapper, 0o755);

  server = await startServer(['--http-addr=0.0.0.0', '--media-addr=0.0.0.0', `--public-ip=${hostIp}`]);
  const port = new URL(server.url).port;
  const nsUrl = `http://${hostIp}:${port}`;
  const saved = process.env.CHROMIUM;
  process.env.CHROMIUM = wrapper;
  try {
    people.push(await launchPerson(nsUrl, 'A', 'red', dir,
      [`--unsafely-treat-insecure-origin-as-secure=${nsUrl}`]));
  } finally {
    if (saved === undefined) delete process.env.CHROMIUM; else process.env.CHROMIUM = saved;
  }
  people.push(await launchPerson(server.url, 'B', 'green', dir));
  const [A, B] = people;
  for (const p of people) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }));
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'));
  await waitFor('B sees red', () => seesColour(B, 'red'));
  assert.equal(await selectedProtocol(A), 'tcp', 'A (UDP blocked) should be on ICE-TCP');
  assert.equal(await selectedProtocol(B), 'udp', 'B should be on UDP');
});
