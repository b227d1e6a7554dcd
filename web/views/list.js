// SPDX-License-Identifier: Apache-2.0
// The experiments list: state, progress, failed trials, best value, age; filter, sort, select
// two or more to compare. Updates live.
import { api, subscribe } from '../api.js';
import { badge, h, progressBar, sortableTable } from '../dom.js';
import { ago, fmtMetric } from '../format.js';
import { finished } from '../model.js';
import { main, stale } from '../page.js';

function columns(selected, compareBtn) {
  const select = (e) =>
    h('input', {
      type: 'checkbox',
      'aria-label': `Select ${e.name} for comparison`,
      checked: selected.has(e.id),
      onchange: (ev) => {
        if (ev.target.checked) selected.add(e.id);
        else selected.delete(e.id);
        compareBtn.disabled = selected.size < 2;
      },
    });
  // An experiment whose stored spec this build cannot read (`error`) has no objective,
  // algorithm or max_trials (null): it said "40 / null" and "↓ null"; its row says why instead.
  const progress = (e) =>
    e.max_trials == null
      ? h('div', { class: 'progress-cell' }, `${finished(e.counts)} trials`)
      : h(
          'div',
          { class: 'progress-cell' },
          `${finished(e.counts)} / ${e.max_trials}`,
          progressBar(finished(e.counts), e.max_trials),
        );
  const arrow = (e) => (e.objective.direction === 'maximize' ? '↑' : '↓');
  const objective = (e) =>
    e.error
      ? h(
          'span',
          { class: 'unreadable' },
          h('span', { class: 'tag infeasible' }, 'spec not readable'),
          h('span', { class: 'muted small' }, ` ${e.error}`),
        )
      : `${arrow(e)} ${e.objective.metric}`;
  return [
    { key: 'sel', label: 'Select', nosort: true, get: () => 0, render: select },
    {
      key: 'name',
      label: 'Name',
      cls: 'name',
      get: (e) => e.name,
      render: (e) => h('a', { href: `#/exp/${e.id}` }, e.name),
    },
    { key: 'state', label: 'State', get: (e) => e.state, render: (e) => badge(e.state) },
    {
      key: 'progress',
      label: 'Progress',
      num: true,
      get: (e) => finished(e.counts) / e.max_trials,
      render: progress,
    },
    { key: 'failed', label: 'Failed', num: true, get: (e) => e.counts?.failed },
    {
      key: 'best',
      label: 'Best value',
      num: true,
      get: (e) => e.best_value,
      render: (e) =>
        h(
          'span',
          { title: e.error ? null : `${e.objective.direction} ${e.objective.metric}` },
          fmtMetric(e.objective.metric, e.best_value),
          // The value rests on a measurement that did not settle, and no confirmation backs it.
          e.best_settled === false
            ? h(
                'span',
                { class: 'tag unsettled', title: 'the measurement did not settle' },
                'unsettled',
              )
            : null,
        ),
    },
    {
      key: 'objective',
      label: 'Objective',
      get: (e) => e.objective.metric,
      render: objective,
    },
    { key: 'algorithm', label: 'Algorithm', get: (e) => e.algorithm },
    {
      key: 'created',
      label: 'Age',
      get: (e) => e.created_at,
      render: (e) => h('span', { title: e.created_at }, ago(e.created_at)),
    },
  ];
}

export async function viewList(params, gen) {
  const data = await api('/experiments');
  if (stale(gen)) return;
  const exps = data.experiments;
  const filter = h('input', {
    type: 'search',
    placeholder: 'Filter by name, state or algorithm',
    'aria-label': 'Filter experiments',
    size: 34,
    value: params.get('q') || '',
  });
  const compareBtn = h(
    'button',
    { class: 'btn', type: 'button', disabled: true },
    'Compare selected',
  );
  const selected = new Set();
  const sorting = {}; // the table's order, kept as the filter and live updates redraw it
  const holder = h('div');
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const text = (e) => `${e.name} ${e.state} ${e.algorithm}`.toLowerCase();
    const rows = exps.filter((e) => !q || text(e).includes(q));
    if (!exps.length) {
      holder.replaceChildren(
        h(
          'div',
          { class: 'empty' },
          'No experiments yet. ',
          h('a', { href: '#/new' }, 'Start one'),
          ' or run ',
          h('code', {}, 'morphling run SPEC.yaml'),
          '.',
        ),
      );
      return;
    }
    holder.replaceChildren(
      sortableTable(columns(selected, compareBtn), rows, {
        sortKey: 'created',
        desc: true,
        state: sorting,
      }),
    );
  };
  filter.addEventListener('input', render);
  compareBtn.addEventListener('click', () => {
    location.hash = `#/compare?ids=${[...selected].join(',')}`;
  });
  main.replaceChildren(
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h('h1', {}, 'Experiments'),
        h('div', { class: 'muted' }, `${exps.length} in the store`),
      ),
      h(
        'div',
        { class: 'actions' },
        h('a', { class: 'btn primary', href: '#/new' }, 'New experiment'),
      ),
    ),
    h('div', { class: 'panel' }, h('div', { class: 'toolbar' }, filter, compareBtn), holder),
  );
  render();
  let shown = JSON.stringify(exps);
  subscribe(gen, '/events', async () => {
    const fresh = await api('/experiments');
    const text = JSON.stringify(fresh.experiments);
    if (text === shown) return;
    shown = text;
    exps.splice(0, exps.length, ...fresh.experiments);
    render();
  });
}
