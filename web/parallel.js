// SPDX-License-Identifier: Apache-2.0
// Parallel coordinates in SVG: one vertical axis per parameter and one for the objective, one
// line per trial across them, coloured by feasibility, the recommended trial drawn last and
// thicker. Redrawn at the new width when the window is resized (charts.js relayout).
import { track, widthOf } from './charts.js';
import { h } from './dom.js';
import { fmtNum, shorten } from './format.js';

const NS = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text != null) el.textContent = text;
  return el;
}

// Axes stand at least GAP pixels apart (the chart scrolls sideways in its frame when they do not
// fit): 35 parameters in 1,400 pixels wrote their names over one another. A name wider than the
// gap is cut (the whole of it in a tooltip), and the names alternate between two lines.
const GAP = 96;
const CHAR_PX = 7.5;
// Categorical ticks are TICK_PX apart at least: every k-th choice of a long list is named.
const TICK_PX = 14;

// Maps an axis' values to [0, 1]: categorical by index, numeric linearly (or log10). room: the
// pixels of the axis' height, for the number of choices named.
function scaler(axis, trials, room) {
  if (axis.values) {
    const n = axis.values.length;
    const step = Math.ceil(n / Math.max(1, Math.floor(room / TICK_PX)));
    return {
      at: (v) => (n > 1 ? axis.values.indexOf(v) / (n - 1) : 0.5),
      ticks: axis.values.filter((_, i) => i % step === 0).map((v) => [v, String(v)]),
    };
  }
  const f = axis.log ? (v) => Math.log10(v) : (v) => v;
  const vs = trials.map(axis.get).filter((v) => Number.isFinite(v) && (!axis.log || v > 0));
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const fmt = axis.fmt || fmtNum;
  return {
    at: (v) => (hi > lo ? (f(v) - f(lo)) / (f(hi) - f(lo)) : 0.5),
    ticks: vs.length
      ? [
          [lo, fmt(lo)],
          [hi, fmt(hi)],
        ]
      : [],
  };
}

function drawAxis(g, axis, sc, x, top, bottom, anchor, name) {
  g.append(svg('line', { x1: x, x2: x, y1: top, y2: bottom, class: 'pc-axis' }));
  const label = svg('text', { x, y: name.y, class: 'pc-name', 'text-anchor': anchor });
  label.append(shorten(axis.label, name.chars), svg('title', {}, axis.label));
  g.append(label);
  for (const [v, whole] of sc.ticks) {
    const text = shorten(whole, name.tickChars);
    const y = bottom - sc.at(v) * (bottom - top);
    const end = anchor === 'end';
    const at = {
      x: end ? x - 4 : x + 4,
      y: y + 4,
      class: 'pc-tick',
      'text-anchor': end ? 'end' : 'start',
    };
    g.append(svg('text', at, text));
  }
}

function draw(el, opts, frame) {
  const { axes, trials, styleOf } = opts;
  const width = Math.max(frame, 48 + (axes.length - 1) * GAP);
  const gap = axes.length > 1 ? (width - 48) / (axes.length - 1) : width;
  const longest = Math.max(...axes.map((a) => String(a.label).length));
  const twoLines = longest * CHAR_PX > gap - 8;
  const top = twoLines ? 56 : 40;
  const height = 300 + top - 40;
  const left = 24;
  const right = Math.max(left + 10, width - 24);
  const bottom = height - 16;
  // The room of a name: up to the next name on its line (half as much at either end, where
  // the name runs inwards from its axis).
  const line = twoLines ? 2 * gap : gap;
  const nameAt = (i) => ({
    y: twoLines && i % 2 ? top - 30 : top - 14,
    chars: Math.max(4, Math.floor(((i % (axes.length - 1) ? line : line / 2) - 8) / CHAR_PX)),
    tickChars: Math.max(4, Math.floor((gap - 10) / 6.5)),
  });
  const root = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: 'img',
    'aria-label': opts.label,
  });
  const scales = axes.map((a) => scaler(a, trials, bottom - top));
  const xs = axes.map((a, i) =>
    axes.length > 1 ? left + (i * (right - left)) / (axes.length - 1) : left,
  );
  const order = [...trials].sort((a, b) => styleOf(a).z - styleOf(b).z);
  for (const t of order) {
    const st = styleOf(t);
    const pts = axes.map((a, i) => {
      const v = a.get(t);
      const ok = a.values ? a.values.includes(v) : Number.isFinite(v) && (!a.log || v > 0);
      return ok
        ? `${xs[i].toFixed(1)},${(bottom - scales[i].at(v) * (bottom - top)).toFixed(1)}`
        : null;
    });
    if (pts.some((p) => p == null)) continue;
    const line = svg('polyline', { points: pts.join(' '), class: `pc-line ${st.cls}` });
    line.append(svg('title', {}, opts.describe(t)));
    root.append(line);
  }
  const g = svg('g');
  const anchor = (i) => (i === 0 ? 'start' : i === axes.length - 1 ? 'end' : 'middle');
  axes.forEach((a, i) => drawAxis(g, a, scales[i], xs[i], top, bottom, anchor(i), nameAt(i)));
  root.append(g);
  return root;
}

// opts: {label, axes: [{label, get(trial), values? (categorical), log?, fmt?}], trials,
// styleOf(trial) -> {cls, z}, describe(trial) -> tooltip text, legend: [{cls, label}]}.
export function parallel(el, opts) {
  const canvas = h('div', { class: 'pc' });
  const legend = h(
    'div',
    { class: 'pc-legend' },
    opts.legend.map((l) => h('span', {}, h('i', { class: `swatch ${l.cls}` }), l.label)),
  );
  el.replaceChildren(canvas, legend);
  const redraw = (width) => canvas.replaceChildren(draw(el, opts, width));
  redraw(widthOf(el));
  track(el, redraw);
}
