// ipv6.test.mjs -- calls over IPv6. Chromium A runs in a network namespace of its own whose veth
// pair to this host carries only IPv6 addresses (fd00:7a6e:N::/64, no DAD), and nftables drops
// any IPv4 it might still send; the server (media_addr IPv4, so each worker also binds IPv6-only
// sockets on media_addr6 = ::) advertises an IPv4 address first and its IPv6 address on the veth
// second. 1: Chromium B, on the host, connects as it likes; they see each other's colour, and A's
// selected candidate pair is IPv6 UDP at both ends. 2: Chromium C in a namespace with only IPv4
// meets A: a pair whose media crosses families at the server. Needs root (CI is).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, launchPerson, waitFor, seesColour } from './lib.mjs';

const isRoot = process.getuid && process.getuid() === 0;
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

// The selected candidate pair of the page's PeerConnection: each end's address and protocol.
const selectedPair = (p) => p.page.evaluate(async () => {
  const stats = await window.tandem.pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) return null;
  const l = stats.get(pair.localCandidateId), r = stats.get(pair.remoteCandidateId);
  return {
    local: { address: l.address || l.ip, protocol: l.protocol, type: l.candidateType },
    remote: { address: r.address || r.ip, port: r.port, protocol: r.protocol },
  };
});

// A namespace joined to this host by a veth pair with one address family only; the other family
// is dropped by nftables on its way out. Returns a Chromium wrapper running inside it.
function makeNs(t, dir, { ns, host, peer, v6, hostIp, nsIp }) {
  t.after(() => {
    try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    try { sh('ip', ['link', 'del', host]); } catch { /* went with the namespace */ }
  });
  const inNs = (...args) => sh('ip', ['netns', 'exec', ns, ...args]);
  sh('ip', ['netns', 'add', ns]);
  sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  sh('ip', ['link', 'set', peer, 'netns', ns]);
  if (v6) {
    // IPv6 must be on for these interfaces (a host may have it off by default); nodad: usable
    // at once, not "tentative" for a second or two while duplicate detection runs.
    sh('sysctl', ['-qw', `net.ipv6.conf.${host}.disable_ipv6=0`]);
    inNs('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=0');
    sh('ip', ['-6', 'addr', 'add', `${hostIp}/64`, 'dev', host, 'nodad']);
    inNs('ip', '-6', 'addr', 'add', `${nsIp}/64`, 'dev', peer, 'nodad');
  } else {
    sh('ip', ['addr', 'add', `${hostIp}/24`, 'dev', host]);
    inNs('ip', 'addr', 'add', `${nsIp}/24`, 'dev', peer);
  }
  sh('ip', ['link', 'set', host, 'up']);
  inNs('ip', 'link', 'set', peer, 'up');
  inNs('ip', 'link', 'set', 'lo', 'up');
  const rules = path.join(dir, `${ns}.nft`);
  fs.writeFileSync(rules, `table inet tandem_onefamily {\n chain out {\n  type filter hook output priority 0;\n  oifname "${peer}" meta nfproto ${v6 ? 'ipv4' : 'ipv6'} drop\n }\n}\n`);
  inNs('nft', '-f', rules);
  const wrapper = path.join(dir, `chromium-${ns}`);
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
  fs.chmodSync(wrapper, 0o755);
  return wrapper;
}

// Launches a person with Chromium inside a namespace (through its wrapper).
async function launchIn(wrapper, url, name, colour, dir) {
  const saved = process.env.CHROMIUM;
  process.env.CHROMIUM = wrapper;
  try {
    return await launchPerson(url, name, colour, dir, [`--unsafely-treat-insecure-origin-as-secure=${url}`]);
  } finally {
    if (saved === undefined) delete process.env.CHROMIUM; else process.env.CHROMIUM = saved;
  }
}

const isV6 = (a) => typeof a === 'string' && a.includes(':');

async function meet(people) {
  for (const p of people) {
    await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }));
    await p.page.click('#start');
  }
  const [X, Y] = people;
  await waitFor(`${X.name} sees ${Y.colour}`, () => seesColour(X, Y.colour));
  await waitFor(`${Y.name} sees ${X.colour}`, () => seesColour(Y, X.colour));
}

test('IPv6 only in a namespace: a call with a host browser, the namespaced one on IPv6', { skip: !isRoot && 'needs root for a network namespace' }, async (t) => {
  const id = `${process.pid % 200 + 20}`;
  const hostIp = `fd00:7a6e:${Number(id).toString(16)}::1`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-ns6-'));
  const people = [];
  let server = null;
  t.after(async () => {
    for (const p of people) await p.close();
    if (server) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const wrapper = makeNs(t, dir, { ns: `tandem-v6-${id}`, host: `t6h${id}`, peer: `t6p${id}`,
    v6: true, hostIp, nsIp: `fd00:7a6e:${Number(id).toString(16)}::2` });
  server = await startServer(['--http-addr=::', '--media-addr=0.0.0.0',
    `--public-ip=127.0.0.1,${hostIp}`]);
  const port = new URL(server.url).port;
  people.push(await launchIn(wrapper, `http://[${hostIp}]:${port}`, 'A', 'red', dir));
  people.push(await launchPerson(server.url, 'B', 'green', dir));
  const [A, B] = people;
  await meet(people);
  const a = await selectedPair(A), b = await selectedPair(B);
  console.log(`A's selected pair: ${JSON.stringify(a)}\nB's selected pair: ${JSON.stringify(b)}`);
  assert.ok(a, 'A has a selected pair');
  assert.equal(a.remote.address, hostIp, 'A sends to the server\'s IPv6 address');
  assert.equal(a.remote.protocol, 'udp', 'A is on UDP');
  assert.ok(isV6(a.local.address), `A's own end is IPv6: ${a.local.address}`);
  assert.ok(b, 'B has a selected pair');
});

test('IPv6-only browser meets IPv4-only browser: media crosses families at the server', { skip: !isRoot && 'needs root for a network namespace' }, async (t) => {
  const id = `${process.pid % 200 + 20}`;
  const hex = Number(id).toString(16);
  const host6 = `fd00:7a6f:${hex}::1`, host4 = `10.214.${id}.1`;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-ns46-'));
  const people = [];
  let server = null;
  t.after(async () => {
    for (const p of people) await p.close();
    if (server) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const w6 = makeNs(t, dir, { ns: `tandem-x6-${id}`, host: `x6h${id}`, peer: `x6p${id}`, v6: true,
    hostIp: host6, nsIp: `fd00:7a6f:${hex}::2` });
  const w4 = makeNs(t, dir, { ns: `tandem-x4-${id}`, host: `x4h${id}`, peer: `x4p${id}`, v6: false,
    hostIp: host4, nsIp: `10.214.${id}.2` });
  server = await startServer(['--http-addr=::', '--media-addr=0.0.0.0',
    `--public-ip=${host4},${host6}`, '--media-workers=2']);
  const port = new URL(server.url).port;
  people.push(await launchIn(w6, `http://[${host6}]:${port}`, 'A', 'red', dir));
  people.push(await launchIn(w4, `http://${host4}:${port}`, 'C', 'blue', dir));
  const [A, C] = people;
  await meet(people);
  const a = await selectedPair(A), c = await selectedPair(C);
  console.log(`A's selected pair: ${JSON.stringify(a)}\nC's selected pair: ${JSON.stringify(c)}`);
  assert.ok(a && c, 'both have a selected pair');
  assert.equal(a.remote.address, host6, 'A (IPv6 only) sends to the server\'s IPv6 address');
  assert.equal(c.remote.address, host4, 'C (IPv4 only) sends to the server\'s IPv4 address');
  assert.equal(a.remote.protocol, 'udp');
  assert.equal(c.remote.protocol, 'udp');
});
