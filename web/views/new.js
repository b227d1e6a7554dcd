// SPDX-License-Identifier: Apache-2.0
// New experiment: a YAML editor pre-filled with the server's template, validated as you type
// through /api/v1/validate with the error's line marked; Ctrl+Enter starts it.
import { api, pageSession } from '../api.js';
import { h } from '../dom.js';
import { main, stale } from '../page.js';

const DRAFT = 'morphling-draft';
const LINE_PX = 20;

function lineNumbers(gutter, area, errLine) {
  const n = area.value.split('\n').length;
  gutter.replaceChildren(
    ...Array.from({ length: n }, (_, i) =>
      h('div', { class: i + 1 === errLine ? 'err' : null }, i + 1),
    ),
  );
  gutter.scrollTop = area.scrollTop;
}

function goToLine(area, line) {
  const all = area.value.split('\n');
  const start = all.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0);
  area.focus();
  area.setSelectionRange(start, start + (all[line - 1] || '').length);
  area.scrollTop = Math.max(0, (line - 5) * LINE_PX);
}

// What `morphling validate` says of a valid spec: its size, and its warnings (a grid that
// max_trials cuts short, morphling searching without its prior).
function validMessage(r) {
  const size = r.space.configurations;
  return [
    h(
      'div',
      { class: 'msg ok', id: 'spec-ok' },
      `Valid: '${r.name}', ${r.space.parameters.length} parameters, `,
      size == null ? 'continuous space' : `${size.toLocaleString('en-US')} configurations`,
      `, ${r.algorithm} search, up to ${r.max_trials} trials, runner ${r.runner}.`,
    ),
    ...warningsOf(r),
  ];
}

function warningsOf(r) {
  return (r.warnings || []).map((w) =>
    h('div', { class: 'msg warn spec-warning' }, h('strong', {}, 'Warning: '), w),
  );
}

// A started experiment the server warns of (the create's `warnings`: a start pressed before the
// typing's validation ran showed none): it runs, and the page says so with the warnings and a
// link to it, instead of going there.
function startedMessage(r) {
  return [
    h(
      'div',
      { class: 'msg ok', id: 'spec-started' },
      `Started '${r.name}': it runs now. `,
      h('a', { href: `#/exp/${r.id}` }, 'Open it'),
    ),
    ...warningsOf(r),
  ];
}

// The draft kept in the tab ({session, text}) when the session that wrote it is this one: a
// draft of this origin planted while the server was down (by whoever bound its port then), or
// one of a previous start, is not offered to be started.
function readDraft(session) {
  try {
    const d = JSON.parse(sessionStorage.getItem(DRAFT));
    return d && d.session === session && typeof d.text === 'string' ? d.text : null;
  } catch (e) {
    return null;
  }
}

function editor(template, draft) {
  const area = h('textarea', {
    id: 'spec',
    spellcheck: 'false',
    'aria-label': 'Experiment spec (YAML)',
    autocapitalize: 'off',
    autocomplete: 'off',
  });
  area.value = draft || template;
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const msg = h('div', { role: 'status', 'aria-live': 'polite' });
  const ed = { area, gutter, msg, errLine: 0 };
  ed.redraw = () => lineNumbers(gutter, area, ed.errLine);
  ed.showError = (e) => {
    ed.errLine = (e.info && e.info.line) || 0;
    ed.redraw();
    const col = ed.errLine && e.info.column ? `, column ${e.info.column}` : '';
    const where = ed.errLine ? `Line ${ed.errLine}${col}: ` : '';
    const jump = ed.errLine
      ? h(
          'div',
          {},
          h(
            'button',
            { type: 'button', class: 'btn spaced', onclick: () => goToLine(area, ed.errLine) },
            'Go to line',
          ),
        )
      : null;
    // The server's "spec:LINE:COLUMN: " says again what `where` says.
    const text = ed.errLine ? e.message.replace(/^[^\s:]*:\d+:\d+: /, '') : e.message;
    msg.replaceChildren(
      h('div', { class: 'msg error', id: 'spec-error' }, h('strong', {}, where), text, jump),
    );
  };
  const yaml = { method: 'POST', headers: { 'Content-Type': 'application/yaml' } };
  // Answers may come out of order (a long spec validates slower than the short one typed after
  // it): only the answer about the text last sent is shown.
  let asked = 0;
  ed.validate = async () => {
    const mine = ++asked;
    try {
      const r = await api('/validate', { ...yaml, body: area.value });
      if (mine !== asked) return false;
      ed.errLine = 0;
      ed.redraw();
      msg.replaceChildren(...validMessage(r));
      return true;
    } catch (e) {
      if (mine === asked) ed.showError(e);
      return false;
    }
  };
  // A start answers for the text too: a validation scheduled by the typing before it, or one
  // still on its way, must not replace a refusal (409: the name exists) with "Valid".
  ed.timer = null;
  ed.schedule = () => {
    clearTimeout(ed.timer);
    ed.timer = setTimeout(ed.validate, 600);
  };
  // One start at a time: pressed again (a double click, Ctrl+Enter) while its request runs, each
  // press sent one, and the second made another experiment or was refused as a duplicate.
  ed.button = null;
  ed.busy = false;
  ed.submit = async () => {
    if (ed.busy) return;
    ed.busy = true;
    if (ed.button) ed.button.disabled = true;
    clearTimeout(ed.timer);
    asked++;
    try {
      const r = await api('/experiments', { ...yaml, body: area.value });
      sessionStorage.removeItem(DRAFT);
      if (r.warnings && r.warnings.length) msg.replaceChildren(...startedMessage(r));
      else location.hash = `#/exp/${r.id}`;
    } catch (e) {
      ed.showError(e);
    } finally {
      ed.busy = false;
      if (ed.button) ed.button.disabled = false;
    }
  };
  return ed;
}

export async function viewNew(gen) {
  const template = await (await fetch('/template.yaml')).text();
  const session = await pageSession();
  if (stale(gen)) return;
  const ed = editor(template, readDraft(session));
  ed.area.addEventListener('input', () => {
    sessionStorage.setItem(DRAFT, JSON.stringify({ session, text: ed.area.value }));
    ed.redraw();
    ed.schedule();
  });
  ed.area.addEventListener('scroll', () => {
    ed.gutter.scrollTop = ed.area.scrollTop;
  });
  ed.area.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      ed.submit();
    }
  });
  // The draft goes too: the page shown again came back with the text from before the reset.
  const reset = () => {
    sessionStorage.removeItem(DRAFT);
    ed.area.value = template;
    ed.redraw();
    ed.validate();
  };
  ed.button = h(
    'button',
    { class: 'btn primary', type: 'button', id: 'submit-btn', onclick: ed.submit },
    'Start experiment',
  );
  main.replaceChildren(
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h('h1', {}, 'New experiment'),
        h(
          'div',
          { class: 'muted' },
          'Edit the spec (see docs/spec.md), validate it, then start it. Ctrl+Enter starts it.',
        ),
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'btn', type: 'button', onclick: reset }, 'Reset to example'),
        h(
          'button',
          { class: 'btn', type: 'button', id: 'validate-btn', onclick: ed.validate },
          'Validate',
        ),
        ed.button,
      ),
    ),
    ed.msg,
    h('div', { class: 'editor' }, ed.gutter, ed.area),
  );
  ed.redraw();
  ed.validate();
}
