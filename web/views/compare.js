// SPDX-License-Identifier: Apache-2.0
// Comparison: the best result of each chosen experiment side by side, and their best-so-far
// curves. Updates live.
import { api, subscribe } from '../api.js';
import { COLORS, lines } from '../charts.js';
import { badge, dataTable, h } from '../dom.js';
import { axisLabel, fmtMetric, fmtParam } from '../format.js';
import { bestSoFar, finished } from '../model.js';
import { main, stale } from '../page.js';

const bestMetric = (name) => (e) => fmtMetric(name, e.best && e.best.metrics[name]);

// The best trial's confirmed figures (best.confirmed): the mean's spread and the measurements
// that passed; the best value is then that mean, not a single measurement.
function confirmed(e) {
  const c = e.best && e.best.confirmed;
  if (!c || typeof c !== 'object') return e.best ? 'no' : '–';
  const m = e.objective.metric;
  const sd = Number.isFinite(c.stddev) ? ` ± ${fmtMetric(m, c.stddev)} (sd)` : '';
  const range =
    Number.isFinite(c.min) && Number.isFinite(c.max)
      ? `, range ${fmtMetric(m, c.min)} – ${fmtMetric(m, c.max)}`
      : '';
  return `mean ${fmtMetric(m, c.mean)}${sd}${range}, ${c.passes} of ${c.runs} passed`;
}

// The best value, marked when it rests on a measurement that did not settle and no
// confirmation backs it, as the list and the experiment page say (it read as any other).
function bestValue(e) {
  const b = e.best;
  const unsettled = b && b.settled === false && !(b.confirmed && typeof b.confirmed === 'object');
  return h(
    'span',
    {},
    fmtMetric(e.objective.metric, b && b.value),
    unsettled
      ? h('span', { class: 'tag unsettled', title: 'the measurement did not settle' }, 'unsettled')
      : null,
  );
}

const ROWS = [
  ['State', (e) => badge(e.state)],
  [
    'Objective',
    (e) =>
      (e.objectives && e.objectives.length ? e.objectives : [e.objective])
        .map((o) => `${o.direction} ${o.metric}`)
        .join(', '),
  ],
  ['Algorithm', (e) => e.algorithm],
  ['Trials', (e) => `${finished(e.counts)} / ${e.max_trials}`],
  ['Failed', (e) => e.counts?.failed],
  ['Best value', bestValue],
  ['Confirmed', confirmed],
  ['In the search', (e) => fmtMetric(e.objective.metric, e.best && e.best.search_value)],
  [
    'Best trial',
    (e) =>
      e.best ? h('a', { href: `#/exp/${e.id}/trial/${e.best.number}` }, `#${e.best.number}`) : '–',
  ],
  [
    'Configuration',
    (e) =>
      e.best
        ? Object.entries(e.best.params)
            .map(([k, v]) => `${k}=${fmtParam(v)}`)
            .join(', ')
        : '–',
  ],
  ['Throughput', bestMetric('throughput_rps')],
  ['p99 latency', bestMetric('p99_ms')],
  ['Cost per million requests', bestMetric('cost_per_million_requests')],
];

function picker(all, ids) {
  const form = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: (e) => {
        e.preventDefault();
        const chosen = [...form.querySelectorAll('input:checked')].map((i) => i.value);
        location.hash = `#/compare?ids=${chosen.join(',')}`;
      },
    },
    all.map((e) =>
      h(
        'label',
        { class: 'choice' },
        h('input', { type: 'checkbox', value: String(e.id), checked: ids.includes(String(e.id)) }),
        ` ${e.name}`,
      ),
    ),
    h('button', { class: 'btn primary' }, 'Compare'),
  );
  return form;
}

// The table and the best-so-far charts of exps into section (drawn again as they change), after
// a line for each chosen experiment that cannot be shown (`failed`: deleted, or a stored spec
// this build cannot read; the whole page was that one error, the choice gone).
function drawComparison(section, fetched, all) {
  const exps = fetched.filter((e) => !e.failed);
  const notes = fetched
    .filter((e) => e.failed)
    .map((e) => {
      const known = all.find((x) => String(x.id) === e.failed);
      return h(
        'p',
        { class: 'msg error compare-failed' },
        `Experiment '${known ? known.name : e.failed}' cannot be compared: ${e.message}`,
      );
    });
  const heads = [
    h('th', { scope: 'col' }, ''),
    exps.map((e) => h('th', { scope: 'col' }, h('a', { href: `#/exp/${e.id}` }, e.name))),
  ];
  const body = ROWS.map(([label, f]) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      exps.map((e) => h('td', {}, f(e))),
    ),
  );
  section.replaceChildren(
    ...notes,
    exps.length ? dataTable(heads, body, { wrap: { class: 'panel table-wrap' } }) : '',
  );
  // One chart per objective: experiments of different objectives share no y axis (they were
  // drawn on the first one's, under its name and unit).
  const metrics = [...new Set(exps.map((e) => e.objective.metric))];
  for (const metric of metrics) {
    const group = exps.filter((e) => e.objective.metric === metric);
    const n = Math.max(...group.map((e) => e.trials.length));
    const chartEl = h('div');
    section.append(
      h(
        'figure',
        { class: 'chart' },
        h('h3', {}, `Best so far vs trial number: ${metric}`),
        chartEl,
      ),
    );
    requestAnimationFrame(() =>
      lines(chartEl, {
        xLabel: 'trial number',
        yLabel: axisLabel(metric),
        yMetric: metric,
        xs: Array.from({ length: n }, (_, i) => i + 1),
        lines: group.map((e) => {
          const b = bestSoFar(e);
          const values = Array.from({ length: n }, (_, k) => (k < b.length ? b[k] : null));
          return { label: e.name, color: COLORS[exps.indexOf(e) % COLORS.length], values };
        }),
      }),
    );
  }
}

export async function viewCompare(params, gen) {
  const all = (await api('/experiments')).experiments;
  if (stale(gen)) return;
  const ids = (params.get('ids') || '').split(',').filter(Boolean);
  main.replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Compare experiments')),
    h(
      'div',
      { class: 'panel' },
      all.length ? picker(all, ids) : h('p', { class: 'muted' }, 'No experiments yet.'),
    ),
  );
  if (ids.length < 2) {
    main.append(h('p', { class: 'muted' }, 'Choose two or more experiments.'));
    return;
  }
  const one = (i) =>
    api(`/experiments/${encodeURIComponent(i)}`).catch((e) => ({ failed: i, message: e.message }));
  const fetchAll = () => Promise.all(ids.map(one));
  const exps = await fetchAll();
  if (stale(gen)) return;
  const section = h('div', { id: 'comparison' });
  main.append(section);
  drawComparison(section, exps, all);
  // Live: experiments still running change the table and the curves as their trials end.
  let shown = JSON.stringify(exps);
  subscribe(gen, '/events', async () => {
    const fresh = await fetchAll();
    const text = JSON.stringify(fresh);
    if (stale(gen) || text === shown) return;
    shown = text;
    drawComparison(section, fresh, all);
  });
}
