// SPDX-License-Identifier: Apache-2.0
// What the pages compute from an experiment's report (GET /api/v1/experiments/{ref}): the
// objective, feasibility (the server's `feasible`/`violated` fields when present, else from
// the spec's constraints), best so far, the recommended trial, and parameter importance.
import { fmtNum } from './format.js';

export const metric = (t, name) => (t.metrics ? t.metrics[name] : undefined);

export const objectiveValue = (exp, t) => metric(t, exp.objective.metric);

export const better = (exp, a, b) => (exp.objective.direction === 'maximize' ? a > b : a < b);

// (counts is null when the server could not read the trials: the list page threw.)
export const finished = (c) => (c ? c.succeeded + c.failed + c.cancelled : 0);

// Whether the experiment may have a run in progress. One that is not (INTERRUPTED, or ended)
// has no trial running: those its run left RUNNING or PENDING run again when it continues.
export const live = (exp) => exp.state === 'RUNNING' || exp.state === 'CREATED';

// A trial's state as shown: INTERRUPTED for one in flight when its experiment's run stopped (it
// read RUNNING on an experiment nothing runs).
export const trialState = (exp, t) =>
  !live(exp) && (t.state === 'RUNNING' || t.state === 'PENDING') ? 'INTERRUPTED' : t.state;

// "p99_ms <= 150" -> {text, metric, op, value}; null when it does not read so. As the server
// reads it (docs/spec.md): the metric is any word before the operator, such as a replayed
// surface's column "lat-ms", blanks around the parts are dropped.
export function parseConstraint(text) {
  const m = /^[ \t]*([^\s<>]+)[ \t]*(<=|>=|<|>|==)[ \t]*([-+]?[\d.]+(?:[eE][-+]?\d+)?)[ \t]*$/.exec(
    String(text),
  );
  const value = m ? Number(m[3]) : NaN;
  // The text as written, blanks kept: the server names a violated constraint so (`violated`),
  // and the trial page finds the broken metric's row by it.
  return Number.isFinite(value) ? { text: String(text), metric: m[1], op: m[2], value } : null;
}

export function constraints(exp) {
  return (exp.constraints || []).map(parseConstraint).filter(Boolean);
}

function holds(c, v) {
  switch (c.op) {
    case '<=':
      return v <= c.value;
    case '<':
      return v < c.value;
    case '>=':
      return v >= c.value;
    case '>':
      return v > c.value;
    default:
      return v === c.value;
  }
}

// {feasible: true|false|null (not measured), violated: [constraint text...]}.
// Only a measured trial (SUCCEEDED, or FAILED for a constraint) is feasible or not; the server's
// `feasible`/`violated` fields win over what the page computes from the constraints.
export function feasibility(exp, t) {
  if (t.state !== 'SUCCEEDED' && t.failure !== 'SLO_VIOLATED') {
    return { feasible: null, violated: [] };
  }
  if (typeof t.feasible === 'boolean' && Array.isArray(t.violated)) {
    const feasible = t.feasible && !t.violated.length;
    return { feasible, violated: feasible || t.violated.length ? t.violated : ['a constraint'] };
  }
  const violated = constraints(exp)
    .filter((c) => {
      const v = metric(t, c.metric);
      return Number.isFinite(v) && !holds(c, v);
    })
    .map((c) => c.text);
  if (t.failure === 'SLO_VIOLATED' && !violated.length) violated.push('a constraint');
  return { feasible: violated.length === 0 && t.state === 'SUCCEEDED', violated };
}

// What a chart says of trial number n beside its values: " — violates p99_ms <= 150" for an
// infeasible one, '' otherwise (a function of n, its trials looked up once).
export function violationNote(exp) {
  const byNumber = new Map(exp.trials.map((t) => [t.number, t]));
  return (n) => {
    const t = byNumber.get(n);
    const f = t ? feasibility(exp, t) : null;
    return f && f.feasible === false ? ` — violates ${f.violated.join(', ')}` : '';
  };
}

// Trials that have an objective value, split into feasible and infeasible.
export function splitTrials(exp) {
  const ok = [];
  const bad = [];
  for (const t of exp.trials) {
    if (!Number.isFinite(objectiveValue(exp, t))) continue;
    const f = feasibility(exp, t).feasible;
    if (f) ok.push(t);
    else if (f === false) bad.push(t);
  }
  return { ok, bad };
}

// The recommended trial's number (the server's `recommended` flag, else the report's best).
export function recommendedNumber(exp) {
  const flagged = exp.trials.find((t) => t.recommended === true);
  if (flagged) return flagged.number;
  return exp.best ? exp.best.number : null;
}

// Whether the experiment has an objective-vs-cost chart: a trial priced, and an objective other
// than the price itself (cost_per_hour against cost_per_hour was a diagonal line).
export function hasCostChart(exp) {
  return (
    exp.objective.metric !== 'cost_per_hour' &&
    exp.trials.some((t) => Number.isFinite(metric(t, 'cost_per_hour')))
  );
}

// Best feasible objective after each trial (null before the first).
export function bestSoFar(exp) {
  let best = null;
  return exp.trials.map((t) => {
    const v = objectiveValue(exp, t);
    if (
      Number.isFinite(v) &&
      feasibility(exp, t).feasible &&
      (best == null || better(exp, v, best))
    )
      best = v;
    return best;
  });
}

// The values a parameter took, in order (its declared values for discrete and categorical).
export function levelsOf(p, trials) {
  if (p.values) return p.values;
  return [...new Set(trials.map((t) => t.params[p.name]))].sort((a, b) => a - b);
}

// The rows or columns of the heat map for parameter p: {labels: [text], index(value) -> i or
// -1}. Each of its values, or for a numeric parameter with more than `max` (a continuous one,
// where every trial has a value of its own: a grid of N x N cells for N trials), `max` bins of
// equal width over the values the trials took, in log10 for a log parameter.
export function heatLevels(p, trials, max = 12) {
  const levels = levelsOf(p, trials);
  const f = p.log ? Math.log10 : (v) => v;
  const xs = levels.map(f).filter(Number.isFinite);
  if (p.type === 'categorical' || levels.length <= max || xs.length < 2) {
    return { labels: levels.map(String), index: (v) => levels.indexOf(v) };
  }
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  const width = (hi - lo) / max;
  const edge = (k) => (p.log ? 10 ** (lo + k * width) : lo + k * width);
  const labels = Array.from({ length: max }, (_, k) => `${fmtNum(edge(k))}–${fmtNum(edge(k + 1))}`);
  const index = (v) => {
    const x = f(v);
    if (!Number.isFinite(x) || x < lo || x > hi) return -1;
    return Math.min(max - 1, Math.floor((x - lo) / width));
  };
  return { labels, index };
}

// Groups of a parameter for the analysis of variance: its values, or for a numeric parameter
// with many distinct values, up to 5 bins of about equal counts.
function groupKey(p, trials) {
  const distinct = [...new Set(trials.map((t) => t.params[p.name]))];
  if (p.type === 'categorical' || distinct.length <= 6) return (t) => String(t.params[p.name]);
  const sorted = trials.map((t) => t.params[p.name]).sort((a, b) => a - b);
  const cuts = [1, 2, 3, 4].map((k) => sorted[Math.floor((k * sorted.length) / 5)]);
  return (t) => String(cuts.filter((c) => t.params[p.name] >= c).length);
}

// Parameter importance: for each parameter, the share of the objective's variance over the
// feasible trials that its groups explain alone (eta squared of a one-way analysis of variance:
// between-group sum of squares / total sum of squares). [{name, eta2, groups}] sorted by eta2,
// or [] with fewer than 3 feasible trials or no variance.
export function importance(exp) {
  const trials = splitTrials(exp).ok;
  if (trials.length < 3) return [];
  // Scaled into [-1, 1] first: eta squared does not change, and squares of values near 1e300
  // would overflow (every share came out NaN).
  const raw = trials.map((t) => objectiveValue(exp, t));
  const scale = raw.reduce((m, y) => Math.max(m, Math.abs(y)), 0) || 1;
  const ys = raw.map((y) => y / scale);
  const mean = ys.reduce((s, y) => s + y, 0) / ys.length;
  const total = ys.reduce((s, y) => s + (y - mean) ** 2, 0);
  if (!(total > 0)) return [];
  return exp.space.parameters
    .map((p) => {
      const key = groupKey(p, trials);
      const groups = new Map();
      trials.forEach((t, i) => {
        const g = groups.get(key(t)) || [];
        g.push(ys[i]);
        groups.set(key(t), g);
      });
      let between = 0;
      for (const g of groups.values()) {
        const m = g.reduce((s, y) => s + y, 0) / g.length;
        between += g.length * (m - mean) ** 2;
      }
      return { name: p.name, eta2: between / total, groups: groups.size };
    })
    .sort((a, b) => b.eta2 - a.eta2);
}
