// admin.js -- the Tandem moderation console at /admin: token login, the live grid of snapshots,
// bans and the audit log (the reports queue: admin_reports.js; a cluster's nodes:
// admin_cluster.js). It uses nothing but the admin API (docs/admin-api.md). No dependencies.
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
  reports: { urls: [], next: {}, loading: false },
  bans: { next: {} },
  audit: { pages: [{}], next: null },
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
  cluster.at = 0;
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
  if (view === 'audit') { st.audit.pages = [{}]; loadAudit(); }
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
    const g = await gather('/api/peers', 'peers');
    if (session !== st.session) return;
    renderPeers(g.items, g.errors);
    setError(ui.liveError, g.errors.length ? `Some nodes did not list their peers (${nodeErrors(g.errors)}).` : null);
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

function renderPeers(peers, errors = []) {
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
  // A node that did not answer this time keeps its tiles (its peers are not known to be gone).
  const silent = new Set(errors.map((x) => x.node));
  for (const [id, t] of st.live.tiles) if (!seen.has(id) && !silent.has(t.peer.node)) dropTile(t, true);
  // Tiles in peer id order (oldest visits first), moved only when out of place.
  const order = [...st.live.tiles.values()].sort((a, b) => a.id - b.id);
  order.forEach((t, i) => { if (ui.grid.children[i] !== t.el) ui.grid.insertBefore(t.el, ui.grid.children[i] || null); });
  ui.gridEmpty.hidden = st.live.tiles.size > 0;
  const others = peers.length - withMedia.length;
  const pairs = withMedia.filter((p) => p.state === 'paired').length / 2;
  const n = cluster.nodes.length;
  const nodes = !cluster.multi ? '' : errors.length ? ` (${n - errors.length} of ${n} nodes answered)` : ` on ${n} nodes`;
  ui.liveSummary.textContent = `${withMedia.length} with media${nodes}, ${Math.floor(pairs)} ${Math.floor(pairs) === 1 ? 'pair' : 'pairs'}`
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
  const where = nodeTag(p.node);
  t.el = el('li', { class: 'tile', dataset: { peer: p.id, node: p.node ?? '' }, 'aria-labelledby': t.title.id, tabindex: -1 },
    el('div', { class: 'shot' }, t.img, t.ph),
    el('div', { class: 'about' },
      el('div', { class: 'line' }, t.title, where, t.state),
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
    const blob = await api(onNode(t.peer.node, `/api/peers/${t.id}/snapshot.jpg?max_side=${SHOT_SIDE}`), { as: 'blob' });
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
    const why = { 409: 'No media session', 504: 'No keyframe in time', 503: 'The server is busy',
      502: 'Its node did not answer' }[e.status] || 'Snapshot failed';
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
    await post(onNode(t.peer.node, `/api/peers/${t.id}/kick`), { reason: 'Kicked from the console' });
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
    // To the peer's own node: it knows the device and address (the bans then hold everywhere).
    const j = await post(onNode(t.peer.node, '/api/bans'), { peer: t.id, duration_s: s.duration_s, reason: clip1000(s.reason) });
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
// Bans

const banState = (b) => (b.lifted_ms ? 'lifted' : b.expires_ms && b.expires_ms <= Date.now() ? 'expired' : 'active');

// The bans in force are the whole cluster's on any node; the history (lifted and expired too)
// is each node's own, merged oldest first.
async function loadBans(reset) {
  const session = st.session;
  const all = ui.bansAll.checked;
  try {
    await clusterNodes();
    const cursors = reset ? {} : st.bans.next;
    const p = all && cluster.multi
      ? await gatherPage({ base: '/api/bans?active=0', key: 'bans', limit: 100, cursors, param: 'after_id',
        nextKey: 'next_after_id', by: 'created_ms', asc: true })
      : await gatherPage({ base: `/api/bans?active=${all ? 0 : 1}`, key: 'bans', limit: 100,
        cursors: { single: cursors.single }, param: 'after_id', nextKey: 'next_after_id', by: 'created_ms', asc: true,
        alone: true });
    if (session !== st.session) return;
    if (reset) ui.bans.replaceChildren();
    for (const b of p.items) ui.bans.append(banRow(b));
    st.bans.next = p.cursors;
    ui.bansMore.hidden = !p.more;
    ui.bansEmpty.hidden = ui.bans.children.length > 0;
    setError(ui.bansError, p.errors.length ? `Some nodes did not list their bans (${nodeErrors(p.errors)}).` : null);
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
    el('td', {}, String(b.id), b.node ? ' ' : null, nodeTag(b.node)), el('td', { text: b.kind }),
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

// Every node's log merged, newest first; each page starts, on each node, after the rows of
// that node shown on the page before.
async function loadAudit() {
  const session = st.session;
  const cursors = st.audit.pages[st.audit.pages.length - 1];
  try {
    const p = await gatherPage({ base: '/api/audit', key: 'audit', limit: 50, cursors, param: 'before_id',
      nextKey: 'next_before_id', by: 'time_ms' });
    if (session !== st.session) return;
    ui.audit.replaceChildren(...p.items.map((a) => el('tr', { dataset: { audit: a.id, action: a.action, node: a.node ?? '' } },
      el('td', {}, String(a.id), a.node ? ' ' : null, nodeTag(a.node)), el('td', {}, timeEl(a.time_ms)), el('td', { text: a.actor || '' }),
      el('td', { class: `action action-${a.action}`, text: a.action || '' }),
      el('td', {}, el('code', { class: 'wrap', text: a.target || '' })),
      el('td', { class: 'wrap', text: details(a.details) }))));
    st.audit.next = p.more ? p.cursors : null;
    ui.auditOlder.disabled = !st.audit.next;
    ui.auditNewer.disabled = st.audit.pages.length <= 1;
    ui.auditEmpty.hidden = ui.audit.children.length > 0;
    setError(ui.auditError, p.errors.length ? `Some nodes did not send their log (${nodeErrors(p.errors)}).` : null);
  } catch (e) {
    if (!quiet(e)) setError(ui.auditError, `Could not load the audit log: ${errText(e)}`);
  }
}

ui.auditNewest.addEventListener('click', () => { st.audit.pages = [{}]; loadAudit(); });
ui.auditOlder.addEventListener('click', () => { if (st.audit.next) { st.audit.pages.push(st.audit.next); loadAudit(); } });
ui.auditNewer.addEventListener('click', () => { if (st.audit.pages.length > 1) { st.audit.pages.pop(); loadAudit(); } });
