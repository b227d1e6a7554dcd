// SPDX-License-Identifier: Apache-2.0
// The experiment page: recommendation (with the confirmed figures when the server has them),
// progress, settings, charts and the trial table; the deployable result for export. Redrawn as
// events arrive.
import { api, subscribe } from '../api.js';
import { badge, dataTable, h, kvList, panel, progressBar, setLive, sortableTable } from '../dom.js';
import { fmtMetric, fmtNum, fmtParam, metricInfo } from '../format.js';
import { feasibility, finished, live, metric, recommendedNumber, trialState } from '../model.js';
import { main, onLeave, stale } from '../page.js';
import { drawCharts } from './expcharts.js';
import { exportDialog } from './export.js';

// States in which an experiment may still run trials.
const ACTIVE = ['CREATED', 'RUNNING', 'INTERRUPTED'];
const RESUMABLE = ['CREATED', 'INTERRUPTED'];

function card(label, value, note) {
  return h(
    'div',
    { class: 'card' },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, value),
    note ? h('div', { class: 'unit' }, note) : null,
  );
}

// The confirmed figures of the recommended trial (best.confirmed: {runs, passes, mean, stddev,
// min, max, search_value}), when the engine re-measured its best candidates.
function confirmedCards(exp, c) {
  const m = exp.objective.metric;
  const spread = [];
  if (Number.isFinite(c.stddev)) spread.push(`± ${fmtMetric(m, c.stddev)} (sd)`);
  if (Number.isFinite(c.min) && Number.isFinite(c.max)) {
    spread.push(`range ${fmtMetric(m, c.min)} – ${fmtMetric(m, c.max)}`);
  }
  if (Number.isFinite(c.interval))
    spread.push(`95 % interval ± ${(100 * c.interval).toFixed(1)} %`);
  return [
    card(`Confirmed ${metricInfo(m).label} (mean)`, fmtMetric(m, c.mean), spread.join(', ')),
    card('In the search', fmtMetric(m, c.search_value), 'the single measurement that found it'),
    card('Measurements', `${fmtNum(c.passes)} of ${fmtNum(c.runs)} passed`, 'every constraint met'),
  ];
}

// The confirmation phase: its state and each candidate's figures.
function confirmationTable(exp, conf) {
  const m = exp.objective.metric;
  const rows = (conf.candidates || []).map((c) =>
    h(
      'tr',
      { class: c.number === conf.recommended ? 'best-row' : null },
      h('td', {}, h('a', { href: `#/exp/${exp.id}/trial/${c.number}` }, `#${c.number}`)),
      h('td', { class: 'num' }, fmtMetric(m, c.search_value)),
      h('td', { class: 'num' }, fmtMetric(m, c.mean)),
      h('td', { class: 'num' }, Number.isFinite(c.stddev) ? fmtMetric(m, c.stddev) : '–'),
      h('td', { class: 'num' }, `${fmtNum(c.passes)} / ${fmtNum(c.runs)}`),
      h('td', {}, c.confirmed ? 'yes' : 'no'),
    ),
  );
  const heads = ['Trial', 'Search value', 'Mean', 'sd', 'Passed', 'Confirmed'];
  return dataTable(
    heads.map((x, i) => h('th', { scope: 'col', class: i >= 1 && i <= 4 ? 'num' : null }, x)),
    rows,
    {
      wrap: { id: 'confirmation' },
      caption:
        `Confirmation (${conf.state}): ` +
        (rows.length === 1
          ? `the best candidate, measured ${conf.runs} more times`
          : `the best ${rows.length} candidates, measured ${conf.runs} more times each`) +
        (conf.max_runs > conf.runs
          ? ` (up to ${conf.max_runs} while the leader's 95 % interval is wider than ` +
            `± ${(100 * conf.max_uncertainty).toFixed(1)} %)`
          : ''),
    },
  );
}

function confirmationPart(exp, b) {
  const conf = exp.confirmation;
  const parts = [];
  if (b.confirmed && typeof b.confirmed === 'object') {
    parts.push(
      h('h3', { class: 'spaced' }, 'Confirmed by re-measuring'),
      h('div', { class: 'cards' }, confirmedCards(exp, b.confirmed)),
    );
  }
  // As `show` says it: a warning when the figures rest on that measurement, a note when the
  // confirmation's re-measurements back them.
  if (b.settled === false && b.confirmed && typeof b.confirmed === 'object') {
    parts.push(
      h(
        'p',
        { class: 'msg note' },
        "The search's measurement of this trial did not settle; " +
          'the confirmed figures do not depend on it.',
      ),
    );
  } else if (b.settled === false) {
    parts.push(
      h(
        'p',
        { class: 'msg warn' },
        'The measurement of this trial did not settle, and no confirmation backs it: ' +
          'its figures are uncertain.',
      ),
    );
  }
  if (conf && Array.isArray(conf.candidates) && conf.candidates.length) {
    parts.push(confirmationTable(exp, conf));
  }
  return parts;
}

// The second-best feasible trial when it lies within the best's measurement noise, as `show`
// says it (runner_up.within_noise): either configuration is a sound choice.
function runnerUp(exp) {
  const r = exp.runner_up;
  if (!r || r.within_noise !== true) return null;
  const m = exp.objective.metric;
  return h(
    'p',
    { class: 'msg note', id: 'runner-up' },
    'Runner-up: ',
    h('a', { href: `#/exp/${exp.id}/trial/${r.number}` }, `trial ${r.number}`),
    ` (${m} = ${fmtMetric(m, r.value)}) is within measurement noise (± ${fmtMetric(m, r.noise)}` +
      (r.noise_assumed
        ? ', the 5 % assumed of a trial that measured no uncertainty of its own'
        : '') +
      ') of the best; either is a sound choice.',
  );
}

// The Pareto front of a spec of several objectives (pareto_front): every feasible trial no other
// one matches or beats on all of them at once, as `show` lists it; a missing value is '–'.
function paretoFront(exp) {
  const front = exp.pareto_front;
  const objs = exp.objectives || [];
  if (!Array.isArray(front) || objs.length < 2) return null;
  const n = front.length;
  const caption =
    `Pareto front (${n} trial${n === 1 ? '' : 's'} ` + 'no other trial beats on every objective)';
  return dataTable(
    [
      h('th', { scope: 'col' }, 'Trial'),
      objs.map((o) => h('th', { scope: 'col', class: 'num' }, `${o.metric} (${o.direction})`)),
    ],
    front.map((p) =>
      h(
        'tr',
        { class: p.number === exp.best?.number ? 'best-row' : null },
        h('td', {}, h('a', { href: `#/exp/${exp.id}/trial/${p.number}` }, `#${p.number}`)),
        objs.map((o) => h('td', { class: 'num' }, fmtMetric(o.metric, (p.values || {})[o.metric]))),
      ),
    ),
    { wrap: { id: 'pareto-front' }, caption },
  );
}

function recommendationCard(exp) {
  const b = exp.best;
  if (!b) {
    // As the stop reason says it when no trial succeeded at all (nothing was measured, or a spec
    // without constraints): "no configuration met every constraint" was wrong there.
    const missed = exp.trials.some((t) => feasibility(exp, t).violated.length);
    const active = ACTIVE.includes(exp.state);
    let text = active
      ? 'No feasible trial yet: no configuration met every constraint.'
      : 'No feasible trial: no configuration met every constraint.';
    if (!missed) {
      text = active
        ? 'No trial has succeeded yet.'
        : 'No trial succeeded: no configuration to recommend.';
    }
    return panel('reco-h', 'Recommendation', h('p', { class: 'muted' }, text));
  }
  const m = b.metrics || {};
  const obj = exp.objective.metric;
  const shown = ['throughput_rps', 'p99_ms', 'cost_per_million_requests', 'cost_per_hour']
    .filter((k) => k !== obj && Number.isFinite(m[k]))
    .map((k) => card(metricInfo(k).label, fmtMetric(k, m[k])));
  const sec = panel(
    'reco-h',
    h(
      'span',
      {},
      'Recommendation · ',
      h('a', { href: `#/exp/${exp.id}/trial/${b.number}` }, `trial ${b.number}`),
    ),
    h(
      'div',
      { class: 'config', 'aria-label': 'Recommended configuration' },
      Object.entries(b.params).map(([k, v]) => h('span', {}, `${k} = ${fmtParam(v)}`)),
    ),
    h(
      'div',
      { class: 'cards' },
      card(
        metricInfo(obj).label,
        fmtMetric(obj, b.value),
        `${exp.objective.direction === 'maximize' ? 'maximized' : 'minimized'}` +
          `${b.confirmed ? ', confirmed mean' : ''}`,
      ),
      shown,
    ),
    confirmationPart(exp, b),
    runnerUp(exp),
    paretoFront(exp),
  );
  sec.classList.add('reco');
  return sec;
}

function settingsPanel(exp) {
  const rows = [
    (exp.objectives || []).length > 1
      ? ['Objectives', exp.objectives.map((o) => `${o.direction} ${o.metric}`).join(', ')]
      : ['Objective', `${exp.objective.direction} ${exp.objective.metric}`],
    ['Constraints', exp.constraints.length ? exp.constraints.join(', ') : 'none'],
    ['Algorithm', exp.algorithm],
    ['Runner', exp.runner],
    ['Max trials', exp.max_trials],
    ['Parallelism', exp.parallelism],
    ['Seed', exp.seed],
    ['Created', exp.created_at],
    ['Finished', exp.finished_at || null],
    ['Stop reason', exp.stop_reason || null],
    ['Parameters', exp.space.parameters.map((p) => `${p.name} (${p.type})`).join(', ')],
  ];
  const sec = panel('set-h', 'Settings', kvList(rows));
  sec.classList.add('grow');
  return sec;
}

// The trials in flight: running and pending while the experiment may run; once its run stopped,
// those it left are interrupted (INTERRUPTED, or an ended one that left any: an experiment that
// ended with none said "Interrupted 0").
function inFlight(exp) {
  const c = exp.counts;
  if (live(exp)) {
    return [
      ['Running', c.running],
      ['Pending', c.pending],
    ];
  }
  const left = c.running + c.pending;
  return exp.state === 'INTERRUPTED' || left > 0 ? [['Interrupted', left]] : [];
}

function progressPanel(exp) {
  const c = exp.counts;
  const done = finished(c);
  const fails = Object.entries(c.failures || {});
  const counts = [
    ['Succeeded', c.succeeded],
    ['Failed', c.failed],
    ...inFlight(exp),
    ['Cancelled', c.cancelled],
  ];
  const sec = panel(
    'prog-h',
    'Progress',
    h(
      'div',
      { class: 'progress-line' },
      h('strong', {}, `${done} / ${exp.max_trials} trials`),
      progressBar(done, exp.max_trials),
    ),
    h(
      'div',
      { class: 'cards' },
      counts.map(([k, v]) => card(k, v)),
    ),
    fails.length
      ? h(
          'p',
          { class: 'muted spaced' },
          'Failures: ',
          fails.map(([k, v]) => `${k} × ${v}`).join(', '),
        )
      : null,
  );
  sec.classList.add('grow');
  return sec;
}

function stateCell(exp, t) {
  const f = feasibility(exp, t);
  const measured = f.feasible !== null;
  const unsettled =
    measured && (t.settled === false || (t.settled == null && metric(t, 'stable') === 0));
  return h(
    'span',
    { class: 'state-cell' },
    badge(trialState(exp, t)),
    f.feasible === false ? h('span', { class: 'tag infeasible' }, 'infeasible') : null,
    unsettled
      ? h('span', { class: 'tag unsettled', title: 'the measurement did not settle' }, 'unsettled')
      : null,
  );
}

function trialTable(exp, state) {
  const params = exp.space.parameters.map((p) => p.name);
  const names = new Set(exp.trials.flatMap((t) => Object.keys(t.metrics || {})));
  const shown = [
    exp.objective.metric,
    'throughput_rps',
    'p99_ms',
    'cost_per_million_requests',
  ].filter((m, i, a) => names.has(m) && a.indexOf(m) === i);
  const reco = recommendedNumber(exp);
  const why = (t) => {
    const f = feasibility(exp, t);
    if (f.violated.length)
      return h('span', {}, h('strong', {}, 'violates '), f.violated.join(', '));
    if (!t.failure) return '';
    return h('span', {}, h('strong', {}, t.failure), t.reason ? ` — ${t.reason}` : '');
  };
  const cols = [
    {
      key: 'number',
      label: '#',
      num: true,
      get: (t) => t.number,
      render: (t) =>
        h(
          'a',
          { href: `#/exp/${exp.id}/trial/${t.number}`, 'aria-label': `Trial ${t.number}` },
          t.number,
        ),
    },
    {
      key: 'state',
      label: 'State',
      get: (t) => trialState(exp, t),
      render: (t) => stateCell(exp, t),
    },
    ...params.map((p) => ({ key: `p:${p}`, label: p, num: true, get: (t) => t.params[p] })),
    ...shown.map((m) => ({
      key: `m:${m}`,
      label: m,
      num: true,
      get: (t) => metric(t, m),
      render: (t) => fmtMetric(m, metric(t, m)),
    })),
    {
      key: 'duration',
      label: 'Time',
      num: true,
      get: (t) => t.duration_s,
      render: (t) => fmtMetric('duration_s', t.duration_s),
    },
    {
      key: 'failure',
      label: 'Failure or violated constraint',
      cls: 'reason',
      get: (t) => t.failure || '',
      render: why,
    },
  ];
  const rowClass = (t) => {
    if (t.number === reco) return 'best-row';
    return feasibility(exp, t).feasible === false ? 'infeasible-row' : null;
  };
  return panel(
    'trials-h',
    `Trials (${exp.trials.length})`,
    sortableTable(cols, exp.trials, { sortKey: 'number', rowClass, limit: 200, state }),
  );
}

function actions(exp, msg) {
  const fail = (e) => msg.replaceChildren(h('p', { class: 'msg error' }, e.message));
  // POST .../ACTION (cancel, resume), its button disabled while the request runs: a second press
  // sent a second cancel. The page's next render (the experiment ends; experiment_resumed makes
  // it RUNNING) keeps it disabled; an error is shown and the button enabled again.
  const post = (action) => async (ev) => {
    const button = ev.currentTarget;
    button.disabled = true;
    try {
      await api(`/experiments/${exp.id}/${action}`, { method: 'POST' });
    } catch (e) {
      fail(e);
      button.disabled = false;
    }
  };
  const del = async () => {
    if (!window.confirm(`Delete experiment '${exp.name}' and all its trials?`)) return;
    try {
      await api(`/experiments/${exp.id}`, { method: 'DELETE' });
      location.hash = '#/';
    } catch (e) {
      fail(e);
    }
  };
  const active = ACTIVE.includes(exp.state);
  // What `morphling run` (and POST .../resume) continues: stopped, or stored and never started,
  // and not running in this server.
  const resumable = RESUMABLE.includes(exp.state) && !exp.running_here;
  return h(
    'div',
    { class: 'actions' },
    h(
      'button',
      {
        class: 'btn primary',
        type: 'button',
        id: 'export-btn',
        disabled: !exp.best,
        onclick: () => exportDialog(exp),
      },
      'Export configuration',
    ),
    h(
      'button',
      { class: 'btn', type: 'button', disabled: !active, onclick: post('cancel') },
      'Cancel',
    ),
    h(
      'button',
      {
        class: 'btn',
        type: 'button',
        id: 'resume-btn',
        disabled: !resumable,
        onclick: post('resume'),
      },
      'Resume',
    ),
    h('button', { class: 'btn danger', type: 'button', onclick: del }, 'Delete'),
  );
}

// The experiment of the page (its own, or a trial's) was deleted while shown (its stream ends
// then): the page says so instead of staying a page of buttons that fail.
export function showDeleted(exp, stream) {
  stream.close();
  setLive(false, '');
  main.replaceChildren(
    h(
      'div',
      { class: 'msg error', role: 'alert', id: 'exp-deleted' },
      `Experiment '${exp.name}' was deleted. `,
      h('a', { href: '#/' }, 'Back to the experiments'),
    ),
  );
}

// The experiment again, as an event of its stream asks; null when it was deleted meanwhile
// (the page then says so: showDeleted).
async function refetch(exp, gen, stream) {
  try {
    return await api(`/experiments/${exp.id}`);
  } catch (e) {
    if (e.status !== 404 || stale(gen)) throw e;
    showDeleted(exp, stream);
    return null;
  }
}

// Follows experiment exp on page gen: onFresh(fresh) gets it fetched again on each of its events,
// and every 5 s while a `morphling run` of another process drives it, since one that dies (SIGKILL,
// a crash) writes no event: the page then shows it INTERRUPTED (Resume enabled, its trial in
// flight interrupted) once none does. A deleted experiment is said so (refetch).
export function follow(gen, exp, onFresh) {
  let stream = null;
  let last = exp;
  const update = async () => {
    const fresh = await refetch(last, gen, stream);
    if (!fresh || stale(gen)) return;
    last = fresh;
    onFresh(fresh);
  };
  subscribe(gen, `/experiments/${exp.id}/events`, (ev, s) => {
    stream = s;
    return update();
  });
  const poll = window.setInterval(() => {
    if (!stream || last.state !== 'RUNNING' || last.running_here) return;
    update().catch((e) => setLive(false, `not updated: ${e.message}`));
  }, 5000);
  onLeave(() => window.clearInterval(poll));
}

// An experiment whose stored spec this build cannot read (500 unsupported: stored by another
// version of morphling): the error, and the one thing the API still does with it, DELETE (the
// page was the bare error, and nothing on the dashboard could delete it).
function unreadable(id, e) {
  const msg = h('div', { role: 'status', 'aria-live': 'polite' });
  const del = async () => {
    if (!window.confirm(`Delete experiment ${id} and all its trials?`)) return;
    try {
      await api(`/experiments/${encodeURIComponent(id)}`, { method: 'DELETE' });
      location.hash = '#/';
    } catch (err) {
      msg.replaceChildren(h('p', { class: 'msg error' }, err.message));
    }
  };
  main.replaceChildren(
    h(
      'div',
      { class: 'page-head' },
      h(
        'div',
        {},
        h('div', { class: 'muted' }, h('a', { href: '#/' }, 'Experiments'), ' / '),
        h('h1', {}, `Experiment ${id}`),
      ),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'btn danger', type: 'button', onclick: del }, 'Delete'),
      ),
    ),
    h(
      'p',
      { class: 'msg error', role: 'alert' },
      `Its stored spec is not one this build of morphling reads: ${e.message}`,
    ),
    msg,
  );
}

export async function viewExperiment(id, gen) {
  let exp;
  try {
    exp = await api(`/experiments/${encodeURIComponent(id)}`);
  } catch (e) {
    if (stale(gen) || !e.info || e.info.code !== 'unsupported') throw e;
    unreadable(id, e);
    return;
  }
  if (stale(gen)) return;
  const head = h('div');
  const top = h('div');
  const charts = h('div', { id: 'charts' });
  const trials = h('div');
  const msg = h('div', { role: 'status', 'aria-live': 'polite' });
  const sorting = {}; // the trial table's order, kept as events redraw it
  const render = () => {
    head.replaceChildren(
      h(
        'div',
        { class: 'page-head' },
        h(
          'div',
          {},
          h('div', { class: 'muted' }, h('a', { href: '#/' }, 'Experiments'), ' / '),
          h('h1', {}, exp.name, ' ', badge(exp.state)),
          exp.spec && exp.spec.description
            ? h('div', { class: 'muted' }, exp.spec.description)
            : null,
        ),
        actions(exp, msg),
      ),
      msg,
    );
    top.replaceChildren(
      recommendationCard(exp),
      h('div', { class: 'row' }, progressPanel(exp), settingsPanel(exp)),
    );
    drawCharts(exp, charts);
    trials.replaceChildren(trialTable(exp, sorting));
  };
  main.replaceChildren(head, top, h('h2', { class: 'section' }, 'Charts'), charts, trials);
  render();
  let shown = JSON.stringify(exp);
  follow(gen, exp, (fresh) => {
    const text = JSON.stringify(fresh);
    if (text === shown) return;
    exp = fresh;
    shown = text;
    render();
  });
}
