// signal.mjs -- a WebSocket signalling client for integration tests (the `ws` package).
import WebSocket from 'ws';

export class SignalClient {
  // opts go to the `ws` package (e.g. { rejectUnauthorized: false } for a test's certificate).
  constructor(url, opts = {}) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + '/ws', opts);
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.ws.on('message', (d) => {
      const m = JSON.parse(d.toString());
      const w = this.waiters.findIndex((x) => x.pred(m));
      if (w >= 0) this.waiters.splice(w, 1)[0].resolve(m);
      else this.queue.push(m);
    });
    this.ws.on('close', (code) => { this.closed = code; });
    this.opened = new Promise((res, rej) => { this.ws.once('open', res); this.ws.once('error', rej); });
  }

  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  next(pred = () => true, timeoutMs = 5000) {
    const i = this.queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve };
      this.waiters.push(w);
      setTimeout(() => {
        const k = this.waiters.indexOf(w);
        if (k >= 0) { this.waiters.splice(k, 1); reject(new Error('no matching message in time')); }
      }, timeoutMs);
    });
  }

  type(t, timeoutMs) { return this.next((m) => m.type === t, timeoutMs); }

  close() { this.ws.close(); }
}

export async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(tandem_\w+) ([0-9.e+-]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
