// SPDX-License-Identifier: Apache-2.0
// Parallel coordinates of all trials and parameter importance for the experiment page.
import { h } from '../dom.js';
import { fmtMetric, fmtNum } from '../format.js';
import { feasibility, importance, objectiveValue, recommendedNumber } from '../model.js';
import { parallel } from '../parallel.js';

export function parallelChart(exp, el) {
  const m = exp.objective.metric;
  const reco = recommendedNumber(exp);
  const axes = exp.space.parameters.map((p) => ({
    label: p.name,
    get: (t) => t.params[p.name],
    values: p.type === 'categorical' ? p.values : null,
    log: !!p.log,
  }));
  axes.push({ label: m, get: (t) => objectiveValue(exp, t), fmt: (v) => fmtMetric(m, v) });
  const trials = exp.trials.filter((t) => Number.isFinite(objectiveValue(exp, t)));
  const styleOf = (t) => {
    if (t.number === reco) return { cls: 'recommended', z: 3 };
    const f = feasibility(exp, t);
    return f.feasible ? { cls: 'feasible', z: 2 } : { cls: 'infeasible', z: 1 };
  };
  const present = new Set(trials.map((t) => styleOf(t).cls));
  const legend = [
    { cls: 'feasible', label: 'feasible' },
    { cls: 'infeasible', label: 'infeasible' },
    { cls: 'recommended', label: 'recommended' },
  ].filter((l) => present.has(l.cls));
  if (!trials.length) {
    el.replaceChildren(h('p', { class: 'muted' }, 'No trial with a measured objective yet.'));
    return;
  }
  parallel(el, {
    label: `Parallel coordinates of ${trials.length} trials`,
    axes,
    trials,
    styleOf,
    legend,
    describe: (t) => {
      const f = feasibility(exp, t);
      const params = Object.entries(t.params).map(([k, v]) => `${k}=${v}`);
      const why = f.violated.length ? ` (violates ${f.violated.join(', ')})` : '';
      const value = fmtMetric(m, objectiveValue(exp, t));
      return `trial ${t.number}: ${params.join(', ')} → ${value}${why}`;
    },
  });
}

export function importanceChart(exp, el) {
  const rows = importance(exp);
  if (!rows.length) {
    el.replaceChildren(
      h('p', { class: 'muted' }, 'Needs three or more feasible trials with different values.'),
    );
    return;
  }
  const list = h('div', { class: 'importance', role: 'list' });
  for (const r of rows) {
    const bar = h('span', { class: 'bar' });
    bar.style.width = `${(100 * r.eta2).toFixed(1)}%`;
    list.append(
      h(
        'div',
        { class: 'imp-row', role: 'listitem' },
        h('span', { class: 'imp-name' }, r.name),
        h('span', { class: 'imp-track' }, bar),
        h('span', { class: 'imp-value' }, `${fmtNum(100 * r.eta2)} %`),
      ),
    );
  }
  el.replaceChildren(list);
}
