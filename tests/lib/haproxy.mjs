// haproxy.mjs -- tools/haproxy.cfg in front of three nodes, for a test.
import { spawn, execFileSync } from 'node:child_process';
import path from 'node:path';
import { root, freePort, waitFor } from './server.mjs';

export const HAPROXY = process.env.HAPROXY || '/usr/sbin/haproxy';

// Checks and starts tools/haproxy.cfg for nodes (three startServer results) on a free port;
// resolves once it answers /readyz. Returns { url, proc, log() }.
export async function startHaproxy(nodes) {
  const port = await freePort();
  const env = {
    ...process.env,
    TANDEM_LB_BIND: `127.0.0.1:${port}`,
    ...Object.fromEntries(nodes.map((n, i) => [`TANDEM_NODE${i + 1}`, new URL(n.url).host])),
  };
  const cfg = path.join(root, 'tools', 'haproxy.cfg');
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
