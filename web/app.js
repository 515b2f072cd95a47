// app.js -- the Tandem web client: one RTCPeerConnection per visit, signalling over /ws.
'use strict';

const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'), notice: $('notice'), local: $('local'), remote: $('remote'),
  remoteBox: document.querySelector('.remote'), overlay: $('remote-overlay'), shared: $('shared'),
  start: $('start'), next: $('next'), stop: $('stop'), interests: $('interests'),
  block: $('block'), messages: $('messages'), chatForm: $('chat-form'),
  chatInput: $('chat-input'), chatSend: $('chat-send'),
};

// What the page knows; window.tandem exposes it for debugging and tests.
const st = {
  ws: null, pc: null, stream: null, token: sessionStorage.getItem('tandem.resume'),
  state: 'connecting',      // connecting | ready | waiting | paired | idle
  wantStart: false,         // the user pressed Start and not Stop
  partnerTs: null,          // RTP timestamp from which remote video is the current partner's
  showing: false,           // the remote video shows the current partner
  pairGen: 0, retries: 0, fatal: false,
};
window.tandem = st;

function setStatus(text) { ui.status.textContent = text; }
function notice(text) { ui.notice.textContent = text || ''; }

function render() {
  const s = st.state;
  const label = {
    connecting: 'Connecting…', ready: 'Ready — press Start to meet someone',
    idle: 'Ready — press Start to meet someone', waiting: 'Waiting for a partner…',
    paired: st.showing ? 'Connected' : 'Connected — video is on its way…',
  }[s] || s;
  if (!st.fatal) setStatus(label);
  const live = st.ws && st.ws.readyState === WebSocket.OPEN && !st.fatal;
  ui.start.disabled = !live || s === 'waiting' || s === 'paired' || !st.pc;
  ui.next.disabled = !live || !(s === 'waiting' || s === 'paired');
  ui.stop.disabled = !live || !(s === 'waiting' || s === 'paired' || st.wantStart);
  ui.block.disabled = !live || s !== 'paired';
  ui.chatInput.disabled = ui.chatSend.disabled = !live || s !== 'paired';
  ui.remoteBox.classList.toggle('showing', st.showing && s === 'paired');
  ui.overlay.textContent = s === 'waiting' ? 'Looking for someone…'
    : s === 'paired' ? 'Connecting video…' : 'No one yet';
}

function hideRemote() {
  st.showing = false;
  st.partnerTs = null;
  ui.shared.textContent = '';
  render();
}

// Reveal the remote video only once a frame at or after the partner's first keyframe renders,
// so a frame of the previous partner still in the decoder is never shown as the new one.
function watchFrames() {
  const v = ui.remote;
  if (!v.requestVideoFrameCallback) return;
  const onFrame = (now, meta) => {
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

function chatLine(text, who) {
  const li = document.createElement('li');
  li.className = who;
  li.textContent = who === 'me' ? `You: ${text}` : who === 'them' ? `Stranger: ${text}` : text;
  ui.messages.appendChild(li);
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function send(msg) {
  if (st.ws && st.ws.readyState === WebSocket.OPEN) st.ws.send(JSON.stringify(msg));
}

async function getMedia() {
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: { ideal: 640 }, height: { ideal: 480 } },
    });
  } catch (e) {
    const why = {
      NotAllowedError: 'Camera or microphone access was denied. Allow both for this site in your browser settings, then reload the page.',
      SecurityError: 'Camera or microphone access was denied. Allow both for this site in your browser settings, then reload the page.',
      NotFoundError: 'No camera or microphone was found. Connect one, then reload the page.',
      OverconstrainedError: 'Your camera cannot provide video Tandem can use.',
      NotReadableError: 'Your camera or microphone is in use by another application. Close it, then reload the page.',
    }[e.name] || `Cannot use your camera or microphone (${e.name || e}).`;
    st.fatal = true;
    setStatus('Camera or microphone unavailable');
    notice(why);
    render();
    return null;
  }
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
    if (pc.connectionState === 'failed') {
      notice('The media connection failed. Check your network and reload the page.');
    }
  };
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  send({ type: 'offer', sdp: pc.localDescription.sdp });
}

function onMessage(m) {
  switch (m.type) {
    case 'welcome':
      st.token = m.resume;
      sessionStorage.setItem('tandem.resume', m.resume);
      st.retries = 0;
      if (!st.pc) {
        makeOffer().catch((e) => notice(`Could not start media: ${e}`));
      } else if (!m.resumed) {
        // The server forgot us (too long away): start a fresh visit.
        location.reload();
      }
      break;
    case 'answer':
      st.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp })
        .catch((e) => notice(`The server's answer was not accepted: ${e}`));
      break;
    case 'state':
      if (m.state !== 'paired' && st.state === 'paired') hideRemote();
      st.state = m.state === 'idle' ? 'ready' : m.state;
      render();
      break;
    case 'matched':
      if (m.resumed && st.state === 'paired') { render(); break; }
      hideRemote();
      ui.shared.textContent = m.shared && m.shared.length ? `You both like: ${m.shared.join(', ')}` : '';
      st.pairGen++;
      st.state = 'paired';
      ui.messages.textContent = '';
      chatLine(m.shared && m.shared.length ? `You're now talking to a stranger who also likes ${m.shared.join(', ')}.`
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
      notice('Your partner left. Looking for someone new…');
      break;
    case 'error':
      if (m.code === 'cooldown') notice(m.message);
      else if (m.code === 'media_failed' || m.code === 'bad_offer') {
        notice(`Media problem: ${m.message}`);
      } else notice(`${m.message}`);
      break;
    default:
      break;
  }
}

function startMsg() {
  const interests = ui.interests.value.split(',').map((s) => s.trim()).filter(Boolean).slice(0, 10);
  return { type: 'start', interests };
}

function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/ws`);
  st.ws = ws;
  ws.onopen = () => send({ type: 'hello', resume: st.token || null });
  ws.onmessage = (e) => {
    let m;
    try { m = JSON.parse(e.data); } catch { return; }
    onMessage(m);
  };
  ws.onclose = () => {
    if (st.ws !== ws) return;
    render();
    if (st.fatal) return;
    // Reconnect with the resume token; the server keeps our place for a few seconds.
    const delay = Math.min(5000, 250 * 2 ** st.retries++);
    setStatus('Reconnecting…');
    setTimeout(connect, delay);
  };
}

ui.start.onclick = () => { st.wantStart = true; notice(''); send(startMsg()); };
ui.next.onclick = () => { hideRemote(); send({ type: 'next' }); };
ui.stop.onclick = () => { st.wantStart = false; hideRemote(); send({ type: 'stop' }); };
ui.block.onclick = () => { hideRemote(); chatLine('You blocked this stranger.', 'sys'); send({ type: 'block' }); };
ui.chatForm.onsubmit = (e) => {
  e.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || st.state !== 'paired') return;
  send({ type: 'chat', text });
  chatLine(text, 'me');
  ui.chatInput.value = '';
};
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && !ui.next.disabled && document.activeElement !== ui.interests) { e.preventDefault(); ui.next.click(); }
});

(async () => {
  render();
  if (!navigator.mediaDevices || !window.RTCPeerConnection) {
    st.fatal = true;
    setStatus('This browser cannot do video calls');
    notice('Open Tandem in a current Chrome, Firefox, Safari or Edge, over https or on localhost.');
    return;
  }
  st.stream = await getMedia();
  if (!st.stream) return;
  ui.local.srcObject = st.stream;
  watchFrames();
  connect();
})();
