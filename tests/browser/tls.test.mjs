// tls.test.mjs -- HTTPS and WSS with a self-signed certificate (Chromium told to trust it by
// its SPKI hash), then a new certificate on SIGHUP while a call goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { startServer, waitFor, launchPerson, seesColour, stateIs } from './lib.mjs';

// A self-signed certificate for 127.0.0.1 made with the openssl command, as an operator would.
function makeCert(dir, name) {
  const cert = path.join(dir, `${name}.crt`);
  const key = path.join(dir, `${name}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256',
    '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const x = new crypto.X509Certificate(fs.readFileSync(cert));
  const spki = crypto.createHash('sha256')
    .update(x.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  return { cert, key, spki, fingerprint: x.fingerprint256 };
}

// The SHA-256 fingerprint of the certificate the server presents to a new connection.
function servedFingerprint(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'] }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      const alpn = s.alpnProtocol;
      s.end();
      resolve({ fp, alpn });
    });
    s.on('error', reject);
  });
}

test('HTTPS/WSS with a self-signed certificate, reloaded on SIGHUP during a call', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tandem-tls-'));
  const one = makeCert(dir, 'one');
  const two = makeCert(dir, 'two');
  // The server reads these two paths; SIGHUP makes it read them again.
  const certFile = path.join(dir, 'server.crt');
  const keyFile = path.join(dir, 'server.key');
  fs.copyFileSync(one.cert, certFile);
  fs.copyFileSync(one.key, keyFile);
  const server = await startServer([`--tls-cert=${certFile}`, `--tls-key=${keyFile}`]);
  const people = [];
  t.after(async () => {
    for (const p of people) await p.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  assert.match(server.url, /^https:\/\//);
  const port = Number(new URL(server.url).port);
  const served = await servedFingerprint(port);
  assert.equal(served.fp, one.fingerprint);
  assert.equal(served.alpn, 'http/1.1');

  // Chromium trusts exactly these two keys, nothing else.
  const flags = [`--ignore-certificate-errors-spki-list=${one.spki},${two.spki}`];
  const launched = await Promise.all([
    launchPerson(server.url, 'A', 'red', dir, flags),
    launchPerson(server.url, 'B', 'green', dir, flags),
  ]);
  people.push(...launched);
  const [A, B] = launched;
  for (const p of [A, B]) {
    assert.equal(await p.page.evaluate(() => window.isSecureContext && location.protocol), 'https:');
    await waitFor(`${p.name} ready`, stateIs(p, 'ready'), 60000);
    await p.page.click('#start');
  }
  await waitFor('A sees green', () => seesColour(A, 'green'), 60000);
  await waitFor('B sees red', () => seesColour(B, 'red'), 60000);

  // A new certificate in place, then SIGHUP: new connections get it.
  fs.copyFileSync(two.cert, certFile + '.new');
  fs.copyFileSync(two.key, keyFile + '.new');
  fs.renameSync(keyFile + '.new', keyFile);
  fs.renameSync(certFile + '.new', certFile);
  server.proc.kill('SIGHUP');
  await waitFor('the new certificate served', async () => {
    const s = await servedFingerprint(port);
    return { ok: s.fp === two.fingerprint, ...s };
  }, 10000);
  assert.match(server.log(), /tls_reloaded/);

  // A third page over the new certificate: page, then the WebSocket (WSS).
  const C = await launchPerson(server.url, 'C', 'blue', dir, flags);
  people.push(C);
  await waitFor('C ready', stateIs(C, 'ready'), 60000);

  // The call never noticed: both still see each other, on the same pairing.
  const genA = (await A.state()).gen;
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual((await seesColour(A, 'green')).ok, true);
  assert.deepEqual((await seesColour(B, 'red')).ok, true);
  assert.equal((await A.state()).gen, genA);

  // A reload that fails (a key that is not the certificate's) keeps the current one.
  fs.copyFileSync(one.key, keyFile);
  server.proc.kill('SIGHUP');
  await waitFor('the failed reload logged', () => ({ ok: /tls_reload_failed/.test(server.log()) }),
    10000);
  assert.equal((await servedFingerprint(port)).fp, two.fingerprint);
  assert.equal(server.proc.exitCode, null);
});
