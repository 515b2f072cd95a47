// haproxy.mjs -- tools/haproxy.cfg in front of three nodes, for a test.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root, freePort, waitFor } from './server.mjs';

export const HAPROXY = process.env.HAPROXY || '/usr/sbin/haproxy';

// Checks and starts tools/haproxy.cfg for nodes (three startServer results) on a free port;
// resolves once it answers /readyz. Returns { url, proc, log() }. opts.balance replaces the
// configuration's balancing (a copy is used), e.g. 'roundrobin', so that a reconnecting
// visitor lands on another node as often as not.
export async function startHaproxy(nodes, opts = {}) {
  const port = await freePort();
  const env = {
    ...process.env,
    TANDEM_LB_BIND: `127.0.0.1:${port}`,
    ...Object.fromEntries(nodes.map((n, i) => [`TANDEM_NODE${i + 1}`, new URL(n.url).host])),
  };
  let cfg = path.join(root, 'tools', 'haproxy.cfg');
  if (opts.balance) {
    const text = fs.readFileSync(cfg, 'utf8');
    const changed = text.replace(/^(\s*)balance \S+/m, `$1balance ${opts.balance}`);
    if (changed === text) throw new Error('tools/haproxy.cfg has no balance line');
    cfg = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-lb-')), 'haproxy.cfg');
    fs.writeFileSync(cfg, changed);
  }
  execFileSync(HAPROXY, ['-c', '-q', '-f', cfg], { env });
  let log = '';
  const proc = spawn(HAPROXY, ['-db', '-f', cfg], { env });
  proc.stdout.on('data', (d) => { log += d; });
  proc.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('HAProxy answers', async () => {
    try { return { ok: (await fetch(`${url}/readyz`)).status === 200 }; } catch (e) { return { ok: false, e: String(e), log }; }
  }, 10000);
  return { url, proc, log: () => log };
}
