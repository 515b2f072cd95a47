// hostile.mjs -- raw clients for attack tests: hand-made WebSocket frames, pipelined HTTP, the
// server's memory. Every helper stays on loopback and is bounded in bytes and time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

// One client-to-server frame (RFC 6455 section 5.2), masked as a browser's must be.
export function frame(opcode, payload = Buffer.alloc(0), fin = true) {
  const p = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = p.length;
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const h = Buffer.alloc(2 + ext + 4);
  h[0] = (fin ? 0x80 : 0) | opcode;
  if (ext === 0) h[1] = 0x80 | len;
  else if (ext === 2) { h[1] = 0x80 | 126; h.writeUInt16BE(len, 2); }
  else { h[1] = 0x80 | 127; h.writeBigUInt64BE(BigInt(len), 2); }
  const mask = crypto.randomBytes(4);
  mask.copy(h, 2 + ext);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = p[i] ^ mask[i & 3];
  return Buffer.concat([h, body]);
}

export const OP = { CONT: 0, TEXT: 1, BINARY: 2, CLOSE: 8, PING: 9, PONG: 10 };

// A raw TCP connection to the server. `read: false` never reads what the server sends (the
// attacker who lets its receive window fill). Resolves once connected.
export function rawConnect(url, { read = true, localAddress } = {}) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port), localAddress });
    s.received = Buffer.alloc(0);
    s.closedAt = null;
    s.on('error', () => {});
    s.on('close', () => { s.closedAt = Date.now(); });
    s.once('connect', () => {
      if (read) s.on('data', (d) => { s.received = Buffer.concat([s.received, d]); });
      else s.pause();
      resolve(s);
    });
    s.once('error', reject);
  });
}

// Upgrades a raw connection to a WebSocket; resolves with the status line's code (101 on
// success). The socket keeps reading only if it was opened with read: true.
export function rawUpgrade(s, url, headers = {}) {
  const u = new URL(url);
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  s.write(`GET /ws HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}\r\n` +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`);
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const done = (code) => { s.off('data', onData); s.off('close', onClose); resolve(code); };
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const code = Number(/^HTTP\/1\.1 (\d+)/.exec(buf.subarray(0, end).toString())?.[1] || 0);
      s.received = buf.subarray(end + 4);
      done(code);
    };
    const onClose = () => done(0);
    s.resume();
    s.on('data', onData);
    s.on('close', onClose);
  }).then((code) => {
    if (!s.listenerCount('data')) s.pause();
    return code;
  });
}

// Writes `total` copies of `chunk` (a Buffer), in batches, respecting backpressure; stops early
// if the connection closes. Resolves with the number of copies written.
export async function pump(s, chunk, total, batch = 4096) {
  const block = Buffer.concat(Array(Math.min(batch, total)).fill(chunk));
  let sent = 0;
  while (sent < total && s.closedAt === null && !s.destroyed) {
    const n = Math.min(batch, total - sent);
    const ok = s.write(n === batch ? block : block.subarray(0, n * chunk.length));
    sent += n;
    if (!ok) {
      await new Promise((r) => {
        const done = () => { clearTimeout(t); s.off('drain', done); s.off('close', done); r(); };
        const t = setTimeout(done, 2000);
        s.on('drain', done);
        s.on('close', done);
      });
    }
  }
  return sent;
}

// The server process's resident memory now, in bytes (Linux).
export function rssBytes(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

// Waits until the socket is closed or `ms` pass; true if it closed.
export function closedWithin(s, ms) {
  if (s.closedAt !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => { clearTimeout(t); resolve(true); });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The frames the server sent (unmasked, RFC 6455 section 5.2) in buf: [{ op, data }]; a
// partial frame at the end is left out.
export function serverFrames(buf) {
  const out = [];
  let i = 0;
  while (i + 2 <= buf.length) {
    let len = buf[i + 1] & 0x7f;
    let h = 2;
    if (len === 126) { if (i + 4 > buf.length) break; len = buf.readUInt16BE(i + 2); h = 4; }
    else if (len === 127) { if (i + 10 > buf.length) break; len = Number(buf.readBigUInt64BE(i + 2)); h = 10; }
    if (i + h + len > buf.length) break;
    out.push({ op: buf[i] & 0x0f, data: buf.subarray(i + h, i + h + len) });
    i += h + len;
  }
  return out;
}

// The JSON messages among them.
export function serverMessages(buf) {
  return serverFrames(buf).filter((f) => f.op === OP.TEXT).map((f) => JSON.parse(f.data.toString()));
}
