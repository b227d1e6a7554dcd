// SPDX-License-Identifier: Apache-2.0
// The experiment page's charts: best so far, throughput vs latency with the latency limits and
// objective vs cost (each with its Pareto front), a heat map over two parameters, parallel
// coordinates, parameter importance, and the objective against each parameter. Feasible trials
// in one colour, infeasible ones dimmed in another, the recommended trial ringed, everywhere.
import { FEASIBLE, FRONT, INFEASIBLE, RECOMMENDED, heatmap, lines, scatter } from '../charts.js';
import { h } from '../dom.js';
import { axisLabel, axisUnit, fmtMetric, metricInfo } from '../format.js';
import {
  bestSoFar,
  better,
  constraints,
  heatLevels,
  metric,
  objectiveValue,
  recommendedNumber,
  feasibility,
  hasCostChart,
  splitTrials,
  violationNote,
} from '../model.js';
import { importanceChart, parallelChart } from './analysis.js';

// Clicking a trial's point opens its page.
const pick = (exp) => (n) => {
  location.hash = `#/exp/${exp.id}/trial/${n}`;
};

function chartBox(title, note, wide) {
  const box = h('div', { class: 'chart-body' });
  const fig = h(
    'figure',
    { class: wide ? 'chart wide' : 'chart' },
    h('h3', {}, title),
    note ? h('div', { class: 'muted note' }, note) : null,
    box,
  );
  return [fig, box];
}

// The usual groups of a scatter plot: feasible, infeasible, the Pareto front, the recommended.
function groups(exp, pt, front) {
  const { ok, bad } = splitTrials(exp);
  const reco = recommendedNumber(exp);
  return [
    { label: 'feasible', color: FEASIBLE, points: ok.map(pt) },
    { label: 'infeasible', color: INFEASIBLE, points: bad.map(pt) },
    {
      label: 'Pareto front',
      color: FRONT,
      line: true,
      points: exp.trials.filter((t) => front.includes(t.number)).map(pt),
    },
    {
      label: 'recommended',
      color: RECOMMENDED,
      ring: true,
      size: 14,
      points: exp.trials.filter((t) => t.number === reco).map(pt),
    },
  ];
}

function bestChart(exp, grid, draws) {
  const m = exp.objective.metric;
  const [fig, box] = chartBox('Best so far', `best feasible ${m} after each trial`);
  grid.append(fig);
  const { ok, bad } = splitTrials(exp);
  const reco = recommendedNumber(exp);
  const valuesOf = (set) =>
    exp.trials.map((t) => (set.includes(t) ? objectiveValue(exp, t) : null));
  const recoT = exp.trials.filter((t) => t.number === reco);
  draws.push(() =>
    lines(box, {
      trials: true,
      onPick: pick(exp),
      note: violationNote(exp),
      limits: latencyLimits(exp, m),
      xLabel: 'trial number',
      yLabel: axisLabel(m),
      yMetric: m,
      xs: exp.trials.map((t) => t.number),
      lines: [
        { label: 'best so far', color: '#1d2330', values: bestSoFar(exp) },
        { label: 'feasible trial', color: FEASIBLE, dots: true, values: valuesOf(ok) },
        { label: 'infeasible trial', color: INFEASIBLE, dots: true, values: valuesOf(bad) },
        {
          label: 'recommended',
          color: RECOMMENDED,
          dots: true,
          ring: true,
          values: valuesOf(recoT),
        },
      ],
    }),
  );
}

// Limits on the metric `y` from the spec's constraints (p99_ms <= 150 -> a line at 150): a
// latency's on its charts, the objective's on its own (best so far, against each parameter),
// a floor (value >= 0.5) as well as a ceiling: only upper limits were drawn.
function latencyLimits(exp, y) {
  return constraints(exp)
    .filter((c) => c.metric === y)
    .map((c) => ({ value: c.value, label: `limit: ${c.text}` }));
}

function tradeoffCharts(exp, grid, draws) {
  const m = exp.objective.metric;
  const has = (a, b) =>
    exp.trials.some((t) => Number.isFinite(metric(t, a)) && Number.isFinite(metric(t, b)));
  // p99, and every other latency the constraints limit (p95_ms <= 80, latency_p999_us < 900).
  const latencies = ['p99_ms', ...constraints(exp).map((c) => c.metric)].filter(
    (y, i, all) => /(_ms|_us)$/.test(y) && all.indexOf(y) === i && has('throughput_rps', y),
  );
  for (const y of latencies) {
    const name = metricInfo(y).label;
    const front = y === 'p99_ms' ? exp.pareto.throughput_p99.trials : [];
    const why = front.length
      ? `Pareto front: most throughput for the least ${name} among feasible trials; `
      : '';
    const [fig, box] = chartBox(`Throughput vs ${name}`, `${why}dashed: the limit`);
    grid.append(fig);
    const pt = (t) => [metric(t, 'throughput_rps'), metric(t, y), t.number];
    draws.push(() =>
      scatter(box, {
        onPick: pick(exp),
        note: violationNote(exp),
        xLabel: axisLabel('throughput_rps'),
        yLabel: axisLabel(y),
        xMetric: 'throughput_rps',
        yMetric: y,
        limits: latencyLimits(exp, y),
        groups: groups(exp, pt, front),
      }),
    );
  }
  if (hasCostChart(exp)) {
    const [fig, box] = chartBox(
      `${m} vs cost`,
      `Pareto front: best ${m} for the lowest cost per hour`,
    );
    grid.append(fig);
    const pt = (t) => [metric(t, 'cost_per_hour'), objectiveValue(exp, t), t.number];
    draws.push(() =>
      scatter(box, {
        onPick: pick(exp),
        note: violationNote(exp),
        xLabel: axisLabel('cost_per_hour'),
        yLabel: axisLabel(m),
        xMetric: 'cost_per_hour',
        yMetric: m,
        limits: latencyLimits(exp, m),
        groups: groups(exp, pt, exp.pareto.objective_cost.trials),
      }),
    );
  }
}

function heatChart(exp, grid, draws) {
  // Every parameter: a categorical one's levels are its choices.
  const params = exp.space.parameters;
  if (params.length < 2) return;
  const m = exp.objective.metric;
  const [fig, box] = chartBox('Two-parameter heat map', null);
  const choose = (label) =>
    h(
      'select',
      { 'aria-label': label },
      params.map((p, i) => h('option', { value: i }, p.name)),
    );
  const selX = choose('Heat map columns');
  const selY = choose('Heat map rows');
  selY.value = '1';
  const area = h('div');
  const { ok, bad } = splitTrials(exp);
  const draw = () => {
    const px = params[+selX.value];
    const py = params[+selY.value];
    const lx = heatLevels(px, exp.trials);
    const ly = heatLevels(py, exp.trials);
    const cellOf = (t) => {
      const [i, j] = [lx.index(t.params[px.name]), ly.index(t.params[py.name])];
      return i < 0 || j < 0 ? null : `${i}|${j}`;
    };
    // Each cell's best value and the trial that has it (named under the cursor, opened by a
    // click, as a point of the other charts is).
    const cells = new Map();
    const numbers = new Map();
    for (const t of ok) {
      const v = objectiveValue(exp, t);
      const k = cellOf(t);
      if (k === null) continue;
      if (!cells.has(k) || better(exp, v, cells.get(k))) {
        cells.set(k, v);
        numbers.set(k, t.number);
      }
    }
    // Cells whose trials are all infeasible: their best value, dimmed, and what they violate.
    const blocked = new Map();
    for (const t of bad) {
      const v = objectiveValue(exp, t);
      const k = cellOf(t);
      if (k === null || cells.has(k)) continue;
      const b = blocked.get(k) || { value: v, violated: [] };
      if (!blocked.has(k) || better(exp, v, b.value)) {
        b.value = v;
        numbers.set(k, t.number);
      }
      for (const c of feasibility(exp, t).violated) if (!b.violated.includes(c)) b.violated.push(c);
      blocked.set(k, b);
    }
    // The recommended trial's cell is ringed, as its point is in the other charts (it was not
    // marked: with a confirmation the recommended trial need not be a cell's best).
    const recoN = recommendedNumber(exp);
    const reco = exp.trials.find((t) => t.number === recoN);
    const recoKey = reco && Number.isFinite(objectiveValue(exp, reco)) ? cellOf(reco) : null;
    heatmap(area, {
      blocked,
      numbers,
      recommended: recoKey === null ? null : { key: recoKey, number: reco.number },
      onPick: pick(exp),
      xName: px.name,
      yName: py.name,
      xLevels: lx.labels,
      yLevels: ly.labels,
      cells,
      maximize: exp.objective.direction === 'maximize',
      metric: m,
      fmt: (v) => fmtMetric(m, v),
    });
  };
  selX.addEventListener('change', draw);
  selY.addEventListener('change', draw);
  box.append(
    h('div', { class: 'toolbar' }, h('label', {}, 'columns ', selX), h('label', {}, 'rows ', selY)),
    area,
  );
  grid.append(fig);
  draws.push(draw);
}

function perParameter(exp, holder, draws) {
  const m = exp.objective.metric;
  const [fig, box] = chartBox(
    `${m} vs each parameter`,
    'feasible trials in blue, infeasible dimmed',
    true,
  );
  const multiples = h('div', { class: 'small-multiples' });
  box.append(multiples);
  holder.append(fig);
  for (const p of exp.space.parameters) {
    const cell = h('div');
    multiples.append(cell);
    const cat = p.type === 'categorical';
    const x = (t) => (cat ? p.values.indexOf(t.params[p.name]) : t.params[p.name]);
    const pt = (t) => [x(t), objectiveValue(exp, t), t.number];
    draws.push(() =>
      scatter(cell, {
        onPick: pick(exp),
        note: violationNote(exp),
        title: p.name,
        xLabel: `${p.name}${p.log && !cat ? ' (log scale)' : ''}`,
        xCategories: cat ? p.values : undefined,
        yLabel: axisUnit(m),
        yMetric: m,
        limits: latencyLimits(exp, m),
        height: 220,
        xLog: !!p.log && !cat,
        groups: groups(exp, pt, []).filter((g) => !g.line),
      }),
    );
  }
}

// Draws every chart of exp into holder (after it is in the document, so widths are known).
export function drawCharts(exp, holder) {
  holder.replaceChildren();
  if (!exp.trials.length) {
    holder.append(h('div', { class: 'empty' }, 'Charts appear when the first trial finishes.'));
    return;
  }
  const grid = h('div', { class: 'charts' });
  holder.append(grid);
  const draws = [];
  bestChart(exp, grid, draws);
  tradeoffCharts(exp, grid, draws);
  heatChart(exp, grid, draws);
  const [pf, pb] = chartBox(
    'Parallel coordinates',
    'one line per trial across its parameters and the objective',
    true,
  );
  const [ifig, ib] = chartBox(
    'Parameter importance',
    'share of the objective’s variance over feasible trials that each parameter explains alone ' +
      '(η², one-way analysis of variance)',
  );
  grid.append(ifig);
  holder.append(pf);
  draws.push(
    () => parallelChart(exp, pb),
    () => importanceChart(exp, ib),
  );
  perParameter(exp, holder, draws);
  requestAnimationFrame(() => draws.forEach((d) => d()));
}
