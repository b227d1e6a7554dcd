// SPDX-License-Identifier: Apache-2.0
// Unit tests of the dashboard's computations, which need no browser (node --test): numbers and
// units (web/format.js), feasibility, best so far and parameter importance (web/model.js).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  WHOLE_TICKS,
  axisLabel,
  axisUnit,
  categoryTicks,
  escapeBidi,
  fmtLimit,
  fmtMetric,
  fmtMoney,
  fmtNum,
  isolate,
  isolateAll,
  tickFormat,
} from '../../web/format.js';
import {
  bestSoFar,
  constraints,
  feasibility,
  finished,
  hasCostChart,
  heatLevels,
  importance,
  parseConstraint,
  splitTrials,
  trialState,
  violationNote,
} from '../../web/model.js';

const trial = (number, params, metrics, extra = {}) => ({
  number,
  state: 'SUCCEEDED',
  failure: null,
  params,
  metrics,
  ...extra,
});

function experiment(trials) {
  return {
    objective: { metric: 'rps', direction: 'maximize' },
    constraints: ['p99_ms <= 100'],
    space: {
      parameters: [
        { name: 'a', type: 'discrete', values: [1, 2, 3] },
        { name: 'b', type: 'categorical', values: ['x', 'y'] },
      ],
    },
    trials,
  };
}

test('objective vs cost: for priced trials of an objective other than the price', () => {
  const priced = experiment([trial(1, { a: 1, b: 'x' }, { rps: 5, cost_per_hour: 0.3 })]);
  assert.equal(hasCostChart(priced), true);
  assert.equal(hasCostChart(experiment([trial(1, { a: 1, b: 'x' }, { rps: 5 })])), false);
  // Minimising the price itself: cost_per_hour against cost_per_hour was a diagonal line.
  priced.objective = { metric: 'cost_per_hour', direction: 'minimize' };
  assert.equal(hasCostChart(priced), false);
});

test('numbers are never in exponent notation', () => {
  assert.equal(fmtNum(0.000542), '0.000542');
  assert.equal(fmtNum(1234.5), '1,235');
  assert.equal(fmtNum(12345678), '12.3M');
  assert.equal(fmtNum(3.14159), '3.14');
  assert.equal(fmtNum(null), '–');
  assert.equal(fmtNum(NaN), '–');
  for (const v of [5.42e-4, 1e-7, 3e9, -2.5e-5]) assert.doesNotMatch(fmtNum(v), /e/i);
  // Beyond the compact suffixes and below a billionth: a power of ten, not 400 digits.
  assert.equal(fmtNum(1e300), '1 × 10³⁰⁰');
  assert.equal(fmtNum(-1.5e18), '-1.5 × 10¹⁸');
  assert.equal(fmtNum(2.5e-12), '2.5 × 10⁻¹²');
  assert.equal(fmtNum(999e12), '999T');
  assert.equal(fmtMoney(1e300), '$1 × 10³⁰⁰');
  assert.equal(fmtMoney(-3e-10), '-$3 × 10⁻¹⁰');
  for (const v of [1e300, -1e200, 1e-300, Number.MAX_VALUE]) {
    assert.ok(fmtNum(v).length < 16 && fmtMoney(v).length < 16, `${v}: ${fmtNum(v)}`);
  }
});

test('axis ticks: units as the metric has them, unlabelled ticks empty', () => {
  assert.equal(tickFormat('error_rate')(0.25), '25');
  assert.equal(tickFormat('cost_per_hour')(0.5), '$0.5');
  assert.equal(tickFormat(null)(1500), '1,500');
  // uPlot passes null for the log scale's minor ticks it does not label (batch: 2, 3, ... 9).
  for (const name of [null, 'p99_ms', 'error_rate', 'cost_per_hour']) {
    assert.equal(tickFormat(name)(null), '');
  }
});

test('axis ticks: a choice axis names the choices, trial numbers are whole', () => {
  const t = categoryTicks(['fast', 'slow', 'auto']);
  assert.deepEqual(t.splits(), [0, 1, 2]);
  assert.deepEqual(t.values(null, [0, 1, 2]), ['fast', 'slow', 'auto']);
  // 1,000 choices in 300 pixels: as many names as fit (all 1,000 were drawn over one another),
  // each cut to 24 characters.
  const many = Array.from({ length: 1000 }, (_, i) => `choice-${i}`);
  const ticks = categoryTicks(many).splits({ bbox: { width: 300 } });
  assert.ok(ticks.length >= 2 && ticks.length <= 4, `${ticks.length} ticks`);
  assert.deepEqual(ticks.slice(0, 2), [0, 334]);
  const long = categoryTicks(['x'.repeat(100)]);
  assert.equal(long.values(null, [0])[0], `${'x'.repeat(23)}…`);
  assert.ok(WHOLE_TICKS.every((s) => Number.isInteger(s) && s >= 1));
  assert.equal(axisUnit('cost_per_million_requests'), '$/M req');
  assert.equal(axisUnit('error_rate'), '%');
  assert.equal(axisUnit('requests'), '');
  assert.equal(axisLabel('p99_ms'), 'p99 latency (ms)');
  assert.equal(axisLabel('cost_per_hour'), 'Cost per hour ($/h)');
  assert.equal(axisLabel('foo'), 'foo');
});

test('metrics carry their units, money is currency', () => {
  assert.equal(fmtMetric('p99_ms', 23.456), '23.5 ms');
  assert.equal(fmtMetric('throughput_rps', 1166.2), '1,166 req/s');
  assert.equal(fmtMetric('cost_per_hour', 0.145), '$0.145/h');
  assert.equal(fmtMetric('cost_per_million_requests', 0.0000542), '$0.0000542/M req');
  assert.equal(fmtMetric('error_rate', 0.012), '1.2 %');
  assert.equal(fmtMetric('peak_memory_bytes', 14155776), '13.5 MiB');
  assert.equal(fmtMetric('stable', 0), 'no');
  // A limit recorded as text (a cpuset, a GPU type) read '–'.
  assert.equal(fmtLimit('cpuset', '0-1'), '0-1');
  assert.equal(fmtLimit('gpu_type', 't4'), 't4');
  assert.equal(fmtLimit('cpu', 1.5), '1.5');
  assert.equal(fmtLimit('cpu', undefined), '–');
  assert.equal(fmtMoney(12), '$12');
});

// The server names a violated constraint by the spec's text as written, blanks a quoted string
// kept around it ("p99_ms <= 150 "); the page matched it against its own trimmed text, so the
// trial page did not mark the broken metric's row.
test('a constraint keeps its text as the server names it', () => {
  const c = parseConstraint('p99_ms <= 150 ');
  assert.equal(c.text, 'p99_ms <= 150 ');
  assert.equal(c.value, 150);
  const exp = { ...experiment([]), constraints: ['p99_ms <= 150 '] };
  const slow = trial(
    1,
    { a: 1, b: 'x' },
    { rps: 20, p99_ms: 190 },
    { state: 'FAILED', failure: 'SLO_VIOLATED' },
  );
  const served = { ...slow, feasible: false, violated: ['p99_ms <= 150 '] };
  for (const t of [slow, served]) {
    assert.deepEqual(feasibility(exp, t).violated, [constraints(exp)[0].text]);
  }
});

// A constraint reads as the server reads it: METRIC is any word before the operator (a replayed
// surface's column "lat-ms", "2xx_rate"); such a constraint was dropped, so the trial page did not
// name it beside its metric and no chart drew its limit.
test('a constraint on any metric name the spec takes', () => {
  assert.deepEqual(parseConstraint('lat-ms <= 8'), {
    text: 'lat-ms <= 8',
    metric: 'lat-ms',
    op: '<=',
    value: 8,
  });
  assert.equal(parseConstraint('\t2xx_rate>=+0.5 ').metric, '2xx_rate');
  assert.equal(parseConstraint('2xx_rate>=+0.5').value, 0.5);
  assert.equal(parseConstraint('p99 ms <= 8'), null);
  assert.equal(parseConstraint('p99_ms <= 1e'), null);
  const exp = { ...experiment([]), constraints: ['lat-ms <= 8'] };
  const slow = trial(1, { a: 1, b: 'x' }, { rps: 20, 'lat-ms': 9 }, { failure: 'SLO_VIOLATED' });
  assert.deepEqual(feasibility(exp, { ...slow, state: 'FAILED' }).violated, ['lat-ms <= 8']);
});

test('constraints parse and decide feasibility when the server does not', () => {
  assert.deepEqual(parseConstraint('p99_ms <= 150'), {
    text: 'p99_ms <= 150',
    metric: 'p99_ms',
    op: '<=',
    value: 150,
  });
  assert.equal(parseConstraint('not a constraint'), null);
  const exp = experiment([]);
  const ok = trial(1, { a: 1, b: 'x' }, { rps: 10, p99_ms: 50 });
  const slow = trial(
    2,
    { a: 1, b: 'x' },
    { rps: 20, p99_ms: 150 },
    { state: 'FAILED', failure: 'SLO_VIOLATED' },
  );
  const oom = trial(3, { a: 1, b: 'x' }, {}, { state: 'FAILED', failure: 'OOM_KILLED' });
  assert.deepEqual(feasibility(exp, ok), { feasible: true, violated: [] });
  assert.deepEqual(feasibility(exp, slow), { feasible: false, violated: ['p99_ms <= 100'] });
  assert.deepEqual(feasibility(exp, oom), { feasible: null, violated: [] });
});

test("the server's feasible and violated fields win", () => {
  const exp = experiment([]);
  const t = trial(
    1,
    { a: 1, b: 'x' },
    { rps: 10, p99_ms: 50 },
    { feasible: false, violated: ['p99_ms <= 100'] },
  );
  assert.deepEqual(feasibility(exp, t), { feasible: false, violated: ['p99_ms <= 100'] });
  const running = trial(
    2,
    { a: 1, b: 'x' },
    {},
    { state: 'RUNNING', feasible: false, violated: [] },
  );
  assert.equal(feasibility(exp, running).feasible, null);
});

test('charts name what an infeasible trial violates', () => {
  const exp = experiment([
    trial(
      1,
      { a: 1, b: 'x' },
      { rps: 10, p99_ms: 150 },
      { state: 'FAILED', failure: 'SLO_VIOLATED' },
    ),
    trial(2, { a: 2, b: 'x' }, { rps: 20, p99_ms: 50 }),
    trial(3, { a: 3, b: 'y' }, {}, { state: 'RUNNING' }),
  ]);
  const note = violationNote(exp);
  assert.equal(note(1), ' — violates p99_ms <= 100');
  assert.equal(note(2), '');
  assert.equal(note(3), '');
  assert.equal(note(99), '');
});

test('best so far counts feasible trials only', () => {
  const exp = experiment([
    trial(1, { a: 1, b: 'x' }, { rps: 10, p99_ms: 50 }),
    trial(
      2,
      { a: 2, b: 'x' },
      { rps: 99, p99_ms: 500 },
      { state: 'FAILED', failure: 'SLO_VIOLATED' },
    ),
    trial(3, { a: 3, b: 'y' }, { rps: 30, p99_ms: 60 }),
  ]);
  assert.deepEqual(bestSoFar(exp), [10, 10, 30]);
  const { ok, bad } = splitTrials(exp);
  assert.deepEqual([ok.map((t) => t.number), bad.map((t) => t.number)], [[1, 3], [2]]);
});

test('importance: the variance each parameter explains alone', () => {
  // rps depends on a only; b alternates independently of it.
  const trials = [];
  let n = 1;
  for (const a of [1, 2, 3]) {
    for (const b of ['x', 'y']) trials.push(trial(n++, { a, b }, { rps: 100 * a, p99_ms: 10 }));
  }
  const rows = importance(experiment(trials));
  assert.deepEqual(
    rows.map((r) => r.name),
    ['a', 'b'],
  );
  assert.ok(Math.abs(rows[0].eta2 - 1) < 1e-12, `a explains ${rows[0].eta2}`);
  assert.ok(Math.abs(rows[1].eta2) < 1e-12, `b explains ${rows[1].eta2}`);
  // Half and half: rps = 100 a + 50 (b == y): between-group sums of squares over the total.
  const mixed = trials.map((t) => ({
    ...t,
    metrics: { ...t.metrics, rps: 100 * t.params.a + (t.params.b === 'y' ? 300 : 0) },
  }));
  const [ra, rb] = [...importance(experiment(mixed))].sort((x, y) => x.name.localeCompare(y.name));
  // a: group means 250, 350, 450 around 350 -> 2 * (100^2 + 100^2) * ... / total.
  const ys = mixed.map((t) => t.metrics.rps);
  const mean = ys.reduce((s, y) => s + y, 0) / ys.length;
  const total = ys.reduce((s, y) => s + (y - mean) ** 2, 0);
  assert.ok(Math.abs(ra.eta2 - (2 * (100 ** 2 + 0 + 100 ** 2)) / total) < 1e-12);
  assert.ok(Math.abs(rb.eta2 - (3 * (150 ** 2 + 150 ** 2)) / total) < 1e-12);
  assert.deepEqual(importance(experiment(trials.slice(0, 2))), []);
  // Values near the largest double: the same shares (their squares overflowed: NaN for all).
  const huge = trials.map((t) => ({ ...t, metrics: { ...t.metrics, rps: 1e306 * t.params.a } }));
  const hr = importance(experiment(huge));
  assert.ok(Math.abs(hr[0].eta2 - 1) < 1e-12 && Math.abs(hr[1].eta2) < 1e-12, JSON.stringify(hr));
});

test('heat map levels: the values of a few, bins for a continuous parameter', () => {
  const few = { name: 'a', type: 'discrete', values: [1, 2, 4] };
  const lv = heatLevels(few, []);
  assert.deepEqual(lv.labels, ['1', '2', '4']);
  assert.deepEqual([lv.index(4), lv.index(3)], [2, -1]);
  // Every trial its own value: 1,000 of them made a grid of 1,000 x 1,000 cells.
  const x = { name: 'x', type: 'float', min: 0, max: 1 };
  const trials = Array.from({ length: 1000 }, (_, i) => trial(i + 1, { x: i / 999 }, {}));
  const bins = heatLevels(x, trials);
  assert.equal(bins.labels.length, 12);
  assert.equal(bins.labels[0], '0–0.0833');
  assert.equal(bins.labels[11], '0.917–1');
  const hits = new Array(12).fill(0);
  for (const t of trials) hits[bins.index(t.params.x)]++;
  assert.ok(
    hits.every((n) => n >= 83 && n <= 84),
    `equal widths: ${hits.join(' ')}`,
  );
  assert.equal(bins.index(1.5), -1);
  // A log parameter: bins of equal width in log10 (1-10, 10-100, 100-1000 in 12 bins: 4 each).
  const y = { name: 'y', type: 'float', min: 1, max: 1000, log: true };
  const ly = heatLevels(
    y,
    Array.from({ length: 300 }, (_, i) => trial(i + 1, { y: 10 ** ((3 * i) / 299) }, {})),
  );
  assert.equal(ly.labels.length, 12);
  assert.deepEqual([ly.index(1), ly.index(9.9), ly.index(10.1), ly.index(1000)], [0, 3, 4, 11]);
});

// A trial left RUNNING or PENDING by a run that stopped is shown INTERRUPTED (the dashboard said
// RUNNING, and "Running 1", of an experiment nothing runs); while a run may go on, as stored.
test('trial state: in flight when the run stopped is interrupted', () => {
  const running = trial(1, {}, {}, { state: 'RUNNING' });
  const pending = trial(2, {}, {}, { state: 'PENDING' });
  const done = trial(3, {}, {});
  const shown = (state) => [running, pending, done].map((t) => trialState({ state }, t));
  assert.deepEqual(shown('RUNNING'), ['RUNNING', 'PENDING', 'SUCCEEDED']);
  assert.deepEqual(shown('CREATED'), ['RUNNING', 'PENDING', 'SUCCEEDED']);
  assert.deepEqual(shown('INTERRUPTED'), ['INTERRUPTED', 'INTERRUPTED', 'SUCCEEDED']);
  assert.deepEqual(shown('FAILED'), ['INTERRUPTED', 'INTERRUPTED', 'SUCCEEDED']);
});

// Counts the server could not read (null) are no trials finished: the list page threw.
test('finished trials: of counts, and of none', () => {
  assert.equal(finished({ succeeded: 2, failed: 1, cancelled: 1, running: 3 }), 4);
  assert.equal(finished(null), 0);
});

// Values holding bidi controls stay one unit among the text around them (a right-to-left
// override in a choice reordered the label it was in); others are left as they are.
test('isolate: bidi controls are isolated, balanced', () => {
  const [fsi, pdi, rlo] = ['\u2068', '\u2069', '\u202e'];
  assert.equal(isolate('plain'), 'plain');
  assert.equal(isolate(`a${rlo}b`), `${fsi}a${rlo}b${pdi}`);
  // An isolate's end without its start would close the wrapping one: one more isolate before.
  assert.equal(isolate(`x${pdi}${rlo}y`), `${fsi}${fsi}x${pdi}${rlo}y${pdi}${pdi}`);
  // An isolate left open would swallow the wrapping end: one more end after.
  assert.equal(isolate(`\u2066abc`), `${fsi}\u2066abc${pdi}${pdi}`);
  assert.equal(isolate(7), 7);
  assert.deepEqual(isolateAll({ [`k${rlo}`]: [`v${rlo}`, 1, null], n: 'n' }), {
    [`${fsi}k${rlo}${pdi}`]: [`${fsi}v${rlo}${pdi}`, 1, null],
    n: 'n',
  });
  assert.equal(escapeBidi(`{"a": "x${rlo}y"}`), '{"a": "x\\u202ey"}');
  assert.deepEqual(JSON.parse(escapeBidi(JSON.stringify({ a: `x${rlo}y` }))), { a: `x${rlo}y` });
});
