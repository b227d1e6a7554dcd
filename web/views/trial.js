// SPDX-License-Identifier: Apache-2.0
// One trial on its own page: state and feasibility (the violated constraints named), its
// parameters, every metric with its unit (constrained ones against their limits), the
// resources it used and the limits the runner enforced, the command line, how well the
// measurement settled, and its logs. Redrawn as events arrive.
import { api } from '../api.js';
import { badge, dataTable, h, kvList, panel } from '../dom.js';
import { fmtLimit, fmtMetric, fmtParam, metricInfo } from '../format.js';
import { constraints, feasibility, metric, recommendedNumber, trialState } from '../model.js';
import { main, stale } from '../page.js';
import { follow } from './experiment.js';

// A word of a command line, quoted for a POSIX shell when it needs it.
function shellWord(w) {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${String(w).replaceAll("'", "'\\''")}'`;
}

// The metrics worth a row: the same latency in microseconds (latency_p99_us beside p99_ms) and
// upper bounds (p99_ms_upper, shown in the row of p99_ms) are left out. Order: the objective,
// the constrained metrics, then the rest by name.
function shownMetrics(exp, t) {
  const all = Object.keys(t.metrics || {});
  const has = new Set(all);
  const twin = (n) => {
    const m = /^latency_(\w+?)_us(_upper)?$/.exec(n);
    return m && has.has(`${m[1]}_ms${m[2] || ''}`);
  };
  const limited = new Set(constraints(exp).map((c) => c.metric));
  const rank = (n) => (n === exp.objective.metric ? 0 : limited.has(n) ? 1 : 2);
  return all
    .filter((n) => !twin(n) && !(n.endsWith('_upper') && has.has(n.slice(0, -6))))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function metricsTable(exp, t) {
  const limits = constraints(exp);
  const f = feasibility(exp, t);
  const rows = shownMetrics(exp, t).map((name) => {
    const own = limits.filter((c) => c.metric === name);
    const broken = own.filter((c) => f.violated.includes(c.text));
    const upper = metric(t, `${name}_upper`);
    return h(
      'tr',
      { class: broken.length ? 'infeasible-row' : null },
      h('th', { scope: 'row' }, metricInfo(name).label, h('div', { class: 'muted small' }, name)),
      h(
        'td',
        { class: 'num' },
        fmtMetric(name, metric(t, name)),
        Number.isFinite(upper)
          ? h('div', { class: 'muted small' }, `upper bound ${fmtMetric(name, upper)}`)
          : null,
      ),
      h(
        'td',
        {},
        own.map((c) => c.text).join(', '),
        broken.length ? h('strong', {}, ' violated') : '',
      ),
    );
  });
  if (!rows.length) return h('p', { class: 'muted' }, 'No metric was recorded.');
  return dataTable(
    [
      h('th', { scope: 'col' }, 'Metric'),
      h('th', { class: 'num', scope: 'col' }, 'Value'),
      h('th', { scope: 'col' }, 'Limit'),
    ],
    rows,
    { table: { id: 'trial-metrics' } },
  );
}

function limitsTable(meta) {
  const limits = meta && meta.limits;
  if (!limits || typeof limits !== 'object' || !Object.keys(limits).length) {
    return h('p', { class: 'muted' }, 'The runner recorded no limits for this trial.');
  }
  const rows = Object.entries(limits).map(([k, v]) =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, k),
      h('td', { class: 'num' }, fmtLimit(k, v && v.requested)),
      h('td', {}, v && v.enforced ? 'enforced' : h('strong', {}, 'not enforced')),
      h('td', { class: 'muted' }, (v && v.how) || ''),
    ),
  );
  return dataTable(
    ['Limit', 'Requested', 'Enforced', 'How'].map((c) => h('th', { scope: 'col' }, c)),
    rows,
    { table: { id: 'trial-limits' } },
  );
}

function stability(t) {
  const stable = metric(t, 'stable');
  const unc = metric(t, 'throughput_rps_uncertainty');
  const rps = metric(t, 'throughput_rps');
  const settled = t.settled === false ? 'no' : t.settled === true ? 'yes' : null;
  const share = rps > 0 ? ` (${((100 * unc) / rps).toFixed(1)} %)` : '';
  return kvList([
    ['Settled', settled ?? (Number.isFinite(stable) ? (stable ? 'yes' : 'no') : null)],
    [
      'Throughput uncertainty',
      Number.isFinite(unc) ? `± ${fmtMetric('throughput_rps', unc)}${share}` : null,
    ],
    [
      'Stopped early (pruned)',
      Number.isFinite(metric(t, 'pruned')) ? (metric(t, 'pruned') ? 'yes' : 'no') : null,
    ],
    [
      'Late requests',
      Number.isFinite(metric(t, 'late_fraction'))
        ? fmtMetric('late_fraction', metric(t, 'late_fraction'))
        : null,
    ],
    ['Attempt', t.attempt],
    ['Started', t.started_at],
    ['Finished', t.finished_at],
    ['Duration', fmtMetric('duration_s', t.duration_s)],
  ]);
}

// The trial's confirmation, when it was a candidate (docs/api.md, "Trials and confirmation"):
// the objective over its measurements, their spread, how many passed; null otherwise.
function confirmationPanel(exp, t) {
  const conf = exp.confirmation;
  const c =
    conf && Array.isArray(conf.candidates)
      ? conf.candidates.find((x) => x.number === t.number)
      : null;
  if (!c) return null;
  const m = exp.objective.metric;
  const f = (v) => fmtMetric(m, v);
  const values = Array.isArray(c.values) ? c.values.map(f).join(', ') : null;
  const rows = [
    ['Confirmed', c.confirmed ? 'yes' : `no (confirmation ${conf.state})`],
    [
      `${metricInfo(m).label} (mean)`,
      `${f(c.mean)}${Number.isFinite(c.stddev) ? ` ± ${f(c.stddev)} (sd)` : ''}`,
    ],
    [
      'Range',
      Number.isFinite(c.min) && Number.isFinite(c.max) ? `${f(c.min)} – ${f(c.max)}` : null,
    ],
    [
      '95 % interval',
      Number.isFinite(c.interval) ? `± ${(100 * c.interval).toFixed(1)} % of the mean` : null,
    ],
    ['In the search', f(c.search_value)],
    ['Measurements', `${c.passes} of ${c.runs} passed, ${c.settled_runs ?? '–'} settled`],
    ['Values', values],
  ];
  const sec = panel('conf-h', 'Confirmation', kvList(rows));
  sec.id = 'trial-confirmation';
  return sec;
}

function logsPanel(exp, n) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  api(`/experiments/${exp.id}/trials/${n}/logs`)
    .then((l) =>
      body.replaceChildren(
        h('h3', {}, 'stdout'),
        h('pre', { class: 'log', id: 'log-stdout' }, l.stdout || '(empty)'),
        h('h3', {}, 'stderr'),
        h('pre', { class: 'log', id: 'log-stderr' }, l.stderr || '(empty)'),
      ),
    )
    .catch((e) => body.replaceChildren(h('p', { class: 'msg error' }, e.message)));
  return panel('logs-h', 'Logs', body);
}

function head(exp, t) {
  const f = feasibility(exp, t);
  const n = t.number;
  const nav = (k, label) =>
    exp.trials.some((x) => x.number === k)
      ? h('a', { class: 'btn', href: `#/exp/${exp.id}/trial/${k}` }, label)
      : null;
  const notes = [];
  if (recommendedNumber(exp) === n)
    notes.push(
      h(
        'p',
        { class: 'msg ok', id: 'trial-recommended' },
        'This is the recommended configuration.',
      ),
    );
  if (f.feasible === false) {
    notes.push(
      h(
        'p',
        { class: 'msg error', id: 'trial-violated' },
        `Infeasible: violates ${f.violated.join(', ')}.`,
      ),
    );
  }
  if (t.failure && t.failure !== 'SLO_VIOLATED') {
    notes.push(
      h('p', { class: 'msg error' }, h('strong', {}, t.failure), t.reason ? ` — ${t.reason}` : ''),
    );
  }
  return [
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h(
          'div',
          { class: 'muted' },
          h('a', { href: '#/' }, 'Experiments'),
          ' / ',
          h('a', { href: `#/exp/${exp.id}` }, exp.name),
          ' / ',
        ),
        h('h1', {}, `Trial ${n} `, badge(trialState(exp, t))),
      ),
      h('div', { class: 'actions' }, nav(n - 1, '← Previous'), nav(n + 1, 'Next →')),
    ),
    ...notes,
  ];
}

function draw(exp, t) {
  const meta = t.meta || {};
  const argv = Array.isArray(meta.argv) ? meta.argv.map(shellWord).join(' ') : null;
  const params = kvList(
    Object.entries(t.params).map(([k, v]) => [k, fmtParam(v)]),
    'kv params',
  );
  const resources = Object.entries(t.resources || {}).map(([k, v]) => [
    metricInfo(k).label,
    fmtMetric(k, v),
  ]);
  main.replaceChildren(
    ...head(exp, t),
    ...[confirmationPanel(exp, t)].filter(Boolean),
    h(
      'div',
      { class: 'row' },
      panel('params-h', 'Parameters', params),
      panel('stab-h', 'Measurement', stability(t)),
    ),
    panel('metrics-h', 'Metrics', metricsTable(exp, t)),
    h(
      'div',
      { class: 'row' },
      panel('limits-h', 'Limits the runner set', limitsTable(meta)),
      panel(
        'res-h',
        'Resources used',
        resources.length ? kvList(resources) : h('p', { class: 'muted' }, 'None recorded.'),
      ),
    ),
    panel(
      'cmd-h',
      'Command line',
      argv
        ? h('pre', { class: 'cmd', id: 'trial-command' }, argv)
        : h('p', { class: 'muted' }, `No command: the ${exp.runner} runner started nothing.`),
    ),
    logsPanel(exp, t.number),
  );
  main.querySelectorAll('.row > .panel').forEach((p) => p.classList.add('grow'));
}

// What the page shows of an experiment: the trial, and what decides its notes (the recommended
// trial, the confirmation).
const shownOf = (exp, t) =>
  JSON.stringify([t, exp.best && exp.best.number, exp.confirmation, exp.state]);

// Redrawn as events arrive: a running trial's page follows it until it ends (it stayed RUNNING),
// or shows it interrupted when the run of another process driving it dies (it stayed RUNNING).
export async function viewTrial(id, number, gen) {
  const exp = await api(`/experiments/${encodeURIComponent(id)}`);
  if (stale(gen)) return;
  const find = (e) => e.trials.find((x) => String(x.number) === String(number));
  const t = find(exp);
  if (!t) throw new Error(`experiment '${exp.name}' has no trial ${number}`);
  draw(exp, t);
  let shown = shownOf(exp, t);
  // Deleted while shown: said, as on the experiment's page (the page stayed, with
  // "not updated: no experiment ..." in the live indicator, retried every 5 s).
  follow(gen, exp, (fresh) => {
    const ft = find(fresh);
    if (!ft || shownOf(fresh, ft) === shown) return;
    shown = shownOf(fresh, ft);
    draw(fresh, ft);
  });
}
