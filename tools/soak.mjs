// soak.mjs -- a long run under churn and a trickle of hostile input (opt-in: tools/tandem soak).
// Starts the real server, runs tandem-bench against it (default 200 pairs, heavy skips, refreshes
// and vanishes) while a trickle of bad input hits every port, samples the server's RSS and
// descriptors, and at the end checks: RSS flat after warm-up (growth < 5%), descriptors back to
// where they started, zero cross-talk and errors, every session closed. Prints the figures.
// A server built with sanitizers (tools/tandem soak --tsan builds one with ThreadSanitizer) fails
// the soak with anything they report.
//   node tools/soak.mjs [--seconds 600] [--peers 400] [--bin build/tandem] [--bench-bin B] [--tsan]
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from '../tests/node_modules/ws/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const opt = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seconds = Number(opt('seconds', 600));
const peers = Number(opt('peers', 400));
const bin = opt('bin', path.join(root, 'build', 'tandem'));
// Under ThreadSanitizer the RSS is printed, not judged: its runtime keeps history that grows.
const tsan = process.argv.includes('--tsan');
const benchBin = opt('bench-bin', path.join(path.dirname(bin), 'bench', 'tandem-bench'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function procStats(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)[1]); // KiB
  const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
  return { rss, fds };
}

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// One piece of hostile input, picked in turn; each is bounded and closes what it opens.
async function attack(n, url, mediaPorts) {
  const ws = url.replace(/^http/, 'ws') + '/ws';
  switch (n % 6) {
    case 0: { // garbage and oversized JSON, then close
      const c = new WebSocket(ws);
      await new Promise((r) => { c.once('open', r); c.once('error', r); });
      if (c.readyState === 1) {
        c.send('{"type":"hello"');
        c.send(JSON.stringify({ type: 'x'.repeat(300) }));
        c.send(JSON.stringify({ type: 'offer', sdp: 'v=0\r\n'.repeat(2000) }));
      }
      await sleep(200);
      c.terminate();
      break;
    }
    case 1: { // a visitor that says hello and never offers
      const c = new WebSocket(ws);
      await new Promise((r) => { c.once('open', r); c.once('error', r); });
      if (c.readyState === 1) c.send(JSON.stringify({ type: 'hello' }));
      await sleep(1500);
      c.terminate();
      break;
    }
    case 2: { // datagrams of every kind from an unknown address
      const s = dgram.createSocket('udp4');
      for (const port of mediaPorts) {
        for (const first of [0x00, 0x16, 0x80, 0x90, 0xff]) {
          const b = Buffer.alloc(200, 0x41);
          b[0] = first;
          s.send(b, port, '127.0.0.1');
        }
      }
      await sleep(100);
      s.close();
      break;
    }
    case 3: { // pipelined requests, read slowly, then dropped
      const c = net.connect(Number(new URL(url).port), '127.0.0.1');
      c.on('error', () => {});
      c.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50));
      c.pause();
      await sleep(1000);
      c.destroy();
      break;
    }
    case 4: { // many small WebSocket pings, never reading
      const c = new WebSocket(ws);
      await new Promise((r) => { c.once('open', r); c.once('error', r); });
      if (c.readyState === 1) {
        c._socket.pause();
        for (let i = 0; i < 2000; i++) c.ping();
      }
      await sleep(500);
      c.terminate();
      break;
    }
    default: { // a TCP connection to a media port that sends a broken frame
      const c = net.connect(mediaPorts[0], '127.0.0.1');
      c.on('error', () => {});
      c.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
      await sleep(300);
      c.destroy();
    }
  }
}

async function main() {
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-soak-'));
  const server = spawn(bin, [`--http-port=${port}`, '--http-addr=127.0.0.1', '--media-port=0',
    '--media-addr=127.0.0.1', '--public-ip=127.0.0.1', `--data-dir=${dataDir}`,
    '--log-level=info', `--max-peers=${peers * 2}`, '--max-visitors-per-ip=0',
    // One machine plays every browser, each refreshing up to every 2 s: the per-address and
    // per-visitor offer and resume limits (tested on their own in hostile_offers) are off.
    '--max-conns-per-ip=0', '--offers-per-min-per-ip=0', '--offers-per-min=0', '--resumes-per-min=0'],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (d) => { log += d; });
  server.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`${url}/healthz`)).ok) break; } catch { /* not yet */ }
    await sleep(100);
  }
  const ports = /media_ports[=":]+([0-9,]+)/.exec(log); // the start event, text or json
  const mediaPorts = ports ? ports[1].split(',').map(Number) : [40000];
  const base = procStats(server.pid);
  console.log(`soak: ${seconds} s, ${peers} peers, server pid ${server.pid}: RSS ${base.rss} KiB, ${base.fds} fds at start`);

  const bench = spawn(benchBin, ['--url', url, '--peers', String(peers), '--duration', String(seconds),
    '--mix', 'stay=20,skip=40,skipnow=10,refresh=20,vanish=10', '--skip-min', '2', '--skip-max', '8'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  let benchOut = '';
  bench.stdout.on('data', (d) => { benchOut += d; });
  const benchDone = new Promise((r) => bench.once('exit', r));

  const samples = [];
  let attacks = 0, running = true;
  const trickle = (async () => {
    while (running) {
      await attack(attacks++, url, mediaPorts).catch(() => {});
      await sleep(1000);
    }
  })();
  const start = Date.now();
  while (bench.exitCode === null) {
    await sleep(10000);
    if (server.exitCode !== null) break;
    const s = procStats(server.pid);
    samples.push({ t: Math.round((Date.now() - start) / 1000), ...s });
    console.log(`soak: ${samples.at(-1).t} s: RSS ${s.rss} KiB, ${s.fds} fds`);
  }
  const benchCode = await benchDone;
  running = false;
  await trickle;
  await sleep(seconds >= 60 ? 15000 : 5000); // grace periods and reaping
  const end = procStats(server.pid);
  const live = await metric(url, 'tandem_sessions_live').catch(() => NaN);
  const peersNow = await metric(url, 'tandem_peers').catch(() => NaN);
  server.kill('SIGINT');
  await new Promise((r) => server.once('exit', r));
  fs.rmSync(dataDir, { recursive: true, force: true });

  // Warm-up: the first third of the run. Growth: the largest sample after it over the first.
  const warm = samples.filter((s) => s.t >= seconds / 3);
  const growth = warm.length ? Math.max(...warm.map((s) => s.rss)) / warm[0].rss - 1 : 0;
  const result = /RESULT: (\w+)/.exec(benchOut);
  console.log(benchOut.split('\n').filter((l) => /cross-talk|errors:|events:|server \(pid|memory/.test(l)).join('\n'));
  console.log(`soak: ${attacks} hostile inputs; RSS after warm-up ${warm.length ? warm[0].rss : '-'} -> max ${warm.length ? Math.max(...warm.map((s) => s.rss)) : '-'} KiB (growth ${(growth * 100).toFixed(1)}%); fds ${base.fds} at start, ${end.fds} at the end; live sessions at the end ${live}, peers ${peersNow}`);
  const report = /WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/.exec(log);
  if (report) console.log(`soak: the server's sanitizers reported:\n${log.slice(report.index, report.index + 4000)}`);
  console.log(`soak: sanitizer reports: ${(log.match(/WARNING: ThreadSanitizer|ERROR: \w+Sanitizer|runtime error:/g) || []).length}`);
  if (tsan) console.log('soak: RSS growth not judged under ThreadSanitizer (its own history grows)');
  // The verdict: zero cross-talk, no error but pairings without media (printed: one side
  // reloading or vanishing as they met leaves the other without media for silence_ms, which
  // the bench cannot tell from a fault), RSS flat, descriptors back, every session closed.
  const xtalk = /cross-talk: (\d+)/.exec(benchOut);
  const errs = /errors: (\d+)(.*)/.exec(benchOut);
  const missing = Number((/missing_media=(\d+)/.exec(benchOut) || [0, 0])[1]);
  const otherErrors = errs ? Number(errs[1]) - missing : NaN;
  console.log(`soak: cross-talk ${xtalk ? xtalk[1] : '?'}; errors other than pairings without media ${otherErrors}; pairings without media ${missing} of ${(/(\d+) matched/.exec(benchOut) || [0, '?'])[1]}`);
  const ok = result && xtalk && Number(xtalk[1]) === 0 && otherErrors === 0 &&
    (tsan || growth < 0.05) && !report && end.fds <= base.fds + 2 && (Number.isNaN(live) || live === 0);
  console.log(`soak: ${ok ? 'PASS' : 'FAIL'}`);
  process.exit(ok ? 0 : 1);
}

main().catch((e) => { console.error(e); process.exit(1); });
