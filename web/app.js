// app.js -- the Tandem web client: one RTCPeerConnection per visit, signalling over /ws
// (docs/protocol.md). No dependencies.
'use strict';

const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'), statusText: $('status-text'), statusCount: $('status-count'),
  alert: $('alert'), notice: $('notice'), retry: $('retry'), escHint: $('esc-hint'),
  local: $('local'), localBox: $('local-box'), remote: $('remote'), remoteBox: $('remote-box'),
  overlay: $('remote-overlay'), shared: $('shared'),
  start: $('start'), next: $('next'), stop: $('stop'), block: $('block'),
  prefs: $('prefs'), interests: $('interests'), lang: $('lang'),
  mute: $('mute'), camera: $('camera'), volume: $('volume'), mediaBar: $('media-bar'),
  messages: $('messages'), chatForm: $('chat-form'), chatInput: $('chat-input'), chatSend: $('chat-send'),
  terms: $('terms'), termsText: $('terms-text'), termsAccept: $('terms-accept'),
  termsCancel: $('terms-cancel'), showTerms: $('show-terms'),
  report: $('report'), reportDlg: $('report-dialog'), reportForm: $('report-form'),
  reportNote: $('report-note'), reportCancel: $('report-cancel'), toast: $('toast'),
  app: $('app'), ended: $('ended'), endedTitle: $('ended-title'), endedText: $('ended-text'),
  endedRestart: $('ended-restart'),
};

const store = {
  get(k) { try { return localStorage.getItem(k); } catch { return null; } },
  set(k, v) { try { localStorage.setItem(k, v); } catch { /* storage off: ask again next time */ } },
};

const DEFAULT_TERMS = 'Tandem connects you by video with random strangers. You must be 18 or older.\n'
  + 'Be respectful: no nudity, sexual content, harassment, hate or anything illegal. '
  + 'Do not share personal details. The other person can record what you show and say.\n'
  + 'Press Next to leave any chat, and Block to never meet that person again.';

// What the page knows; window.tandem exposes it for debugging and tests.
const st = {
  ws: null, pc: null, stream: null, token: sessionStorage.getItem('tandem.resume'),
  // The server's state (connecting | ready | waiting | paired), or the page's own between two
  // server messages: 'leaving' (Next, Block or Stop sent) and 'cooldown' (too many Nexts).
  state: 'connecting',
  media: 'asking',          // asking | ok | failed: the camera and microphone
  net: 'connecting',        // connecting | open | reconnecting | full | draining | elsewhere
  wantStart: false,         // the user pressed Start and not Stop
  coolUntil: 0,             // Date.now() when a Next cool-down ends
  partnerLeft: false,       // the last partner left (shown until someone new comes)
  noMatch: false,           // the server would not take a start (error banned, ref start)
  // Moderation: the device token of the latest welcome (kept in localStorage); a ban
  // ({until, reason, message}: until is unix ms or null for permanent) or a kick ({message})
  // that ended the visit; the report sent and not yet answered ({gen, moved}).
  device: store.get('tandem.device'),
  banned: null, kicked: null, report: null, reportsAcked: [],
  partnerTs: null,          // RTP timestamp from which remote video is the current partner's
  showing: false,           // the remote video shows the current partner
  pairGen: 0, retries: 0, fatal: null,
  pending: [],              // chat lines sent, each answered by the pong that follows it
  escAt: 0,                 // when Esc was pressed once (a second press within 3 s skips)
  termsText: DEFAULT_TERMS,
};
window.tandem = st;

const secondsTo = (t) => Math.max(0, Math.ceil((t - Date.now()) / 1000));
const secondsLeft = () => secondsTo(st.coolUntil);
const wsOpen = () => st.ws && st.ws.readyState === WebSocket.OPEN;

function notice(text, action) {
  ui.notice.textContent = text || '';
  ui.alert.hidden = !text;
  ui.retry.hidden = !action;
  ui.retry.textContent = action === 'reload' ? 'Reload' : 'Try again';
  ui.retry.dataset.action = action || '';
}

function statusText() {
  if (st.fatal) return [st.fatal];
  if (st.media === 'asking') return ['Asking for your camera and microphone…'];
  if (!wsOpen()) {
    return [{
      connecting: 'Connecting to the server…', reconnecting: 'Connection lost — reconnecting…',
      full: 'The server is full — trying again in', draining: 'This server is closing — reconnecting…',
      moving: 'Moving you to another server…',
      elsewhere: 'Tandem is open in another tab',
    }[st.net] || 'Connecting to the server…', st.net === 'full' ? `${secondsTo(st.netRetryAt)} s` : ''];
  }
  if (st.coolUntil > Date.now() && (st.state === 'cooldown' || st.state === 'ready')) {
    return [st.state === 'cooldown' ? 'Too many skips — back in the queue in'
      : 'Too many skips — you can start again in', `${secondsLeft()} s`];
  }
  switch (st.state) {
    case 'connecting': return [st.wantStart ? 'Connecting your video to the server…' : 'Connecting to the server…'];
    case 'ready': return [st.noMatch ? 'You cannot be matched right now' : 'Ready — press Start to meet someone'];
    case 'waiting': return [st.partnerLeft ? 'Stranger left — looking for someone new…' : 'Looking for someone…'];
    case 'paired': return [st.showing ? 'You are talking to a stranger' : 'Stranger found — their video is on its way…'];
    case 'cooldown': return ['Back in the queue…'];
    case 'leaving': return [st.wantStart ? 'Skipping…' : 'Stopping…'];
    default: return [st.state];
  }
}

let focusLost = false;
function render() {
  const active = document.activeElement;
  const [text, count = ''] = statusText();
  if (ui.statusText.textContent !== text) ui.statusText.textContent = text;
  ui.statusCount.textContent = count;

  const s = st.state;
  const live = wsOpen() && !st.fatal && !!st.pc;
  const paired = live && s === 'paired';
  const cooling = st.coolUntil > Date.now();
  ui.start.disabled = !live || st.wantStart || cooling || !(s === 'ready' || s === 'connecting');
  ui.next.disabled = !paired;
  ui.block.disabled = !paired;
  // Report: only while there is someone to report.
  ui.report.hidden = !paired;
  ui.report.disabled = !paired;
  ui.stop.disabled = !live || !st.wantStart;
  // Before Start: Start alone. In a session: Next, Stop and Block.
  ui.start.hidden = st.wantStart;
  ui.next.hidden = ui.stop.hidden = ui.block.hidden = !st.wantStart;
  // The chat input stays focusable (typing goes on into the next chat) but takes no text.
  ui.chatInput.readOnly = !paired;
  ui.chatInput.setAttribute('aria-disabled', String(!paired));
  ui.chatInput.placeholder = paired ? 'Say hi…' : 'No one to chat with yet';
  ui.chatSend.disabled = !paired;
  ui.prefs.hidden = st.wantStart;
  ui.mediaBar.hidden = st.media !== 'ok';

  ui.remoteBox.classList.toggle('showing', st.showing && s === 'paired');
  ui.overlay.textContent = st.fatal ? ''
    : st.media === 'asking' ? 'Waiting for your camera and microphone…'
    : !live ? { full: 'The server is full. Trying again soon.', draining: 'This server is closing.',
      reconnecting: 'Reconnecting…' }[st.net] || 'Connecting…'
    : s === 'cooldown' && cooling ? `Too many skips. Back in ${secondsLeft()} s`
    : s === 'ready' && cooling ? `Too many skips. Start again in ${secondsLeft()} s`
    : s === 'waiting' || s === 'cooldown' ? 'Looking for someone…'
    : s === 'paired' ? (st.noPicture ? "No picture: the stranger's camera may be off" : 'Connecting video…')
    : s === 'leaving' ? '' : st.wantStart ? 'Getting ready…'
    : 'Press Start to meet someone';

  // A button that was just used and is now disabled hands focus to the next useful one.
  if (active && active.tagName === 'BUTTON' && (active.disabled || active.hidden) && active.closest('.buttons')) focusLost = true;
  if (focusLost && !ui.terms.open && !ui.reportDlg.open && ui.ended.hidden) {
    const cur = document.activeElement;
    if (cur && cur !== document.body && cur !== active && !cur.disabled && !cur.hidden) focusLost = false;
    else {
      const to = [s === 'paired' ? ui.next : null, ui.stop, ui.start].find((b) => b && !b.disabled && !b.hidden);
      if (to) { to.focus(); focusLost = false; }
    }
  }
}

let ticker = null;
function tick() {
  render();
  const need = st.coolUntil > Date.now() || st.state === 'cooldown' || (st.net === 'full' && !wsOpen());
  if (need && !ticker) ticker = setInterval(tick, 250);
  if (!need && ticker) { clearInterval(ticker); ticker = null; }
}

function hideRemote() {
  st.showing = false;
  st.partnerTs = null;
  ui.shared.textContent = '';
}

// Reveal the remote video only once a frame at or after the partner's first keyframe renders,
// so a frame of the previous partner still in the decoder is never shown as the new one.
function watchFrames() {
  const v = ui.remote;
  if (!v.requestVideoFrameCallback) return;
  const onFrame = (now, meta) => {
    st.lastFrameAt = performance.now();
    if (!st.showing && st.state === 'paired' && st.partnerTs !== null) {
      const ts = meta && typeof meta.rtpTimestamp === 'number' ? meta.rtpTimestamp : null;
      if (ts === null || ((ts - st.partnerTs) | 0) >= 0) {
        st.showing = true;
        render();
      }
    }
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
}

// A partner whose camera is off sends no video (or, from other clients, black frames): a picture
// that stops or stays black gets a word rather than a frozen or black box that looks broken, and
// so does a new partner whose first picture does not come.
function watchDark() {
  const c = document.createElement('canvas');
  c.width = 8; c.height = 6;
  const g = c.getContext('2d', { willReadFrequently: true });
  let darkFor = 0;
  setInterval(() => {
    let dark = false;
    if (st.showing && st.state === 'paired' && ui.remote.videoWidth) {
      g.drawImage(ui.remote, 0, 0, 8, 6);
      const d = g.getImageData(0, 0, 8, 6).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 4) sum += Math.max(d[i], d[i + 1], d[i + 2]);
      dark = sum / 48 < 16;
    }
    darkFor = dark ? darkFor + 1 : 0;
    const now = performance.now();
    const stalled = st.showing && st.state === 'paired' && now - (st.lastFrameAt || 0) > 1500;
    ui.remoteBox.classList.toggle('dark', darkFor >= 2 || stalled);
    const noPicture = st.state === 'paired' && !st.showing && Date.now() - st.pairedAt > 4000;
    if (noPicture !== st.noPicture) {
      st.noPicture = noPicture;
      render();
    }
  }, 500);
}

// ---- connection ----

function send(msg) {
  if (wsOpen()) st.ws.send(JSON.stringify(msg));
}

async function getMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (e) {
    const denied = 'Camera or microphone access was denied. Allow both for this site (the camera icon in the address bar, or your browser settings), then press Try again.';
    const why = {
      NotAllowedError: denied, SecurityError: denied,
      NotFoundError: 'No camera or microphone was found. Connect one, then press Try again.',
      OverconstrainedError: 'Your camera cannot provide video Tandem can use.',
      NotReadableError: 'Your camera or microphone is in use by another application. Close it, then press Try again.',
    }[e.name] || `Cannot use your camera or microphone (${e.name || e}).`;
    st.media = 'failed';
    st.fatal = 'Camera or microphone unavailable';
    notice(why, 'retry');
    render();
    return null;
  }
}

async function initMedia() {
  st.media = 'asking';
  st.fatal = null;
  notice('');
  render();
  const stream = await getMedia();
  if (!stream) return;
  st.stream = stream;
  st.media = 'ok';
  ui.local.srcObject = stream;
  applyToggles();
  render();
  connect();
}

async function makeOffer() {
  // One RTCPeerConnection for the whole visit: matching and Next never renegotiate.
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  st.pc = pc;
  for (const t of st.stream.getTracks()) pc.addTrack(t, st.stream);
  pc.ontrack = (e) => {
    if (!ui.remote.srcObject) ui.remote.srcObject = new MediaStream();
    ui.remote.srcObject.addTrack(e.track);
    ui.remote.play().catch(() => {});
  };
  pc.onconnectionstatechange = () => {
    if (pc.connectionState === 'failed') fail('Video connection failed', 'The video connection to the server failed. Check your network, then reload the page.');
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  send({ type: 'offer', sdp: pc.localDescription.sdp });
  render();
}

function fail(status, text) {
  st.fatal = status;
  hideRemote();
  notice(text, 'reload');
  render();
}

function endPair() {
  hideRemote();
  clearChat();
  st.partnerLeft = false;
  st.escAt = 0;
  ui.escHint.hidden = true;
}

function onMessage(m) {
  switch (m.type) {
    case 'welcome':
      st.token = m.resume;
      sessionStorage.setItem('tandem.resume', m.resume);
      // The server's word on this browser's device token is final: a new one replaces ours.
      if (typeof m.device === 'string' && m.device) {
        st.device = m.device;
        store.set('tandem.device', m.device);
      }
      st.retries = 0;
      st.net = 'open';
      if (!st.pc) {
        makeOffer().catch((e) => fail('Could not start video', `Could not start media: ${e}`));
      } else if (!m.resumed) {
        // The server forgot us (too long away): start a fresh visit.
        location.reload();
      }
      break;
    case 'answer':
      st.answered = true;
      st.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp })
        .then(applyToggles)
        .catch((e) => fail('Video connection failed', `The server's answer was not accepted: ${e}`));
      break;
    case 'state': {
      if (st.report) st.report.moved = true;
      const was = st.state;
      // A reconnection during a cool-down: the server calls it ready (out of the pool), and
      // still puts us back when it ends.
      if (m.state === 'ready' && was === 'cooldown' && st.coolUntil > Date.now()) { render(); break; }
      if (m.state !== 'paired' && was === 'paired') hideRemote();
      st.state = m.state === 'idle' ? 'ready' : m.state;
      if (st.state === 'waiting' || st.state === 'paired') { st.wantStart = true; st.noMatch = false; st.coolUntil = 0; }
      if (st.state === 'ready' && ['waiting', 'paired', 'leaving', 'cooldown'].includes(was)) st.wantStart = false;
      if (st.state === 'ready') st.partnerLeft = false;
      if (st.state === 'ready' && st.restart) {
        st.restart = false; // moved to another server: back in the pool as before
        doStart();
        break;
      }
      render();
      break;
    }
    case 'matched':
      st.pairedAt = Date.now();
      if (st.report) st.report.moved = true;
      if (m.resumed && st.state === 'paired') { render(); break; }
      endPair();
      // A report being written is about the previous stranger: never send it about this one.
      if (ui.reportDlg.open) {
        ui.reportDlg.close();
        toast('That stranger left before you sent the report, so it was not sent.');
      }
      ui.shared.textContent = m.shared && m.shared.length ? `You both like: ${m.shared.join(', ')}` : '';
      st.pairGen++;
      st.state = 'paired';
      st.wantStart = true;
      st.coolUntil = 0;
      chatLine(m.resumed ? 'You are back with the same stranger.'
        : m.shared && m.shared.length ? `You're now talking to a stranger who also likes ${m.shared.join(', ')}.`
          : "You're now talking to a stranger. Say hi!", 'sys');
      notice('');
      render();
      break;
    case 'chat':
      if (st.state === 'paired' && typeof m.text === 'string') chatLine(m.text, 'them');
      break;
    case 'partner_video':
      if (st.state === 'paired') st.partnerTs = m.ts >>> 0;
      break;
    case 'partner_left':
      if (st.state === 'paired') chatLine('Stranger left.', 'sys');
      hideRemote();
      ui.chatInput.value = '';
      st.partnerLeft = true;
      // A waiting or matched message follows; until then nobody is there to talk to.
      if (st.state === 'paired') st.state = 'waiting';
      render();
      break;
    case 'moving':
      // This server is leaving (docs/protocol.md, "Moving"): its resume token and media are
      // worth nothing elsewhere. Forget both, reconnect after retry_ms as a new visit (the load
      // balancer picks a server), and press Start again if it was pressed.
      st.moving = true;
      st.moveDelay = typeof m.retry_ms === 'number' ? m.retry_ms : 2000;
      st.restart = st.wantStart;
      st.token = null;
      sessionStorage.removeItem('tandem.resume');
      if (st.pc) st.pc.close();
      st.pc = null;
      st.answered = false;
      endPair();
      st.state = 'connecting';
      st.net = 'moving';
      render();
      break;
    case 'pong':
      onPong();
      break;
    case 'reported':
      st.report = null;
      st.reportsAcked.push(m.id);
      toast('Thanks — we got your report');
      break;
    case 'error':
      onError(m);
      break;
    default:
      break;
  }
}

function onError(m) {
  if (m.ref === 'chat') { chatError(m); return; }
  if (m.ref === 'report') { reportError(m); return; }
  switch (m.code) {
    case 'cooldown':
      if (typeof m.retry_ms === 'number') {
        // Next pressed too often: out of the pool until retry_ms, then back in by itself.
        endPair();
        st.coolUntil = Date.now() + m.retry_ms;
        st.state = 'cooldown';
      } else {
        // Start during a cool-down (after a Stop): the server did not take it.
        st.wantStart = false;
        if (st.state === 'leaving') st.state = 'ready';
        if (!(st.coolUntil > Date.now())) notice(m.message);
      }
      tick();
      break;
    case 'banned':
      if (m.ref === 'start') {
        // The matching engine would not take a start: the connection stays.
        st.wantStart = false;
        st.noMatch = true;
        notice('You cannot be matched right now. Please try again later.');
        render();
        break;
      }
      // A moderator's ban (on hello, or in the middle of a call): the server closes with 4003.
      endVisit('banned', m);
      break;
    case 'kicked':
      endVisit('kicked', m);
      break;
    case 'media_failed':
      // Before this page's answer it is about the media of the page this one replaced (a
      // reload closes that page's connection): this page's own media is still to come.
      if (!st.answered) break;
      fail('Video connection lost', `Your video connection to the server ended (${m.message}). Reload the page to connect again.`);
      break;
    case 'bad_offer':
      fail('Video connection lost', `Your video connection to the server ended (${m.message}). Reload the page to connect again.`);
      break;
    case 'full':
      st.net = 'full';
      break;
    case 'draining':
      st.net = 'draining';
      break;
    case 'not_paired':
    case 'bad_state':
      break; // A Next, Block or chat that crossed the partner leaving: nothing to tell.
    default:
      notice(m.message || m.code);
  }
}

function startMsg() {
  const interests = ui.interests.value.split(',').map((s) => s.trim()).filter(Boolean).slice(0, 10);
  const msg = { type: 'start', interests };
  if (ui.lang.value) msg.lang = ui.lang.value;
  return msg;
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  st.ws = ws;
  if (st.net === 'full') st.net = 'reconnecting';
  ws.onopen = () => send({ type: 'hello', resume: st.token || null, device: st.device || null });
  ws.onmessage = (e) => {
    // After a ban or a kick, nothing more from this connection counts.
    if (st.ws !== ws || st.banned || st.kicked) return;
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    onMessage(m);
  };
  ws.onclose = (e) => {
    if (st.ws !== ws) return;
    // Lines not yet answered may or may not have reached the partner.
    for (const p of st.pending.splice(0)) settleChat(p, '— may not have been delivered (connection lost).');
    // Banned (4003) or kicked (4004), should the error before it have been lost: never reconnect.
    if (e.code === 4003 || e.code === 4004) {
      if (!st.banned && !st.kicked) endVisit(e.code === 4003 ? 'banned' : 'kicked', {});
      return;
    }
    if (e.code === 4000) {
      st.net = 'elsewhere';
      fail('Tandem is open in another tab', 'This chat continues in another tab or window. Reload here to start a new one.');
      return;
    }
    if (st.fatal) { render(); return; }
    // Reconnect with the resume token; the server keeps our place for a few seconds.
    let delay = 30000;
    if (st.moving) {
      st.moving = false;
      delay = st.moveDelay;
    } else if (st.net !== 'full') {
      delay = Math.min(5000, 250 * 2 ** st.retries++);
      if (st.net !== 'draining') st.net = 'reconnecting';
    }
    st.netRetryAt = Date.now() + delay;
    tick();
    setTimeout(connect, delay);
  };
  render();
}

// ---- controls ----

function termsAccepted() { return !!store.get('tandem.terms'); }

function openTerms(forStart) {
  ui.termsAccept.hidden = !forStart && termsAccepted();
  ui.termsCancel.textContent = ui.termsAccept.hidden ? 'Close' : 'Not now';
  ui.terms.dataset.forStart = forStart ? '1' : '';
  ui.terms.showModal();
  (ui.termsAccept.hidden ? ui.termsCancel : ui.termsAccept).focus();
}

function showTermsText(text) {
  ui.termsText.textContent = '';
  for (const para of text.split(/\n|\\n/).map((s) => s.trim()).filter(Boolean)) {
    const p = document.createElement('p');
    p.textContent = para;
    ui.termsText.appendChild(p);
  }
}

function doStart() {
  st.wantStart = true;
  st.noMatch = false;
  st.partnerLeft = false;
  clearChat();
  notice('');
  store.set('tandem.interests', ui.interests.value);
  store.set('tandem.lang', ui.lang.value);
  send(startMsg());
  render();
}

ui.start.onclick = () => {
  if (!termsAccepted()) { openTerms(true); return; }
  doStart();
};
ui.termsAccept.onclick = () => {
  store.set('tandem.terms', new Date().toISOString());
  const forStart = ui.terms.dataset.forStart;
  ui.terms.close();
  if (forStart && !ui.start.disabled) doStart();
};
ui.termsCancel.onclick = () => ui.terms.close();
ui.showTerms.onclick = () => openTerms(false);

function doNext() {
  endPair();
  st.state = 'leaving';
  notice('');
  send({ type: 'next' });
  render();
}
ui.next.onclick = doNext;
ui.stop.onclick = () => {
  st.wantStart = false;
  endPair();
  notice('');
  if (st.state !== 'ready' && st.state !== 'connecting') st.state = 'leaving';
  send({ type: 'stop' });
  render();
};
ui.block.onclick = () => {
  endPair();
  st.state = 'leaving';
  notice('You blocked that stranger; you will not meet them again.');
  send({ type: 'block' });
  render();
};

ui.retry.onclick = () => {
  if (ui.retry.dataset.action === 'retry') initMedia();
  else location.reload();
};

// Esc skips only outside text fields, and only when pressed twice within 3 s.
const isTextField = (el) => el && (el.isContentEditable || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT'
  || (el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'range', 'submit', 'reset', 'color', 'file'].includes(el.type)));
let escTimer = null;
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || e.defaultPrevented || e.isComposing || ui.terms.open || ui.reportDlg.open
    || !ui.ended.hidden) return;
  if (isTextField(e.target) || ui.next.disabled) return;
  e.preventDefault();
  const now = Date.now();
  clearTimeout(escTimer);
  if (st.escAt && now - st.escAt < 3000) { ui.escHint.hidden = true; st.escAt = 0; doNext(); return; }
  st.escAt = now;
  ui.escHint.hidden = false;
  escTimer = setTimeout(() => { st.escAt = 0; ui.escHint.hidden = true; }, 3000);
});

// Microphone (the track is disabled: the partner gets silence), camera (no video is sent at all
// while it is off; the server keeps a pair alive on audio) and the partner's volume.
function applyToggles() {
  const muted = ui.mute.getAttribute('aria-pressed') === 'true';
  const camOff = ui.camera.getAttribute('aria-pressed') === 'true';
  if (st.stream) {
    for (const t of st.stream.getAudioTracks()) t.enabled = !muted;
    for (const t of st.stream.getVideoTracks()) t.enabled = !camOff;
  }
  ui.mute.title = muted ? 'Unmute your microphone' : 'Mute your microphone';
  ui.camera.title = camOff ? 'Turn your camera on' : 'Turn your camera off';
  ui.localBox.classList.toggle('off', camOff);
  sendVideo(!camOff);
}

function sendVideo(on) {
  if (!st.pc || !st.stream) return;
  const tr = st.pc.getTransceivers().find((x) => x.receiver.track && x.receiver.track.kind === 'video');
  const track = on ? st.stream.getVideoTracks()[0] || null : null;
  if (tr && tr.sender.track !== track) tr.sender.replaceTrack(track).catch(() => {});
}
for (const b of [ui.mute, ui.camera]) {
  b.onclick = () => {
    b.setAttribute('aria-pressed', String(b.getAttribute('aria-pressed') !== 'true'));
    applyToggles();
  };
}
ui.volume.oninput = () => {
  ui.remote.volume = Number(ui.volume.value);
  ui.remote.muted = ui.remote.volume === 0;
  store.set('tandem.volume', ui.volume.value);
};

// Phones: size the partner's box to their video, and keep the layout within the part of the
// screen the on-screen keyboard leaves.
ui.remote.addEventListener('resize', () => {
  const { videoWidth: w, videoHeight: h } = ui.remote;
  if (w && h) ui.remoteBox.style.setProperty('--ar', `${w} / ${h}`);
});
ui.local.addEventListener('resize', () => {
  const { videoWidth: w, videoHeight: h } = ui.local;
  if (w && h) ui.localBox.style.setProperty('--ar', `${w} / ${h}`);
});
function fitViewport() {
  const vv = window.visualViewport;
  // The visual viewport shrinks for the keyboard (use it) and for a pinch-zoom (do not).
  const h = vv && vv.scale < 1.01 ? vv.height : window.innerHeight;
  document.documentElement.style.setProperty('--vh', `${Math.round(h)}px`);
  if (vv && vv.scale < 1.01 && window.scrollY) window.scrollTo(0, 0);
}
