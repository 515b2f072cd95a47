// admin_reports.js -- the console's Reports view: the queue, newest first (merged across the
// nodes of a cluster: admin_cluster.js), each report with its evidence picture and clip, and
// Dismiss / Ban reported. Loaded after admin.js; it starts the console.
'use strict';

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
    const g = await gather('/api/reports?state=open&limit=100', 'reports');
    if (session !== st.session) return;
    const n = g.items.length;
    const more = g.answers.some(({ j }) => j && j.next_before_id);
    ui.reportsCount.textContent = n ? (more ? `${n}+` : String(n)) : '';
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
  try {
    // Every node's reports (each kept by the node of the person reported), newest first.
    const p = await gatherPage({ base: `/api/reports?state=${encodeURIComponent(state)}`, key: 'reports', limit: 25,
      cursors: reset ? {} : st.reports.next, param: 'before_id', nextKey: 'next_before_id', by: 'time_ms' });
    if (session !== st.session) return;
    if (reset) clearReports();
    for (const r of p.items) ui.reports.append(reportItem(r));
    st.reports.next = p.cursors;
    ui.reportsMore.hidden = !p.more;
    ui.reportsEmpty.hidden = ui.reports.children.length > 0;
    setError(ui.reportsError, p.errors.length ? `Some nodes did not list their reports (${nodeErrors(p.errors)}).` : null);
    if (state === 'open' && reset && !p.errors.length) {
      const n = p.items.length;
      ui.reportsCount.textContent = n ? (p.more ? `${n}+` : String(n)) : '';
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
  // Evidence is read from the report's own node (the one that captured it).
  evidence(ev.jpeg && onNode(r.node, ev.jpeg), (u) => el('img', { src: u, alt: `Evidence picture for report ${id}`, class: 'ev-jpeg' }), pic, 'picture');
  evidence(ev.webm && onNode(r.node, ev.webm), (u) => el('video', { src: u, controls: true, preload: 'metadata', playsinline: true,
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
  const item = el('li', { class: `report ${open ? 'open' : 'resolved'}`, dataset: { report: id, node: r.node ?? '' }, tabindex: -1,
    'aria-labelledby': titleId },
    el('article', { 'aria-labelledby': titleId },
      el('h3', { id: titleId }, `#${id} · `, el('span', { class: 'reason', text: r.reason || 'no reason' }),
        ' · ', timeEl(r.time_ms), r.node ? ' ' : null, nodeTag(r.node)),
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
    await post(onNode(r.node, `/api/reports/${r.id}/resolve`), { resolution });
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

if (st.token) startSession(); else showLogin('');
