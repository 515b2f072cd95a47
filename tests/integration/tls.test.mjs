// tls.test.mjs -- the real server with tls_cert/tls_key: HTTPS, the plain-HTTP redirect
// listener, plain HTTP refused on the HTTPS port, and start-up errors naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, freePort, getInsecure, tandemBin } from '../lib/server.mjs';

function makeCert(dir, name) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert],
  { stdio: 'ignore' });
  return { cert, key };
}

// A plain-HTTP GET: { status, headers, body }.
function plainGet(port, pathname, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: pathname, headers }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

test('HTTPS, the 308 redirect listener, plain HTTP on the HTTPS port refused', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-tls-'));
  const { cert, key } = makeCert(dir, 'one');
  const redirectPort = await freePort();
  const server = await startServer([`--tls-cert=${cert}`, `--tls-key=${key}`,
    `--http-redirect-port=${redirectPort}`]);
  t.after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const port = Number(new URL(server.url).port);
  assert.equal(await getInsecure(`${server.url}/`), 200);

  const r = await plainGet(redirectPort, '/some/where?x=1', { Host: `chat.example:${redirectPort}` });
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://chat.example:${port}/some/where?x=1`);
  const bad = await plainGet(redirectPort, '/', { Host: 'evil\texample' }).catch(() => null);
  assert.ok(!bad || bad.status === 400);

  const plain = await plainGet(port, '/healthz');
  assert.equal(plain.status, 400);
  assert.match(plain.body, /HTTPS/);
  assert.equal(await getInsecure(`${server.url}/healthz`), 200);
  assert.match(server.log(), /tls_cert file=.* sha256=/);
});

test('a bad certificate or key stops the start with the file named', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-tls-'));
  try {
    const one = makeCert(dir, 'one');
    const two = makeCert(dir, 'two');
    const run = (...args) => spawnSync(tandemBin, ['--http-addr=127.0.0.1', '--http-port=0',
      '--media-addr=127.0.0.1', '--media-port=0', '--public-ip=127.0.0.1',
      `--data-dir=${path.join(dir, 'data')}`, ...args], { encoding: 'utf8', timeout: 20000 });
    let p = run(`--tls-cert=${one.cert}`);
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /tls_cert and tls_key/);
    p = run(`--tls-cert=${one.cert}`, `--tls-key=${two.key}`);
    assert.notEqual(p.status, 0);
    assert.match(p.stdout + p.stderr, new RegExp(`tls_failed key=tls_key file=${two.key}.*does not match`));
    p = run(`--tls-cert=${path.join(dir, 'missing.pem')}`, `--tls-key=${one.key}`);
    assert.notEqual(p.status, 0);
    assert.match(p.stdout + p.stderr, /tls_failed key=tls_cert file=.*missing\.pem.*No such file/);
    p = run('--http-redirect-port=1');
    assert.notEqual(p.status, 0);
    assert.match(p.stderr, /http_redirect_port: 1 needs tls_cert/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
