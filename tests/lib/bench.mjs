// bench.mjs -- tandem-bench from a test: where it is, and one run of it.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { root } from './server.mjs';

export const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
export const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

// Runs tandem-bench with args, killed after limitMs: { code, signal, out, err }.
export function runBench(args, limitMs) {
  return new Promise((resolve, reject) => {
    const p = spawn(benchBin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const killer = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('error', reject);
    p.on('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, out, err }); });
  });
}
