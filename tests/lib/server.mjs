// server.mjs -- start the real tandem server for a test, and wait for conditions.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import https from 'node:https';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '../..');
export const tandemBin = process.env.TANDEM_BIN || path.join(root, 'build', 'tandem');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// GET url with any certificate accepted (a test's self-signed one): the status, or throws.
export function getInsecure(url) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
  });
}

// Where a server that did not start is: its state, and its threads' stacks if gdb is here.
function stuckWhere(pid) {
  let out = '';
  try {
    const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')
      .filter((l) => /^(State|Threads|VmRSS)/.test(l)).join(', ');
    out += `process ${pid}: ${st}; wchan ${fs.readFileSync(`/proc/${pid}/wchan`, 'utf8')}\n`;
    out += execFileSync('gdb', ['-p', String(pid), '-batch', '-ex', 'thread apply all bt 12'],
      { encoding: 'utf8', timeout: 30000, stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').filter((l) => /^(#|Thread)/.test(l)).join('\n');
  } catch (e) { out += `(${e.message.split('\n')[0]})`; }
  return out;
}

// Starts tandem with extraArgs; with --tls-cert among them the URL is https:// (the server
// is probed with any certificate accepted).
// An --http-port=N among them is used as the port (the caller knows it is free).
export async function startServer(extraArgs = []) {
  const given = extraArgs.map((a) => /^--http-port=(\d+)$/.exec(a)).find(Boolean);
  const httpPort = given ? Number(given[1]) : await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-data-'));
  const args = [`--http-port=${httpPort}`, '--http-addr=127.0.0.1', '--media-port=0',
    '--media-addr=127.0.0.1', '--public-ip=127.0.0.1', `--data-dir=${dataDir}`,
    '--log-level=debug', ...extraArgs];
  const proc = spawn(tandemBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const tls = extraArgs.some((a) => a.startsWith('--tls-cert'));
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`tandem exited early (${proc.exitCode ?? proc.signalCode}):\n${log}`);
    }
    try {
      if (tls) {
        if (await getInsecure(`${url}/healthz`) === 200) break;
      } else {
        const r = await fetch(`${url}/healthz`);
        if (r.ok) break;
      }
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      // Killed, or its pipes would keep this test process (and the suite) alive for ever.
      const where = stuckWhere(proc.pid);
      proc.kill('SIGKILL');
      throw new Error(`tandem did not start in 15 s:\n${log}\n${where}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url, proc, dataDir,
    log: () => log,
    async stop() {
      if (process.env.TANDEM_TEST_LOG) fs.appendFileSync(process.env.TANDEM_TEST_LOG, log);
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGINT');
        await new Promise((r) => { proc.once('exit', r); setTimeout(r, 5000); });
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
      // A server built with sanitizers (tools/tandem test runs the integration tests so too):
      // anything they found fails the test that ran it.
      const report = /ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:/.exec(log);
      if (report) {
        throw new Error(`the server's sanitizers reported:\n${log.slice(Math.max(0, report.index - 200), report.index + 3000)}`);
      }
    },
  };
}

export async function waitFor(what, fn, timeoutMs = 45000, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last && last.ok !== false) return last;
    } catch (e) { last = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last, null, 0)}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
