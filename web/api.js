// SPDX-License-Identifier: Apache-2.0
// The JSON API (/api/v1, docs/api.md), logging in, and the live event streams.
import { dialogOpen, h, openDialog, setLive } from './dom.js';
import { onLeave, stale } from './page.js';

// The server keeps the token in an HttpOnly cookie set by its login URL (/?token=...), which
// every same-origin request carries; this page never sees the token.
export async function api(path, opts = {}) {
  return (await apiResponse(path, opts)).body;
}

// The same with the answer's caveats: the texts of its `Warning: 299 morphling "..."` headers
// (docs/api.md, the export endpoint), which fetch joins with ", ". {body, warnings}.
export async function apiResponse(path, opts = {}) {
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
  const warnings = [...(res.headers.get('Warning') || '').matchAll(/299 morphling "([^"]*)"/g)];
  return { body, warnings: warnings.map((m) => m[1]) };
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
  // The server sends a wrong login token here (/?login=failed) and the page says so, once.
  const failed = new URLSearchParams(window.location.search).get('login') === 'failed';
  if (failed) window.history.replaceState(null, '', `/${window.location.hash}`);
  const form = h(
    'form',
    { onsubmit },
    failed ? h('p', { class: 'msg error', role: 'alert' }, 'That token is wrong.') : null,
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

// Subscribes to an event stream for the current page; calls onEvent(event, stream) (debounced)
// for each event of a kind the server announced, and once when the stream first opens: a stream
// starts with the next new event, so what happened between the page's own fetch and that start
// (an experiment that finished meanwhile) comes only from fetching again (pages redraw only what
// changed). A stream the server refuses (an error status: the experiment was deleted, the
// server's pool of streams was full) is one the browser never reopens: onEvent(null) is called
// then, so that the page learns why, and the stream is opened again after RETRY_MS, after the
// last event seen. stream.close() ends it; so does leaving the page (gen: the page's
// generation, see page.js). A failed onEvent shows in the live indicator.
const RETRY_MS = 5000;

export async function subscribe(gen, path, onEvent) {
  const { event_kinds: kinds } = await serverInfo();
  if (stale(gen)) return;
  let es = null;
  let timer = null;
  let retry = null;
  let lastId = '';
  const stream = {
    close() {
      if (es) es.close();
      clearTimeout(timer);
      clearTimeout(retry);
    },
  };
  const later = (ev) => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      try {
        await onEvent(ev, stream);
      } catch (e) {
        setLive(false, `not updated: ${e.message}`);
      }
    }, 250);
  };
  const handler = (ev) => {
    if (ev.lastEventId) lastId = ev.lastEventId;
    setLive(true, `live · ${ev.type.replaceAll('_', ' ')}`);
    later(ev);
  };
  let opened = false; // a reconnection resumes after the last event (Last-Event-ID, ?after=)
  const open = () => {
    const after = lastId ? `${path.includes('?') ? '&' : '?'}after=${lastId}` : '';
    es = new EventSource(`/api/v1${path}${after}`);
    kinds.forEach((k) => es.addEventListener(k, handler));
    es.onopen = () => {
      setLive(true, 'live');
      // A stream opened without a last event starts with the next new one: fetch again.
      if (!opened || !lastId) later(null);
      opened = true;
    };
    es.onerror = () => {
      setLive(false, 'reconnecting…');
      if (es.readyState !== EventSource.CLOSED) return;
      later(null);
      retry = setTimeout(open, RETRY_MS);
    };
  };
  open();
  onLeave(() => {
    stream.close();
    setLive(false, '');
  });
}
