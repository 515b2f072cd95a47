// chat.js -- the text chat beside the call: lines, their delivery (each line is followed by a
// ping; the pong says it went through) and the form. Loaded after app.js (docs/protocol.md).
'use strict';

function chatLine(text, who) {
  const li = document.createElement('li');
  li.className = who;
  if (who === 'sys') li.textContent = text;
  else {
    const b = document.createElement('b');
    b.textContent = who === 'me' ? 'You:' : 'Stranger:';
    li.append(b, ` ${text}`);
  }
  ui.messages.appendChild(li);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return li;
}

function clearChat() {
  ui.messages.textContent = '';
  ui.chatInput.value = '';
  for (const p of st.pending) p.gone = true;
}

// Every chat line is followed by a ping. The server answers each message in order, and a chat
// that is delivered gets no answer, so the pong after a line says it went through unless an
// error for it came first.
function sendChat(text) {
  const li = chatLine(text, 'me');
  li.classList.add('pending');
  st.pending.push({ li, text, err: null, gen: st.pairGen });
  send({ type: 'chat', text });
  send({ type: 'ping' });
}

function settleChat(p, why) {
  p.li.classList.remove('pending');
  if (!why) return;
  p.li.classList.add('failed');
  const note = document.createElement('span');
  note.className = 'why';
  note.textContent = ` ${why}`;
  p.li.appendChild(note);
  if (p.retry && !p.gone) {
    const again = document.createElement('button');
    again.type = 'button';
    again.className = 'link';
    again.textContent = 'Send again';
    again.onclick = () => {
      if (st.state !== 'paired' || st.pairGen !== p.gen) return;
      p.li.remove();
      sendChat(p.text);
    };
    p.li.appendChild(again);
  }
  ui.messages.scrollTop = ui.messages.scrollHeight;
}

function chatError(m) {
  const p = st.pending.find((x) => !x.err);
  if (!p) return;
  p.err = m;
  p.retry = m.code === 'rate_limited';
}

function onPong() {
  const p = st.pending.shift();
  if (!p) return;
  const e = p.err;
  settleChat(p, !e ? null
    : e.code === 'rate_limited' ? '— not delivered: you are sending too fast.'
    : e.code === 'not_paired' ? '— not delivered: the stranger had left.'
    : e.code === 'bad_message' ? `— not delivered: ${e.message}.`
    : `— not delivered (${e.code}).`);
}

ui.chatForm.onsubmit = (e) => {
  e.preventDefault();
  const text = ui.chatInput.value.trim();
  if (!text || st.state !== 'paired') return;
  sendChat(text);
  ui.chatInput.value = '';
};
