// SPDX-License-Identifier: Apache-2.0
// Building blocks of the pages: h() makes elements, a sortable table, badges, a progress bar,
// the dialog and the "live" indicator. No inline style attributes (the page's Content Security
// Policy forbids them): classes, or CSSOM properties for data-driven sizes.

// h('a', {href, class, onclick}, children...): attributes null/false are left out.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function badge(state) {
  return h('span', { class: `badge ${state}` }, state);
}

export function progressBar(done, total) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  const fill = h('span');
  fill.style.width = `${pct.toFixed(1)}%`;
  return h(
    'div',
    {
      class: 'progress',
      role: 'progressbar',
      'aria-valuenow': done,
      'aria-valuemin': 0,
      'aria-valuemax': total,
      'aria-label': `${done} of ${total} trials`,
    },
    fill,
  );
}

const dialogEl = document.getElementById('dialog');
// The login has a dialog of its own, always on top: asked for while another dialog was open (a
// session that ended during an export), it was not shown at all.
const loginEl = document.getElementById('login-dialog');

export function openDialog(title, body, onClose) {
  document.getElementById('dialog-title').textContent = title;
  const b = document.getElementById('dialog-body');
  b.replaceChildren(body);
  dialogEl.onclose = onClose || null;
  if (!dialogEl.open) dialogEl.showModal();
  if (loginEl.open) {
    // The last modal dialog shown is the top one: the login goes back on top.
    loginEl.close();
    loginEl.showModal();
  }
}

export function loginOpen() {
  return loginEl.open;
}

// Shows the login dialog with body, on top of any other dialog.
export function openLogin(body) {
  document.getElementById('login-body').replaceChildren(body);
  if (!loginEl.open) loginEl.showModal();
}

const live = document.getElementById('live');

export function setLive(on, text) {
  live.className = on ? 'live on' : 'live';
  live.textContent = text || '';
}

function compareValues(va, vb) {
  const na = va == null || (typeof va === 'number' && !Number.isFinite(va));
  const nb = vb == null || (typeof vb === 'number' && !Number.isFinite(vb));
  if (na || nb) return { missing: na - nb };
  return { r: typeof va === 'number' ? va - vb : String(va).localeCompare(String(vb)) };
}

function headerCell(c, state, draw) {
  const sort = c.key === state.key ? (state.descending ? 'descending' : 'ascending') : 'none';
  const attrs = { class: c.num ? 'num' : null, scope: 'col', 'aria-sort': sort };
  if (c.nosort) return h('th', attrs, c.label);
  const onclick = () => {
    if (state.key === c.key) state.descending = !state.descending;
    else {
      state.key = c.key;
      state.descending = !!c.num;
    }
    draw();
  };
  return h('th', attrs, h('button', { type: 'button', onclick }, c.label));
}

// Sortable table. cols: [{key, label, num, nosort, cls, get(row) -> sort value,
// render(row) -> node}]; the headers are buttons, so the keyboard sorts too. limit: the rows
// drawn at first (the first in the sort order; a button below draws `limit` more): a table of
// 5,000 trials took seconds to lay out at every sort. state: an object of the caller's that keeps
// the sort order and the rows shown, for a table drawn again with new rows (live updates: the
// order the user chose went back to the default at every event).
export function sortableTable(
  cols,
  rows,
  { sortKey, desc = false, rowClass, caption, limit = Infinity, state = {} } = {},
) {
  if (!cols.some((c) => c.key === state.key)) {
    Object.assign(state, { key: sortKey || cols[0].key, descending: desc, shown: limit });
  }
  const wrap = dataTable([], [], { caption: caption || null });
  const { tHead: thead, tBodies } = wrap.firstChild;
  const tbody = tBodies[0];
  const more = h('div', { class: 'table-more' });
  const draw = () => {
    const col = cols.find((c) => c.key === state.key);
    const sorted = [...rows].sort((a, b) => {
      const { missing, r } = compareValues(col.get(a), col.get(b));
      if (missing !== undefined) return missing;
      return state.descending ? -r : r;
    });
    thead.replaceChildren(
      h(
        'tr',
        {},
        cols.map((c) => headerCell(c, state, draw)),
      ),
    );
    const left = sorted.length - state.shown;
    more.replaceChildren(
      left > 0
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn',
              onclick: () => {
                state.shown += limit;
                draw();
              },
            },
            `Show ${Math.min(left, limit)} more (${state.shown} of ${sorted.length} shown)`,
          )
        : '',
    );
    tbody.replaceChildren(
      ...sorted.slice(0, state.shown).map((r) =>
        h(
          'tr',
          { class: rowClass ? rowClass(r) : null },
          cols.map((c) =>
            h('td', { class: c.cls || (c.num ? 'num' : null) }, c.render ? c.render(r) : c.get(r)),
          ),
        ),
      ),
    );
  };
  draw();
  return h('div', {}, wrap, more);
}

// A data table in its scroll wrapper: heads, the header cells of its one head row; rows, the
// body's rows; wrap and table, more attributes of the wrapper and the table (a class replaces
// theirs); caption, its caption (none when null).
export function dataTable(heads, rows, { wrap = {}, table = {}, caption = null } = {}) {
  return h(
    'div',
    { class: 'table-wrap', ...wrap },
    h(
      'table',
      { class: 'data', ...table },
      caption == null ? null : h('caption', { class: 'muted' }, caption),
      h('thead', {}, h('tr', {}, ...heads)),
      h('tbody', {}, rows),
    ),
  );
}

// A definition list from [[term, value], ...]; rows whose value is null are left out.
export function kvList(rows, cls = 'kv') {
  const dl = h('dl', { class: cls });
  for (const [k, v] of rows) {
    if (v == null) continue;
    dl.append(h('dt', {}, k), h('dd', {}, v));
  }
  return dl;
}

export function panel(id, title, ...body) {
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...body);
}
