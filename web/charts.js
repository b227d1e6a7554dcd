// SPDX-License-Identifier: Apache-2.0
// Charts for the dashboard: thin wrappers around uPlot (loaded as a global by index.html) and a
// heat map drawn with plain elements so it stays readable and accessible.

const uPlot = window.uPlot;

export const COLORS = ['#2857c5', '#e0802b', '#1f8a4c', '#9b3fb5', '#c0392b', '#167f8f', '#7a6a12'];

// Width of a chart container, leaving room for padding.
function widthOf(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width) - 8);
}

function fmtNum(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || (a > 0 && a < 1e-3)) return v.toExponential(2);
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  return v.toPrecision(3);
}
export { fmtNum };

function axes(xLabel, yLabel) {
  const grid = { stroke: '#eceff4', width: 1 };
  return [
    { label: xLabel, grid, stroke: '#5d6677', size: 40, labelSize: 20 },
    { label: yLabel, grid, stroke: '#5d6677', size: 64, labelSize: 20,
      values: (u, vals) => vals.map(fmtNum) },
  ];
}

// Scatter plot of groups of points. groups: [{label, color, points: [[x, y]], line}]; a group
// with line: true is drawn as a connected step-free line through its points (e.g. a Pareto
// front), others as dots; xLog draws x on a log scale. Returns the uPlot instance.
export function scatter(el, { title, xLabel, yLabel, groups, height = 300, xLog = false }) {
  const rows = [];
  groups.forEach((g, gi) => g.points.forEach(([x, y]) => {
    if (Number.isFinite(x) && Number.isFinite(y)) rows.push([x, gi, y]);
  }));
  rows.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const data = [rows.map((r) => r[0])];
  groups.forEach((g, gi) => data.push(rows.map((r) => (r[1] === gi ? r[2] : null))));
  const series = [{ label: xLabel, value: (u, v) => fmtNum(v) }];
  groups.forEach((g) => {
    series.push({
      label: g.label,
      stroke: g.color,
      fill: undefined,
      width: g.line ? 2 : 0,
      spanGaps: true,
      paths: g.line ? undefined : () => null,
      points: { show: true, size: g.line ? 9 : 7, fill: g.line ? '#fff' : g.color, stroke: g.color, width: 2 },
      value: (u, v) => fmtNum(v),
    });
  });
  const opts = {
    title, width: widthOf(el), height, series, axes: axes(xLabel, yLabel),
    scales: { x: xLog ? { time: false, distr: 3 } : { time: false } },
    cursor: { points: { size: 9 } }, legend: { live: true },
  };
  el.textContent = '';
  return new uPlot(opts, data, el);
}

// Line chart over a shared x (trial number). lines: [{label, color, values, dots}].
export function lines(el, { title, xLabel, yLabel, xs, lines: ls, height = 300 }) {
  const series = [{ label: xLabel }];
  const data = [xs];
  ls.forEach((l) => {
    data.push(l.values);
    series.push({
      label: l.label, stroke: l.color, width: l.dots ? 0 : 2, spanGaps: !l.dots,
      paths: l.dots ? () => null : uPlot.paths.stepped({ align: 1 }),
      points: { show: !!l.dots, size: 6, fill: l.color, stroke: l.color },
      value: (u, v) => fmtNum(v),
    });
  });
  const opts = {
    title, width: widthOf(el), height, series, axes: axes(xLabel, yLabel),
    scales: { x: { time: false } }, legend: { live: true },
  };
  el.textContent = '';
  return new uPlot(opts, data, el);
}

// Colour from a value in [0, 1] (light blue -> dark blue); better values are darker.
function shade(t) {
  const a = [232, 238, 251];
  const b = [22, 52, 140];
  const c = a.map((v, i) => Math.round(v + (b[i] - v) * t));
  return { bg: `rgb(${c.join(',')})`, fg: t > 0.55 ? '#fff' : '#1d2330' };
}

// Heat map of the best objective value per (x level, y level). cells: Map "x|y" -> value.
export function heatmap(el, { xName, yName, xLevels, yLevels, cells, maximize, metric }) {
  el.textContent = '';
  const vals = [...cells.values()].filter(Number.isFinite);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const grid = document.createElement('div');
  grid.className = 'heat';
  grid.setAttribute('role', 'table');
  grid.setAttribute('aria-label', `Best ${metric} by ${yName} (rows) and ${xName} (columns)`);
  grid.style.gridTemplateColumns = `max-content repeat(${xLevels.length}, minmax(44px, 1fr))`;
  const add = (text, cls, style) => {
    const d = document.createElement('div');
    d.className = cls;
    d.textContent = text;
    d.setAttribute('role', cls === 'cell' ? 'cell' : 'columnheader');
    if (style) Object.assign(d.style, style);
    grid.appendChild(d);
    return d;
  };
  add(`${yName} \\ ${xName}`, 'axis');
  xLevels.forEach((x) => add(String(x), 'axis'));
  for (const y of [...yLevels].reverse()) {
    add(String(y), 'axis');
    for (const x of xLevels) {
      const v = cells.get(`${x}|${y}`);
      if (v == null || !Number.isFinite(v)) {
        const d = add('', 'cell', { background: '#f3f5f8' });
        d.title = `${xName}=${x}, ${yName}=${y}: no feasible trial`;
        continue;
      }
      let t = hi > lo ? (v - lo) / (hi - lo) : 1;
      if (!maximize) t = 1 - t;
      const s = shade(t);
      const d = add(fmtNum(v), 'cell', { background: s.bg, color: s.fg });
      d.title = `${xName}=${x}, ${yName}=${y}: best ${metric} ${v}`;
    }
  }
  el.appendChild(grid);
  const legend = document.createElement('div');
  legend.className = 'legend-bar';
  const g = document.createElement('span');
  g.className = 'grad';
  g.style.background = `linear-gradient(90deg, ${shade(0).bg}, ${shade(1).bg})`;
  legend.append(`worse ${maximize ? fmtNum(lo) : fmtNum(hi)}`, g,
    `better ${maximize ? fmtNum(hi) : fmtNum(lo)} (best ${metric} among feasible trials; grey: none)`);
  el.appendChild(legend);
}
