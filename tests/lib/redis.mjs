// redis.mjs -- a redis-server for a test, and one command to it over RESP.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { waitFor } from './server.mjs';

export const REDIS = process.env.REDIS_SERVER || '/usr/bin/redis-server';

// redis-server on port, its data (AOF) in dir so that a restart keeps what it had.
export async function startRedis(port, dir) {
  const proc = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  await waitFor('redis-server answers', async () => ({ ok: (await redis(port, ['PING'])) === 'PONG', log }), 10000, 100);
  return {
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

// One command over RESP; the reply as a string (or number, or null), rejects on an error reply.
export function redis(port, args) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('error', reject);
    s.on('connect', () => {
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
    s.on('data', (d) => {
      buf += d;
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const head = buf.slice(0, nl);
      if (head[0] === '+') { s.end(); resolve(head.slice(1)); }
      else if (head[0] === '-') { s.end(); reject(new Error(head)); }
      else if (head[0] === ':') { s.end(); resolve(Number(head.slice(1))); }
      else if (head[0] === '$') {
        const n = Number(head.slice(1));
        if (n < 0) { s.end(); resolve(null); return; }
        if (buf.length >= nl + 2 + n + 2) { s.end(); resolve(buf.slice(nl + 2, nl + 2 + n)); }
      } else { s.end(); resolve(head); }
    });
  });
}

