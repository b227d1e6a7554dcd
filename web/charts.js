// SPDX-License-Identifier: Apache-2.0
// Charts for the dashboard: thin wrappers around uPlot (loaded as a global by index.html), a
// heat map drawn with plain elements (readable and accessible) and parallel coordinates in SVG.
// Every chart uses the same colours for feasible and infeasible trials, leaves out series with
// no points (no empty legend rows) and is registered so that relayout() can resize it without
// refetching anything.
import { WHOLE_TICKS, categoryTicks, fmtMetric, fmtNum, tickFormat } from './format.js';

const uPlot = window.uPlot;

export const FEASIBLE = '#2857c5';
export const INFEASIBLE = '#aab2c0';
export const RECOMMENDED = '#1f8a4c';
export const FRONT = '#e0802b';
export const LIMIT = '#c0392b';
export const COLORS = ['#2857c5', '#e0802b', '#1f8a4c', '#9b3fb5', '#c0392b', '#167f8f', '#7a6a12'];

// Charts on the page: element -> function that redraws it at the element's current width.
const drawn = new Map();

function widthOf(el) {
  return Math.max(220, Math.floor(el.getBoundingClientRect().width) - 8);
}

// Resizes every chart still on the page to its container (the window was resized).
export function relayout() {
  for (const [el, resize] of drawn) {
    if (el.isConnected) resize();
    else drawn.delete(el);
  }
}

// redraw(width) draws the chart in el again at a new width.
export function track(el, redraw) {
  drawn.set(el, () => redraw(widthOf(el)));
}

export { widthOf };

function register(el, u, height) {
  track(el, (width) => u.setSize({ width, height }));
}

// A chart with no point to draw says so: uPlot drew empty axes over ranges of its own making
// (0 to 1, $0 to $1) that read like the parameter's or the cost's.
function nothing(el, text) {
  drawn.delete(el);
  const p = document.createElement('p');
  p.className = 'muted empty';
  p.textContent = text || 'No trial has measured these values yet.';
  el.replaceChildren(p);
  return null;
}

// The two axes; x is {label, metric} plus uPlot axis options of its own (ticks, splits).
function axes(x, yLabel, yMetric) {
  const grid = { stroke: '#eceff4', width: 1 };
  const xf = tickFormat(x.metric);
  const yf = tickFormat(yMetric);
  return [
    {
      label: x.label,
      grid,
      stroke: '#5d6677',
      size: 40,
      labelSize: 20,
      values: (u, v) => v.map(xf),
      ...x.axis,
    },
    {
      label: yLabel,
      grid,
      stroke: '#5d6677',
      size: 64,
      labelSize: 20,
      values: (u, v) => v.map(yf),
    },
  ];
}

// Dashed horizontal lines with a label: limits = [{value, label}] on the y scale.
function limitHook(limits) {
  return (u) => {
    const { ctx } = u;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.strokeStyle = LIMIT;
    ctx.fillStyle = LIMIT;
    ctx.lineWidth = 1.5 * dpr;
    ctx.setLineDash([6 * dpr, 4 * dpr]);
    ctx.font = `${12 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    for (const l of limits) {
      const y = u.valToPos(l.value, 'y', true);
      if (!Number.isFinite(y) || y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
      ctx.fillText(l.label, u.bbox.left + 4 * dpr, y - 4 * dpr);
    }
    ctx.restore();
  };
}

// y range that keeps every limit line in view.
function rangeWith(limits) {
  return (u, min, max) => {
    let lo = min;
    let hi = max;
    for (const l of limits) {
      lo = Math.min(lo, l.value);
      hi = Math.max(hi, l.value);
    }
    const pad = (hi - lo) * 0.05 || Math.abs(hi) * 0.05 || 1;
    return [lo - pad, hi + pad];
  };
}

function pointSeries(g) {
  const size = g.size || (g.line ? 9 : 7);
  return {
    label: g.label,
    stroke: g.color,
    width: g.line ? 2 : 0,
    spanGaps: true,
    paths: g.line ? undefined : () => null,
    points: {
      show: true,
      size,
      fill: g.ring || g.line ? '#fff' : g.color,
      stroke: g.color,
      width: g.ring ? 3 : 2,
    },
    value: (u, v) => fmtNum(v),
  };
}

// x range of a scatter plot: a margin on both sides, so that no point lies on the scale's
// bounds. uPlot draws data indices i0..i1 found by a binary search for the bounds; with several
// rows at the largest x (points of several groups, or trials sharing a parameter value) it
// finds the first of them and leaves the others out (the recommended ring, the best value).
function paddedRange(log) {
  return (u, min, max) => {
    if (!Number.isFinite(min) || !Number.isFinite(max)) return log ? [1, 10] : [0, 1]; // no point
    if (log && min > 0) {
      const f = max > min ? (max / min) ** 0.05 : 1.1;
      return [min / f, max * f];
    }
    const pad = (max - min) * 0.05 || Math.abs(max) * 0.05 || 1;
    return [min - pad, max + pad];
  };
}

// A tooltip under the cursor for the point nearest to it (within 24 px): pick(u) -> {text,
// trial} or null. Clicking a point with a trial calls onPick(trial).
function pointer(pick, onPick) {
  const tip = document.createElement('div');
  tip.className = 'chart-tip';
  tip.hidden = true;
  let current = null;
  const setCursor = (u) => {
    current = u.cursor.left >= 0 ? pick(u) : null;
    tip.hidden = !current;
    if (!current) return;
    tip.textContent = current.text;
    tip.style.left = `${Math.min(u.cursor.left + 12, u.over.clientWidth - 180)}px`;
    tip.style.top = `${u.cursor.top + 12}px`;
  };
  const ready = (u) => {
    u.over.append(tip);
    u.over.addEventListener('click', () => {
      if (current && current.trial != null && onPick) onPick(current.trial);
    });
  };
  return { setCursor: [setCursor], ready: [ready] };
}

function nearestRow(u, rows) {
  let best = null;
  let dist = 24 * 24;
  for (const r of rows) {
    const dx = u.valToPos(r[0], 'x') - u.cursor.left;
    const dy = u.valToPos(r[2], 'y') - u.cursor.top;
    if (dx * dx + dy * dy < dist) {
      dist = dx * dx + dy * dy;
      best = r;
    }
  }
  return best;
}

// Scatter plot of groups of points. groups: [{label, color, points: [[x, y]], line, ring,
// size}]; a point may carry its trial number third ([x, y, trial]): hovering shows it, clicking
// calls opts.onPick(trial), and opts.note(trial) adds to its text (the constraints an infeasible
// trial violates). A group with line: true is a connected line through its points (a
// Pareto front), ring: hollow markers (the recommended trial). Groups without a finite point are
// left out; with none, opts.empty says so instead. limits: [{value, label}] dashed lines on y.
// xLog draws x on a log scale; xCategories names the values of an x that is a choice's index
// (ticks at the choices only).
export function scatter(el, opts) {
  const { title, xLabel, yLabel, xMetric, yMetric, height = 300, xLog = false } = opts;
  const cats = opts.xCategories;
  // The values under the cursor with their units, as the axes give them.
  const xText = (v) => (cats ? String(cats[v]) : xMetric ? fmtMetric(xMetric, v) : fmtNum(v));
  const yText = (v) => (yMetric ? fmtMetric(yMetric, v) : fmtNum(v));
  const limits = opts.limits || [];
  const groups = opts.groups
    .map((g) => ({
      ...g,
      points: g.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)),
    }))
    .filter((g) => g.points.length);
  if (!groups.length) return nothing(el, opts.empty);
  const rows = [];
  groups.forEach((g, gi) => g.points.forEach(([x, y, trial]) => rows.push([x, gi, y, trial])));
  rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const data = [rows.map((r) => r[0])];
  groups.forEach((g, gi) => data.push(rows.map((r) => (r[1] === gi ? r[2] : null))));
  const series = [{ label: xLabel, value: (u, v) => xText(v) }, ...groups.map(pointSeries)];
  const catAxis = cats && categoryTicks(cats);
  el.replaceChildren();
  const u = new uPlot(
    {
      title,
      width: widthOf(el),
      height,
      series,
      axes: axes({ label: xLabel, metric: xMetric, axis: catAxis }, yLabel, yMetric),
      scales: {
        x: cats
          ? { time: false, range: () => [-0.5, cats.length - 0.5] }
          : xLog
            ? { time: false, distr: 3, range: paddedRange(true) }
            : { time: false, range: paddedRange(false) },
        y: limits.length ? { range: rangeWith(limits) } : {},
      },
      hooks: {
        ...(limits.length ? { draw: [limitHook(limits)] } : {}),
        ...pointer((u) => {
          const r = nearestRow(u, rows);
          if (!r) return null;
          const who = r[3] != null ? `trial ${r[3]} (${groups[r[1]].label})` : groups[r[1]].label;
          const note = r[3] != null && opts.note ? opts.note(r[3]) : '';
          return { text: `${who}: ${xText(r[0])}, ${yText(r[2])}${note}`, trial: r[3] };
        }, opts.onPick),
      },
      cursor: { points: { size: 9 } },
      legend: { live: false },
    },
    data,
    el,
  );
  register(el, u, height);
  return u;
}

// Line chart over a shared x of trial numbers (ticks at whole numbers only). lines: [{label,
// color, values, dots, ring}]; lines without a value are left out (none: opts.empty says so
// instead). limits: [{value, label}]
// dashed lines on y. Hovering names the trial
// under the cursor and its values; with trials: true, clicking calls onPick(trial) and
// opts.note(trial) adds to the text.
export function lines(el, opts) {
  const { title, xLabel, yLabel, yMetric, xs, lines: ls, height = 300 } = opts;
  const limits = opts.limits || [];
  const shown = ls.filter((l) => l.values.some((v) => v != null && Number.isFinite(v)));
  if (!shown.length) return nothing(el, opts.empty);
  const series = [{ label: xLabel }];
  const data = [xs];
  for (const l of shown) {
    data.push(l.values);
    series.push({
      label: l.label,
      stroke: l.color,
      width: l.dots ? 0 : 2,
      spanGaps: !l.dots,
      paths: l.dots ? () => null : uPlot.paths.stepped({ align: 1 }),
      points: {
        show: !!l.dots,
        size: l.ring ? 12 : 6,
        fill: l.ring ? '#fff' : l.color,
        stroke: l.color,
        width: l.ring ? 3 : 1,
      },
      value: (u, v) => fmtNum(v),
    });
  }
  el.replaceChildren();
  const u = new uPlot(
    {
      title,
      width: widthOf(el),
      height,
      series,
      axes: axes({ label: xLabel, axis: { incrs: WHOLE_TICKS } }, yLabel, yMetric),
      scales: { x: { time: false }, y: limits.length ? { range: rangeWith(limits) } : {} },
      legend: { live: false },
      hooks: {
        ...(limits.length ? { draw: [limitHook(limits)] } : {}),
        ...pointer((u) => {
          const i = u.cursor.idx;
          if (i == null) return null;
          const vals = shown
            .filter((l) => l.values[i] != null && Number.isFinite(l.values[i]))
            .map(
              (l) =>
                `${l.label} ${yMetric ? fmtMetric(yMetric, l.values[i]) : fmtNum(l.values[i])}`,
            );
          const note = opts.trials && opts.note ? opts.note(xs[i]) : '';
          const at = `${xLabel} ${fmtNum(xs[i])}`;
          const text = `${at}${vals.length ? `: ${vals.join(', ')}` : ''}${note}`;
          return { text, trial: opts.trials ? xs[i] : null };
        }, opts.onPick),
      },
    },
    data,
    el,
  );
  register(el, u, height);
  return u;
}

// Colour from a value in [0, 1] (light blue -> dark blue); better values are darker.
function shade(t) {
  const a = [232, 238, 251];
  const b = [22, 52, 140];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * t));
  return { bg: `rgb(${c.join(',')})`, fg: t > 0.55 ? '#fff' : '#1d2330' };
}

function heatCell(grid, text, cls, role) {
  const d = document.createElement('div');
  d.className = cls;
  d.textContent = text;
  d.setAttribute('role', role);
  grid.appendChild(d);
  return d;
}

// Heat map of the best objective value per (x level, y level). xLevels, yLevels: their labels;
// cells: Map "i|j" (indices into xLevels and yLevels) -> value; blocked: Map "i|j" -> {value,
// violated: [constraint]} of the cells whose measured trials are all infeasible (dimmed, struck
// through, the constraints they violate named; they looked like cells nothing was tried in).
// numbers: Map "i|j" -> the number of the trial whose value the cell shows (named in its title;
// onPick(number) on a click or Enter). recommended: {key, number} of the recommended trial's
// cell, ringed, or null.
export function heatmap(
  el,
  {
    xName,
    yName,
    xLevels,
    yLevels,
    cells,
    blocked = new Map(),
    numbers = new Map(),
    recommended = null,
    onPick,
    maximize,
    metric,
    fmt,
  },
) {
  const show = fmt || fmtNum;
  // Nothing measured (every trial failed before it measured): a grid of grey cells under a
  // scale from '–' to '–' said no more than this.
  if (!cells.size && !blocked.size) return nothing(el, 'No trial with a measured objective yet.');
  const vals = [...cells.values()].filter(Number.isFinite);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const grid = document.createElement('div');
  grid.className = 'heat';
  grid.setAttribute('role', 'table');
  grid.setAttribute('aria-label', `Best ${metric} by ${yName} (rows) and ${xName} (columns)`);
  grid.style.gridTemplateColumns = `max-content repeat(${xLevels.length}, minmax(40px, 1fr))`;
  heatCell(grid, `${yName} \\ ${xName}`, 'axis', 'columnheader');
  xLevels.forEach((x) => heatCell(grid, String(x), 'axis', 'columnheader'));
  // A measured cell: the trial it shows named, opened by a click (or Enter), the recommended
  // trial's cell ringed.
  const measured = (d, k, title) => {
    const n = numbers.get(k);
    const reco = recommended && recommended.key === k;
    d.title = `${title}${n != null ? ` (trial ${n})` : ''}${
      reco ? `; recommended: trial ${recommended.number}` : ''
    }`;
    d.setAttribute('aria-label', d.title);
    if (reco) d.classList.add('recommended');
    if (n != null && onPick) {
      d.classList.add('pick');
      d.tabIndex = 0;
      d.addEventListener('click', () => onPick(n));
      d.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') onPick(n);
      });
    }
  };
  for (let j = yLevels.length - 1; j >= 0; j--) {
    const y = yLevels[j];
    heatCell(grid, String(y), 'axis', 'rowheader');
    for (const [i, x] of xLevels.entries()) {
      const k = `${i}|${j}`;
      const v = cells.get(k);
      const bad = blocked.get(k);
      if ((v == null || !Number.isFinite(v)) && bad) {
        const d = heatCell(grid, fmtNum(bad.value), 'cell infeasible', 'cell');
        measured(
          d,
          k,
          `${xName}=${x}, ${yName}=${y}: no feasible trial; infeasible ${show(bad.value)}, ` +
            `violates ${bad.violated.join(', ')}`,
        );
        continue;
      }
      if (v == null || !Number.isFinite(v)) {
        const d = heatCell(grid, '', 'cell none', 'cell');
        d.title = `${xName}=${x}, ${yName}=${y}: no feasible trial`;
        continue;
      }
      let t = hi > lo ? (v - lo) / (hi - lo) : 1;
      if (!maximize) t = 1 - t;
      const s = shade(t);
      const d = heatCell(grid, fmtNum(v), 'cell', 'cell');
      d.style.background = s.bg;
      d.style.color = s.fg;
      measured(d, k, `${xName}=${x}, ${yName}=${y}: best ${metric} ${show(v)}`);
    }
  }
  const legend = document.createElement('div');
  legend.className = 'legend-bar';
  const g = document.createElement('span');
  g.className = 'grad';
  g.style.background = `linear-gradient(90deg, ${shade(0).bg}, ${shade(1).bg})`;
  // Each end in an element of its own: as bare text in the flex row, "worse" shrank to a letter's
  // width and broke inside the word ("wors" above "e 758").
  const end = (text, cls) => {
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = text;
    return span;
  };
  legend.append(
    end(`worse ${maximize ? show(lo) : show(hi)}`, 'worse'),
    g,
    end(
      `better ${maximize ? show(hi) : show(lo)} (best ${metric} among feasible trials; grey: ` +
        `none; struck through: infeasible trials only` +
        `${recommended ? '; ringed: the recommended trial' : ''})`,
      'better',
    ),
  );
  el.replaceChildren(grid, legend);
}
