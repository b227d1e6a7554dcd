// SPDX-License-Identifier: Apache-2.0
// The JSON API (/api/v1, docs/api.md), logging in, and the live event streams.
import { h, loginOpen, openLogin, setLive } from './dom.js';
import { isolate, isolateAll } from './format.js';
import { onLeave, stale } from './page.js';

// Logging in: the login URL (/?token=...) redirects to /#session=SESSION, a credential of this
// start of the server (never the token), which the page keeps in its origin's storage and sends
// as a bearer header. Not a cookie: browsers send a cookie to every port of its host, so a page
// of any other local server the user opened would have received it. Another port's pages cannot
// read this origin's storage; whoever binds the port once the server stops finds a dead session.
// Any page of any origin can send the browser to /#session=JUNK, so a session given in the
// address is kept only once the server has accepted it: it replaced the page's own, and every
// page the user opened could log the dashboard out.
const SESSION_KEY = 'morphling_session';
const given = /^#session=([0-9a-f]+)$/.exec(window.location.hash);
if (given) window.history.replaceState(null, '', '/');
const adopted = given ? adopt(given[1]) : Promise.resolve();

async function adopt(session) {
  try {
    const res = await fetch('/api/v1/info', {
      headers: { Authorization: `Bearer ${session}` },
      cache: 'no-store',
    });
    if (res.ok) localStorage.setItem(SESSION_KEY, session);
  } catch (e) {
    // The server is unreachable: the page's requests say so.
  }
}

// The page's session (a session given in the address once checked), or null.
export async function pageSession() {
  await adopted;
  return localStorage.getItem(SESSION_KEY);
}

async function authorized(headers = {}) {
  const session = await pageSession();
  return session ? { ...headers, Authorization: `Bearer ${session}` } : headers;
}

// The answer's body, its strings isolated (format.js, isolate): the pages compose them into
// labels, titles and chart text.
export async function api(path, opts = {}) {
  return isolateAll((await apiResponse(path, opts)).body);
}

// The same with the answer's caveats: the texts of its `Warning: 299 morphling "..."` headers
// (docs/api.md, the export endpoint), which fetch joins with ", ". {body, warnings}.
export async function apiResponse(path, opts = {}) {
  const res = await fetch(`/api/v1${path}`, { ...opts, headers: await authorized(opts.headers) });
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (res.status === 401) askToken();
  if (!res.ok) {
    const info = body && body.error ? isolateAll(body.error) : null;
    const err = new Error(info ? info.message : `HTTP ${res.status}`);
    err.info = info;
    err.status = res.status;
    throw err;
  }
  const warnings = [...(res.headers.get('Warning') || '').matchAll(/299 morphling "([^"]*)"/g)];
  return { body, warnings: warnings.map((m) => isolate(m[1])) };
}

// What was pasted: the token, or the login URL `morphling serve` printed (the dialog asks for
// either; its whole line too), whose token argument is taken out of it here: it never goes into
// an address. '+' reads as a space, as the server reads the URL's arguments.
function pastedToken(text) {
  const t = text.trim();
  const m = t.includes('://') ? /[?&]token=([^&#\s]*)/.exec(t) : null;
  if (!m) return t;
  try {
    return decodeURIComponent(m[1].replaceAll('+', ' '));
  } catch (e) {
    return t;
  }
}

// The session for a pasted token (POST /api/v1/session), sent in a header: never in an address,
// which the browser's history would keep. Resolves to the session, or null for a wrong token:
// also one that no header can carry (every token is printable ASCII), which fetch refused.
async function exchange(token) {
  if (!/^[\x21-\x7e]+$/.test(token)) return null;
  const res = await fetch('/api/v1/session', {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
  });
  if (res.status === 401) return null;
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()).session;
}

// Not logged in (or the server restarted): the login URL, or the token pasted here.
function askToken() {
  if (loginOpen()) return;
  const input = h('input', {
    type: 'password',
    id: 'token-input',
    'aria-label': 'Access token',
    size: 40,
  });
  // The server sends a wrong login token here (/?login=failed) and the page says so, once.
  const failed = new URLSearchParams(window.location.search).get('login') === 'failed';
  if (failed) window.history.replaceState(null, '', `/${window.location.hash}`);
  const msg = h(
    'p',
    { class: failed ? 'msg error' : 'msg', role: 'alert', hidden: !failed },
    'That token is wrong.',
  );
  const onsubmit = async (e) => {
    e.preventDefault();
    let session = null;
    try {
      session = await exchange(pastedToken(input.value));
      msg.textContent = 'That token is wrong.';
    } catch (err) {
      msg.textContent = `The server did not answer (${err.message}).`;
    }
    if (session) {
      localStorage.setItem(SESSION_KEY, session);
      window.location.reload();
      return;
    }
    msg.className = 'msg error';
    msg.hidden = false;
    input.select();
  };
  const form = h(
    'form',
    { onsubmit },
    msg,
    h('p', {}, 'Log in with the URL that `morphling serve` printed, or paste the token from it.'),
    input,
    ' ',
    h('button', { class: 'btn primary' }, 'Log in'),
  );
  openLogin(form);
  input.focus();
}

// The server's facts (GET /api/v1/info): its version and the event kinds the engine writes.
let info = null;
export async function serverInfo() {
  if (!info) info = await api('/info');
  return info;
}

// Subscribes to an event stream for the current page; calls onEvent(event, stream) (debounced)
// for each event of a kind the server announced ({type, lastEventId}), and once when the stream
// first opens: a stream starts with the next new event, so what happened between the page's own
// fetch and that start (an experiment that finished meanwhile) comes only from fetching again
// (pages redraw only what changed). The stream is read with fetch, which can send the session
// (EventSource cannot). A stream that ends (the server went away) is opened again after the
// server's retry time, after the last event seen; one the server refuses (an error status: the
// experiment was deleted, the server's pool of streams was full) calls onEvent(null), so that
// the page learns why, and is opened again after RETRY_MS. stream.close() ends it; so does
// leaving the page (gen: the page's generation, see page.js). A failed onEvent shows in the live
// indicator.
const RETRY_MS = 5000;

// Reads a text/event-stream body (the WHATWG format, as the server writes it): calls
// onEvent(type) for each event with data, after any id it carried went to onField.
async function readEvents(res, onField, onEvent) {
  const reader = res.body.getReader();
  const text = new TextDecoder();
  let buf = '';
  let ev = { type: 'message', data: false };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += text.decode(value, { stream: true });
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const raw of lines) {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '') {
        if (ev.data) onEvent(ev.type);
        ev = { type: 'message', data: false };
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const v = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') ev.type = v;
      else if (field === 'data') ev.data = true;
      else onField(field, v);
    }
  }
}

export async function subscribe(gen, path, onEvent) {
  const { event_kinds: kinds } = await serverInfo();
  if (stale(gen)) return;
  const abort = new AbortController();
  let timer = null;
  let retry = null;
  let retryMs = 2000;
  let lastId = '';
  const stream = {
    close() {
      abort.abort();
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
  const onField = (field, v) => {
    if (field === 'id') lastId = v;
    else if (field === 'retry' && /^[0-9]+$/.test(v)) retryMs = Number(v);
  };
  const handler = (type) => {
    if (!kinds.includes(type)) return;
    setLive(true, `live · ${type.replaceAll('_', ' ')}`);
    later({ type, lastEventId: lastId });
  };
  let opened = false; // a reconnection resumes after the last event (?after=)
  const open = async () => {
    const after = lastId ? `${path.includes('?') ? '&' : '?'}after=${lastId}` : '';
    let refused = false;
    try {
      const res = await fetch(`/api/v1${path}${after}`, {
        headers: await authorized({ Accept: 'text/event-stream' }),
        signal: abort.signal,
        cache: 'no-store',
      });
      refused = !res.ok;
      if (res.status === 401) askToken();
      if (res.ok) {
        setLive(true, 'live');
        // A stream opened without a last event starts with the next new one: fetch again.
        if (!opened || !lastId) later(null);
        opened = true;
        await readEvents(res, onField, handler);
      }
    } catch (e) {
      // The connection failed or ended: opened again below, unless closed.
    }
    if (abort.signal.aborted) return;
    setLive(false, 'reconnecting…');
    if (refused) later(null);
    retry = setTimeout(open, refused ? RETRY_MS : retryMs);
  };
  open();
  onLeave(() => {
    stream.close();
    setLive(false, '');
  });
}
