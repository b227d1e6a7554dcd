// SPDX-License-Identifier: Apache-2.0
// The JSON API (/api/v1, docs/api.md), logging in, and the live event streams.
import { dialogOpen, h, openDialog, setLive } from './dom.js';
import { onLeave, stale } from './page.js';

// The server keeps the token in an HttpOnly cookie set by its login URL (/?token=...), which
// every same-origin request carries; this page never sees the token.
export async function api(path, opts = {}) {
  const res = await fetch(`/api/v1${path}`, opts);
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (res.status === 401) askToken();
  if (!res.ok) {
    const err = new Error(body && body.error ? body.error.message : `HTTP ${res.status}`);
    err.info = body && body.error;
    err.status = res.status;
    throw err;
  }
  return body;
}

// Not logged in: the login URL sets the cookie; pasting the token here goes through it too.
function askToken() {
  if (dialogOpen()) return;
  const input = h('input', {
    type: 'password',
    id: 'token-input',
    'aria-label': 'Access token',
    size: 40,
  });
  const onsubmit = (e) => {
    e.preventDefault();
    window.location.assign(`/?token=${encodeURIComponent(input.value.trim())}`);
  };
  const form = h(
    'form',
    { onsubmit },
    h('p', {}, 'Log in with the URL that `morphling serve` printed, or paste the token from it.'),
    input,
    ' ',
    h('button', { class: 'btn primary' }, 'Log in'),
  );
  openDialog('Log in', form);
  input.focus();
}

// The server's facts (GET /api/v1/info): its version and the event kinds the engine writes.
let info = null;
export async function serverInfo() {
  if (!info) info = await api('/info');
  return info;
}

// Subscribes to an event stream for the current page; calls onEvent (debounced) for each event
// of a kind the server announced, and once when the stream first opens: a stream starts with
// the next new event, so what happened between the page's own fetch and that start (an
// experiment that finished meanwhile) comes only from fetching again (pages redraw only what
// changed). The stream closes when the user leaves the page (gen: the page's generation, see
// page.js).
export async function subscribe(gen, path, onEvent) {
  const { event_kinds: kinds } = await serverInfo();
  if (stale(gen)) return;
  const es = new EventSource(`/api/v1${path}`);
  let timer = null;
  const later = (ev) => {
    clearTimeout(timer);
    timer = setTimeout(() => onEvent(ev), 250);
  };
  const handler = (ev) => {
    setLive(true, `live · ${ev.type.replaceAll('_', ' ')}`);
    later(ev);
  };
  kinds.forEach((k) => es.addEventListener(k, handler));
  let opened = false; // a reconnection resumes after the last event (Last-Event-ID)
  es.onopen = () => {
    setLive(true, 'live');
    if (!opened) later(null);
    opened = true;
  };
  es.onerror = () => setLive(false, 'reconnecting…');
  onLeave(() => {
    es.close();
    clearTimeout(timer);
    setLive(false, '');
  });
}
