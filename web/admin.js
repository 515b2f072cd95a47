// admin.js -- the Tandem moderation console at /admin: token login, the live grid of snapshots,
// the reports queue with its evidence, bans and the audit log. It uses nothing but the admin
// API (docs/admin-api.md). No dependencies.
'use strict';

const $ = (id) => document.getElementById(id);
const KEY_TOKEN = 'tandem.admin.token';
const KEY_ACTOR = 'tandem.admin.actor';
const SHOT_EVERY_MS = 3000;     // each tile's snapshot is refreshed this often
const PEERS_EVERY_MS = 3000;    // the list of live peers
const BADGE_EVERY_MS = 15000;   // the open reports count on the Reports tab
const MAX_SHOTS_IN_FLIGHT = 4;
const SHOT_SIDE = 320;

const ui = {
  login: $('login'), loginForm: $('login-form'), token: $('token'), actor: $('actor'),
  loginError: $('login-error'), loginSubmit: $('login-submit'),
  console: $('console'), who: $('who'), logout: $('logout'), flash: $('flash'), main: $('main'),
  tabs: [...document.querySelectorAll('[role="tab"]')],
  duration: $('ban-duration'), reason: $('ban-reason'),
  grid: $('grid'), gridEmpty: $('grid-empty'), liveSummary: $('live-summary'), liveError: $('live-error'),
  livePause: $('live-pause'),
  reports: $('reports'), reportsEmpty: $('reports-empty'), reportsError: $('reports-error'),
  reportsState: $('reports-state'), reportsRefresh: $('reports-refresh'), reportsMore: $('reports-more'),
  reportsCount: $('reports-count'),
  bans: $('bans'), bansEmpty: $('bans-empty'), bansError: $('bans-error'), bansAll: $('bans-all'),
  bansRefresh: $('bans-refresh'), bansMore: $('bans-more'),
  audit: $('audit'), auditEmpty: $('audit-empty'), auditError: $('audit-error'),
  auditNewest: $('audit-newest'), auditNewer: $('audit-newer'), auditOlder: $('audit-older'),
};

const storage = {
  get(k) { try { return sessionStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { sessionStorage.setItem(k, v); } catch { /* storage off: this page only */ } },
  del(k) { try { sessionStorage.removeItem(k); } catch { /* nothing kept */ } },
};

// What the console knows; window.tandemAdmin exposes it for debugging and tests.
const st = {
  token: storage.get(KEY_TOKEN), actor: storage.get(KEY_ACTOR) || '',
  session: 0,          // bumped at every login and logout: late answers of an old one are dropped
  view: 'live',
  live: { tiles: new Map(), gone: new Map(), inflight: 0, timer: 0, pump: 0, polling: false },
  reports: { urls: [], next: null, loading: false },
  bans: { next: null },
  audit: { pages: [null], next: null },
  badgeTimer: 0,
  aborts: new Set(),
};
window.tandemAdmin = st;

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function errorOf(r) {
  let code = `http_${r.status}`;
  let message = `${r.status} ${r.statusText || 'error'}`;
  try {
    const j = await r.json();
    if (j && typeof j.error === 'string') code = j.error;
    if (j && typeof j.message === 'string' && j.message) message = j.message;
  } catch { /* not JSON */ }
  return new ApiError(r.status, code, message);
}

// api(path, {method, body, as}): the answer as JSON ('json'), a Blob ('blob') or nothing. Every
// request carries the token. A 401 ends the session (back to the login, with the reason).
async function api(path, { method = 'GET', body, as = 'json' } = {}) {
  const session = st.session;
  const headers = { Authorization: `Bearer ${st.token}` };
  if (st.actor) headers['X-Tandem-Actor'] = st.actor;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const ctl = new AbortController();
  st.aborts.add(ctl);
  try {
    let r;
    try {
      r = await fetch(path, {
        method, headers, cache: 'no-store', signal: ctl.signal,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      if (ctl.signal.aborted) throw new ApiError(0, 'aborted', 'Cancelled.');
      throw new ApiError(0, 'network', `The server could not be reached (${e.message}).`);
    }
    if (session !== st.session) throw new ApiError(0, 'aborted', 'Cancelled.');
    if (r.status === 401) {
      const err = await errorOf(r);
      unauthorized(err);
      throw err;
    }
    if (!r.ok) throw await errorOf(r);
    if (as === 'blob') return await r.blob();
    if (as === 'none') return null;
    return await r.json();
  } finally {
    st.aborts.delete(ctl);
  }
}

const post = (path, body) => api(path, { method: 'POST', body });
const quiet = (e) => e && (e.code === 'aborted' || e.status === 401);
const errText = (e) => (e.status ? `${e.message} (${e.status})` : e.message);

// ---------------------------------------------------------------------------------------------
// Small helpers

// el('li', {class: 'x', dataset: {peer: 1}}, child, 'text', ...)
function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}

const pad = (n) => String(n).padStart(2, '0');
function fmtTime(ms) {
  if (!ms) return '—';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
const timeEl = (ms) => (ms ? el('time', { datetime: new Date(ms).toISOString(), text: fmtTime(ms) }) : '—');
function fmtDuration(s) {
  if (!s) return 'permanently';
  if (s % 86400 === 0 && s > 86400) return `for ${s / 86400} days`;
  if (s % 3600 === 0) return `for ${s / 3600} ${s === 3600 ? 'hour' : 'hours'}`;
  return `for ${s} s`;
}
function fmtAgo(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
const shortDevice = (d) => (d ? `${d.slice(0, 8)}…` : 'none');
const deviceEl = (d) => (d ? el('code', { title: d, text: shortDevice(d) }) : el('span', { class: 'hint', text: 'none' }));

const flash = (text, bad = false) => { ui.flash.textContent = text; ui.flash.classList.toggle('bad', bad); };

const setError = (node, e) => { node.textContent = e ? (typeof e === 'string' ? e : errText(e)) : ''; };

// The ban settings on the page: {duration_s, reason, words}.
function banSettings() {
  const duration = Number(ui.duration.value) || 0;
  const reason = ui.reason.value.trim() || 'Banned from the console';
  return { duration_s: duration, reason, words: fmtDuration(duration) };
}

// The reason cut to the API's 1000 bytes (UTF-8), on a character boundary.
function clip1000(s) {
  const enc = new TextEncoder();
  while (enc.encode(s).length > 1000) s = s.slice(0, -1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Login and logout

function showLogin(message) {
  ui.console.hidden = true;
  ui.login.hidden = false;
  ui.loginError.textContent = message || '';
  ui.actor.value = st.actor;
  ui.token.value = '';
  ui.token.focus();
}

function startSession() {
  st.session++;
  ui.login.hidden = true;
  ui.console.hidden = false;
  ui.who.textContent = `Signed in as ${st.actor || 'admin'}`;
  flash('');
  select(viewFromHash() || st.view, false);
  refreshBadge();
}

function endSession() {
  st.session++;
  for (const c of [...st.aborts]) c.abort();
  st.aborts.clear();
  clearTimeout(st.live.timer); clearInterval(st.live.pump); clearTimeout(st.badgeTimer);
  Object.assign(st.live, { timer: 0, pump: 0, polling: false, inflight: 0 });
  for (const t of st.live.tiles.values()) dropTile(t, false);
  st.live.tiles.clear();
  st.live.gone.clear();
  clearReports();
  ui.bans.replaceChildren(); ui.audit.replaceChildren();
  ui.reportsCount.textContent = '';
}

function unauthorized(err) {
  if (!st.token) return;
  const msg = st.loggingIn
    ? `That token was not accepted: ${err.message}`
    : `You were logged out: the server refused the token (${err.message}). Log in again.`;
  st.token = null;
  storage.del(KEY_TOKEN);
  endSession();
  showLogin(msg);
}

ui.loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = ui.token.value.trim();
  const actor = ui.actor.value.trim();
  if (!token) { ui.loginError.textContent = 'Enter the admin token.'; ui.token.focus(); return; }
  if (actor && !/^[\x20-\x7e]{1,64}$/.test(actor)) {
    ui.loginError.textContent = 'The name must be 1 to 64 plain ASCII characters.';
    ui.actor.focus();
    return;
  }
  st.token = token;
  st.actor = actor;
  st.loggingIn = true;
  ui.loginSubmit.disabled = true;
  ui.loginError.textContent = '';
  try {
    await api('/api/peers');
    storage.set(KEY_TOKEN, token);
    if (actor) storage.set(KEY_ACTOR, actor); else storage.del(KEY_ACTOR);
    startSession();
  } catch (err) {
    if (err.status !== 401) {
      st.token = null;
      ui.loginError.textContent = `Could not log in: ${errText(err)}`;
      ui.token.focus();
    }
  } finally {
    st.loggingIn = false;
    ui.loginSubmit.disabled = false;
  }
});

ui.logout.addEventListener('click', () => {
  st.token = null;
  storage.del(KEY_TOKEN);
  endSession();
  showLogin('You are logged out.');
});

// ---------------------------------------------------------------------------------------------
// Tabs

const VIEWS = ['live', 'reports', 'bans', 'audit'];
const viewFromHash = () => (VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : null);

function select(view, focus) {
  st.view = view;
  for (const t of ui.tabs) {
    const on = t.id === `tab-${view}`;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) t.focus();
  }
  if (location.hash.slice(1) !== view) history.replaceState(null, '', `#${view}`);
  if (view === 'live') liveWake(); else liveSleep();
  if (view === 'reports') loadReports(true);
  if (view === 'bans') loadBans(true);
  if (view === 'audit') { st.audit.pages = [null]; loadAudit(); }
}

for (const t of ui.tabs) {
  t.addEventListener('click', () => select(t.id.slice(4), false));
  t.addEventListener('keydown', (e) => {
    const i = ui.tabs.indexOf(t), n = ui.tabs.length;
    const j = { ArrowRight: (i + 1) % n, ArrowLeft: (i + n - 1) % n, Home: 0, End: n - 1 }[e.key];
    if (j === undefined) return;
    e.preventDefault();
    select(ui.tabs[j].id.slice(4), true);
  });
}
window.addEventListener('hashchange', () => { if (st.token && viewFromHash()) select(viewFromHash(), false); });

// ---------------------------------------------------------------------------------------------
// Live: the grid of peers with media, each with a snapshot refreshed every few seconds

const liveActive = () => st.token && st.view === 'live' && !ui.livePause.checked && !document.hidden
  && !ui.console.hidden;

function liveWake() {
  if (!st.live.pump) st.live.pump = setInterval(pumpShots, 250);
  if (!st.live.polling) pollPeers();
}

function liveSleep() {
  clearInterval(st.live.pump);
  st.live.pump = 0;
}

async function pollPeers() {
  clearTimeout(st.live.timer);
  st.live.timer = 0;
  if (!liveActive()) return;
  st.live.polling = true;
  const session = st.session;
  try {
    const j = await api('/api/peers');
    if (session !== st.session) return;
    renderPeers(Array.isArray(j.peers) ? j.peers : []);
    setError(ui.liveError, null);
  } catch (e) {
    if (quiet(e)) return;
    setError(ui.liveError, `Could not list the live peers: ${errText(e)}`);
  } finally {
    if (session === st.session) {
      st.live.polling = false;
      if (liveActive()) st.live.timer = setTimeout(pollPeers, PEERS_EVERY_MS);
    }
  }
}

const stateWords = (p) => (p.state === 'paired' && p.partner !== null && p.partner !== undefined
  ? `paired with ${p.partner}` : p.state || 'unknown');

function renderPeers(peers) {
  const now = Date.now();
  for (const [id, at] of st.live.gone) if (now - at > 30000) st.live.gone.delete(id);
  const withMedia = peers.filter((p) => p.media && !st.live.gone.has(p.id));
  const seen = new Set();
  for (const p of withMedia) {
    seen.add(p.id);
    let t = st.live.tiles.get(p.id);
    if (!t) {
      t = makeTile(p);
      st.live.tiles.set(p.id, t);
    }
    updateTile(t, p);
  }
  for (const [id, t] of st.live.tiles) if (!seen.has(id)) dropTile(t, true);
  // Tiles in peer id order (oldest visits first), moved only when out of place.
  const order = [...st.live.tiles.values()].sort((a, b) => a.id - b.id);
  order.forEach((t, i) => { if (ui.grid.children[i] !== t.el) ui.grid.insertBefore(t.el, ui.grid.children[i] || null); });
  ui.gridEmpty.hidden = st.live.tiles.size > 0;
  const others = peers.length - withMedia.length;
  const pairs = withMedia.filter((p) => p.state === 'paired').length / 2;
  ui.liveSummary.textContent = `${withMedia.length} with media, ${Math.floor(pairs)} ${Math.floor(pairs) === 1 ? 'pair' : 'pairs'}`
    + `${others > 0 ? `, ${others} more connecting` : ''} · updated ${fmtTime(now).slice(11)}`;
  pumpShots();
}

function makeTile(p) {
  const t = { id: p.id, peer: p, url: null, due: 0, loading: false, gone: false, ok: false };
  t.img = el('img', { class: 'snap', alt: `Snapshot of peer ${p.id}`, width: 320, height: 240, hidden: true });
  t.ph = el('p', { class: 'placeholder', text: 'Loading picture…' });
  t.title = el('h3', { id: `peer-${p.id}-title`, text: `Peer ${p.id}` });
  t.state = el('span', { class: 'state' });
  t.device = el('dd');
  t.ip = el('dd');
  t.visit = el('dd');
  t.kick = el('button', { type: 'button', class: 'secondary kick', 'aria-label': `Kick peer ${p.id}`, text: 'Kick',
    onclick: () => kickPeer(t) });
  t.ban = el('button', { type: 'button', class: 'danger ban', 'aria-label': `Ban peer ${p.id}`, text: 'Ban',
    onclick: () => banPeer(t) });
  t.el = el('li', { class: 'tile', dataset: { peer: p.id }, 'aria-labelledby': t.title.id, tabindex: -1 },
    el('div', { class: 'shot' }, t.img, t.ph),
    el('div', { class: 'about' },
      el('div', { class: 'line' }, t.title, t.state),
      el('dl', {}, el('dt', { text: 'Device' }), t.device, el('dt', { text: 'Address' }), t.ip,
        el('dt', { text: 'Here for' }), t.visit)),
    el('div', { class: 'actions' }, t.kick, t.ban));
  return t;
}

function updateTile(t, p) {
  t.peer = p;
  t.el.dataset.state = p.state || '';
  t.state.textContent = stateWords(p);
  t.state.className = `state state-${p.state}`;
  t.device.replaceChildren(deviceEl(p.device));
  t.ip.textContent = p.ip || '—';
  const n = (k, w) => `${p[k] || 0} ${w}${p[k] === 1 ? '' : 's'}`;
  t.visit.textContent = p.visit_ms ? `${fmtAgo(p.visit_ms)} · ${n('pairs', 'pair')}, ${n('nexts', 'next')}` : '—';
  t.ban.title = `Ban at once, ${banSettings().words}, with the reason below the tabs`;
}

// Removes a tile (the peer left, or was banned or kicked). Focus moves to a neighbour tile
// itself, not to its Ban button: a repeated Enter must not ban the next person.
function dropTile(t, announce) {
  t.gone = true;
  if (t.url) URL.revokeObjectURL(t.url);
  t.url = null;
  const hadFocus = t.keepFocus || t.el.contains(document.activeElement);
  const next = t.el.nextElementSibling || t.el.previousElementSibling;
  t.el.remove();
  st.live.tiles.delete(t.id);
  if (hadFocus) {
    (next || ui.main).focus();
  }
  if (announce) ui.gridEmpty.hidden = st.live.tiles.size > 0;
}

// Starts snapshot fetches for the tiles that are due, oldest first, at most 4 at a time.
function pumpShots() {
  if (!liveActive()) return;
  const now = Date.now();
  const due = [...st.live.tiles.values()].filter((t) => !t.loading && t.due <= now).sort((a, b) => a.due - b.due);
  for (const t of due) {
    if (st.live.inflight >= MAX_SHOTS_IN_FLIGHT) break;
    fetchShot(t);
  }
}

async function fetchShot(t) {
  t.loading = true;
  st.live.inflight++;
  const session = st.session;
  try {
    const blob = await api(`/api/peers/${t.id}/snapshot.jpg?max_side=${SHOT_SIDE}`, { as: 'blob' });
    if (t.gone || session !== st.session) return;
    const url = URL.createObjectURL(blob);
    const old = t.url;
    t.url = url;
    t.img.src = url;
    try { await t.img.decode(); } catch { /* shown when it can be */ }
    if (old) URL.revokeObjectURL(old);
    if (t.gone) return;
    t.img.hidden = false;
    t.ph.hidden = true;
    t.ok = true;
    t.el.classList.remove('failed');
    t.el.dataset.shotAt = String(Date.now());
  } catch (e) {
    if (quiet(e) || t.gone || session !== st.session) return;
    if (e.status === 404) { dropTile(t, true); return; }
    const why = { 409: 'No media session', 504: 'No keyframe in time', 503: 'The server is busy' }[e.status] || 'Snapshot failed';
    t.ph.textContent = `No picture: ${why} — ${errText(e)}`;
    t.ph.hidden = false;
    t.img.hidden = true;
    t.ok = false;
    t.el.classList.add('failed');
  } finally {
    if (session === st.session) {
      st.live.inflight--;
      t.loading = false;
      t.due = Date.now() + SHOT_EVERY_MS;
    }
  }
}

// Disabling a focused button drops focus to <body>: whether the tile had it is noted first.
const noteFocus = (t) => { t.keepFocus = t.el.contains(document.activeElement); };

async function kickPeer(t) {
  noteFocus(t);
  t.kick.disabled = true;
  t.ban.disabled = true;
  try {
    await post(`/api/peers/${t.id}/kick`, { reason: 'Kicked from the console' });
    st.live.gone.set(t.id, Date.now());
    dropTile(t, true);
    flash(`Peer ${t.id} was kicked.`);
  } catch (e) {
    if (quiet(e)) return;
    t.kick.disabled = false;
    t.ban.disabled = false;
    if (t.keepFocus) t.kick.focus();
    flash(`Could not kick peer ${t.id}: ${errText(e)}`, true);
  }
}

function describeBans(bans) {
  return bans.map((b) => `${b.kind} ${b.kind === 'device' ? shortDevice(b.target) : b.target} (#${b.id})`).join(' and ');
}

// One click: the peer's device and address are banned with the page's duration and reason.
async function banPeer(t) {
  const s = banSettings();
  noteFocus(t);
  t.kick.disabled = true;
  t.ban.disabled = true;
  t.ban.textContent = 'Banning…';
  try {
    const j = await post('/api/bans', { peer: t.id, duration_s: s.duration_s, reason: clip1000(s.reason) });
    st.live.gone.set(t.id, Date.now());
    for (const id of j.cut_off || []) st.live.gone.set(id, Date.now());
    dropTile(t, true);
    for (const id of j.cut_off || []) { const o = st.live.tiles.get(id); if (o) dropTile(o, true); }
    const cut = (j.cut_off || []).length;
    flash(`Peer ${t.id} banned ${s.words}: ${describeBans(j.bans || [])}. `
      + `${cut} ${cut === 1 ? 'person' : 'people'} cut off.`);
  } catch (e) {
    if (quiet(e)) return;
    t.kick.disabled = false;
    t.ban.disabled = false;
    t.ban.textContent = 'Ban';
    if (t.keepFocus) t.ban.focus();
    flash(`Could not ban peer ${t.id}: ${errText(e)}`, true);
  }
}

ui.livePause.addEventListener('change', () => { if (!ui.livePause.checked) liveWake(); });
ui.duration.addEventListener('change', () => { for (const t of st.live.tiles.values()) updateTile(t, t.peer); });
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && st.token && st.view === 'live') liveWake();
});

// ---------------------------------------------------------------------------------------------
// Reports: the queue, newest first, with the evidence picture and clip

function clearReports() {
  for (const u of st.reports.urls) URL.revokeObjectURL(u);
  st.reports.urls = [];
  ui.reports.replaceChildren();
}

async function refreshBadge() {
  clearTimeout(st.badgeTimer);
  if (!st.token) return;
  const session = st.session;
  try {
    const j = await api('/api/reports?state=open&limit=100');
    if (session !== st.session) return;
    const n = (j.reports || []).length;
    ui.reportsCount.textContent = n ? (j.next_before_id ? '100+' : String(n)) : '';
    ui.reportsCount.setAttribute('aria-label', n ? `${ui.reportsCount.textContent} open` : '');
  } catch (e) {
    if (quiet(e)) return;
  }
  if (session === st.session) st.badgeTimer = setTimeout(refreshBadge, BADGE_EVERY_MS);
}

async function loadReports(reset) {
  if (st.reports.loading) return;
  st.reports.loading = true;
  const session = st.session;
  const state = ui.reportsState.value;
  let q = `/api/reports?state=${encodeURIComponent(state)}&limit=25`;
  if (!reset && st.reports.next) q += `&before_id=${st.reports.next}`;
  try {
    const j = await api(q);
    if (session !== st.session) return;
    if (reset) clearReports();
    for (const r of j.reports || []) ui.reports.append(reportItem(r));
    st.reports.next = j.next_before_id || null;
    ui.reportsMore.hidden = !st.reports.next;
    ui.reportsEmpty.hidden = ui.reports.children.length > 0;
    setError(ui.reportsError, null);
    if (state === 'open' && reset) {
      const n = (j.reports || []).length;
      ui.reportsCount.textContent = n ? (j.next_before_id ? `${n}+` : String(n)) : '';
    }
  } catch (e) {
    if (!quiet(e)) setError(ui.reportsError, `Could not load the reports: ${errText(e)}`);
  } finally {
    st.reports.loading = false;
  }
}

function party(who, label) {
  if (!who) return el('div', {}, el('dt', { text: label }), el('dd', { text: 'unknown' }));
  const bits = [deviceEl(who.device), ' · ', who.ip || 'address unknown'];
  if (label === 'Reported') {
    bits.push(' · ', who.peer !== null && who.peer !== undefined ? `live as peer ${who.peer}` : 'no longer live');
  }
  return el('div', {}, el('dt', { text: label }), el('dd', {}, ...bits));
}

// Fetches one piece of evidence (the token cannot go in a src: a blob's object URL is used)
// and shows it when it comes; or says that none was captured.
async function evidence(path, make, box, what) {
  const session = st.session;
  if (!path) {
    box.classList.add('none');
    box.append(el('p', { class: 'placeholder', text: `No ${what} was captured.` }));
    return;
  }
  box.append(el('p', { class: 'placeholder', text: `Loading ${what}…` }));
  try {
    const blob = await api(path, { as: 'blob' });
    if (session !== st.session || !box.isConnected) return;
    const url = URL.createObjectURL(blob);
    st.reports.urls.push(url);
    box.replaceChildren(make(url));
  } catch (e) {
    if (quiet(e)) return;
    box.replaceChildren(el('p', { class: 'placeholder', text: `No ${what}: ${errText(e)}` }));
  }
}

function reportItem(r) {
  const id = r.id;
  const titleId = `report-${id}-title`;
  const pic = el('div', { class: 'evidence-box' });
  const clip = el('div', { class: 'evidence-box' });
  const ev = r.evidence || {};
  evidence(ev.jpeg, (u) => el('img', { src: u, alt: `Evidence picture for report ${id}`, class: 'ev-jpeg' }), pic, 'picture');
  evidence(ev.webm, (u) => el('video', { src: u, controls: true, preload: 'metadata', playsinline: true,
    class: 'ev-webm', 'aria-label': `Evidence clip for report ${id}` }), clip, 'clip');

  const status = el('p', { class: 'report-status', role: 'status' });
  const actions = el('div', { class: 'actions' });
  const open = r.state === 'open';
  if (open) {
    const canBan = r.reported && (r.reported.device || r.reported.ip);
    const dismiss = el('button', { type: 'button', class: 'secondary', text: 'Dismiss',
      'aria-label': `Dismiss report ${id}` });
    const ban = el('button', { type: 'button', class: 'danger', text: 'Ban reported',
      'aria-label': `Ban the person reported in report ${id}`, disabled: !canBan,
      title: canBan ? 'Bans their device and address with the ban settings above' : 'Neither a device nor an address is known' });
    dismiss.addEventListener('click', () => resolveReport(item, r, 'dismissed', [dismiss, ban], status));
    ban.addEventListener('click', () => banReported(item, r, [dismiss, ban], status));
    actions.append(dismiss, ban);
  } else {
    status.textContent = `Resolved: ${r.resolution || '—'} by ${r.resolved_by || '—'} at ${fmtTime(r.resolved_ms)}`;
  }
  const item = el('li', { class: `report ${open ? 'open' : 'resolved'}`, dataset: { report: id }, tabindex: -1,
    'aria-labelledby': titleId },
    el('article', { 'aria-labelledby': titleId },
      el('h3', { id: titleId }, `#${id} · `, el('span', { class: 'reason', text: r.reason || 'no reason' }),
        ' · ', timeEl(r.time_ms)),
      r.note ? el('p', { class: 'note' }, el('span', { class: 'hint', text: 'Note: ' }), r.note) : null,
      el('dl', { class: 'parties' }, party(r.reported, 'Reported'), party(r.reporter, 'Reporter')),
      el('div', { class: 'evidence' },
        el('figure', {}, pic, el('figcaption', { text: 'Picture' })),
        el('figure', {}, clip, el('figcaption', { text: 'Clip (about 10 s)' }))),
      actions, status));
  return item;
}

async function resolveReport(item, r, resolution, buttons, status) {
  if (item.contains(document.activeElement)) item.dataset.focus = '1';
  for (const b of buttons) b.disabled = true;
  try {
    await post(`/api/reports/${r.id}/resolve`, { resolution });
    reportDone(item, r, `Report ${r.id} ${resolution === 'dismissed' ? 'dismissed' : `resolved (${resolution})`}.`);
  } catch (e) {
    if (quiet(e)) return;
    if (e.status === 409) { reportDone(item, r, `Report ${r.id} was already resolved by someone else.`); return; }
    for (const b of buttons) b.disabled = false;
    status.textContent = `Could not resolve: ${errText(e)}`;
  }
}

// The report leaves the open queue; focus goes to the next report (not to a button in it).
function reportDone(item, r, text) {
  flash(text);
  if (ui.reportsState.value !== 'open') { loadReports(true); return; }
  const hadFocus = item.dataset.focus === '1' || item.contains(document.activeElement);
  const next = item.nextElementSibling || item.previousElementSibling;
  for (const m of item.querySelectorAll('img, video')) {
    const u = m.getAttribute('src');
    if (u && u.startsWith('blob:')) { URL.revokeObjectURL(u); st.reports.urls = st.reports.urls.filter((x) => x !== u); }
  }
  item.remove();
  ui.reportsEmpty.hidden = ui.reports.children.length > 0;
  if (hadFocus) (next || ui.main).focus();
  refreshBadge();
}

async function banReported(item, r, buttons, status) {
  const s = banSettings();
  const reason = clip1000(`${s.reason} (report #${r.id}: ${r.reason || 'no reason'})`);
  const targets = [];
  if (r.reported.device) targets.push({ kind: 'device', target: r.reported.device });
  if (r.reported.ip) targets.push({ kind: r.reported.ip.includes(':') ? 'ip6_64' : 'ip', target: r.reported.ip });
  if (item.contains(document.activeElement)) item.dataset.focus = '1';
  for (const b of buttons) b.disabled = true;
  status.textContent = 'Banning…';
  const made = [];
  let cut = 0;
  try {
    for (const t of targets) {
      const j = await post('/api/bans', { ...t, duration_s: s.duration_s, reason });
      made.push(...(j.bans || []));
      cut += (j.cut_off || []).length;
    }
  } catch (e) {
    if (quiet(e)) return;
    status.textContent = `Could not ban${made.length ? ` everything (done: ${describeBans(made)})` : ''}: ${errText(e)}. The report stays open.`;
    for (const b of buttons) b.disabled = false;
    return;
  }
  status.textContent = '';
  await resolveReport(item, r, 'banned', buttons, status);
  flash(`Report ${r.id}: banned ${s.words}: ${describeBans(made)}. ${cut} ${cut === 1 ? 'person' : 'people'} cut off.`);
}

ui.reportsState.addEventListener('change', () => loadReports(true));
ui.reportsRefresh.addEventListener('click', () => loadReports(true));
ui.reportsMore.addEventListener('click', () => loadReports(false));

// ---------------------------------------------------------------------------------------------
// Bans

const banState = (b) => (b.lifted_ms ? 'lifted' : b.expires_ms && b.expires_ms <= Date.now() ? 'expired' : 'active');

async function loadBans(reset) {
  const session = st.session;
  let q = `/api/bans?active=${ui.bansAll.checked ? 0 : 1}&limit=100`;
  if (!reset && st.bans.next) q += `&after_id=${st.bans.next}`;
  try {
    const j = await api(q);
    if (session !== st.session) return;
    if (reset) ui.bans.replaceChildren();
    for (const b of j.bans || []) ui.bans.append(banRow(b));
    st.bans.next = j.next_after_id || null;
    ui.bansMore.hidden = !st.bans.next;
    ui.bansEmpty.hidden = ui.bans.children.length > 0;
    setError(ui.bansError, null);
  } catch (e) {
    if (!quiet(e)) setError(ui.bansError, `Could not load the bans: ${errText(e)}`);
  }
}

function banRow(b) {
  const state = banState(b);
  const stateCell = el('td', { class: `ban-${state}`, text: state });
  const lift = state === 'active'
    ? el('button', { type: 'button', class: 'secondary small', text: 'Lift', 'aria-label': `Lift ban ${b.id}` })
    : null;
  const row = el('tr', { dataset: { ban: b.id } },
    el('td', { text: String(b.id) }), el('td', { text: b.kind }),
    el('td', {}, b.kind === 'device' ? el('code', { title: b.target, text: shortDevice(b.target) }) : el('code', { text: b.target })),
    el('td', { class: 'wrap', text: b.reason || '' }), el('td', { text: b.by || '' }),
    el('td', {}, timeEl(b.created_ms)), el('td', {}, b.expires_ms ? timeEl(b.expires_ms) : 'never'),
    stateCell, el('td', {}, lift));
  if (lift) {
    lift.addEventListener('click', async () => {
      lift.disabled = true;
      try {
        await api(`/api/bans/${b.id}`, { method: 'DELETE' });
        flash(`Ban ${b.id} lifted.`);
      } catch (e) {
        if (quiet(e)) return;
        if (e.status !== 409) { lift.disabled = false; flash(`Could not lift ban ${b.id}: ${errText(e)}`, true); return; }
        flash(`Ban ${b.id} was already lifted.`);
      }
      stateCell.textContent = 'lifted';
      stateCell.className = 'ban-lifted';
      const cell = lift.parentElement;
      lift.remove();
      cell.tabIndex = -1;
      cell.focus();
    });
  }
  return row;
}

ui.bansAll.addEventListener('change', () => loadBans(true));
ui.bansRefresh.addEventListener('click', () => loadBans(true));
ui.bansMore.addEventListener('click', () => loadBans(false));

// ---------------------------------------------------------------------------------------------
// Audit log, newest first, 50 a page

function details(d) {
  if (!d || typeof d !== 'object') return d ? String(d) : '';
  return Object.entries(d).map(([k, v]) => {
    if (k.endsWith('_ms') && typeof v === 'number') return `${k.slice(0, -3)}: ${v ? fmtTime(v) : 'never'}`;
    return `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`;
  }).join(' · ');
}

async function loadAudit() {
  const session = st.session;
  const before = st.audit.pages[st.audit.pages.length - 1];
  const q = `/api/audit?limit=50${before ? `&before_id=${before}` : ''}`;
  try {
    const j = await api(q);
    if (session !== st.session) return;
    ui.audit.replaceChildren(...(j.audit || []).map((a) => el('tr', { dataset: { audit: a.id, action: a.action } },
      el('td', { text: String(a.id) }), el('td', {}, timeEl(a.time_ms)), el('td', { text: a.actor || '' }),
      el('td', { class: `action action-${a.action}`, text: a.action || '' }),
      el('td', {}, el('code', { class: 'wrap', text: a.target || '' })),
      el('td', { class: 'wrap', text: details(a.details) }))));
    st.audit.next = j.next_before_id || null;
    ui.auditOlder.disabled = !st.audit.next;
    ui.auditNewer.disabled = st.audit.pages.length <= 1;
    ui.auditEmpty.hidden = ui.audit.children.length > 0;
    setError(ui.auditError, null);
  } catch (e) {
    if (!quiet(e)) setError(ui.auditError, `Could not load the audit log: ${errText(e)}`);
  }
}

ui.auditNewest.addEventListener('click', () => { st.audit.pages = [null]; loadAudit(); });
ui.auditOlder.addEventListener('click', () => { if (st.audit.next) { st.audit.pages.push(st.audit.next); loadAudit(); } });
ui.auditNewer.addEventListener('click', () => { if (st.audit.pages.length > 1) { st.audit.pages.pop(); loadAudit(); } });

// ---------------------------------------------------------------------------------------------

if (st.token) startSession(); else showLogin('');
