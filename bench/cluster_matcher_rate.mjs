// cluster_matcher_rate.mjs -- how many matching decisions a cluster's matcher makes per second
// through Redis: a fake node (node_id 1000) writes a burst of commands straight into
// tandem:mq:in (hello, then add, ready and start for --peers visitors, then rounds of next for
// every one of them), and the time from the first command to the matcher's
// tandem_cluster_matcher_decisions_total counting them all is measured. The events the matcher
// writes back (one stream entry each) are part of the cost.
//
//   node bench/cluster_matcher_rate.mjs [--peers 2000] [--rounds 5]
//
// Starts its own redis-server and one Tandem node (build/tandem) that becomes the matcher.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const PEERS = arg('peers', 2000), ROUNDS = arg('rounds', 5);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const RPORT = 18790, HPORT = 18791, NODE = 1000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-mrate-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const redisProc = spawn('redis-server', ['--port', String(RPORT), '--bind', '127.0.0.1', '--save', '', '--dir', dir], { stdio: 'ignore' });
await sleep(500);
const tandem = spawn(path.join(root, 'build', 'tandem'), ['--http-addr=127.0.0.1', `--http-port=${HPORT}`,
  '--media-port=0', '--media-addr=127.0.0.1', '--public-ip=127.0.0.1', `--redis-url=redis://127.0.0.1:${RPORT}`,
  '--node-id=1', `--data-dir=${dir}/data`, '--log-level=warn'], { stdio: 'ignore' });
const done = () => { tandem.kill(); redisProc.kill(); fs.rmSync(dir, { recursive: true, force: true }); };

async function metric(name) {
  const t = await (await fetch(`http://127.0.0.1:${HPORT}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(t);
  return m ? Number(m[1]) : NaN;
}

// The wire format of match/clusterwire.c.
const head = (type, node) => { const b = Buffer.alloc(6); b.write('T', 0); b[1] = 1; b[2] = type; b.writeUInt16LE(node, 4); return b; };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
const hello = (epoch) => Buffer.concat([head(1, NODE), u64(epoch), u64(0)]);
function cmd(seq, type, peer, flag = 0) {
  const b = Buffer.alloc(8 + 4 + 16 + 4);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b[8] = type; b[9] = flag; b[10] = 0; b[11] = 0;
  b.writeBigUInt64LE(peer, 12); b.writeBigUInt64LE(0n, 20); b.writeUInt32LE(0, 28);
  return Buffer.concat([head(2, NODE), b, Buffer.from([0])]);
}
const ADD = 1, READY = 3, START = 5, NEXT = 6;
const peer = (i) => (BigInt(NODE) << 42n) | BigInt(i + 1);

const sock = net.connect(RPORT, '127.0.0.1');
await new Promise((r) => sock.once('connect', r));
sock.on('data', () => {});
const xadd = (m) => sock.write(Buffer.concat([Buffer.from(`*5\r\n$4\r\nXADD\r\n$12\r\ntandem:mq:in\r\n$1\r\n*\r\n$1\r\nm\r\n$${m.length}\r\n`), m, Buffer.from('\r\n')]));

for (let i = 0; i < 100 && !(await metric('tandem_cluster_matcher').catch(() => 0)); i++) await sleep(100);
// The node must be live (a heartbeat) for the matcher to keep it; hello first.
sock.write(`*4\r\n$4\r\nZADD\r\n$15\r\ntandem:mq:nodes\r\n$13\r\n${Date.now() + 600000}\r\n$4\r\n${NODE}\r\n`);
xadd(hello(Date.now()));
const start = await metric('tandem_cluster_matcher_decisions_total');
let seq = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < PEERS; i++) xadd(cmd(++seq, ADD, peer(i)));
for (let i = 0; i < PEERS; i++) xadd(cmd(++seq, READY, peer(i), 1));
for (let i = 0; i < PEERS; i++) xadd(cmd(++seq, START, peer(i)));
for (let r = 0; r < ROUNDS; r++) for (let i = 0; i < PEERS; i++) xadd(cmd(++seq, NEXT, peer(i)));
let got = 0;
for (let i = 0; i < 6000; i++) {
  got = (await metric('tandem_cluster_matcher_decisions_total')) - start;
  if (got >= seq) break;
  await sleep(5);
}
const s = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`${got} of ${seq} commands decided in ${s.toFixed(2)} s: ${(got / s).toFixed(0)} decisions per second through Redis (${PEERS} visitors, ${ROUNDS} rounds of Next)`);
sock.end();
done();
