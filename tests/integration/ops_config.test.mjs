// ops_config.test.mjs -- the command line an operator meets first: --version, --print-config
// output that reads back to the same configuration, and clear refusals (a host name as
// public_ip, numbers out of range, errors with their file:line, a media port that is taken).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { tandemBin } from '../lib/server.mjs';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-config-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// Runs tandem with a clean TANDEM_* environment (plus env) and returns { status, stdout, stderr }.
function tandem(args, env = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TANDEM_')));
  return spawnSync(tandemBin, args, { env: { ...clean, ...env }, encoding: 'utf8', timeout: 10000 });
}

test('--version prints the version and the commit, and exits 0', () => {
  const r = tandem(['--version']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tandem \d+\.\d+\.\d+ \(\S+\)\n$/);
  // It answers even when the rest of the command line would be refused.
  assert.equal(tandem(['--http-port=nope', '--version']).status, 0);
});

test('--print-config output loads back to the same effective configuration', () => {
  const file = path.join(tmp, 'custom.conf');
  fs.writeFileSync(file, [
    '# a hand-written file',
    'http_addr = 127.0.0.1',
    'data_dir = "/srv/tandem data/\\"quoted\\" \\\\ and = # signs"',
    'log_format = json',
    'grace_ms=2500',
    'match_recent_k = 9',
    '',
  ].join('\n'));
  const first = tandem([`--config=${file}`, '--print-config', '--web-dir=/opt/web\tdir',
    '--log-ips', '--metrics-addr=[::1]:9100'], { TANDEM_MATCH_WIDEN_MS: '7000', TANDEM_PUBLIC_IP: '2001:db8::5' });
  assert.equal(first.status, 0, first.stderr);
  for (const line of ['http_addr = "127.0.0.1"', 'data_dir = "/srv/tandem data/\\"quoted\\" \\\\ and = # signs"',
    'web_dir = "/opt/web\\tdir"', 'log_format = "json"', 'log_ips = true', 'metrics_addr = "[::1]:9100"',
    'grace_ms = 2500', 'match_recent_k = 9', 'match_widen_ms = 7000', 'public_ip = "2001:db8::5"']) {
    assert.ok(first.stdout.split('\n').includes(line), `missing ${line} in\n${first.stdout}`);
  }
  const printed = path.join(tmp, 'printed.conf');
  fs.writeFileSync(printed, first.stdout);
  const second = tandem([`--config=${printed}`, '--print-config']);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout, first.stdout);
  // The same file through TANDEM_CONFIG reads the same.
  const third = tandem(['--print-config'], { TANDEM_CONFIG: printed });
  assert.equal(third.stdout, first.stdout);
});

test('a host name as public_ip is refused with a clear message, from a flag or a file', () => {
  const r = tandem(['--public-ip=tandem.example.com']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /flag --public-ip: public_ip: 'tandem\.example\.com' is not an IP address/);
  assert.match(r.stderr, /ICE candidate/);
  const file = path.join(tmp, 'hostname.conf');
  fs.writeFileSync(file, '# line 1\nhttp_port = 9000\npublic_ip = tandem.example.com\n');
  const f = tandem([`--config=${file}`]);
  assert.equal(f.status, 2);
  assert.ok(f.stderr.includes(`${file}:3: public_ip: 'tandem.example.com' is not an IP address`), f.stderr);
});

test('numbers out of range name the range; file errors name file:line', () => {
  const r = tandem(['--silence-ms=50']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /flag --silence-ms: silence_ms: '50' is out of range \(500 to 600000\)/);
  const e = tandem([], { TANDEM_MAX_PEERS: 'many' });
  assert.match(e.stderr, /TANDEM_MAX_PEERS: max_peers: 'many' is not a whole number \(range 1 to 1000000\)/);
  const file = path.join(tmp, 'bad.conf');
  fs.writeFileSync(file, 'http_port = 9000\n\nmedia_poll_ms = 50\n');
  const f = tandem([`--config=${file}`]);
  assert.equal(f.status, 2);
  assert.ok(f.stderr.includes(`${file}:3: media_poll_ms: '50' is out of range (1 to 20)`), f.stderr);
  fs.writeFileSync(file, 'log_format = yaml\n');
  assert.ok(tandem([`--config=${file}`]).stderr.includes(`${file}:1: log_format: 'yaml' is not one of text, json`));
});

// Before: a worker whose TCP listener failed after its UDP socket was bound left that socket
// open, and the failing start waited for it for ever, silent (seen in CI, where an ephemeral
// UDP port's number was held by a TCP connection of another program).
test('a media port whose TCP number is taken: the server says which and exits at once', async () => {
  const holder = net.createServer();
  await new Promise((r) => holder.listen(0, '127.0.0.1', r));
  const { port } = holder.address();
  try {
    const r = tandem(['--http-port=0', '--http-addr=127.0.0.1', `--media-port=${port}`,
      '--media-workers=2', '--media-addr=127.0.0.1', `--data-dir=${path.join(tmp, 'taken')}`]);
    assert.equal(r.error, undefined, `it did not exit within 10 s: ${r.error}`);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`listen_failed what=media .*port=${port} error="address already in use"`));
  } finally {
    holder.close();
  }
});
