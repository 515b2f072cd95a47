// report_crash.test.mjs -- kill -9 the server during a burst of reports: after a restart on the
// same data_dir, every report the server acknowledged (`reported`) is in the store, with the
// evidence it was stored with. The reports come from tandem-bench's report behaviour (simulated
// browsers with real DTLS-SRTP media and VP8 keyframes on PLI).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = process.env.TANDEM_BUILD_DIR || path.join(root, 'build');
if (!process.env.TANDEM_BIN) process.env.TANDEM_BIN = path.join(buildDir, 'tandem');
const { startServer, waitFor } = await import('../lib/server.mjs');
const benchBin = path.join(buildDir, 'bench', 'tandem-bench');

const TOKEN = 'crash-test-token-0123456789';
const H = { Authorization: `Bearer ${TOKEN}` };
const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

test('every acknowledged report survives kill -9, with its evidence', { timeout: 240000 }, async () => {
  const s1 = await startServer([`--admin-token=${TOKEN}`, '--media-workers=2',
    '--max-visitors-per-ip=0', '--max-conns-per-ip=0', '--offers-per-min-per-ip=0', '--report-max=8']);
  const dataDir = s1.dataDir;
  cleanup.push(async () => {
    if (s1.proc.exitCode === null) s1.proc.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // Every simulated browser reports each partner 1-2 s into the pair.
  const bench = spawn(benchBin, [`--url=${s1.url}`, '--peers=16', '--duration=60', '--ramp=16',
    '--mix=report=100', '--skip-min=1', '--skip-max=2', '--ready-timeout=60', '--trace-peer=all'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  cleanup.push(async () => { if (bench.exitCode === null) bench.kill('SIGKILL'); });
  const acked = new Set();
  let sent = 0;
  let buf = '';
  bench.stderr.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const m = /<- (\{"type":"reported".*\})$/.exec(line);
      if (m) acked.add(JSON.parse(m[1]).id);
      if (line.includes('-> {"type":"report"')) sent++;
    }
  });

  // A burst is under way: reports acknowledged and more in flight. Then the server dies at once.
  await waitFor('20 acknowledged reports', () => ({ ok: acked.size >= 20, acked: acked.size, sent }),
    90000, 50);
  s1.proc.kill('SIGKILL');
  await new Promise((r) => s1.proc.once('exit', r));
  await new Promise((r) => setTimeout(r, 300)); // the last bench output
  const ackedIds = [...acked];
  // Usually some are in flight (sent, not yet acknowledged); a slow (sanitized) build may not
  // have any at that instant, which changes nothing of what is checked below.
  console.log(`killed with ${sent} reports sent, ${ackedIds.length} acknowledged`);
  bench.kill('SIGKILL');

  // The same data_dir, a new process.
  const s2 = await startServer([`--admin-token=${TOKEN}`, `--data-dir=${dataDir}`]);
  cleanup.push(() => s2.stop());
  const res = await fetch(`${s2.url}/api/reports?state=any&limit=1000`, { headers: H });
  assert.equal(res.status, 200);
  const { reports } = await res.json();
  const byId = new Map(reports.map((r) => [r.id, r]));
  const missing = ackedIds.filter((id) => !byId.has(id));
  assert.deepEqual(missing, [], `acknowledged reports missing after the crash: ${missing}`);

  // Their evidence is there and whole: the JPEG of the reported browser's keyframe.
  let withJpeg = 0;
  for (const id of ackedIds) {
    const r = byId.get(id);
    assert.equal(r.reason, 'spam');
    if (!r.evidence.jpeg) continue;
    const e = await fetch(`${s2.url}${r.evidence.jpeg}`, { headers: H });
    assert.equal(e.status, 200, `report ${id}: its JPEG evidence is listed but cannot be read`);
    const b = Buffer.from(await e.arrayBuffer());
    assert.ok(b.length > 100 && b[0] === 0xff && b[1] === 0xd8 && b[b.length - 2] === 0xff &&
      b[b.length - 1] === 0xd9, `report ${id}: the JPEG is not whole`);
    withJpeg++;
  }
  assert.ok(withJpeg >= ackedIds.length / 2,
    `most reports carry a picture (${withJpeg} of ${ackedIds.length})`);
  // Evidence files the store does not name may exist (written before a commit the kill cut
  // short); every file the store names exists.
  const files = new Set(fs.readdirSync(path.join(dataDir, 'evidence')));
  for (const r of reports) {
    for (const u of [r.evidence.jpeg, r.evidence.webm]) {
      if (!u) continue;
      const head = await fetch(`${s2.url}${u}`, { headers: H, method: 'HEAD' });
      assert.equal(head.status, 200, `report ${r.id}: ${u}`);
    }
  }
  assert.ok(files.size >= withJpeg);
});
