// SPDX-License-Identifier: Apache-2.0
// The morphling dashboard: a hash-routed single page (experiments list, experiment page with
// charts, comparison, new experiment editor) over the JSON API, kept live by Server-Sent Events.
import { COLORS, fmtNum, heatmap, lines, scatter } from './charts.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
let cleanup = [];
// Bumped on each navigation, so a view whose data arrives after the user moved on draws nothing.
let routeGen = 0;
const stale = (gen) => gen !== routeGen;

// ---------- helpers ----------
function h(tag, attrs = {}, ...children) {
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

// The server keeps the token in an HttpOnly cookie set by its login URL (/?token=...), which
// every same-origin request carries; this page never sees the token.
async function api(path, opts = {}) {
  const res = await fetch(`/api/v1${path}`, opts);
  let body = null;
  try { body = await res.json(); } catch (e) { body = null; }
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
  if (dialogEl.open) return;
  const input = h('input', { type: 'password', id: 'token-input', 'aria-label': 'Access token', size: 40 });
  const form = h('form', { onsubmit: (e) => {
    e.preventDefault();
    window.location.assign(`/?token=${encodeURIComponent(input.value.trim())}`);
  } }, h('p', {}, 'Log in with the URL that `morphling serve` printed, or paste the token from it.'),
  input, ' ', h('button', { class: 'btn primary' }, 'Log in'));
  openDialog('Log in', form);
  input.focus();
}

const dialogEl = document.getElementById('dialog');
function openDialog(title, body, onClose) {
  document.getElementById('dialog-title').textContent = title;
  const b = document.getElementById('dialog-body');
  b.textContent = '';
  b.append(body);
  dialogEl.onclose = onClose || null;
  dialogEl.showModal();
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.round(s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function badge(state) { return h('span', { class: `badge ${state}` }, state); }

function progressBar(done, total) {
  const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': done, 'aria-valuemin': 0,
    'aria-valuemax': total, 'aria-label': `${done} of ${total} trials` },
  h('span', { style: `width:${pct.toFixed(1)}%` }));
}

function finished(c) { return c.succeeded + c.failed + c.cancelled; }

function setLive(on, text) {
  live.className = on ? 'live on' : 'live';
  live.textContent = text || '';
}

// Subscribes to an event stream; calls onEvent (debounced) for each event.
function subscribe(path, onEvent) {
  const es = new EventSource(`/api/v1${path}`);
  let timer = null;
  const kinds = ['trial_started', 'trial_finished', 'new_best', 'experiment_started',
    'experiment_resumed', 'experiment_finished', 'trial_interrupted', 'trial_retry'];
  const handler = (ev) => {
    setLive(true, `live · ${ev.type.replace('_', ' ')}`);
    clearTimeout(timer);
    timer = setTimeout(() => onEvent(ev), 250);
  };
  kinds.forEach((k) => es.addEventListener(k, handler));
  es.onopen = () => setLive(true, 'live');
  es.onerror = () => setLive(false, 'reconnecting…');
  cleanup.push(() => { es.close(); clearTimeout(timer); setLive(false, ''); });
}

// Sortable table. cols: [{key, label, num, get(row) -> sort value, render(row) -> node}].
function sortableTable(cols, rows, { sortKey, desc = false, rowClass, caption } = {}) {
  let key = sortKey || cols[0].key;
  let descending = desc;
  const table = h('table', { class: 'data' });
  if (caption) table.append(h('caption', { class: 'muted', style: 'text-align:left' }, caption));
  const thead = h('thead');
  const tbody = h('tbody');
  table.append(thead, tbody);
  const draw = () => {
    const col = cols.find((c) => c.key === key);
    const sorted = [...rows].sort((a, b) => {
      const va = col.get(a);
      const vb = col.get(b);
      const na = va == null || (typeof va === 'number' && !Number.isFinite(va));
      const nb = vb == null || (typeof vb === 'number' && !Number.isFinite(vb));
      if (na || nb) return na - nb;
      const r = typeof va === 'number' ? va - vb : String(va).localeCompare(String(vb));
      return descending ? -r : r;
    });
    thead.textContent = '';
    thead.append(h('tr', {}, cols.map((c) => h('th', {
      class: c.num ? 'num' : null, scope: 'col',
      'aria-sort': c.key === key ? (descending ? 'descending' : 'ascending') : 'none',
    }, c.nosort ? c.label : h('button', { type: 'button', onclick: () => {
      if (key === c.key) descending = !descending; else { key = c.key; descending = !!c.num; }
      draw();
    } }, c.label)))));
    tbody.textContent = '';
    for (const r of sorted) {
      tbody.append(h('tr', { class: rowClass ? rowClass(r) : null },
        cols.map((c) => h('td', { class: c.cls || (c.num ? 'num' : null) }, c.render ? c.render(r) : c.get(r)))));
    }
  };
  draw();
  return h('div', { class: 'table-wrap' }, table);
}

// ---------- experiments list ----------
async function viewList(params, gen) {
  const data = await api('/experiments');
  if (stale(gen)) return;
  const exps = data.experiments;
  const filter = h('input', { type: 'search', placeholder: 'Filter by name, state or algorithm',
    'aria-label': 'Filter experiments', size: 34, value: params.get('q') || '' });
  const compareBtn = h('button', { class: 'btn', type: 'button', disabled: true }, 'Compare selected');
  const selected = new Set();
  const holder = h('div');
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = exps.filter((e) => !q || `${e.name} ${e.state} ${e.algorithm}`.toLowerCase().includes(q));
    holder.textContent = '';
    if (!exps.length) {
      holder.append(h('div', { class: 'empty' }, 'No experiments yet. ',
        h('a', { href: '#/new' }, 'Start one'), ' or run ', h('code', {}, 'morphling run SPEC.yaml'), '.'));
      return;
    }
    holder.append(sortableTable([
      { key: 'sel', label: 'Select', nosort: true, get: () => 0, render: (e) => h('input', {
        type: 'checkbox', 'aria-label': `Select ${e.name} for comparison`, checked: selected.has(e.id),
        onchange: (ev) => {
          if (ev.target.checked) selected.add(e.id); else selected.delete(e.id);
          compareBtn.disabled = selected.size < 2;
        } }) },
      { key: 'name', label: 'Name', get: (e) => e.name, render: (e) => h('a', { href: `#/exp/${e.id}` }, e.name) },
      { key: 'state', label: 'State', get: (e) => e.state, render: (e) => badge(e.state) },
      { key: 'progress', label: 'Progress', num: true, get: (e) => finished(e.counts) / e.max_trials,
        render: (e) => h('div', { style: 'display:flex;gap:8px;align-items:center;justify-content:flex-end' },
          `${finished(e.counts)} / ${e.max_trials}`, progressBar(finished(e.counts), e.max_trials)) },
      { key: 'failed', label: 'Failed', num: true, get: (e) => e.counts.failed },
      { key: 'best', label: 'Best value', num: true, get: (e) => e.best_value,
        render: (e) => h('span', { title: `${e.objective.direction} ${e.objective.metric}` }, fmtNum(e.best_value)) },
      { key: 'objective', label: 'Objective', get: (e) => e.objective.metric,
        render: (e) => `${e.objective.direction === 'maximize' ? '↑' : '↓'} ${e.objective.metric}` },
      { key: 'algorithm', label: 'Algorithm', get: (e) => e.algorithm },
      { key: 'created', label: 'Age', get: (e) => e.created_at, render: (e) => h('span', { title: e.created_at }, ago(e.created_at)) },
    ], rows, { sortKey: 'created', desc: true }));
  };
  filter.addEventListener('input', render);
  compareBtn.addEventListener('click', () => { location.hash = `#/compare?ids=${[...selected].join(',')}`; });
  main.textContent = '';
  main.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Experiments'),
      h('div', { class: 'muted' }, `${exps.length} in the store`)),
    h('div', { class: 'actions' }, h('a', { class: 'btn primary', href: '#/new' }, 'New experiment'))),
    h('div', { class: 'panel' }, h('div', { class: 'toolbar' }, filter, compareBtn), holder));
  render();
  subscribe('/events', async () => {
    const fresh = await api('/experiments');
    exps.splice(0, exps.length, ...fresh.experiments);
    render();
  });
}

// ---------- experiment page ----------
const M = (t, name) => (t.metrics ? t.metrics[name] : undefined);

function objectiveValue(exp, t) { return M(t, exp.objective.metric); }

function better(exp, a, b) { return exp.objective.direction === 'maximize' ? a > b : a < b; }

function recommendationCard(exp) {
  const b = exp.best;
  if (!b) {
    return h('section', { class: 'panel reco', 'aria-labelledby': 'reco-h' },
      h('h2', { id: 'reco-h' }, 'Recommendation'),
      h('p', { class: 'muted' }, 'No feasible trial yet: no configuration met every constraint.'));
  }
  const m = b.metrics || {};
  const card = (label, v, unit) => h('div', { class: 'card' }, h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, fmtNum(v), unit ? h('span', { class: 'unit' }, unit) : null));
  return h('section', { class: 'panel reco', 'aria-labelledby': 'reco-h' },
    h('h2', { id: 'reco-h' }, `Recommendation · trial ${b.number}`),
    h('div', { class: 'config', 'aria-label': 'Recommended configuration' },
      Object.entries(b.params).map(([k, v]) => h('span', {}, `${k} = ${v}`))),
    h('div', { class: 'cards' },
      card(exp.objective.metric, b.value, exp.objective.direction === 'maximize' ? '(max)' : '(min)'),
      card('Throughput', m.throughput_rps, 'req/s'),
      card('p99 latency', m.p99_ms, 'ms'),
      card('Cost per million requests', m.cost_per_million_requests, ''),
      card('Cost per hour', m.cost_per_hour, '/h')));
}

function settingsPanel(exp) {
  const dl = h('dl', { class: 'kv' });
  const add = (k, v) => dl.append(h('dt', {}, k), h('dd', {}, v));
  add('Objective', `${exp.objective.direction} ${exp.objective.metric}`);
  add('Constraints', exp.constraints.length ? exp.constraints.join(', ') : 'none');
  add('Algorithm', exp.algorithm);
  add('Runner', exp.runner);
  add('Max trials', exp.max_trials);
  add('Parallelism', exp.parallelism);
  add('Seed', exp.seed);
  add('Created', exp.created_at);
  if (exp.finished_at) add('Finished', exp.finished_at);
  if (exp.stop_reason) add('Stop reason', exp.stop_reason);
  add('Parameters', exp.space.parameters.map((p) => `${p.name} (${p.type})`).join(', '));
  return h('section', { class: 'panel grow', 'aria-labelledby': 'set-h' }, h('h2', { id: 'set-h' }, 'Settings'), dl);
}

function progressPanel(exp) {
  const c = exp.counts;
  const done = finished(c);
  const fails = Object.entries(c.failures || {});
  return h('section', { class: 'panel grow', 'aria-labelledby': 'prog-h' },
    h('h2', { id: 'prog-h' }, 'Progress'),
    h('div', { style: 'display:flex;gap:12px;align-items:center;margin-bottom:12px' },
      h('strong', {}, `${done} / ${exp.max_trials} trials`), h('div', { style: 'flex:1' }, progressBar(done, exp.max_trials))),
    h('div', { class: 'cards' },
      ...[['Succeeded', c.succeeded], ['Failed', c.failed], ['Running', c.running], ['Pending', c.pending], ['Cancelled', c.cancelled]]
        .map(([k, v]) => h('div', { class: 'card' }, h('div', { class: 'label' }, k), h('div', { class: 'value' }, v)))),
    fails.length ? h('p', { class: 'muted', style: 'margin-top:12px' }, 'Failures: ',
      fails.map(([k, v]) => `${k} × ${v}`).join(', ')) : null);
}

function showLogs(exp, n) {
  api(`/experiments/${exp.id}/trials/${n}/logs`).then((l) => {
    openDialog(`Trial ${n} logs`, h('div', {},
      h('h3', {}, 'stdout'), h('pre', { class: 'log' }, l.stdout || '(empty)'),
      h('h3', {}, 'stderr'), h('pre', { class: 'log' }, l.stderr || '(empty)')));
  }).catch((e) => openDialog(`Trial ${n} logs`, h('p', { class: 'msg error' }, e.message)));
}

function trialTable(exp) {
  const params = exp.space.parameters.map((p) => p.name);
  const metricNames = [];
  for (const t of exp.trials) for (const k of Object.keys(t.metrics || {})) if (!metricNames.includes(k)) metricNames.push(k);
  const shown = [exp.objective.metric, 'throughput_rps', 'p99_ms', 'cost_per_million_requests']
    .filter((m, i, a) => metricNames.includes(m) && a.indexOf(m) === i);
  const bestN = exp.best ? exp.best.number : -1;
  const cols = [
    { key: 'number', label: '#', num: true, get: (t) => t.number },
    { key: 'state', label: 'State', get: (t) => t.state, render: (t) => badge(t.state) },
    ...params.map((p) => ({ key: `p:${p}`, label: p, num: true, get: (t) => t.params[p] })),
    ...shown.map((m) => ({ key: `m:${m}`, label: m, num: true, get: (t) => M(t, m), render: (t) => fmtNum(M(t, m)) })),
    { key: 'duration', label: 'Time (s)', num: true, get: (t) => t.duration_s, render: (t) => fmtNum(t.duration_s) },
    { key: 'failure', label: 'Failure', cls: 'reason', get: (t) => t.failure || '',
      render: (t) => (t.failure ? h('span', {}, h('strong', {}, t.failure), t.reason ? ` — ${t.reason}` : '') : '') },
    { key: 'logs', label: 'Logs', nosort: true, get: () => 0,
      render: (t) => h('button', { type: 'button', class: 'btn', onclick: () => showLogs(exp, t.number),
        'aria-label': `Logs of trial ${t.number}` }, 'Logs') },
  ];
  return h('section', { class: 'panel', 'aria-labelledby': 'trials-h' },
    h('h2', { id: 'trials-h' }, `Trials (${exp.trials.length})`),
    sortableTable(cols, exp.trials, { sortKey: 'number', rowClass: (t) => (t.number === bestN ? 'best-row' : null) }));
}

function bestSoFar(exp) {
  let best = null;
  return exp.trials.map((t) => {
    const v = objectiveValue(exp, t);
    if (t.state === 'SUCCEEDED' && Number.isFinite(v) && (best == null || better(exp, v, best))) best = v;
    return best;
  });
}

function chartBox(title, note) {
  const box = h('div', { class: 'chart-body' });
  return [h('figure', { class: 'chart', style: 'margin:0' }, h('h3', {}, title), note ? h('div', { class: 'muted', style: 'font-size:12px;margin-bottom:4px' }, note) : null, box), box];
}

function levelsOf(p, trials) {
  if (p.values) return p.values;
  return [...new Set(trials.map((t) => t.params[p.name]))].sort((a, b) => a - b);
}

function drawCharts(exp, holder) {
  holder.textContent = '';
  const metric = exp.objective.metric;
  const ok = exp.trials.filter((t) => t.state === 'SUCCEEDED');
  const bad = exp.trials.filter((t) => t.state === 'FAILED' && Number.isFinite(objectiveValue(exp, t)));
  if (!exp.trials.length) {
    holder.append(h('div', { class: 'empty' }, 'Charts appear when the first trial finishes.'));
    return;
  }
  const grid = h('div', { class: 'charts' });
  holder.append(grid);
  const draws = [];

  const [f1, b1] = chartBox('Best so far', `best feasible ${metric} after each trial`);
  grid.append(f1);
  draws.push(() => lines(b1, {
    xLabel: 'trial number', yLabel: metric, xs: exp.trials.map((t) => t.number),
    lines: [
      { label: 'best so far', color: COLORS[0], values: bestSoFar(exp) },
      { label: 'feasible trial', color: COLORS[2], dots: true, values: exp.trials.map((t) => (t.state === 'SUCCEEDED' ? objectiveValue(exp, t) ?? null : null)) },
      { label: 'infeasible trial', color: '#b0b7c3', dots: true, values: exp.trials.map((t) => (t.state === 'FAILED' ? objectiveValue(exp, t) ?? null : null)) },
    ],
  }));

  const tp = exp.pareto.throughput_p99.trials;
  if (exp.trials.some((t) => Number.isFinite(M(t, 'throughput_rps')) && Number.isFinite(M(t, 'p99_ms')))) {
    const [f, b] = chartBox('Throughput vs p99 latency', 'Pareto front: most throughput for the least p99 among feasible trials');
    grid.append(f);
    const pt = (t) => [M(t, 'throughput_rps'), M(t, 'p99_ms')];
    draws.push(() => scatter(b, {
      xLabel: 'throughput (req/s)', yLabel: 'p99 latency (ms)', groups: [
        { label: 'feasible', color: COLORS[0], points: ok.map(pt) },
        { label: 'infeasible', color: '#b0b7c3', points: bad.map(pt) },
        { label: 'Pareto front', color: COLORS[1], line: true, points: exp.trials.filter((t) => tp.includes(t.number)).map(pt) },
      ],
    }));
  }
  const oc = exp.pareto.objective_cost.trials;
  if (exp.trials.some((t) => Number.isFinite(M(t, 'cost_per_hour')))) {
    const [f, b] = chartBox(`${metric} vs cost`, `Pareto front: best ${metric} for the lowest cost per hour`);
    grid.append(f);
    const pt = (t) => [M(t, 'cost_per_hour'), objectiveValue(exp, t)];
    draws.push(() => scatter(b, {
      xLabel: 'cost ($/hour)', yLabel: metric, groups: [
        { label: 'feasible', color: COLORS[0], points: ok.map(pt) },
        { label: 'infeasible', color: '#b0b7c3', points: bad.map(pt) },
        { label: 'Pareto front', color: COLORS[1], line: true, points: exp.trials.filter((t) => oc.includes(t.number)).map(pt) },
      ],
    }));
  }

  const numeric = exp.space.parameters.filter((p) => p.type !== 'categorical');
  if (numeric.length >= 2) {
    const [f, b] = chartBox('Two-parameter heat map', null);
    const selX = h('select', { 'aria-label': 'Heat map columns' }, numeric.map((p, i) => h('option', { value: i }, p.name)));
    const selY = h('select', { 'aria-label': 'Heat map rows' }, numeric.map((p, i) => h('option', { value: i }, p.name)));
    selY.value = '1';
    const area = h('div');
    const drawHeat = () => {
      const px = numeric[+selX.value];
      const py = numeric[+selY.value];
      const cells = new Map();
      for (const t of ok) {
        const v = objectiveValue(exp, t);
        const k = `${t.params[px.name]}|${t.params[py.name]}`;
        if (Number.isFinite(v) && (!cells.has(k) || better(exp, v, cells.get(k)))) cells.set(k, v);
      }
      heatmap(area, { xName: px.name, yName: py.name, xLevels: levelsOf(px, exp.trials), yLevels: levelsOf(py, exp.trials),
        cells, maximize: exp.objective.direction === 'maximize', metric });
    };
    selX.addEventListener('change', drawHeat);
    selY.addEventListener('change', drawHeat);
    b.append(h('div', { class: 'toolbar' }, h('label', {}, 'columns ', selX), h('label', {}, 'rows ', selY)), area);
    grid.append(f);
    draws.push(drawHeat);
  }

  const [fp, bp] = chartBox(`${metric} vs each parameter`, 'feasible trials in colour, infeasible in grey');
  fp.style.gridColumn = '1 / -1';
  const multiples = h('div', { class: 'small-multiples' });
  bp.append(multiples);
  holder.append(fp);
  exp.space.parameters.forEach((p, i) => {
    const cell = h('div');
    multiples.append(cell);
    const x = (t) => (p.type === 'categorical' ? p.values.indexOf(t.params[p.name]) : t.params[p.name]);
    draws.push(() => scatter(cell, {
      title: p.name, xLabel: p.type === 'categorical' ? `${p.name} (choice index)` : `${p.name}${p.log ? ' (log scale)' : ''}`,
      yLabel: metric, height: 220, xLog: !!p.log && p.type !== 'categorical',
      groups: [
        { label: 'feasible', color: COLORS[i % COLORS.length], points: ok.map((t) => [x(t), objectiveValue(exp, t)]) },
        { label: 'infeasible', color: '#c3c9d3', points: bad.map((t) => [x(t), objectiveValue(exp, t)]) },
      ],
    }));
  });
  // Draw after the boxes are in the document so their widths are known.
  requestAnimationFrame(() => draws.forEach((d) => d()));
}

async function viewExperiment(id, gen) {
  let exp = await api(`/experiments/${encodeURIComponent(id)}`);
  if (stale(gen)) return;
  const head = h('div');
  const top = h('div');
  const charts = h('div', { id: 'charts' });
  const trials = h('div');
  const cancelBtn = h('button', { class: 'btn', type: 'button' }, 'Cancel');
  const deleteBtn = h('button', { class: 'btn danger', type: 'button' }, 'Delete');
  const actionMsg = h('div', { role: 'status', 'aria-live': 'polite' });
  cancelBtn.addEventListener('click', async () => {
    try { await api(`/experiments/${exp.id}/cancel`, { method: 'POST' }); } catch (e) { actionMsg.replaceChildren(h('p', { class: 'msg error' }, e.message)); }
  });
  deleteBtn.addEventListener('click', async () => {
    if (!confirm(`Delete experiment '${exp.name}' and all its trials?`)) return;
    try { await api(`/experiments/${exp.id}`, { method: 'DELETE' }); location.hash = '#/'; } catch (e) { actionMsg.replaceChildren(h('p', { class: 'msg error' }, e.message)); }
  });
  const render = (redrawCharts) => {
    const active = ['CREATED', 'RUNNING'].includes(exp.state);
    cancelBtn.disabled = !active && exp.state !== 'INTERRUPTED';
    head.replaceChildren(h('div', { class: 'page-head' },
      h('div', {}, h('div', { class: 'muted' }, h('a', { href: '#/' }, 'Experiments'), ' / '),
        h('h1', {}, exp.name, ' ', badge(exp.state)),
        exp.spec && exp.spec.description ? h('div', { class: 'muted' }, exp.spec.description) : null),
      h('div', { class: 'actions' }, cancelBtn, deleteBtn)), actionMsg);
    top.replaceChildren(recommendationCard(exp), h('div', { class: 'row' }, progressPanel(exp), settingsPanel(exp)));
    if (redrawCharts) drawCharts(exp, charts);
    trials.replaceChildren(trialTable(exp));
  };
  main.textContent = '';
  main.append(head, top, h('h2', { style: 'margin:8px 0 12px' }, 'Charts'), charts, h('div', { style: 'height:16px' }), trials);
  render(true);
  subscribe(`/experiments/${exp.id}/events`, async () => {
    exp = await api(`/experiments/${exp.id}`);
    render(true);
  });
}

// ---------- compare ----------
async function viewCompare(params, gen) {
  const all = (await api('/experiments')).experiments;
  if (stale(gen)) return;
  const ids = (params.get('ids') || '').split(',').filter(Boolean);
  main.textContent = '';
  const picker = h('form', { class: 'toolbar', onsubmit: (e) => {
    e.preventDefault();
    const chosen = [...picker.querySelectorAll('input:checked')].map((i) => i.value);
    location.hash = `#/compare?ids=${chosen.join(',')}`;
  } }, all.map((e) => h('label', { style: 'margin-right:12px' },
    h('input', { type: 'checkbox', value: String(e.id), checked: ids.includes(String(e.id)) }), ` ${e.name}`)),
  h('button', { class: 'btn primary' }, 'Compare'));
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Compare experiments')),
    h('div', { class: 'panel' }, all.length ? picker : h('p', { class: 'muted' }, 'No experiments yet.')));
  if (ids.length < 2) {
    main.append(h('p', { class: 'muted' }, 'Choose two or more experiments.'));
    return;
  }
  const exps = await Promise.all(ids.map((i) => api(`/experiments/${encodeURIComponent(i)}`)));
  if (stale(gen)) return;
  const rows = [
    ['State', (e) => badge(e.state)],
    ['Objective', (e) => `${e.objective.direction} ${e.objective.metric}`],
    ['Algorithm', (e) => e.algorithm],
    ['Trials', (e) => `${finished(e.counts)} / ${e.max_trials}`],
    ['Failed', (e) => e.counts.failed],
    ['Best value', (e) => fmtNum(e.best && e.best.value)],
    ['Best trial', (e) => (e.best ? `#${e.best.number}` : '–')],
    ['Configuration', (e) => (e.best ? Object.entries(e.best.params).map(([k, v]) => `${k}=${v}`).join(', ') : '–')],
    ['Throughput (req/s)', (e) => fmtNum(e.best && e.best.metrics.throughput_rps)],
    ['p99 (ms)', (e) => fmtNum(e.best && e.best.metrics.p99_ms)],
    ['Cost / million req ($)', (e) => fmtNum(e.best && e.best.metrics.cost_per_million_requests)],
    ['Trials to reach best', (e) => (e.best ? e.best.number : '–')],
  ];
  const table = h('table', { class: 'data' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, ''),
    exps.map((e) => h('th', { scope: 'col' }, h('a', { href: `#/exp/${e.id}` }, e.name))))),
  h('tbody', {}, rows.map(([label, f]) => h('tr', {}, h('th', { scope: 'row' }, label), exps.map((e) => h('td', {}, f(e)))))));
  const n = Math.max(...exps.map((e) => e.trials.length));
  const chartEl = h('div');
  main.append(h('div', { class: 'panel table-wrap' }, table),
    h('figure', { class: 'chart', style: 'margin:0' }, h('h3', {}, 'Best so far vs trial number'), chartEl));
  requestAnimationFrame(() => lines(chartEl, {
    xLabel: 'trial number', yLabel: exps[0].objective.metric, xs: Array.from({ length: n }, (_, i) => i + 1),
    lines: exps.map((e, i) => {
      const b = bestSoFar(e);
      return { label: e.name, color: COLORS[i % COLORS.length], values: Array.from({ length: n }, (_, k) => (k < b.length ? b[k] : null)) };
    }),
  }));
}

// ---------- new experiment ----------
async function viewNew(gen) {
  const template = await (await fetch('/template.yaml')).text();
  if (stale(gen)) return;
  const area = h('textarea', { id: 'spec', spellcheck: 'false', 'aria-label': 'Experiment spec (YAML)',
    autocapitalize: 'off', autocomplete: 'off' });
  area.value = sessionStorage.getItem('morphling-draft') || template;
  const gutter = h('div', { class: 'gutter', 'aria-hidden': 'true' });
  const msg = h('div', { role: 'status', 'aria-live': 'polite' });
  let errLine = 0;
  const drawGutter = () => {
    const n = area.value.split('\n').length;
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) => h('div', { class: i + 1 === errLine ? 'err' : null }, i + 1)));
    gutter.scrollTop = area.scrollTop;
  };
  const showError = (e) => {
    errLine = (e.info && e.info.line) || 0;
    drawGutter();
    const where = errLine ? `Line ${errLine}${e.info.column ? `, column ${e.info.column}` : ''}: ` : '';
    msg.replaceChildren(h('div', { class: 'msg error', id: 'spec-error' }, h('strong', {}, where), e.message,
      errLine ? h('div', {}, h('button', { type: 'button', class: 'btn', style: 'margin-top:8px', onclick: () => goToLine(errLine) }, 'Go to line')) : null));
  };
  const goToLine = (line) => {
    const lines = area.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((s, l) => s + l.length + 1, 0);
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || '').length);
    area.scrollTop = Math.max(0, (line - 5) * 20);
  };
  const validate = async () => {
    try {
      const r = await api('/validate', { method: 'POST', body: area.value, headers: { 'Content-Type': 'application/yaml' } });
      errLine = 0;
      drawGutter();
      const size = r.space.configurations;
      msg.replaceChildren(h('div', { class: 'msg ok', id: 'spec-ok' }, `Valid: '${r.name}', ${r.space.parameters.length} parameters, `,
        size == null ? 'continuous space' : `${size} configurations`, `, ${r.algorithm} search, up to ${r.max_trials} trials, runner ${r.runner}.`));
      return true;
    } catch (e) { showError(e); return false; }
  };
  const submit = async () => {
    try {
      const r = await api('/experiments', { method: 'POST', body: area.value, headers: { 'Content-Type': 'application/yaml' } });
      sessionStorage.removeItem('morphling-draft');
      location.hash = `#/exp/${r.id}`;
    } catch (e) { showError(e); }
  };
  let timer = null;
  area.addEventListener('input', () => {
    sessionStorage.setItem('morphling-draft', area.value);
    drawGutter();
    clearTimeout(timer);
    timer = setTimeout(validate, 600);
  });
  area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; });
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
  });
  main.textContent = '';
  main.append(
    h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'New experiment'),
      h('div', { class: 'muted' }, 'Edit the spec (see docs/spec.md), validate it, then start it. Ctrl+Enter starts it.')),
    h('div', { class: 'actions' },
      h('button', { class: 'btn', type: 'button', onclick: () => { area.value = template; drawGutter(); validate(); } }, 'Reset to example'),
      h('button', { class: 'btn', type: 'button', id: 'validate-btn', onclick: validate }, 'Validate'),
      h('button', { class: 'btn primary', type: 'button', id: 'submit-btn', onclick: submit }, 'Start experiment'))),
    msg, h('div', { class: 'editor' }, gutter, area));
  drawGutter();
  validate();
}

// ---------- router ----------
async function route() {
  const gen = ++routeGen;
  cleanup.forEach((f) => f());
  cleanup = [];
  const hash = location.hash || '#/';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean);
  const nav = parts[0] === 'new' ? 'new' : parts[0] === 'compare' ? 'compare' : 'list';
  document.querySelectorAll('[data-nav]').forEach((a) => {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
  try {
    if (parts[0] === 'exp' && parts[1]) await viewExperiment(decodeURIComponent(parts[1]), gen);
    else if (parts[0] === 'compare') await viewCompare(params, gen);
    else if (parts[0] === 'new') await viewNew(gen);
    else await viewList(params, gen);
    if (stale(gen)) return;
    document.title = `morphling · ${main.querySelector('h1') ? main.querySelector('h1').firstChild.textContent : ''}`;
  } catch (e) {
    if (!stale(gen)) main.replaceChildren(h('div', { class: 'msg error', role: 'alert' }, e.message));
  }
}

window.addEventListener('hashchange', route);
let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if ((location.hash || '').startsWith('#/exp/')) route(); }, 300);
});
route();
