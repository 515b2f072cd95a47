// main.js -- starts the page once app.js, chat.js and moderation.js are loaded: the layout for
// phones, the saved preferences, then the camera and the connection.
'use strict';

if (window.visualViewport) window.visualViewport.addEventListener('resize', fitViewport);
window.addEventListener('resize', fitViewport);
fitViewport();
ui.chatInput.addEventListener('focus', () => {
  setTimeout(() => ui.chatInput.scrollIntoView({ block: 'nearest' }), 300);
});

(async () => {
  showTermsText(st.termsText);
  fetch('/terms.json').then((r) => (r.ok ? r.json() : null)).then((j) => {
    if (j && typeof j.text === 'string' && j.text.trim()) { st.termsText = j.text; showTermsText(j.text); }
  }).catch(() => {});
  ui.interests.value = store.get('tandem.interests') || '';
  const lang = store.get('tandem.lang');
  if (lang && [...ui.lang.options].some((o) => o.value === lang)) ui.lang.value = lang;
  const vol = store.get('tandem.volume');
  if (vol !== null && vol !== '') { ui.volume.value = vol; ui.volume.oninput(); }
  render();
  if (!navigator.mediaDevices || !window.RTCPeerConnection) {
    st.fatal = 'This browser cannot do video calls';
    notice('Open Tandem in a current Chrome, Firefox, Safari or Edge, over https or on localhost.');
    render();
    return;
  }
  watchFrames();
  watchDark();
  initMedia();
})();
