// stun.mjs -- build ICE connectivity checks (RFC 5389/8445) for tests, as a browser would.
import crypto from 'node:crypto';

const COOKIE = 0x2112a442;

const crcTable = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function attr(type, value) {
  const pad = (4 - (value.length % 4)) % 4;
  const b = Buffer.alloc(4 + value.length + pad);
  b.writeUInt16BE(type, 0);
  b.writeUInt16BE(value.length, 2);
  value.copy(b, 4);
  return b;
}

// A Binding request with USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY
// (keyed with `pwd`) and FINGERPRINT.
export function bindingRequest({ username, pwd, useCandidate = true }) {
  const txid = crypto.randomBytes(12);
  const prio = Buffer.alloc(4); prio.writeUInt32BE(0x6e7f1eff, 0);
  const tie = crypto.randomBytes(8);
  let attrs = Buffer.concat([
    attr(0x0006, Buffer.from(username)), attr(0x0024, prio), attr(0x802a, tie),
    ...(useCandidate ? [attr(0x0025, Buffer.alloc(0))] : []),
  ]);
  const header = (len) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x0001, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(COOKIE, 4);
    txid.copy(h, 8);
    return h;
  };
  const mi = crypto.createHmac('sha1', pwd)
    .update(Buffer.concat([header(attrs.length + 24), attrs])).digest();
  attrs = Buffer.concat([attrs, attr(0x0008, mi)]);
  const fp = Buffer.alloc(4);
  fp.writeUInt32BE((crc32(Buffer.concat([header(attrs.length + 8), attrs])) ^ 0x5354554e) >>> 0, 0);
  attrs = Buffer.concat([attrs, attr(0x8028, fp)]);
  return { txid, packet: Buffer.concat([header(attrs.length), attrs]) };
}

// The message type of a STUN response (0x0101 = Binding success), or null.
export function responseType(buf, txid) {
  if (buf.length < 20 || buf.readUInt32BE(4) !== COOKIE) return null;
  if (txid && !buf.subarray(8, 20).equals(txid)) return null;
  return buf.readUInt16BE(0);
}
