// moderation.js -- Report (the current partner, with a reason), and a visit ended by a ban or a
// kick. Loaded after app.js.
'use strict';

let toastTimer = null;
function toast(text) {
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 6000);
}

// The longest start of s that is at most max bytes of UTF-8 (the server's limit is in bytes).
function clipBytes(s, max) {
  const enc = new TextEncoder();
  if (enc.encode(s).length <= max) return s;
  let out = '';
  let n = 0;
  for (const ch of s) {
    const b = enc.encode(ch).length;
    if (n + b > max) break;
    out += ch;
    n += b;
  }
  return out;
}

let reportGen = 0;
function openReport() {
  if (ui.report.hidden || ui.report.disabled || st.state !== 'paired') return;
  ui.reportForm.reset();
  reportGen = st.pairGen;
  ui.reportDlg.showModal();
  ui.reportForm.querySelector('input[name="reason"]').focus();
}

// Reporting moves on at once, as Next does (the server ends the pair and looks for someone
// new; the page sends no next). If the stranger had already left, the server still takes a
// report about them for a while.
function sendReport(reason, note) {
  ui.reportDlg.close();
  if (!wsOpen() || st.fatal) { toast('You are not connected, so the report was not sent. Please try again.'); return; }
  const msg = { type: 'report', reason };
  const n = clipBytes(note.trim(), 500);
  if (n) msg.note = n;
  const paired = st.state === 'paired' && st.pairGen === reportGen;
  st.report = { gen: reportGen, paired, moved: false };
  if (paired) {
    endPair();
    st.state = 'waiting';
    st.wantStart = true;
  }
  notice('');
  send(msg);
  render();
}

// The server refused the report before doing anything: nor did it end the pair. The person
// wanted that stranger gone, so the page leaves them as Block does.
function reportError(m) {
  const r = st.report;
  st.report = null;
  const left = r && r.paired && !r.moved;
  if (left) send({ type: 'block' });
  const why = m.message || m.code;
  toast(`Your report was not sent: ${why.replace(/\.$/, '')}.${left ? ' You will not meet that stranger again.' : ''}`);
}

ui.report.onclick = openReport;
ui.reportCancel.onclick = () => ui.reportDlg.close();
ui.reportForm.onsubmit = (e) => {
  e.preventDefault();
  const reason = new FormData(ui.reportForm).get('reason');
  if (!reason) return;
  sendReport(String(reason), ui.reportNote.value);
};

function para(text) {
  const p = document.createElement('p');
  p.textContent = text;
  return p;
}

// A ban or a kick ends the visit: the partner's picture and sound go at once, so do the media
// connection and the camera, and the page never reconnects by itself.
function endVisit(kind, m) {
  if (kind === 'banned') {
    st.banned = {
      until: typeof m.until === 'number' ? m.until : m.until === null ? null : undefined,
      reason: typeof m.reason === 'string' ? m.reason : '',
      message: typeof m.message === 'string' ? m.message : '',
    };
  } else {
    st.kicked = { message: typeof m.message === 'string' ? m.message : '' };
  }
  st.fatal = kind === 'banned' ? 'You are banned from Tandem' : 'A moderator ended your visit';
  st.wantStart = false;
  st.restart = false;
  st.report = null;
  endPair();
  ui.remote.pause();
  ui.remote.srcObject = null;
  if (st.pc) st.pc.close();
  st.pc = null;
  st.answered = false;
  if (st.stream) for (const t of st.stream.getTracks()) t.stop();
  st.stream = null;
  ui.local.srcObject = null;
  st.media = 'off';
  st.state = kind;
  st.token = null;
  sessionStorage.removeItem('tandem.resume');
  for (const p of st.pending.splice(0)) settleChat(p, '');
  // The server closes the connection (4003, 4004); should it not, the page does.
  const ws = st.ws;
  setTimeout(() => { if (ws && ws.readyState === WebSocket.OPEN) ws.close(); }, 3000);
  if (ui.reportDlg.open) ui.reportDlg.close();
  if (ui.terms.open) ui.terms.close();
  notice('');

  ui.endedText.textContent = '';
  if (kind === 'banned') {
    const b = st.banned;
    ui.endedTitle.textContent = 'You are banned from Tandem';
    if (b.until === null) ui.endedText.append(para('You are banned permanently.'));
    else if (typeof b.until === 'number') {
      const when = new Date(b.until).toLocaleString(undefined, { dateStyle: 'full', timeStyle: 'short' });
      ui.endedText.append(para(`You are banned until ${when}.`));
    } else if (b.message) ui.endedText.append(para(b.message));
    if (b.reason) ui.endedText.append(para(`Reason: ${b.reason}`));
    ui.endedText.append(para(b.until === null ? 'Tandem will not connect you to anyone.'
      : 'Until then Tandem will not connect you to anyone.'));
    ui.endedRestart.hidden = true;
  } else {
    ui.endedTitle.textContent = 'A moderator ended your visit';
    ui.endedText.append(para('Your video and chat were stopped. You can start again: please keep to the rules.'));
    ui.endedRestart.hidden = false;
  }
  ui.app.inert = true;
  ui.ended.hidden = false;
  const box = ui.ended.querySelector('.ended-box');
  box.tabIndex = -1;
  (ui.endedRestart.hidden ? box : ui.endedRestart).focus();
  render();
}

// After a kick: a new visit (hello, offer) that presses Start by itself once it is ready.
ui.endedRestart.onclick = () => {
  if (!st.kicked) return;
  st.kicked = null;
  st.fatal = null;
  st.state = 'connecting';
  st.net = 'connecting';
  st.retries = 0;
  st.restart = true;
  ui.ended.hidden = true;
  ui.app.inert = false;
  initMedia();
};
