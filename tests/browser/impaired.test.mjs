// impaired.test.mjs -- a call over a bad path keeps its video: Chromium A runs in a network
// namespace of its own (a veth pair to this host, made and removed by the test) whose two ends
// both delay, jitter, drop and reorder every packet with `tc netem` (5% loss, 50 ms +- 10 ms,
// 5% reordered), so both of A's directions are impaired; Chromium B is on the host. Over a 20 s
// window both pages keep decoding video, each receiver sends NACKs, the NACKs reach the other
// browser through the server (the sender's outbound-rtp counts them and its retransmissions),
// most lost packets are recovered (also those lost after the server), and freezes stay rare. The figures are printed. A server
// that dropped NACKs (or mistranslated their sequence numbers) leaves the sender's NACK count
// at 0, the residual loss near 5% and the video freezing on every loss. Needs root and
// `tc` (iproute2) with the netem qdisc (CI runs as root).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import dgram from 'node:dgram';
import { startServer, launchPerson, waitFor, seesColour, vethNamespace } from './lib.mjs';

const WINDOW_MS = 20000;
const NETEM = ['loss', '5%', 'delay', '50ms', '10ms', 'reorder', '5%'];
const sh = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

// Why this test cannot run here, or null.
function unavailable() {
  if (!(process.getuid && process.getuid() === 0)) return 'needs root for a network namespace and tc';
  try { sh('tc', ['-V']); } catch { return 'tc (iproute2) is not installed'; }
  try { sh('ip', ['netns', 'list']); } catch { return 'network namespaces are not available'; }
  return null;
}
const why = unavailable();

// B -> A loses packets between the server and A: A NACKs them, the server passes the NACK to
// B, B sends them again with their first SRTP index (no RTX is negotiated), and the server, which
// had them, must let these through once each (media/router.c, "retransmissions") rather than
// refuse them as replays. Before that was built, A's video froze most of the time: this test
// caught it (tandem_rtp_retransmitted_total counts them now, tandem_srtp_errors_total counted the
// refusals).

// The page's video stats: inbound (what it receives) and outbound (what it sends).
const videoStats = (p) => p.page.evaluate(async () => {
  const r = await window.tandem.pc.getStats();
  const o = { in: null, out: null };
  r.forEach((s) => {
    if (s.kind !== 'video') return;
    if (s.type === 'inbound-rtp') {
      o.in = {
        framesDecoded: s.framesDecoded || 0, framesDropped: s.framesDropped || 0,
        packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0,
        nackCount: s.nackCount || 0, pliCount: s.pliCount || 0, firCount: s.firCount || 0,
        retransmittedPacketsReceived: s.retransmittedPacketsReceived || 0,
        freezeCount: s.freezeCount || 0, totalFreezesDuration: s.totalFreezesDuration || 0,
        keyFramesDecoded: s.keyFramesDecoded || 0, jitterBufferDelay: s.jitterBufferDelay || 0,
        jitterBufferEmittedCount: s.jitterBufferEmittedCount || 0,
      };
    }
    if (s.type === 'outbound-rtp') {
      o.out = {
        packetsSent: s.packetsSent || 0, nackCount: s.nackCount || 0, pliCount: s.pliCount || 0,
        retransmittedPacketsSent: s.retransmittedPacketsSent || 0,
        keyFramesEncoded: s.keyFramesEncoded || 0, framesEncoded: s.framesEncoded || 0,
      };
    }
  });
  return o;
});

// A UDP port free on `ip`, and the one after it too (for two media workers).
async function freeUdpPorts(ip) {
  const bind = (port) => new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(null));
    s.bind(port, ip, () => resolve(s));
  });
  for (;;) {
    const a = await bind(0);
    const p = a.address().port;
    const b = p < 65535 ? await bind(p + 1) : null;
    a.close();
    if (b) { b.close(); return p; }
  }
}

// netem's impairment in user space: a UDP relay on ip:port, for each of `ports`, to the
// server's 127.0.0.1:port (the server's media workers each have a port of their own).
// Datagrams from and to `impaired` (A's address) are dropped with 5% probability, else sent
// at once with 5% probability (so they overtake the delayed ones: reordering), else delayed
// 50 ms +- 10 ms (uniform; the jitter reorders some too). Other addresses pass unchanged.
async function startRelay(ip, ports, impaired) {
  const counts = { toServer: { sent: 0, dropped: 0, early: 0 }, toA: { sent: 0, dropped: 0, early: 0 } };
  const timers = new Set();
  const impair = (c, send) => {
    if (Math.random() < 0.05) { c.dropped++; return; }
    c.sent++;
    if (Math.random() < 0.05) { c.early++; send(); return; }
    const tm = setTimeout(() => { timers.delete(tm); send(); }, 40 + Math.random() * 20);
    timers.add(tm);
  };
  const fronts = [];
  const backs = new Map();
  for (const port of ports) {
    const front = dgram.createSocket('udp4');
    fronts.push(front);
    await new Promise((resolve, reject) => { front.once('error', reject); front.bind(port, ip, resolve); });
    front.on('message', (msg, from) => {
      const key = `${port}/${from.address}:${from.port}`;
      let back = backs.get(key);
      if (!back) {
        back = dgram.createSocket('udp4');
        back.bind(0, '127.0.0.1');
        back.on('message', (m) => {
          const out = () => front.send(m, from.port, from.address);
          if (from.address === impaired) impair(counts.toA, out); else out();
        });
        backs.set(key, back);
      }
      const out = () => back.send(msg, port, '127.0.0.1');
      if (from.address === impaired) impair(counts.toServer, out); else out();
    });
  }
  return {
    counts,
    close() {
      for (const tm of timers) clearTimeout(tm);
      for (const b of backs.values()) b.close();
      for (const f of fronts) f.close();
    },
  };
}

// The server's counters that say where packets went (/metrics on the public port).
async function serverCounters(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const get = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : null;
  };
  return {
    srtpErrors: get('tandem_srtp_errors_total'), rtpDropped: get('tandem_rtp_dropped_total'),
    keyframeRequests: get('tandem_keyframe_requests_total'),
    retransmitted: get('tandem_rtp_retransmitted_total'),
  };
}

const delta = (b, a) => Object.fromEntries(Object.keys(b).map((k) => [k, +(b[k] - a[k]).toFixed(3)]));

test('impaired path (netem 5% loss, 50 ms, reordering): video keeps flowing both ways, NACKs recover losses',
  { skip: why || false, timeout: 180000 }, async (t) => {
    const id = `${process.pid % 200 + 20}`;
    const ns = `tandem-netem-${id}`, host = `tnh${id}`, peer = `tnp${id}`;
    const hostIp = `10.214.${id}.1`, nsIp = `10.214.${id}.2`;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-netem-'));
    const people = [];
    let server = null;
    t.after(async () => {
      for (const p of people) await p.close();
      if (server) await server.stop();
      try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
      try { sh('ip', ['link', 'del', host]); } catch { /* went with the namespace (and its qdisc) */ }
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await vethNamespace({ ns, host, peer, hostIps: [hostIp], nsIps: [nsIp] });
    // Both directions: the host end's egress (server -> A) and the namespace end's (A -> server).
    // A kernel without the netem qdisc (sch_netem) gets the same impairment from a UDP relay in
    // this process instead, applied to A's media only (see startRelay).
    let relay = null;
    try {
      sh('tc', ['qdisc', 'add', 'dev', host, 'root', 'netem', ...NETEM]);
      sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', peer, 'root', 'netem', ...NETEM]);
      const qdiscs = `${sh('tc', ['qdisc', 'show', 'dev', host])}${sh('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', peer])}`;
      console.log(`impairment: tc netem on both veth ends\n${qdiscs.trim()}`);
    } catch (e) {
      console.log(`impairment: tc netem is not available (${String(e.stderr || e.message).trim()}): `
        + 'a UDP relay in the test does the same to A\'s media (5% loss, 50 +- 10 ms, 5% sent at once, ahead of delayed ones)');
      relay = true;
    }

    const wrapper = path.join(dir, 'chromium-ns');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${process.env.CHROMIUM || '/usr/bin/chromium'} "$@"\n`);
    fs.chmodSync(wrapper, 0o755);

    if (relay) {
      // The server's media on loopback, the relay on the veth address with the same port
      // (which the answer advertises): A's media goes through the relay, impaired both ways.
      const mediaPort = await freeUdpPorts(hostIp);
      server = await startServer(['--http-addr=0.0.0.0', '--media-addr=127.0.0.1', '--media-workers=2',
        `--media-port=${mediaPort}`, `--public-ip=${hostIp}`]);
      relay = await startRelay(hostIp, [mediaPort, mediaPort + 1], nsIp);
      t.after(() => relay.close());
    } else {
      server = await startServer(['--http-addr=0.0.0.0', '--media-addr=0.0.0.0', `--public-ip=${hostIp}`]);
    }
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
    try {
      for (const p of people) {
        await waitFor(`${p.name} ready`, async () => ({ ok: (await p.state()).state === 'ready' }), 60000);
        await p.page.click('#start');
      }
      await waitFor('A sees green', () => seesColour(A, 'green'), 60000);
      await waitFor('B sees red', () => seesColour(B, 'red'), 60000);
      // Let the start (first keyframes, bandwidth estimate) settle, then measure a window.
      await new Promise((r) => setTimeout(r, 3000));
      const before = { A: await videoStats(A), B: await videoStats(B), server: await serverCounters(server.url) };
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, WINDOW_MS));
      const after = { A: await videoStats(A), B: await videoStats(B), server: await serverCounters(server.url) };
      const secs = (Date.now() - t0) / 1000;
      const d = {
        A: { in: delta(after.A.in, before.A.in), out: delta(after.A.out, before.A.out) },
        B: { in: delta(after.B.in, before.B.in), out: delta(after.B.out, before.B.out) },
      };
      const rows = [];
      for (const [rx, tx] of [['A', 'B'], ['B', 'A']]) {
        const i = d[rx].in, o = d[tx].out;
        const expected = i.packetsReceived + i.packetsLost;
        rows.push({
          direction: `${tx}->${rx}`,
          fps: +(i.framesDecoded / secs).toFixed(1),
          packetsReceived: i.packetsReceived, packetsLost: i.packetsLost,
          residualLossPct: +(100 * i.packetsLost / Math.max(1, expected)).toFixed(2),
          nacksSentByReceiver: i.nackCount, nacksReachingSender: o.nackCount,
          retransmittedBySender: o.retransmittedPacketsSent,
          retransmittedReceived: i.retransmittedPacketsReceived,
          plis: i.pliCount, keyFramesDecoded: i.keyFramesDecoded,
          freezes: i.freezeCount, freezeSeconds: +i.totalFreezesDuration.toFixed(2),
          jitterBufferMs: +(1000 * i.jitterBufferDelay / Math.max(1, i.jitterBufferEmittedCount)).toFixed(0),
        });
      }
      console.log(`impaired call over ${secs.toFixed(1)} s (${NETEM.join(' ')}, both of A's directions):`);
      console.table(rows);
      if (relay) console.log('relay (whole call):', JSON.stringify(relay.counts));
      console.log('raw deltas:', JSON.stringify(d));
      const counted = delta(after.server, before.server);
      console.log('server counters over the window:', JSON.stringify(counted));
      // Packets lost after the server came again, through it.
      assert.ok(counted.retransmitted > 0, 'the server passed no retransmission on');

      for (const r of rows) {
        const [tx, rx] = r.direction.split('->');
        // The receiver saw losses and asked for them again ...
        assert.ok(r.nacksSentByReceiver > 0, `${rx} sent no NACK over a lossy path`);
        // ... the server passed the NACKs on to the sender, which retransmitted ...
        assert.ok(r.nacksReachingSender > 0,
          `${tx} received none of the ${r.nacksSentByReceiver} NACKs ${rx} sent: the server does not forward them`);
        assert.ok(r.retransmittedBySender > 0, `${tx} retransmitted nothing`);
        // Decoding all along: at least 10 fps of the fake camera's 30.
        assert.ok(r.fps >= 10, `${rx} decoded only ${r.fps} fps from ${tx}`);
        // ... and most losses were recovered: 5% (and more, with the retransmissions' own
        // losses) without NACK; well under half of that with it.
        assert.ok(r.residualLossPct < 2.5,
          `${rx} still lost ${r.residualLossPct}% of ${tx}'s video packets after retransmissions`);
        // Freezes stay rare: at most one every 2 s, and under a fifth of the time frozen.
        assert.ok(r.freezes <= secs / 2, `${rx}'s video froze ${r.freezes} times in ${secs.toFixed(0)} s`);
        assert.ok(r.freezeSeconds < secs / 5, `${rx}'s video was frozen ${r.freezeSeconds} s of ${secs.toFixed(0)} s`);
      }
      // Still the right people at the end.
      assert.equal((await seesColour(A, 'green')).ok, true, 'A should still see green');
      assert.equal((await seesColour(B, 'red')).ok, true, 'B should still see red');
    } catch (e) {
      console.error(server.log().split('\n').slice(-60).join('\n'));
      for (const p of people) console.error(p.logs.slice(-30).join('\n'));
      throw e;
    }
  });
