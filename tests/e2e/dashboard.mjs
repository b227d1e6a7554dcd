// SPDX-License-Identifier: Apache-2.0
// Drives the dashboard in headless Chromium: logging in through the login URL `morphling serve`
// prints, list page, new-experiment editor (an error shown at its line, then a valid submission
// of a replay experiment), trials arriving live on the experiment page without a reload, the
// charts, keyboard focus and the comparison page.
// Env: MP_BASE (server URL), MP_TOKEN (its token), MP_DEPS (dir with node_modules/playwright-core),
// MP_CHROMIUM, MP_PROFILE (fresh user-data dir), MP_SHOTS (screenshot dir).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.join(process.env.MP_DEPS, 'package.json'));
const { chromium } = require('playwright-core');

const BASE = process.env.MP_BASE;
const SHOTS = process.env.MP_SHOTS;
let failures = 0;
let passes = 0;

function check(name, cond, detail = '') {
  if (cond) {
    passes++;
    console.log(`ok - ${name}`);
  } else {
    failures++;
    console.log(`not ok - ${name}${detail ? `: ${detail}` : ''}`);
  }
}

// Waits until the experiment id, as the page's origin reads it from the API, satisfies want (a
// function of its JSON); throws after timeout ms. Not page.waitForFunction with an async
// function: that takes the promise it returns for a true answer and returns at once.
async function untilApi(page, id, want, timeout = 60000) {
  const end = Date.now() + timeout;
  for (;;) {
    const exp = await page.evaluate(
      async (i) => (await authFetch(`/api/v1/experiments/${i}`)).json(),
      id,
    );
    if (want(exp)) return;
    if (Date.now() > end)
      throw new Error(`experiment ${id}: ${want} still false after ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// The replay spec (tests/e2e/replay-live.yaml) as another experiment: its name, its number of
// trials and each trial's replay delay.
function variant(spec, name, trials, delay) {
  return spec
    .replace('name: replay-live', `name: ${name}`)
    .replace('max_trials: 30', `max_trials: ${trials}`)
    .replace('delay: 150ms', `delay: ${delay}`);
}

// Creates an experiment from spec through the API (as the page's origin) and checks it was:
// [status, body].
async function createExperiment(page, spec, what) {
  const made = await page.evaluate(async (s) => {
    const r = await authFetch('/api/v1/experiments', { method: 'POST', body: s });
    return [r.status, await r.json()];
  }, spec);
  check(`${what}: the experiment is created`, made[0] === 201, JSON.stringify(made));
  return made;
}

// For a route handler that fetched the real answer first: the page may have given the request up
// meanwhile (it navigated, or closed its stream and asked again), and Playwright then refuses the
// answer ("Route is already handled"); that is no failure of the page, and it ended the whole run
// (an unhandled rejection). Any other error is thrown again.
function gone(e) {
  if (!/already handled|closed/i.test(e.message)) throw e;
}

// GET path of the API, as JSON, from the page's origin with its session.
const apiGet = (page, path) => page.evaluate(async (p) => (await authFetch(p)).json(), path);

async function trialCount(page) {
  const text = await page.locator('#trials-h').textContent();
  return Number((/\((\d+)\)/.exec(text) || [0, -1])[1]);
}

let ctx = null;

// Screenshots are artifacts: a page that re-renders under the camera (live updates replace
// charts) gets a second try, and a failed screenshot never fails the test.
async function shot(target, file, opts = {}) {
  for (let i = 0; i < 2; i++) {
    try {
      await target.screenshot({ path: path.join(SHOTS, file), ...opts });
      return;
    } catch (e) {
      if (i === 1) console.log(`# screenshot ${file} not taken: ${e.message.split('\n')[0]}`);
    }
  }
}

// The experiment page once its 30 trials are in: charts, one colour per feasibility,
// parallel coordinates, importance, readable numbers, infeasible rows named.
async function experimentChecks(page) {
  const charts = await page.locator('.uplot').count();
  check('charts drawn (best so far, Pareto, per parameter)', charts >= 6, `${charts} charts`);
  check('heat map drawn', (await page.locator('.heat .cell').count()) > 4);
  check(
    'recommendation card shows a configuration',
    (await page.locator('.config span').count()) === 4,
  );
  const withValue = await page.evaluate(
    async (id) => {
      const exp = await (await authFetch(`/api/v1/experiments/${id}`)).json();
      return exp.trials.filter((t) => Number.isFinite(t.metrics && t.metrics.throughput_per_cost))
        .length;
    },
    /#\/exp\/(\d+)/.exec(page.url())[1],
  );
  const lines = await page.locator('.pc svg polyline').count();
  check(
    'parallel coordinates: one line per measured trial',
    lines === withValue,
    `${lines} of ${withValue}`,
  );
  check(
    'parallel coordinates: 4 parameter axes and the objective',
    (await page.locator('.pc .pc-name').count()) === 5,
  );
  check(
    'parallel coordinates: the recommended trial stands out',
    (await page.locator('.pc .pc-line.recommended').count()) === 1,
  );
  const imp = await page.locator('.imp-row .imp-value').allTextContents();
  check(
    'importance: one share per parameter, between 0 and 100 %',
    imp.length === 4 && imp.every((v) => Number.parseFloat(v) >= 0 && Number.parseFloat(v) <= 100),
    imp.join(' '),
  );
  const legends = await page.evaluate(() =>
    [...document.querySelectorAll('.u-legend .u-series')].map((r) => r.textContent.trim()),
  );
  check(
    'no empty legend row',
    legends.every((l) => l.length > 0),
    legends.join('|'),
  );
  const colours = await page.evaluate(() => {
    const seen = {};
    for (const s of document.querySelectorAll('.u-legend .u-series')) {
      const label = s.querySelector('.u-label')?.textContent;
      const marker = s.querySelector('.u-marker');
      if (!label || !marker) continue;
      (seen[label] = seen[label] || new Set()).add(getComputedStyle(marker).borderColor);
    }
    return Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v.size]));
  });
  check(
    'one colour for feasible and one for infeasible in every chart',
    colours.feasible === 1 && colours.infeasible === 1,
    JSON.stringify(colours),
  );
  const text = await page.evaluate(() => document.getElementById('main').innerText);
  const sci = /\b\d+(\.\d+)?e[-+]?\d+\b/.exec(text);
  check('no number in exponent notation', !sci, sci && sci[0]);
  check('money shown as currency', /\$\d/.test(text));
  const infeasible = await page.locator('tr.infeasible-row td.reason').allTextContents();
  check(
    'infeasible trials are dimmed with the violated constraint named',
    infeasible.length > 0 && infeasible.every((t) => /violates (p99_ms|error_rate)/.test(t)),
    infeasible.slice(0, 3).join(' | '),
  );
  check(
    'the recommended trial is highlighted in the table',
    (await page.locator('tr.best-row').count()) === 1,
  );
  const sortBtn = page.locator('th button:has-text("Time")');
  await sortBtn.focus();
  await page.keyboard.press('Enter');
  check(
    'trial table sorts from the keyboard',
    (await page.locator('th:has(button:has-text("Time"))').getAttribute('aria-sort')) !== 'none',
  );
  await shot(page, 'experiment.png', { fullPage: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'experiment-top.png');
  await shot(page.locator('#charts'), 'charts.png');
  // Hovering a chart names the trial under the cursor; clicking opens its page.
  const over = page.locator('.chart .u-over').first();
  await over.hover();
  await page.waitForSelector('.chart-tip:not([hidden])');
  const tip = await page.locator('.chart-tip:not([hidden])').textContent();
  check('hovering a chart names the trial', /trial number \d+/.test(tip), tip);
  await over.click();
  await page.waitForURL(/#\/exp\/\d+\/trial\/\d+$/);
  check('clicking a chart opens the trial page', true);
  // The page's event stream opens again, and then the page fetches the experiment once more
  // (what happened before the stream began); the resize checks count every request after this.
  // The trial page's own stream is open first: its answer, arriving late, was taken for the
  // experiment page's, and the experiment page's first fetch for the one after it.
  await page.waitForSelector('#metrics-h');
  await page.waitForSelector('#live.on');
  let open = false;
  let again = 0;
  const onResponse = (r) => {
    if (/\/api\/v1\/experiments\/\d+\/events$/.test(r.url())) open = true;
    else if (open && /\/api\/v1\/experiments\/\d+$/.test(r.url())) again++;
  };
  page.on('response', onResponse);
  await page.goBack();
  await page.waitForSelector('.pc svg');
  await page.waitForSelector('#live.on');
  for (let i = 0; i < 200 && again === 0; i++) await page.waitForTimeout(50);
  page.off('response', onResponse);
  check('the page fetches again once its stream is open', again === 1, `${again} fetches`);
}

// Resizing the window re-lays-out the charts and nothing else: no request, no new stream.
async function resizeChecks(page) {
  const requests = [];
  const onRequest = (r) => requests.push(r.url());
  page.on('request', onRequest);
  const before = await page.evaluate(() => document.querySelector('.uplot canvas').width);
  await page.setViewportSize({ width: 1000, height: 900 });
  await page.waitForFunction((w) => document.querySelector('.uplot canvas').width !== w, before);
  const after = await page.evaluate(() => document.querySelector('.uplot canvas').width);
  check('resize: the charts follow the window', after !== before, `${before} -> ${after}`);
  check('resize: nothing is fetched again', requests.length === 0, requests.join(' '));
  page.off('request', onRequest);
  await page.setViewportSize({ width: 1440, height: 900 });
}

// The export button shows the deployable result, for a host and as a Kubernetes patch.
async function exportChecks(page) {
  await page.evaluate(() => {
    window.revokedUrls = [];
    const revoke = URL.revokeObjectURL;
    URL.revokeObjectURL = (u) => {
      window.revokedUrls.push(u);
      revoke(u);
    };
  });
  await page.click('#export-btn');
  await page.waitForSelector('dialog[open] #export-out pre');
  const host = JSON.parse(await page.locator('#export-out pre').textContent());
  check(
    'export: the recommended configuration',
    Number.isInteger(host.trial) && host.resources.cpu_cores > 0,
    JSON.stringify(host).slice(0, 200),
  );
  check(
    'export: a download link',
    (await page.locator('#export-download').getAttribute('download')).endsWith('.json'),
  );
  await shot(page.locator('#dialog'), 'export.png');
  const hostFile = await page.locator('#export-download').getAttribute('href');
  await page.fill('#export-container', 'web');
  await page.click('text=As a Kubernetes patch');
  await page.waitForFunction(() =>
    document.querySelector('#export-out pre')?.textContent.includes('containers'),
  );
  const k8s = JSON.parse(await page.locator('#export-out pre').textContent());
  check(
    'export: a Kubernetes patch for the named container',
    k8s.spec.template.spec.containers[0].name === 'web',
  );
  check('export: a finished recommendation has no note', !(await page.$('.export-warning')));
  const k8sFile = await page.locator('#export-download').getAttribute('href');
  await page.keyboard.press('Escape');
  // Each download's file is freed once replaced or the dialog closed (they were kept for as long
  // as the page lived). The dialog's close event comes a task after the key: read at once, the
  // second file was at times not freed yet.
  await page
    .waitForFunction(() => window.revokedUrls.length >= 2, null, { timeout: 5000 })
    .catch(() => null);
  const freed = await page.evaluate(() => window.revokedUrls);
  check(
    'export: the download files are freed',
    freed.join() === [hostFile, k8sFile].join(),
    JSON.stringify(freed),
  );
  // The server's caveats (Warning headers, as for an experiment still running or an unsettled
  // figure) are shown with the configuration: the dialog dropped them.
  const url = /\/api\/v1\/experiments\/\d+\/export/;
  const texts = [
    "experiment 'x' is RUNNING after 3 of 30 trials: trial 2 is the best configuration so far, " +
      'not its recommendation',
    'the measurement of trial 2 did not settle and no confirmation backs it: its figures are ' +
      'uncertain',
  ];
  await page.route(url, async (route) => {
    const res = await route.fetch();
    const headers = {
      ...res.headers(),
      warning: texts.map((t) => `299 morphling "${t}"`).join(', '),
    };
    await route.fulfill({ response: res, headers }).catch(gone);
  });
  await page.click('#export-btn');
  await page.waitForSelector('dialog[open] #export-out pre');
  const notes = await page.locator('.export-warning').allTextContents();
  check(
    "export: the server's caveats are shown",
    notes.length === 2 && notes.every((n, i) => n === `Note: ${texts[i]}`),
    JSON.stringify(notes),
  );
  await page.keyboard.press('Escape');
  await page.unrouteAll({ behavior: 'wait' });
}

// Trial pages: the recommended one (metrics with units, logs), then an infeasible one.
async function trialPageChecks(page) {
  await page.click('.reco h2 a');
  await page.waitForSelector('#trial-metrics');
  check('trial page: the recommended trial says so', await page.isVisible('#trial-recommended'));
  const metrics = await page.locator('#trial-metrics tbody tr').allTextContents();
  check(
    'trial page: every metric with its unit',
    metrics.length >= 5 &&
      metrics.some((m) => / ms/.test(m)) &&
      metrics.some((m) => /req\/s/.test(m)),
    metrics.join(' | '),
  );
  await page.waitForSelector('#log-stdout');
  check('trial page: logs', true);
  check('trial page: parameters', (await page.locator('.kv.params dt').count()) === 4);
  await shot(page, 'trial.png', { fullPage: true });
  await page.goBack();
  await page.waitForSelector('tr.infeasible-row');
  await page.locator('tr.infeasible-row a').first().click();
  await page.waitForSelector('#trial-violated');
  const why = await page.locator('#trial-violated').textContent();
  check(
    'trial page: an infeasible trial names the violated constraint',
    /violates (p99_ms|error_rate)/.test(why),
    why,
  );
  check(
    'trial page: the violated metric is marked',
    (await page.locator('#trial-metrics tr.infeasible-row').count()) >= 1,
  );
  await shot(page, 'trial-infeasible.png', { fullPage: true });
}

// The confirmed figures (docs/api.md, "Trials and confirmation"). Replay experiments are not
// confirmed, so the experiment's answer is given a confirmation of its best two trials here, in
// the documented shape, and an unsettled best.
let unconfirmedBest = false; // confirmationChecks' answer: the best unsettled, unconfirmed
// An experiment whose run stopped (INTERRUPTED) with a trial in flight: nothing runs, so the
// progress counts it as interrupted and its badge says so, in the table and on its page (they
// read "Running 1" and RUNNING). The answer is the server's with the last trial left RUNNING.
async function interruptedChecks(page, expId) {
  const url = `${BASE}/api/v1/experiments/${expId}`;
  // The experiment as it is, SUCCEEDED: nothing was interrupted (its progress said
  // "Interrupted 0").
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:has-text("Experiments")');
  await page.goto(`${BASE}/#/exp/${expId}`);
  const ended = await page
    .locator('section', { has: page.locator('#prog-h') })
    .locator('.cards')
    .innerText({ timeout: 10000 })
    .catch(() => 'none');
  check(
    'interrupted: an experiment that ended counts no trial interrupted',
    /Succeeded/.test(ended) && !/Interrupted|Running|Pending/.test(ended),
    ended,
  );
  let number = null;
  await page.route(url, async (route) => {
    const res = await route.fetch();
    const exp = await res.json();
    const last = exp.trials[exp.trials.length - 1];
    number = last.number;
    Object.assign(last, { state: 'RUNNING', failure: null, metrics: {}, finished_at: null });
    exp.state = 'INTERRUPTED';
    exp.counts = { ...exp.counts, succeeded: exp.counts.succeeded - 1, running: 1 };
    await route.fulfill({ response: res, json: exp }).catch(gone);
  });
  await page.goto(`${BASE}/#/exp/${expId}`);
  await page.waitForSelector('h1 .badge.INTERRUPTED', { timeout: 10000 }).catch(() => null);
  const progress = page.locator('section', { has: page.locator('#prog-h') });
  const cards = await progress
    .locator('.cards')
    .innerText({ timeout: 10000 })
    .catch(() => 'none');
  check(
    'interrupted: progress counts the trial in flight as interrupted',
    /Interrupted\s*1/.test(cards) && !/Running/.test(cards),
    cards,
  );
  const row = page.locator('tr', { has: page.locator(`a[aria-label="Trial ${number}"]`) });
  const badge = await row
    .locator('.badge')
    .innerText({ timeout: 10000 })
    .catch(() => 'no row');
  check('interrupted: the trial in flight is marked interrupted', badge === 'INTERRUPTED', badge);
  await page.goto(`${BASE}/#/exp/${expId}/trial/${number}`);
  // The trial's heading, not the experiment page's (whose badge says INTERRUPTED too), and its
  // answer drawn before the route goes.
  const head = await page
    .locator(`h1:has-text("Trial ${number}") .badge`)
    .innerText({ timeout: 10000 })
    .catch(() => 'none');
  check('interrupted: its page says so', head === 'INTERRUPTED', head);
  await page.unrouteAll({ behavior: 'wait' });
}

async function confirmationChecks(page, expId) {
  const url = `${BASE}/api/v1/experiments/${expId}`;
  await page.route(url, async (route) => {
    const res = await route.fetch();
    const exp = await res.json();
    const m = exp.objective.metric;
    const [a, b] = exp.trials
      .filter((t) => t.state === 'SUCCEEDED')
      .sort((x, y) => y.metrics[m] - x.metrics[m]);
    const cand = (t, k) => ({
      number: t.number,
      search_value: t.metrics[m],
      runs: 3,
      passes: 3 - k,
      settled_runs: 3,
      mean: t.metrics[m] * 0.9,
      stddev: t.metrics[m] * 0.05,
      min: t.metrics[m] * 0.85,
      max: t.metrics[m] * 0.95,
      confirmed: k === 0,
    });
    exp.confirmation = {
      state: 'done',
      top: 3, // two candidates only: the caption counts those, not top
      runs: 2,
      recommended: a.number,
      candidates: [cand(a, 0), cand(b, 1)],
    };
    exp.best = { ...exp.best, settled: false, confirmed: cand(a, 0), value: a.metrics[m] * 0.9 };
    if (unconfirmedBest) {
      exp.best = { ...exp.best, confirmed: null, value: a.metrics[m] };
      exp.confirmation = null;
    }
    await route.fulfill({ response: res, json: exp }).catch(gone);
  });
  await page.goto(`${BASE}/#/exp/${expId}`);
  await page.waitForSelector('#confirmation');
  const rows = await page.locator('#confirmation tbody tr').count();
  check('confirmation: one row per candidate', rows === 2, String(rows));
  const caption = await page.locator('#confirmation caption').textContent();
  check(
    'confirmation: the caption counts the candidates',
    /the best 2 candidates,/.test(caption),
    caption,
  );
  const card = await page
    .locator('.reco .card', { has: page.locator('.label', { hasText: /^Confirmed/ }) })
    .textContent();
  check('confirmation: the confirmed mean with its spread', /±.*\(sd\).*range/.test(card), card);
  // Said as a note, not a warning: the confirmed figures do not rest on it (the card read as if
  // they were uncertain, where `show` says they do not depend on it).
  check(
    'confirmation: an unsettled measurement is said, as a note',
    (await page.isVisible('.reco .msg.note')) && !(await page.isVisible('.reco .msg.warn')),
  );
  await shot(page.locator('.reco'), 'confirmation.png');
  // Every view gives the confirmed figures: the candidate's trial page and the comparison (they
  // showed the search's single measurement only, the comparison the mean as if measured once).
  await page.goto(
    `${BASE}/#/exp/${expId}/trial/${await page
      .locator('#confirmation tbody a')
      .first()
      .textContent()
      .then((t) => t.slice(1))}`,
  );
  const own = await page
    .waitForSelector('#trial-confirmation', { timeout: 5000 })
    .then((e) => e.textContent())
    .catch(() => 'no confirmation panel');
  check(
    'confirmation: the trial page gives its mean, spread and passes',
    /±.*\(sd\).*3 of 3 passed/.test(own),
    own,
  );
  await page.goto(`${BASE}/#/compare?ids=${expId},${expId}`);
  await page.waitForSelector('thead th a');
  const row = await page.locator('tr', { has: page.locator('th', { hasText: /^Confirmed$/ }) });
  const cmp = (await row.count()) ? await row.first().textContent() : 'no Confirmed row';
  check(
    'confirmation: the comparison gives the confirmed mean and its spread',
    /mean .*±.*\(sd\).*3 of 3 passed/.test(cmp),
    cmp,
  );
  unconfirmedBest = true;
  await page.goto(`${BASE}/#/exp/${expId}`);
  await page.waitForSelector('.reco .card');
  check(
    'an unsettled best without a confirmation: a warning',
    (await page.isVisible('.reco .msg.warn')) && !(await page.isVisible('.reco .msg.note')),
  );
  // ... and the comparison marks its best value, as the list does (it read as any other).
  await page.goto(`${BASE}/#/compare?ids=${expId},${expId}`);
  await page.waitForSelector('thead th a');
  const bestRow = page.locator('tr', { has: page.locator('th', { hasText: /^Best value$/ }) });
  check(
    'an unsettled best without a confirmation: the comparison marks it',
    (await bestRow.locator('.tag.unsettled').count()) === 2,
    await bestRow.first().innerText(),
  );
  unconfirmedBest = false;
  // The page may be fetching again (its stream opened): let that handler finish, or its
  // fulfill fails with "Route is already handled".
  await page.unrouteAll({ behavior: 'wait' });
}

// Experiments of many trials and parameters, in the API's shape: the answer for expId is
// replaced by `large.trials` trials of the parameters `large.params` (each value from
// large.value(p, i)). One route for every step (a route added right after another was removed
// was at times not applied).
let large = null;
async function routeLarge(page, expId) {
  await page.route(`${BASE}/api/v1/experiments/${expId}`, async (route) => {
    const res = await route.fetch();
    const exp = await res.json();
    const base = exp.trials.find((t) => t.recommended);
    const { params, trials, value } = large;
    exp.space.parameters = params;
    exp.trials = Array.from({ length: trials }, (_, i) => ({
      ...base,
      number: i + 1,
      recommended: i === 0,
      params: Object.fromEntries(params.map((p) => [p.name, value(p, i)])),
      metrics: { ...base.metrics, throughput_per_cost: 1000 + ((i * 7919) % 5000) },
    }));
    exp.best = { ...exp.best, number: 1, params: exp.trials[0].params };
    if (large.edit) large.edit(exp);
    await route.fulfill({ response: res, json: exp }).catch(gone);
  });
}

// Shows the experiment page of expId afresh (from the same page, going to it again would fetch
// nothing) once `ready` is there.
async function showAgain(page, expId, ready) {
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:has-text("Experiments")');
  await page.goto(`${BASE}/#/exp/${expId}`);
  return page.waitForFunction(ready, null, { timeout: 20000 }).then(
    () => true,
    () => false,
  );
}

// Scale: 1,500 trials over two continuous parameters, each trial a value of its own. The heat
// map bins them (it drew one cell per pair of values: 2,250,000 elements, 86 s).
async function scaleChecks(page, expId) {
  await routeLarge(page, expId);
  large = {
    params: [
      { name: 'x', type: 'float', min: 0, max: 1 },
      { name: 'y', type: 'float', min: 1, max: 1000, log: true },
    ],
    trials: 1500,
    value: (p, i) => {
      const u = ((i * (p.log ? 37 : 61)) % 1500) / 1499;
      return p.log ? 10 ** (3 * u) : u;
    },
  };
  const drawn = await showAgain(page, expId, () => document.querySelector('.heat'));
  const cells = drawn ? await page.locator('.heat .cell').count() : -1;
  check(
    'scale: the heat map of two continuous parameters is binned',
    drawn && cells <= 144,
    `${cells} cells`,
  );
  // The trial table draws 200 rows at first and more on demand (all 1,500 took seconds to lay
  // out at every sort).
  const rows = () => page.locator('#trials-h ~ * tbody tr').count();
  const before = await rows();
  await page.click('button:has-text("Show 200 more")', { timeout: 5000 }).catch(() => {});
  check(
    'scale: the trial table draws 200 rows, then 200 more',
    before === 200 && (await rows()) === 400,
    `${before} rows`,
  );

  // 35 parameters, one of them a choice of 1,000 names: the parallel coordinates' names do not
  // overlap (35 axes in the chart's width wrote them over one another) and the choice axis names
  // as many choices as fit (all 1,000 were written over one another).
  const choices = Array.from({ length: 1000 }, (_, i) => `choice-${i}`);
  large = {
    params: [
      { name: 'model', type: 'categorical', values: choices },
      ...Array.from({ length: 34 }, (_, i) => ({
        name: `parameter_${i}_with_a_long_name`,
        type: 'int',
        min: 1,
        max: 64,
      })),
    ],
    trials: 200,
    value: (p, i) => (p.values ? choices[(i * 7) % 1000] : 1 + ((i * (p.name.length + i)) % 64)),
  };
  await showAgain(page, expId, () => document.querySelectorAll('.pc .pc-name').length > 5);
  const pc = await page.evaluate(() => {
    const boxes = [...document.querySelectorAll('.pc .pc-name')].map((t) => t.getBBox());
    const overlaps = boxes.filter((a, i) =>
      boxes.some(
        (b, j) =>
          j > i &&
          a.x < b.x + b.width &&
          b.x < a.x + a.width &&
          a.y < b.y + b.height &&
          b.y < a.y + a.height,
      ),
    ).length;
    const first = document.querySelector('.pc .pc-axis');
    const ticks = [...document.querySelectorAll('.pc .pc-tick')].filter(
      (t) => Math.abs(t.getBBox().x - first.x1.baseVal.value) < 8,
    ).length;
    return { names: boxes.length, overlaps, ticks };
  });
  check(
    'scale: the parallel coordinates name 36 axes without overlap',
    pc.names === 36 && pc.overlaps === 0,
    JSON.stringify(pc),
  );
  check('scale: a choice of 1,000 names only as many as fit', pc.ticks <= 20, JSON.stringify(pc));
  await shot(page.locator('figure.chart.wide').first(), 'scale-parallel.png');

  // Stored text that is one long word (a description, a choice, a failure reason) wraps: it
  // made the page 25,821 px wide. Markup in it stays text.
  const word = 'L'.repeat(3000);
  const markup = '<img src=x id=injected>';
  large = {
    params: [
      { name: 'model', type: 'categorical', values: [word, markup] },
      { name: 'n', type: 'int', min: 1, max: 4 },
    ],
    trials: 4,
    value: (p, i) => (p.values ? p.values[i % 2] : i + 1),
    edit: (exp) => {
      exp.spec = { ...exp.spec, description: `${markup} ${word}` };
      Object.assign(exp.trials[1], { state: 'FAILED', failure: 'CRASHED', reason: markup + word });
    },
  };
  const pages = [
    ['experiment', `#/exp/${expId}`, '.pc svg'],
    ['trial', `#/exp/${expId}/trial/1`, '#trial-metrics'],
    ['failed trial', `#/exp/${expId}/trial/2`, '#trial-metrics'],
  ];
  for (const [name, hash, ready] of pages) {
    await page.goto(`${BASE}/#/`);
    await page.waitForSelector('h1:has-text("Experiments")');
    await page.goto(`${BASE}/${hash}`);
    await page.waitForSelector(ready);
    const fit = await page.evaluate(() => ({
      scroll: document.documentElement.scrollWidth,
      width: window.innerWidth,
      injected: !!document.getElementById('injected'),
    }));
    check(
      `long text: a long word wraps (${name})`,
      fit.scroll <= fit.width && !fit.injected,
      JSON.stringify(fit),
    );
  }
  await bidiChecks(page, expId);
  await page.unrouteAll({ behavior: 'wait' });
}

// Text of the page laid out out of its order by a right-to-left override in one of `values`
// (each holding bidi controls) that is not isolated: in a text node holding a value, a letter or
// digit after it (or a later value) that stands left of what comes before it on the same line;
// after such a text node, the next text of its block standing left of it. Returns the start of
// each such text.
function reorderedText(values) {
  const inline = ['inline', 'inline-block', 'inline-flex', 'contents'];
  const blockOf = (el) => {
    let b = el;
    while (b.parentElement && inline.includes(getComputedStyle(b).display)) b = b.parentElement;
    return b;
  };
  // The box of n's text from..to when on one line (one rect per direction's run), else null.
  const box = (n, from = 0, to = n.data.length) => {
    const r = document.createRange();
    r.setStart(n, from);
    r.setEnd(n, to);
    const all = [...r.getClientRects()];
    const b = r.getBoundingClientRect();
    return all.length && b.width > 0 && all.every((x) => Math.abs(x.top - b.top) < 2) ? b : null;
  };
  // The units of n in their logical order: each value it holds, each letter or digit outside.
  const units = (n) => {
    const spans = [];
    for (const v of values) {
      for (let i = n.data.indexOf(v); i >= 0; i = n.data.indexOf(v, i + v.length)) {
        spans.push([i, i + v.length]);
      }
    }
    const out = [];
    for (let i = 0; i < n.data.length; i++) {
      const span = spans.find(([from]) => from === i);
      if (span) {
        out.push(box(n, span[0], span[1]));
        i = span[1] - 1;
      } else if (/[A-Za-z0-9]/.test(n.data[i])) out.push(box(n, i, i + 1));
    }
    return out;
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, 4); // NodeFilter.SHOW_TEXT
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!values.some((v) => n.data.includes(v))) continue;
    let prev = null;
    for (const u of units(n)) {
      if (u && prev && Math.abs(u.top - prev.top) < 4 && u.left < prev.right - 1) {
        found.push(n.data.slice(0, 40));
        break;
      }
      prev = u;
    }
    const v = box(n);
    if (!v) continue;
    const within = document.createTreeWalker(blockOf(n.parentElement), 4);
    within.currentNode = n;
    for (let next = within.nextNode(); next; next = within.nextNode()) {
      const b = box(next);
      if (!b || !/[A-Za-z0-9]/.test(next.data)) continue;
      if (Math.abs(b.top - v.top) < 4 && b.left < v.right - 1) found.push(next.data.slice(0, 40));
      break;
    }
  }
  return found;
}

// Values holding bidi controls (a right-to-left override, an isolate's end without its start)
// are isolated: the text around them keeps its order (a name's U+202E turned the badge after it
// into "DEDEECCUS").
async function bidiChecks(page, expId) {
  const rlo = '\u202e';
  const values = [`mo${rlo}del`, `ab${rlo}cd`, `x\u2069${rlo}y`, `e2e${rlo}evil`, `rps${rlo}odd`];
  values.push(`oom${rlo} it`);
  large = {
    params: [
      { name: values[0], type: 'categorical', values: [values[1], values[2]] },
      { name: 'n', type: 'int', min: 1, max: 4 },
    ],
    trials: 4,
    value: (p, i) => (p.values ? p.values[i % 2] : i + 1),
    edit: (exp) => {
      exp.name = values[3];
      for (const t of exp.trials) t.metrics[values[4]] = 12;
      Object.assign(exp.trials[1], { state: 'FAILED', failure: 'CRASHED', reason: values[5] });
    },
  };
  const pages = [
    ['experiment', `#/exp/${expId}`, '.pc svg'],
    ['trial', `#/exp/${expId}/trial/1`, '#trial-metrics'],
    ['failed trial', `#/exp/${expId}/trial/2`, '#trial-metrics'],
    ['comparison', `#/compare?ids=${expId},${expId}`, '.uplot'],
  ];
  for (const [name, hash, ready] of pages) {
    await page.goto(`${BASE}/#/`);
    await page.waitForSelector('h1:has-text("Experiments")');
    await page.goto(`${BASE}/${hash}`);
    await page.waitForSelector(ready);
    const found = await page.evaluate(reorderedText, values);
    check(`bidi: values are isolated (${name})`, found.length === 0, JSON.stringify(found));
  }
  large = null;
}

// Green pixels (the recommended ring) in the canvas of every uPlot chart whose legend names the
// recommended trial: [[title, pixels]].
function ringPixels() {
  return [...document.querySelectorAll('.uplot')]
    .filter((u) =>
      [...u.querySelectorAll('.u-legend .u-label')].some((l) => l.textContent === 'recommended'),
    )
    .map((u) => {
      const c = u.querySelector('canvas');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        n +=
          Math.abs(d[i] - 31) < 10 && Math.abs(d[i + 1] - 138) < 10 && Math.abs(d[i + 2] - 76) < 10;
      }
      const title = u.querySelector('.u-title') || u.closest('figure').querySelector('h3');
      return [title.textContent, n];
    });
}

// The centre of the recommended ring (its green pixels) in the uPlot chart titled `title`, in
// page coordinates, or null.
function ringCentre(title) {
  const u = [...document.querySelectorAll('.uplot')].find(
    (x) => x.querySelector('.u-title')?.textContent === title,
  );
  const c = u?.querySelector('canvas');
  if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let [sx, sy, n] = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) {
    if (Math.abs(d[i] - 31) < 10 && Math.abs(d[i + 1] - 138) < 10 && Math.abs(d[i + 2] - 76) < 10) {
      sx += (i / 4) % c.width;
      sy += Math.floor(i / 4 / c.width);
      n++;
    }
  }
  const r = c.getBoundingClientRect();
  return n
    ? [r.left + ((sx / n) * r.width) / c.width, r.top + ((sy / n) * r.height) / c.height]
    : null;
}

// Page positions of pixels of the colour rgb in the canvas of the chart in the figure whose
// heading is `title` (every step-th such pixel, at most 40).
function colourPixels([title, rgb]) {
  const fig = [...document.querySelectorAll('figure.chart')].find(
    (f) => f.querySelector('h3')?.textContent === title,
  );
  const c = fig?.querySelector('.uplot canvas');
  if (!c) return [];
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  const r = c.getBoundingClientRect();
  const at = [];
  for (let i = 0; i < d.length && at.length < 400; i += 4) {
    if (d[i] === rgb[0] && d[i + 1] === rgb[1] && d[i + 2] === rgb[2]) {
      const x = (i / 4) % c.width;
      const y = Math.floor(i / 4 / c.width);
      at.push([r.left + (x * r.width) / c.width, r.top + (y * r.height) / c.height]);
    }
  }
  return at.filter((_, k) => k % 10 === 0).slice(0, 40);
}

// Issue 16: an infeasible value is marked in every view with the constraint it violates. Hovering
// an infeasible (grey) point names it; a heat map cell of infeasible trials only is dimmed and
// says what they violate (it looked like a cell nothing was tried in).
async function infeasibleNamedChecks(page, expId) {
  // The heat map's scale keeps its words whole, each end on one line ("wors" above "e 758").
  const ends = await page.evaluate(() =>
    [...document.querySelectorAll('.legend-bar > span:not(.grad)')].map((e) => [
      e.textContent,
      e.getBoundingClientRect().height,
    ]),
  );
  check(
    'heat map: the ends of its scale on one line each',
    ends.length === 2 && ends[0][0].startsWith('worse ') && ends[0][1] < 20,
    JSON.stringify(ends),
  );
  for (const title of ['Best so far', 'Throughput vs p99 latency']) {
    const fig = page.locator('figure.chart', { has: page.locator(`h3:text-is("${title}")`) });
    let tip = '';
    for (const [x, y] of await page.evaluate(colourPixels, [title, [170, 178, 192]])) {
      await page.mouse.move(x, y);
      tip = (await fig.locator('.chart-tip').textContent()) || '';
      if (/infeasible/.test(tip) && (await fig.locator('.chart-tip').isVisible())) break;
    }
    check(
      `infeasible named: hovering an infeasible point in "${title}" names the constraint`,
      /infeasible.*— violates (p99_ms|error_rate)/.test(tip),
      tip,
    );
    // The values under the cursor with their units, as the axes give them (bare numbers).
    const units = {
      'Best so far': /: .*\d req\/s per \$\/h/,
      'Throughput vs p99 latency': /: [\d.,]+ req\/s, [\d.,]+ ms/,
    }[title];
    check(`chart tips: the values under the cursor in "${title}" have units`, units.test(tip), tip);
  }
  const expected = await page.evaluate(async (id) => {
    const exp = await (await authFetch(`/api/v1/experiments/${id}`)).json();
    const key = (t) => `${t.params.cpu}|${t.params.memory}`;
    const measured = exp.trials.filter((t) => Number.isFinite(t.metrics.throughput_per_cost));
    const good = new Set(measured.filter((t) => t.feasible).map(key));
    const bad = new Set(measured.filter((t) => t.feasible === false).map(key));
    return [...bad].filter((k) => !good.has(k)).length;
  }, expId);
  const cells = await page
    .locator('.heat .cell.infeasible')
    .evaluateAll((els) => els.map((e) => e.getAttribute('title')));
  check(
    'infeasible named: heat map cells of infeasible trials only are marked',
    expected > 0 && cells.length === expected && cells.every((t) => /violates /.test(t)),
    `${cells.length} of ${expected}: ${cells[0]}`,
  );
}

// The heat map rings the recommended trial's cell and names the trial each cell shows, which a
// click opens, as the other charts do for their points (its cells named no trial, and the
// recommended one was not marked).
async function heatTrialChecks(page, expId) {
  const reco = await page.evaluate(async (id) => {
    const exp = await (await authFetch(`/api/v1/experiments/${id}`)).json();
    return exp.trials.find((t) => t.recommended).number;
  }, expId);
  const ringed = await page
    .locator('.heat .cell.recommended')
    .evaluateAll((els) => els.map((e) => e.getAttribute('title')));
  check(
    'heat map: the recommended trial is ringed',
    ringed.length === 1 && ringed[0].endsWith(`; recommended: trial ${reco}`),
    JSON.stringify(ringed),
  );
  const titles = await page
    .locator('.heat .cell:not(.none)')
    .evaluateAll((els) => els.map((e) => e.getAttribute('title')));
  check(
    'heat map: every measured cell names its trial',
    titles.length > 0 && titles.every((t) => /\(trial \d+\)/.test(t)),
    titles.find((t) => !/\(trial \d+\)/.test(t)) || 'no cell',
  );
  const cell = page.locator('.heat .cell.pick').first();
  const title = await cell.getAttribute('title', { timeout: 5000 }).catch(() => '');
  const n = /\(trial (\d+)\)/.exec(title || '')?.[1];
  if (n) await cell.click();
  check(
    'heat map: a click on a cell opens its trial',
    n && page.url().endsWith(`#/exp/${expId}/trial/${n}`),
    page.url(),
  );
  if (n) await page.goBack();
  await page.waitForSelector('.heat');
}

// Points on the largest x of a scatter plot: in tests/data/surface-small.csv the recommended
// trial (share 0.4, mode slow) has the largest share, beside two other trials of share 0.4; the
// ring and every point there are drawn (uPlot left out all but the first row at the scale's
// maximum, and so the recommended ring, when a point lay on it).
async function edgeChecks(page) {
  const spec = [
    'name: e2e-edges',
    'parameters:',
    '  - {name: share, type: discrete, values: [0.1, 0.2, 0.3, 0.4]}',
    '  - {name: mode, type: categorical, values: [fast, slow, auto]}',
    'objective: {metric: value}',
    'constraints: ["latency <= 13"]',
    'algorithm: {name: grid, max_trials: 12}',
    'runner: {kind: replay, surface: tests/data/surface-small.csv}',
  ].join('\n');
  const made = await createExperiment(page, spec, 'edges');
  await page.goto(`${BASE}/#/exp/${made[1].id}`);
  await page.waitForFunction(
    () => document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED',
    null,
    { timeout: 60000 },
  );
  await page.waitForSelector('.pc svg');
  const rings = await page.evaluate(ringPixels);
  check(
    'edges: three charts name the recommended trial',
    rings.length === 3,
    JSON.stringify(rings),
  );
  for (const [title, n] of rings) {
    check(`edges: the recommended trial is ringed (${title})`, n > 50, `${n} green pixels`);
  }
  await shot(page.locator('figure.chart.wide').nth(1), 'edges.png');
  // The categorical parameter's chart: hovering the recommended ring names its choice (the x
  // is the choice's index; the tooltip and the ticks give the choice itself).
  const at = await page.evaluate(ringCentre, 'mode');
  check('edges: the ring is found in the chart of mode', at != null);
  if (at) {
    await page.mouse.move(at[0], at[1]);
    const tip = await page
      .locator('.uplot', { has: page.locator('.u-title', { hasText: /^mode$/ }) })
      .locator('.chart-tip')
      .textContent();
    check('edges: a categorical point is named by its choice', /: slow, /.test(tip), tip);
  }
  // The heat map takes a categorical parameter too (it offered numeric ones only, and with one
  // of those it was not drawn): share x mode, each cell one trial, rows from the last choice up.
  const heat = await page.evaluate(() => ({
    cells: document.querySelectorAll('.heat .cell').length,
    rows: [...document.querySelectorAll('.heat [role=rowheader]')].map((e) => e.textContent),
  }));
  check(
    'edges: the heat map has a categorical parameter',
    heat.cells === 12 && heat.rows.join() === 'auto,slow,fast',
    JSON.stringify(heat),
  );

  // No configuration meets the constraint: once the experiment has ended, the recommendation
  // panel does not say "yet".
  const none = await page.evaluate(
    async (s) => {
      const r = await authFetch('/api/v1/experiments', { method: 'POST', body: s });
      return [r.status, await r.json()];
    },
    spec.replace('e2e-edges', 'e2e-none').replace('latency <= 13', 'latency <= 1'),
  );
  check('edges: the infeasible experiment is created', none[0] === 201, JSON.stringify(none));
  await page.goto(`${BASE}/#/exp/${none[1].id}`);
  // This page's heading (the last page's stays until the new one is drawn), once ended.
  await page.waitForFunction(
    () => {
      const h1 = document.querySelector('h1');
      const state = h1?.querySelector('.badge')?.textContent;
      return h1?.textContent.startsWith('e2e-none') && state && !/CREATED|RUNNING/.test(state);
    },
    null,
    { timeout: 60000 },
  );
  const reco = await page.locator('#reco-h').locator('xpath=..').innerText();
  check(
    'edges: an ended experiment without a feasible trial says so, not "yet"',
    /No feasible trial:/.test(reco) && !/yet/.test(reco),
    reco,
  );
}

// Red (limit-line) pixels in each uPlot chart on the page: [[title, count]], the title the
// chart's own or its figure's heading.
function limitPixels() {
  return [...document.querySelectorAll('.uplot')].map((u) => {
    const c = u.querySelector('canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
      n +=
        Math.abs(d[i] - 192) < 12 && Math.abs(d[i + 1] - 57) < 12 && Math.abs(d[i + 2] - 43) < 12;
    }
    const title = u.querySelector('.u-title') || u.closest('figure').querySelector('h3');
    return [title.textContent, n];
  });
}

// Issue 16: a limited objective (here a latency minimized under a limit) has its limit drawn on
// every chart of it: best so far and against each parameter drew none.
async function objectiveLimitChecks(page) {
  const spec = [
    'name: e2e-latency',
    'parameters:',
    '  - {name: share, type: discrete, values: [0.1, 0.2, 0.3, 0.4]}',
    '  - {name: mode, type: categorical, values: [fast, slow, auto]}',
    'objective: {metric: latency, direction: minimize}',
    'constraints: ["latency <= 10"]',
    'algorithm: {name: grid, max_trials: 12}',
    'runner: {kind: replay, surface: tests/data/surface-small.csv}',
  ].join('\n');
  const made = await createExperiment(page, spec, 'limited objective');
  await page.goto(`${BASE}/#/exp/${made[1].id}`);
  await page.waitForFunction(
    () =>
      document.querySelector('h1')?.textContent.startsWith('e2e-latency') &&
      document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED',
    null,
    { timeout: 60000 },
  );
  await page.waitForSelector('.pc svg');
  const red = Object.fromEntries(await page.evaluate(limitPixels));
  for (const title of ['Best so far', 'share', 'mode']) {
    check(
      `limited objective: its limit is drawn in "${title}"`,
      red[title] > 50,
      JSON.stringify(red),
    );
  }
  // A floor on a maximised objective is a limit too (only upper limits were drawn).
  const floor = spec
    .replace('e2e-latency', 'e2e-floor')
    .replace('{metric: latency, direction: minimize}', '{metric: value}')
    .replace('latency <= 10', 'value >= 0.5');
  const floored = await createExperiment(page, floor, 'objective with a floor');
  await page.goto(`${BASE}/#/exp/${floored[1].id}`);
  await page.waitForFunction(
    () =>
      document.querySelector('h1')?.textContent.startsWith('e2e-floor') &&
      document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED',
    null,
    { timeout: 60000 },
  );
  await page.waitForSelector('.pc svg');
  const low = Object.fromEntries(await page.evaluate(limitPixels));
  for (const title of ['Best so far', 'share', 'mode']) {
    check(`objective floor: drawn in "${title}"`, low[title] > 50, JSON.stringify(low));
  }
}

// An experiment that finishes between the page's fetch and the start of its event stream (which
// begins with the next new event): the page still shows how it ended. The stream's request is
// held until the experiment has finished.
async function lateStreamChecks(page, spec) {
  const made = await createExperiment(page, spec, 'late stream');
  const events = `${BASE}/api/v1/experiments/${made[1].id}/events`;
  let release = null;
  const held = new Promise((resolve) => {
    release = resolve;
  });
  await page.route(events, async (route) => {
    await held;
    // The browser may have given the held request up meanwhile (and asked again: the page's
    // stream opens all the same); continuing it then fails.
    await route.continue().catch(() => {});
  });
  await page.goto(`${BASE}/#/exp/${made[1].id}`);
  await page.waitForSelector('#trials-h');
  await untilApi(page, made[1].id, (e) => e.state === 'SUCCEEDED');
  release();
  const shown = await page
    .waitForFunction(() => document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED', null, {
      timeout: 10000,
    })
    .then(() => 'SUCCEEDED')
    .catch(() => page.locator('h1 .badge').textContent());
  check('late stream: the page shows the finished experiment', shown === 'SUCCEEDED', shown);
  await page.unrouteAll({ behavior: 'wait' });
}

// Experiments of different objectives compared: one best-so-far chart each (they were drawn on
// the first one's y axis, under its name and unit).
async function compareObjectivesChecks(page) {
  const ids = await page.evaluate(async () =>
    (await (await authFetch('/api/v1/experiments')).json()).experiments
      .filter((e) => ['e2e-live', 'e2e-edges'].includes(e.name))
      .map((e) => e.id),
  );
  // The page before had charts too: .uplot on the page is no sign that this one is drawn.
  const both = (want) => {
    const titles = [...document.querySelectorAll('figure.chart h3')].map((e) => e.textContent);
    const ok =
      titles.length === 2 &&
      titles.some((t) => t.endsWith('throughput_per_cost')) &&
      titles.some((t) => t.endsWith(': value'));
    return want ? ok : titles.join(' | ');
  };
  await page.goto(`${BASE}/#/compare?ids=${ids.join(',')}`);
  const drawn = await page
    .waitForFunction(both, true, { timeout: 20000 })
    .then(() => true)
    .catch(() => false);
  check('compare: one chart per objective', drawn, await page.evaluate(both, false));
}

// The comparison updates live: an experiment still running reaches its last trial on the page
// (the same page: no reload), in the table's Trials row.
async function liveCompareChecks(page, spec) {
  const made = await createExperiment(page, spec, 'live comparison');
  const other = await page.evaluate(async () =>
    (await (await authFetch('/api/v1/experiments')).json()).experiments.find(
      (e) => e.name === 'e2e-live',
    ),
  );
  await page.goto(`${BASE}/#/compare?ids=${made[1].id},${other.id}`);
  await page.waitForSelector('#comparison thead th a');
  await page.evaluate(() => {
    window.sameCompareDocument = true;
  });
  // The Trials row's cell of the running experiment; given want, whether it reads want.
  const trialsCell = (want) => {
    const text = [...document.querySelectorAll('#comparison tr')]
      .find((r) => r.querySelector('th')?.textContent === 'Trials')
      ?.querySelector('td')?.textContent;
    return want === undefined ? text : text === want;
  };
  const reached = await page
    .waitForFunction(trialsCell, '4 / 4', { timeout: 60000, polling: 100 })
    .then(() => '4 / 4')
    .catch(() => page.evaluate(trialsCell));
  check(
    'live comparison: the running experiment reaches its last trial',
    reached === '4 / 4',
    reached,
  );
  check('... on the same page', await page.evaluate(() => window.sameCompareDocument === true));
}

// Validation answers that come out of order: the answer about an older text (held here for a
// second) does not replace the one about the text in the editor (it showed "Line 38: expected
// an integer" under a valid spec).
async function validateOrderChecks(page, spec) {
  await page.route(`${BASE}/api/v1/validate`, async (route) => {
    if (/max_trials: zero/.test(route.request().postData() || '')) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await route.continue().catch(() => {});
  });
  await page.fill('#spec', spec.replace('max_trials: 30', 'max_trials: zero'));
  await page.click('#validate-btn');
  await page.fill('#spec', spec);
  await page.click('#validate-btn');
  await page.waitForTimeout(1800);
  const shown = await page.locator('#spec-ok, #spec-error').first().textContent();
  check('validation: the answer about the text shown wins', /^Valid/.test(shown), shown);
  await page.unrouteAll({ behavior: 'wait' });
}

// A running trial's page follows it: it showed RUNNING until reloaded. The trial lasts 6 s, so
// that a slow page load (a loaded machine, a sanitizer build) still meets it RUNNING.
async function runningTrialChecks(page, spec) {
  const made = await createExperiment(page, spec, 'running trial');
  const id = made[1].id;
  await untilApi(page, id, (e) => e.trials.some((t) => t.number === 1 && t.state === 'RUNNING'));
  await page.goto(`${BASE}/#/exp/${id}/trial/1`);
  const drawn = await page.waitForSelector('#metrics-h').then(
    () => true,
    () => false,
  );
  if (!drawn) {
    const shown = await page.locator('main').textContent();
    check('running trial: its page is drawn', false, `${page.url()} shows: ${shown}`);
    return;
  }
  const first = await page.locator('h1 .badge').textContent();
  const later = await page
    .waitForFunction(() => document.querySelector('h1 .badge')?.textContent !== 'RUNNING', null, {
      timeout: 20000,
    })
    .then(() => page.locator('h1 .badge').textContent())
    .catch(() => page.locator('h1 .badge').textContent());
  const api = await page.evaluate(
    async (i) =>
      (await (await authFetch(`/api/v1/experiments/${i}`)).json()).trials
        .map((t) => `${t.number} ${t.state}`)
        .join(', '),
    id,
  );
  check(
    'running trial: its page shows it end',
    first === 'RUNNING' && later !== 'RUNNING',
    `${first} -> ${later} (the API: ${api}; ${page.url()})`,
  );
}

// The order the user chose for the trial table survives the redraws of live updates (it went
// back to by-number at every event).
async function liveOrderChecks(page, spec) {
  const made = await createExperiment(page, spec, 'live order');
  await page.goto(`${BASE}/#/exp/${made[1].id}`);
  await page.waitForSelector('#trials-h');
  await page.waitForSelector('#live.on');
  await page.click('th button:has-text("Time")');
  const sortedAt = await trialCount(page);
  const redrawn = await page
    .waitForFunction(
      (n) => Number(/\((\d+)\)/.exec(document.querySelector('#trials-h').textContent)[1]) > n,
      sortedAt,
      { timeout: 10000 },
    )
    .then(
      () => 'redrawn',
      () => 'not redrawn',
    );
  const order = await page.locator('th:has(button:has-text("Time"))').getAttribute('aria-sort');
  check(
    'live order: the trial table keeps its order as trials arrive',
    redrawn === 'redrawn' && order !== 'none',
    `${sortedAt} trials, ${redrawn}, ${order}`,
  );
}

// An experiment deleted while its page is open: the page says so (it kept showing the
// experiment, its buttons failing, "reconnecting…" for ever: the browser never reopens a stream
// the server refuses).
async function deletedChecks(page, spec) {
  const made = await createExperiment(page, spec, 'deleted');
  await page.goto(`${BASE}/#/exp/${made[1].id}`);
  await page.waitForSelector('#trials-h');
  await page.waitForSelector('#live.on');
  const status = await page.evaluate(
    async (id) => (await authFetch(`/api/v1/experiments/${id}`, { method: 'DELETE' })).status,
    made[1].id,
  );
  check('deleted: the experiment is deleted', status === 200, String(status));
  const said = await page
    .waitForSelector('#exp-deleted', { timeout: 10000 })
    .then((e) => e.textContent())
    .catch(() => page.locator('#live').textContent());
  check('deleted: the open page says so', /was deleted/.test(said), said);
}

// A phone's width (375 px): the navigation fits, nothing makes the page scroll sideways.
// How a page fits a phone: where the navigation ends, how wide the document is, and the widest
// elements, to name the culprit when the page is too wide.
// The same from a trial's page: it kept showing the trial, with "not updated: no experiment ..."
// in the live indicator, tried again every 5 s.
async function deletedTrialChecks(page, spec) {
  const made = await createExperiment(page, spec, 'deleted trial');
  await untilApi(page, made[1].id, (e) => e.trials && e.trials.length > 0);
  await page.goto(`${BASE}/#/exp/${made[1].id}/trial/1`);
  await page.waitForSelector('h1:has-text("Trial 1")');
  await page.waitForSelector('#live.on');
  const status = await page.evaluate(
    async (id) => (await authFetch(`/api/v1/experiments/${id}`, { method: 'DELETE' })).status,
    made[1].id,
  );
  check('deleted trial: the experiment is deleted', status === 200, String(status));
  const said = await page
    .waitForSelector('#exp-deleted', { timeout: 10000 })
    .then((e) => e.textContent())
    .catch(() => page.locator('#live').textContent());
  check('deleted trial: the open trial page says so', /was deleted/.test(said), said);
}

// A start refused (here 409: the name exists) stays said: a validation that the typing before
// Ctrl+Enter had scheduled (600 ms later) replaced the error with "Valid: ...", so the user saw
// a valid spec and nothing started.
// Start pressed again (a double click, Ctrl+Enter) while its request runs: one request, one
// experiment (each press sent one; the second was refused as a duplicate, or made another).
async function doubleStartChecks(page, spec) {
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok');
  let posts = 0;
  await page.route(`${BASE}/api/v1/experiments`, async (route) => {
    if (route.request().method() === 'POST') {
      posts++;
      await new Promise((resolve) => setTimeout(resolve, 800));
    }
    await route.continue();
  });
  await page.fill('#spec', variant(spec, 'e2e-double', 2, '10ms'));
  await page.click('#submit-btn');
  const disabled = await page.locator('#submit-btn').isDisabled();
  await page.click('#submit-btn', { force: true, timeout: 2000 }).catch(() => {});
  await page.press('#spec', 'Control+Enter', { timeout: 2000 }).catch(() => {});
  await page.waitForURL(/#\/exp\/\d+$/);
  await page.unrouteAll({ behavior: 'wait' });
  check('start: the button is disabled while its request runs', disabled);
  check('start: pressed again meanwhile, one request', posts === 1, `${posts} requests`);
}

// Cancel pressed twice while its request runs: one request (a second one went out), and the
// experiment ends CANCELLED.
async function doubleCancelChecks(page, spec) {
  const [, body] = await createExperiment(page, spec, 'double cancel');
  await page.goto(`${BASE}/#/exp/${body.id}`);
  // Pressed once the page shows it running, when its heading changes no more: a press once went
  // nowhere (0 requests, under a load of 18), most likely while the page redrew the heading.
  await page.waitForSelector('h1 .badge.RUNNING', { timeout: 20000 }).catch(() => null);
  let posts = 0;
  await page.route(`${BASE}/api/v1/experiments/${body.id}/cancel`, async (route) => {
    posts++;
    await new Promise((resolve) => setTimeout(resolve, 800));
    await route.continue();
  });
  const button = page.locator('.actions button:has-text("Cancel"):not([disabled])');
  await button.click();
  await page
    .locator('.actions button:has-text("Cancel")')
    .click({ force: true, timeout: 2000 })
    .catch(() => {});
  await page.waitForSelector('h1 .badge.CANCELLED', { timeout: 20000 }).catch(() => null);
  await page.unrouteAll({ behavior: 'wait' });
  check('cancel: pressed again meanwhile, one request', posts === 1, `${posts} requests`);
  check(
    'cancel: the experiment ends CANCELLED',
    (await page.locator('h1 .badge.CANCELLED').count()) === 1,
  );
}

// An experiment `morphling run` left INTERRUPTED (test_e2e_dashboard.sh): Resume, next to Cancel,
// as Cancel behaves: an error shown and the button usable again; disabled while its request runs
// (pressed twice, one request); then the page follows the trials live to the end.
async function resumeChecks(page) {
  const exps = await page.evaluate(
    async () => (await (await authFetch('/api/v1/experiments')).json()).experiments,
  );
  const exp = exps.find((e) => e.name === 'e2e-resume');
  check(
    'resume: the interrupted experiment is there',
    exp && exp.state === 'INTERRUPTED',
    JSON.stringify(exp),
  );
  if (!exp) return;
  const url = `${BASE}/api/v1/experiments/${exp.id}/resume`;
  await page.goto(`${BASE}/#/exp/${exp.id}`);
  await page.waitForSelector('h1 .badge.INTERRUPTED');
  const before = await trialCount(page);
  const button = page.locator('.actions #resume-btn');
  const next = await page.evaluate(() =>
    [...document.querySelectorAll('.actions button')].map((b) => b.textContent).join(','),
  );
  check('resume: the button is next to Cancel', /Cancel,Resume/.test(next), next);
  check('resume: enabled for an interrupted experiment', await button.isEnabled());
  await page.route(url, (route) =>
    route.fulfill({
      status: 409,
      json: { error: { code: 'conflict', message: 'e2e: refused by the test' } },
    }),
  );
  await button.click();
  const shown = await page
    .waitForSelector('.msg.error:has-text("e2e: refused by the test")', { timeout: 5000 })
    .catch(() => null);
  check('resume: a refusal is shown', shown !== null);
  await page.waitForSelector('.actions #resume-btn:not([disabled])', { timeout: 5000 });
  await page.unrouteAll({ behavior: 'wait' });
  let posts = 0;
  await page.route(url, async (route) => {
    posts++;
    await new Promise((resolve) => setTimeout(resolve, 800));
    await route.continue();
  });
  await button.click();
  const disabled = await button.isDisabled();
  await button.click({ force: true, timeout: 2000 }).catch(() => {});
  await page.waitForSelector('h1 .badge.RUNNING', { timeout: 20000 }).catch(() => null);
  await page.unrouteAll({ behavior: 'wait' });
  check('resume: the button is disabled while its request runs', disabled);
  check('resume: pressed again meanwhile, one request', posts === 1, `${posts} requests`);
  check('resume: disabled while it runs', await button.isDisabled());
  // Live: the trials arrive without a reload, to the end.
  await page.waitForSelector('h1 .badge.SUCCEEDED', { timeout: 30000 }).catch(() => null);
  const after = await trialCount(page);
  check(
    'resume: the page follows it to SUCCEEDED',
    (await page.locator('h1 .badge.SUCCEEDED').count()) === 1,
  );
  check(
    'resume: its trials came in live',
    before >= 1 && before < 6 && after === 6,
    `${before} -> ${after}`,
  );
  check('resume: disabled once finished', await button.isDisabled());
}

// An experiment whose `morphling run` was killed (SIGKILL, test_e2e_dashboard.sh): RUNNING in
// the store under a claim no process holds. The page shows it INTERRUPTED, Resume enabled, and
// the server takes it over to the end.
async function killedChecks(page) {
  const exps = await page.evaluate(
    async () => (await (await authFetch('/api/v1/experiments')).json()).experiments,
  );
  const exp = exps.find((e) => e.name === 'e2e-killed');
  check('killed: listed INTERRUPTED', exp && exp.state === 'INTERRUPTED', JSON.stringify(exp));
  if (!exp) return;
  await page.goto(`${BASE}/#/exp/${exp.id}`);
  await page.waitForSelector('h1 .badge.INTERRUPTED', { timeout: 5000 }).catch(() => null);
  const button = page.locator('.actions #resume-btn');
  check('killed: Resume enabled', await button.isEnabled());
  await button.click();
  await page.waitForSelector('h1 .badge.SUCCEEDED', { timeout: 30000 }).catch(() => null);
  check(
    'killed: resumed in the server, the page follows it to SUCCEEDED',
    (await page.locator('h1 .badge.SUCCEEDED').count()) === 1,
  );
  check('killed: its trials all ran', (await trialCount(page)) === 6);
}

// The page is open while the `morphling run` driving its experiment (another process) is killed
// with SIGKILL: no event says so, yet the page shows it INTERRUPTED, Resume enabled, without a
// reload (it stayed RUNNING, Resume disabled, until the user reloaded it).
async function killedLiveChecks(page, spec) {
  const run = spawn(process.env.MP_MORPHLING, ['run', '-', '--db', process.env.MP_DB, '--quiet'], {
    cwd: path.resolve(path.dirname(process.env.MP_SPEC), '..', '..'),
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  const ended = new Promise((resolve) => run.on('exit', resolve));
  run.stdin.end(spec);
  let exp = null;
  for (let i = 0; i < 100 && !exp; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exps = await page.evaluate(
      async () => (await (await authFetch('/api/v1/experiments')).json()).experiments,
    );
    exp = exps.find((e) => e.name === 'e2e-killed-live' && e.state === 'RUNNING');
  }
  check('killed live: the run drives it', !!exp);
  if (!exp) return run.kill('SIGKILL');
  await page.goto(`${BASE}/#/exp/${exp.id}`);
  await page.waitForSelector('h1 .badge.RUNNING');
  const button = page.locator('.actions #resume-btn');
  check('killed live: Resume disabled while the run drives it', await button.isDisabled());
  // A trial comes in live first: the stream is open, its first fetch done (a kill before it saw
  // the experiment INTERRUPTED).
  const first = await trialCount(page);
  for (let i = 0; i < 100 && (await trialCount(page)) <= first; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  check('killed live: a trial came in live', (await trialCount(page)) > first);
  // The page of the trial in flight, open in a second tab, follows it too: interrupted once the
  // run is killed (it stayed RUNNING). A trial takes 2 s here, so that it is still in flight at
  // the kill; should it end first, what its page shows is checked against the API all the same.
  // The kill comes once the page's stream is open and its first fetch after that done (the page
  // fetches the experiment twice: to draw it, then as its stream opens): one before that fetch
  // saw the experiment INTERRUPTED without following it.
  const tab = await page.context().newPage();
  const expUrl = `${BASE}/api/v1/experiments/${exp.id}`;
  let fetched = 0;
  tab.on('requestfinished', (r) => {
    if (r.url() === expUrl) fetched++;
  });
  let inFlight = null;
  for (let i = 0; i < 20 && !inFlight; i++) {
    const { trials } = await apiGet(page, `/api/v1/experiments/${exp.id}`);
    const t = trials.find((x) => x.state === 'RUNNING');
    if (!t) continue;
    fetched = 0;
    await tab.goto(`${BASE}/#/exp/${exp.id}/trial/${t.number}`);
    for (let k = 0; k < 50 && fetched < 2; k++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if ((await tab.locator('h1 .badge.RUNNING').count()) === 1 && fetched >= 2) {
      inFlight = t.number;
    }
  }
  check('killed live: the trial in flight shown RUNNING on its page', inFlight !== null);
  run.kill('SIGKILL');
  await ended;
  const shown = await page
    .waitForSelector('h1 .badge.INTERRUPTED', { timeout: 15000 })
    .catch(() => null);
  check('killed live: shown INTERRUPTED without a reload', shown !== null);
  if (inFlight !== null) {
    const after = (await apiGet(page, `/api/v1/experiments/${exp.id}`)).trials.find(
      (x) => x.number === inFlight,
    );
    const want = after.state === 'RUNNING' ? 'INTERRUPTED' : after.state;
    const seen = await tab
      .waitForSelector(`h1 .badge.${want}`, { timeout: 15000 })
      .catch(() => null);
    check(`killed live: trial ${inFlight}'s page shows it ${want} without a reload`, seen !== null);
  }
  await tab.close();
  check('killed live: Resume enabled', await button.isEnabled());
  await button.click({ timeout: 2000 }).catch(() => {});
  await page.waitForSelector('h1 .badge.SUCCEEDED', { timeout: 30000 }).catch(() => null);
  check(
    'killed live: resumed, it ends SUCCEEDED',
    (await page.locator('h1 .badge.SUCCEEDED').count()) === 1,
  );
}

// The session ends while a dialog is open (the export): the login dialog comes on top of it and
// logs in (it was not shown at all: one dialog at a time).
async function loginOverDialogChecks(page, expId) {
  await page.goto(`${BASE}/#/exp/${expId}`);
  await page.click('#export-btn:not([disabled])');
  await page.waitForSelector('#dialog[open] #export-out pre');
  const session = await page.evaluate(() => {
    const s = localStorage.getItem('morphling_session');
    localStorage.setItem('morphling_session', '0'.repeat(64));
    return s;
  });
  await page.fill('#export-container', 'web');
  // Its request meets the forged session; on a loaded machine another one (the page's own) may
  // have met it first, and the login is on top already.
  await page.click('text=As a Kubernetes patch', { timeout: 5000 }).catch(() => {});
  const onTop = await page
    .waitForSelector('#token-input', { state: 'visible', timeout: 5000 })
    .then(() =>
      page.evaluate(() => {
        const i = document.getElementById('token-input');
        const r = i.getBoundingClientRect();
        return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === i;
      }),
    )
    .catch(() => false);
  check('login over an open dialog: shown on top of it', onTop);
  if (!onTop) {
    await page.evaluate((s) => localStorage.setItem('morphling_session', s), session);
    return;
  }
  await page.fill('#token-input', process.env.MP_TOKEN);
  // The login sets the session and reloads the page (the page behind was there all along).
  await Promise.all([
    page.waitForEvent('load').catch(() => {}),
    page.click('#login-dialog button.primary'),
  ]);
  const after = await page.evaluate(() => localStorage.getItem('morphling_session'));
  check('... and logs in', after === session, after);
}

async function submitErrorChecks(page, spec) {
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok');
  await page.fill('#spec', spec.replace('name: replay-live', 'name: e2e-live'));
  await page.press('#spec', 'Control+Enter');
  const said = await page
    .waitForSelector('#spec-error', { timeout: 10000 })
    .then((e) => e.textContent())
    .catch(() => 'no error shown');
  check('start refused: the error is shown', /already exists/.test(said), said);
  await page.waitForTimeout(1500);
  const still = await page.locator('#spec-ok, #spec-error').first().textContent();
  check('start refused: the error stays', /already exists/.test(still), still);
  check('start refused: the page stays', page.url().endsWith('#/new'), page.url());
  // A start the server warns of (create answers `warnings`), pressed before the typing's
  // validation ran: the page went to the experiment and the warning was never shown.
  await page.fill(
    '#spec',
    variant(spec, 'e2e-warned', 3, '10ms').replace('name: random', 'name: grid'),
  );
  await page.press('#spec', 'Control+Enter');
  const startWarned = await page
    .waitForSelector('#spec-started ~ .spec-warning', { timeout: 10000 })
    .then((e) => e.textContent())
    .catch(() => `no warning (${page.url()})`);
  check(
    'start: the warnings of a started experiment are shown',
    /^Warning: grid search stops after max_trials = 3 of its 768/.test(startWarned),
    startWarned,
  );
  await page.click('#spec-started a');
  await page.waitForURL(/#\/exp\/\d+$/);
  await page.waitForSelector('h1:has-text("e2e-warned")');
  check('... and the experiment is a click away', true);
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok, #spec-error');
  // "Reset to example" drops the draft: the page shown again has the template (it came back
  // with the text from before the reset).
  await page.click('button:has-text("Reset to example")');
  const template = await page.inputValue('#spec');
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:has-text("Experiments")');
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok, #spec-error');
  const again = await page.inputValue('#spec');
  check(
    'reset: the draft goes with it',
    again === template && !again.includes('e2e-live'),
    (/^name: .*/m.exec(again) || ['no name'])[0],
  );
  // A draft is the session's that wrote it: one a page of this origin planted while the server
  // was down (whoever bound its port), or one of a previous start, is not offered to be started.
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:has-text("Experiments")');
  await page.evaluate(() =>
    sessionStorage.setItem(
      'morphling-draft',
      JSON.stringify({ session: 'f'.repeat(64), text: 'name: planted' }),
    ),
  );
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok, #spec-error');
  const planted = await page.inputValue('#spec');
  check('a draft of another session is not shown', planted === template, planted.slice(0, 40));
  await page.fill('#spec', template.replace(/^name: .*/m, 'name: my-draft'));
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:has-text("Experiments")');
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok, #spec-error');
  check('... and one of this session is', /^name: my-draft$/m.test(await page.inputValue('#spec')));
  await page.click('button:has-text("Reset to example")');
}

// An experiment whose stored spec this build cannot read is listed with `error` and nulls for
// its objective, algorithm and max_trials (docs/api.md): its row says so (it said "40 / null"
// and "↓ null"). The list's answer gets such an item, as the server writes it.
async function unreadableChecks(page) {
  const url = `${BASE}/api/v1/experiments`;
  await page.route(url, async (route) => {
    if (route.request().method() !== 'GET') return route.continue();
    const res = await route.fetch();
    const list = await res.json();
    list.experiments.push({
      id: 999999,
      name: 'e2e-unreadable',
      state: 'SUCCEEDED',
      created_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      objective: { metric: null, direction: null },
      algorithm: null,
      max_trials: null,
      counts: { total: 3, succeeded: 2, failed: 1, cancelled: 0, pending: 0, running: 0 },
      best_value: null,
      best_settled: null,
      error: "e2e-unreadable:1:24: 'future_field': unknown key",
    });
    list.experiments.push({
      ...list.experiments[0],
      id: 999998,
      name: 'e2e-unsettled',
      best_value: 123,
      best_settled: false,
    });
    return route.fulfill({ response: res, json: list }).catch(gone);
  });
  await page.goto(`${BASE}/#/`);
  // A best value that rests on an unsettled measurement is marked (it read as any other).
  await page.waitForSelector('a:has-text("e2e-unsettled")', { timeout: 10000 }).catch(() => null);
  const marked = await page.evaluate(async () => {
    const { experiments } = await (await authFetch('/api/v1/experiments')).json();
    const want = experiments.filter((e) => e.best_settled === false).map((e) => e.name);
    const rows = [...document.querySelectorAll('tr')].filter((r) =>
      r.querySelector('.tag.unsettled'),
    );
    return { want, got: rows.map((r) => r.querySelector('a').textContent) };
  });
  check(
    'list: only the unsettled best values are marked',
    marked.want.join() === marked.got.join() && marked.want.includes('e2e-unsettled'),
    JSON.stringify(marked),
  );
  const row = page.locator('tr', { has: page.locator('a:has-text("e2e-unreadable")') });
  const text = await row.innerText({ timeout: 10000 }).catch(() => 'no row');
  check(
    'unreadable spec: the list row names the error',
    /spec not readable/.test(text) && /'future_field': unknown key/.test(text),
    text,
  );
  check('unreadable spec: no "null" in its row', !/null/.test(text), text);
  check('unreadable spec: its progress is its trials', /\b3 trials\b/.test(text), text);
  // Chosen for a comparison (the list lets one): the others are compared and it is named (the
  // page was the bare error, the choice gone).
  const ids = await page.evaluate(async () =>
    (await (await authFetch('/api/v1/experiments')).json()).experiments.map((e) => e.id),
  );
  await page.goto(`${BASE}/#/compare?ids=${ids.slice(0, 2).join(',')},999999`);
  const failed = await page
    .waitForSelector('.compare-failed', { timeout: 10000 })
    .then((e) => e.textContent())
    .catch(() => page.locator('main').innerText());
  check(
    'unreadable spec: the comparison names it',
    /^Experiment 'e2e-unreadable' cannot be compared: /.test(failed),
    failed,
  );
  check(
    'unreadable spec: the comparison shows the others',
    (await page.locator('#comparison thead th a').count()) === 2 &&
      (await page.locator('form.toolbar input[type=checkbox]').count()) === ids.length,
  );
  // Its page: the server answers 500 unsupported; the page says why and offers to delete it,
  // which DELETE does (docs/api.md) and nothing else on the dashboard could (the page was the
  // bare error).
  const one = `${BASE}/api/v1/experiments/999999`;
  let deleted = false;
  await page.route(one, (route) => {
    if (route.request().method() === 'DELETE') {
      deleted = true;
      return route.fulfill({ json: { id: 999999, deleted: true } });
    }
    return route.fulfill({
      status: 500,
      json: { error: { code: 'unsupported', message: "e2e-unreadable:1:24: 'future_field'" } },
    });
  });
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:text-is("Experiments")');
  await page.goto(`${BASE}/#/exp/999999`);
  const said = await page
    .locator('main .msg.error')
    .textContent({ timeout: 10000 })
    .catch(() => 'none');
  check('unreadable spec: its page names the error', /'future_field'/.test(said), said);
  page.once('dialog', (d) => d.accept());
  await page.click('main button:has-text("Delete")', { timeout: 5000 }).catch(() => {});
  await page.waitForURL(/#\/$/, { timeout: 5000 }).catch(() => {});
  check('unreadable spec: its page deletes it', deleted && page.url().endsWith('#/'), page.url());
  // Waiting for handlers in flight: the list's, after the delete went back to it, fulfilled a
  // request its unroute had let through ("Route is already handled").
  await page.unrouteAll({ behavior: 'wait' });
}

function phoneFit() {
  const r = document.querySelector('.topbar nav').getBoundingClientRect();
  const wide = [...document.querySelectorAll('body *')]
    .filter((e) => e.getBoundingClientRect().right > 376 && !e.closest('.table-wrap'))
    .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > 376))
    .slice(0, 6)
    .map((e) => {
      const fig = e.closest('figure');
      const where = fig ? ` in "${fig.querySelector('h3').textContent}"` : '';
      return `${e.tagName.toLowerCase()}.${e.className}${where}`;
    });
  return { right: r.right, scroll: document.documentElement.scrollWidth, wide };
}

// A phone's width (375 px): on every page the navigation fits and nothing makes the page
// scroll sideways (wide tables scroll inside their frame).
async function phoneChecks(page, expId) {
  await page.setViewportSize({ width: 375, height: 800 });
  const pages = [
    ['experiments', '#/', 'h1:has-text("Experiments")'],
    ['experiment', `#/exp/${expId}`, '.pc svg'],
    ['trial', `#/exp/${expId}/trial/1`, '#trial-metrics'],
    ['new experiment', '#/new', '#spec-ok'],
  ];
  for (const [name, hash, ready] of pages) {
    await page.goto(`${BASE}/${hash}`);
    await page.waitForSelector(ready);
    // Charts drawn before the new viewport took effect are resized 150 ms after the window's
    // resize event (app.js): on a loaded machine that came after the check.
    await page
      .waitForFunction(() => document.documentElement.scrollWidth <= 375, null, { timeout: 5000 })
      .catch(() => {});
    const fit = await page.evaluate(phoneFit);
    check(`phone: the navigation fits 375 px (${name})`, fit.right <= 375, JSON.stringify(fit));
    check(`phone: no sideways scrolling (${name})`, fit.scroll <= 375, JSON.stringify(fit));
    if (name === 'experiment') {
      // The heat map scrolls sideways in its frame; its numbers stay whole ("1,95" above "3").
      const split = await page.evaluate(() =>
        [...document.querySelectorAll('.heat .cell')]
          .filter((c) => c.textContent && c.getBoundingClientRect().height > 40)
          .map((c) => c.textContent),
      );
      check('phone: heat map numbers stay whole', split.length === 0, split.join(' '));
      await page.evaluate(() => window.scrollTo(0, 0));
      await shot(page, 'phone.png');
      await shot(page, 'phone-full.png', { fullPage: true });
    }
    if (name === 'trial') await shot(page, 'phone-trial.png', { fullPage: true });
  }
  await page.setViewportSize({ width: 1440, height: 900 });
}

// What `morphling show` says besides the best trial: the runner-up within measurement noise, the
// Pareto front of a spec of several objectives (and those objectives), and a capacity plan for a
// target load (the export's `target_rps`). The page showed none of them.
async function showParityChecks(page, spec) {
  const money = new Intl.NumberFormat('en-US', {
    style: 'currency',
    currency: 'USD',
    maximumSignificantDigits: 3,
  });
  const multi = variant(spec, 'e2e-objectives', 40, '10ms').replace(
    /objective:\n {2}metric: throughput_per_cost\n {2}direction: maximize\n/,
    'objectives:\n  - {metric: throughput_per_cost, direction: maximize}\n' +
      '  - {metric: p99_ms, direction: minimize}\n',
  );
  const [, made] = await createExperiment(page, multi, 'several objectives');
  await untilApi(page, made.id, (e) => e.state === 'SUCCEEDED');
  const exp = await page.evaluate(
    async (i) => (await authFetch(`/api/v1/experiments/${i}`)).json(),
    made.id,
  );
  await page.goto(`${BASE}/#/exp/${made.id}`);
  await page.waitForSelector('#trials-h');
  const ru = exp.runner_up;
  const ruText = await page
    .locator('#runner-up')
    .textContent({ timeout: 3000 })
    .catch(() => 'no runner-up');
  check(
    'the runner-up within noise is said, as show says it',
    ru &&
      ru.within_noise &&
      ruText.startsWith(`Runner-up: trial ${ru.number} (`) &&
      ruText.includes('is within measurement noise (±') &&
      ruText.includes('either is a sound choice'),
    `${JSON.stringify(ru && ru.number)} ${ruText}`,
  );
  const objectives = await page
    .locator('dt:has-text("Objectives") + dd')
    .textContent({ timeout: 3000 })
    .catch(() => 'no objectives');
  check(
    'settings: every objective',
    objectives === 'maximize throughput_per_cost, minimize p99_ms',
    objectives,
  );
  const front = exp.pareto_front.map((p) => `#${p.number}`);
  const rows = await page
    .locator('#pareto-front tbody tr td:first-child')
    .allTextContents()
    .catch(() => []);
  check(
    'the Pareto front of the objectives, as show lists it',
    front.length > 1 && rows.join() === front.join(),
    `${rows.join()} vs ${front.join()}`,
  );
  const p99 = await page
    .locator('#pareto-front tbody tr:first-child td:last-child')
    .textContent({ timeout: 3000 })
    .catch(() => '');
  check('... with units', / ms$/.test(p99), p99);
  await shot(page.locator('.reco'), 'objectives.png');
  // A capacity plan for a target load, as `show --target-rps` and `export --target-rps` give it.
  await page.click('#export-btn');
  await page.waitForSelector('dialog[open] #export-out pre');
  const planned = await page
    .fill('#export-target', '5000', { timeout: 3000 })
    .then(() => page.click('text=Plan capacity'))
    .then(() => page.waitForSelector('#capacity-plan', { timeout: 5000 }))
    .then((e) => e.textContent())
    .catch((e) => String(e).split('\n')[0]);
  const plan = await page.evaluate(
    async (i) =>
      (await (await authFetch(`/api/v1/experiments/${i}/export?target_rps=5000`)).json())
        .capacity_plan,
    made.id,
  );
  check(
    'export: a capacity plan for a target load',
    new RegExp(`^5,000 req/s with 20 % headroom needs ${plan.replicas} replicas? of `).test(
      planned,
    ) && planned.includes(`${money.format(plan.cost_per_hour)}/h`),
    `${planned} ${JSON.stringify(plan)}`,
  );
  const inDeploy = JSON.parse(await page.locator('#export-out pre').textContent());
  check(
    '... and in the configuration shown',
    inDeploy.capacity_plan && inDeploy.capacity_plan.replicas === plan.replicas,
  );
  await page.keyboard.press('Escape');
  // The comparison names every objective too (it named the first).
  const other = await page.evaluate(
    async () =>
      (await (await authFetch('/api/v1/experiments')).json()).experiments.find(
        (e) => e.name === 'e2e-live',
      ).id,
  );
  await page.goto(`${BASE}/#/compare?ids=${made.id},${other}`);
  const objectiveRow = () => {
    const row = [...document.querySelectorAll('tr')].find(
      (r) => r.firstElementChild?.textContent === 'Objective',
    );
    return row ? row.children[1].textContent : '';
  };
  // The experiment page before had the same charts and no such row: wait for the table.
  await page.waitForFunction(objectiveRow).catch(() => null);
  const compared = (await page.evaluate(objectiveRow)) || 'no row';
  check(
    'compare: every objective',
    compared === 'maximize throughput_per_cost, minimize p99_ms',
    compared,
  );
}

// A name of the longest kind (63 characters) wraps in the list: it widened the table past a
// 1440 px window, and the algorithm and age columns went out of sight.
async function longNameChecks(page, spec) {
  const name = `e2e-long-${'n'.repeat(54)}`;
  await createExperiment(page, variant(spec, name, 2, '10ms'), 'a long name');
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector(`td a:has-text("${name}")`);
  const [scroll, width] = await page.evaluate(() => {
    const w = document.querySelector('main .table-wrap');
    return [w.scrollWidth, w.clientWidth];
  });
  check('list: a long name leaves every column in sight', scroll <= width, `${scroll} > ${width}`);
}

// Every trial failed before it measured anything (configurations the surface never recorded):
// each chart says there is nothing to draw (they drew empty axes of made-up ranges, 0 to 1 and
// $0 to $1), and the recommendation says no trial succeeded (it said no configuration met
// every constraint, of a spec without any).
async function allFailedChecks(page) {
  const spec = [
    'name: e2e-all-failed',
    'parameters:',
    '  - {name: share, type: discrete, values: [0.15, 0.25, 0.4]}',
    '  - {name: mode, type: categorical, values: [fast]}',
    'objective: {metric: value}',
    'algorithm: {name: grid, max_trials: 2}',
    'runner: {kind: replay, surface: tests/data/surface-small.csv}',
  ].join('\n');
  const [, made] = await createExperiment(page, spec, 'all failed');
  await untilApi(page, made.id, (e) => e.state === 'FAILED');
  await page.goto(`${BASE}/#/exp/${made.id}`);
  await page.waitForSelector('#trials-h');
  await page.waitForSelector('#charts figure.chart');
  await page.waitForTimeout(500); // the charts are drawn in the next frame
  const drawn = await page.evaluate(() => ({
    plots: document.querySelectorAll('#charts .uplot').length,
    empty: [...document.querySelectorAll('#charts .empty')].map((e) => e.textContent),
  }));
  check(
    'all failed: no chart of empty axes',
    drawn.plots === 0 && drawn.empty.length >= 4,
    JSON.stringify(drawn),
  );
  check(
    'all failed: no heat map of grey cells',
    (await page.locator('#charts .heat').count()) === 0,
  );
  const reco = await page.locator('section.panel:has(#reco-h) p').textContent();
  check(
    'all failed: the recommendation says no trial succeeded',
    reco === 'No trial succeeded: no configuration to recommend.',
    reco,
  );
}

async function run() {
  ctx = await chromium.launchPersistentContext(process.env.MP_PROFILE, {
    executablePath: process.env.MP_CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // The API from the page's own scripts, with the session the login URL gave the page.
  await ctx.addInitScript(() => {
    window.authFetch = (url, opts = {}) =>
      fetch(url, {
        ...opts,
        headers: {
          ...opts.headers,
          Authorization: `Bearer ${localStorage.getItem('morphling_session')}`,
        },
      });
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The one 400 expected is the deliberate validation error.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('status of 400')) errors.push(m.text());
  });
  const external = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(BASE)) external.push(r.url());
  });
  page.setDefaultTimeout(20000);

  // Not logged in: the page loads, the API answers 401 and the page asks to log in.
  await page.goto(`${BASE}/`);
  await page.waitForSelector('dialog[open] #token-input');
  check('without a session the page asks to log in', true);
  // A pasted token is exchanged for the session in a request's header: no address holds it (it
  // went through the login URL, which the browser's history keeps).
  const addresses = [];
  const onRequest = (r) => addresses.push(r.url());
  page.on('request', onRequest);
  await page.fill('#token-input', 'not-the-token');
  await page.click('dialog[open] button.primary');
  const pastedWrong = await page
    .waitForSelector('dialog[open] .msg.error:not([hidden])', { timeout: 5000 })
    .then((e) => e.textContent())
    .catch(() => 'no message');
  check('a wrong pasted token is said', pastedWrong === 'That token is wrong.', pastedWrong);
  // A token no header can carry (a stray character copied with it) is a wrong token: it read
  // "The server did not answer (Failed to execute 'fetch' ...)" of a server that was up.
  await page.evaluate(() => {
    document.querySelector('dialog[open] .msg').hidden = true;
  });
  await page.fill('#token-input', `${process.env.MP_TOKEN}\u2026`);
  await page.click('dialog[open] button.primary');
  const pastedOdd = await page
    .waitForSelector('dialog[open] .msg.error:not([hidden])', { timeout: 5000 })
    .then((e) => e.textContent())
    .catch(() => 'no message');
  check(
    'a token no header can carry is said to be wrong',
    pastedOdd === 'That token is wrong.',
    pastedOdd,
  );
  await page.fill('#token-input', process.env.MP_TOKEN);
  await page.click('dialog[open] button.primary');
  await page.waitForSelector('h1:has-text("Experiments")');
  check('a pasted token logs in', page.url() === `${BASE}/`, page.url());
  await page.evaluate(() => localStorage.removeItem('morphling_session'));
  // The dialog asks for the URL `morphling serve` printed: pasted whole (its line, even), it logs
  // in too (it was "That token is wrong."), and the token still goes in a header only.
  await page.goto(`${BASE}/`);
  await page.waitForSelector('dialog[open] #token-input');
  const url = `${BASE}/?token=${encodeURIComponent(process.env.MP_TOKEN)}`;
  await page.fill('#token-input', `morphling serve: open ${url} to log in (the token is in F)`);
  await page.click('dialog[open] button.primary');
  const byUrl = await page
    .waitForSelector('h1:has-text("Experiments")', { timeout: 5000 })
    .then(() => page.url())
    .catch(() => page.locator('dialog[open] .msg').textContent());
  check('a pasted login URL logs in', byUrl === `${BASE}/`, byUrl);
  page.off('request', onRequest);
  check(
    '... and no address held it',
    !addresses.some((u) => u.includes(process.env.MP_TOKEN) || u.includes('not-the-token')),
    addresses.filter((u) => u.includes('token')),
  );
  await page.evaluate(() => localStorage.removeItem('morphling_session')); // logged out again
  // A wrong token: back to the page, which says so and asks again; the token leaves the URL.
  await page.goto(`${BASE}/?token=not-the-token`);
  const wrong = await page
    .waitForSelector('dialog[open] .msg.error', { timeout: 5000 })
    .then((e) => e.textContent())
    .catch(() => 'no message');
  check('a wrong login token is said', wrong === 'That token is wrong.', wrong);
  check('... and leaves the address bar', page.url() === `${BASE}/`, page.url());
  errors.length = 0; // the expected 401s
  // The login URL hands the page a session of this start (never the token), kept in the
  // origin's storage, and leaves a clean URL; no cookie, which every port of the host receives.
  await page.goto(`${BASE}/?token=${encodeURIComponent(process.env.MP_TOKEN)}`);
  await page.waitForSelector('h1:has-text("Experiments")');
  check('the login URL leaves the clean URL', page.url() === `${BASE}/`, page.url());
  check('... and sets no cookie', (await ctx.cookies(BASE)).length === 0);
  const session = await page.evaluate(() => localStorage.getItem('morphling_session'));
  check(
    'the page keeps a session, not the token',
    /^[0-9a-f]{64}$/.test(session || '') && session !== process.env.MP_TOKEN,
    session,
  );
  check(
    'the address bar does not hold the session',
    !(await page.evaluate(() => window.location.href + document.referrer)).includes(session),
  );
  // Any page of any origin can send the browser to /#session=...: a session the server refuses
  // leaves the page's own in place (it replaced it, so every page the user opened could log the
  // dashboard out, again and again).
  await page.goto('about:blank'); // a new document, as another page's link or window.open loads
  await page.goto(`${BASE}/#session=${'0'.repeat(64)}`);
  await page.waitForSelector('h1:has-text("Experiments")', { timeout: 5000 }).catch(() => null);
  const kept = await page.evaluate(() => localStorage.getItem('morphling_session'));
  check('a forged session leaves the page logged in', kept === session, kept);
  check('... and leaves the address bar', page.url() === `${BASE}/`, page.url());
  errors.length = 0; // the forged session's 401
  check('list page renders', true);
  // A malformed address is said on the page (it threw before the page's error handling: the
  // last page stayed, with an uncaught URIError).
  await page.goto(`${BASE}/#/exp/%E0%A4%A`);
  const malformed = await page
    .waitForSelector('main .msg.error', { timeout: 5000 })
    .then((e) => e.textContent())
    .catch(() => 'no message');
  check('a malformed address is said on the page', /URI/.test(malformed), malformed);
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('h1:has-text("Experiments")');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.textContent);
  check('first Tab focuses the skip link', focused === 'Skip to content', focused);

  await page.click('nav >> text=New experiment');
  await page.waitForSelector('#spec-ok');
  check('template validates', (await page.locator('#spec-ok').textContent()).includes('Valid'));
  check(
    'the template names no file of the source tree',
    !/surface:|examples\//.test(await page.inputValue('#spec')),
  );
  // The experiment the test runs: a replay of a recorded surface (tests/e2e/replay-live.yaml).
  const spec = fs.readFileSync(process.env.MP_SPEC, 'utf8');
  const bad = spec.split('\n').findIndex((l) => l.includes('max_trials:')) + 1;
  await page.fill('#spec', spec.replace('max_trials: 30', 'max_trials: zero'));
  await page.click('#validate-btn');
  await page.waitForSelector('#spec-error');
  const errText = await page.locator('#spec-error').textContent();
  check('validation error names its line', errText.includes(`Line ${bad}`), errText);
  // ... once: the server's "spec:LINE:COLUMN: " is what "Line L, column C:" says.
  check('... once', !new RegExp(`:${bad}:\\d+: `).test(errText), errText);
  const gutterErr = await page.locator('.gutter .err').textContent();
  check('error line is marked in the gutter', gutterErr === String(bad), gutterErr);

  await validateOrderChecks(page, spec);
  // A valid spec's warning shows under it, as `morphling validate` prints it.
  await page.fill('#spec', spec.replace('name: random', 'name: grid'));
  await page.click('#validate-btn');
  const warned = await page
    .waitForSelector('.spec-warning', { timeout: 10000 })
    .then((e) => e.textContent())
    .catch(() => page.locator('#spec-ok, #spec-error').first().textContent());
  check(
    'validation: a grid cut short by max_trials is a warning',
    /^Warning: grid search stops after max_trials = 30 of its 768/.test(warned),
    warned,
  );

  await page.fill('#spec', spec.replace('name: replay-live', 'name: e2e-live'));
  await page.click('#submit-btn');
  await page.waitForURL(/#\/exp\/\d+$/);
  const expId = /#\/exp\/(\d+)$/.exec(page.url())[1];
  await page.evaluate(() => {
    window.__noReload = true;
  });
  await page.waitForSelector('#trials-h');
  const first = await trialCount(page);
  await page.waitForFunction(
    () =>
      /\((\d+)\)/.test(document.querySelector('#trials-h')?.textContent || '') &&
      Number(/\((\d+)\)/.exec(document.querySelector('#trials-h').textContent)[1]) >= 5,
  );
  const later = await trialCount(page);
  check('trials arrive live', later > first, `${first} -> ${later}`);
  check('page was not reloaded', await page.evaluate(() => window.__noReload === true));
  await page.waitForSelector('.badge.SUCCEEDED >> nth=0');
  await page.waitForFunction(
    () => document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED',
    null,
    { timeout: 60000 },
  );
  check('experiment finishes', true);
  await page.waitForSelector('.uplot');
  await page.waitForSelector('.pc svg');
  await experimentChecks(page, expId);
  await infeasibleNamedChecks(page, expId);
  await resizeChecks(page, expId);
  await heatTrialChecks(page, expId);
  await exportChecks(page);
  await trialPageChecks(page, expId);
  await confirmationChecks(page, expId);
  await interruptedChecks(page, expId);
  await scaleChecks(page, expId);
  await phoneChecks(page, expId);

  // A second experiment for the comparison page, submitted through the API.
  const res = await page.evaluate(
    async (s) => {
      const r = await authFetch('/api/v1/experiments', { method: 'POST', body: s });
      return r.status;
    },
    spec
      .replace('name: replay-live', 'name: e2e-second')
      .replace('seed: 7', 'seed: 11')
      .replace('delay: 150ms', 'delay: 10ms'),
  );
  check('second experiment created from the page origin', res === 201, String(res));
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('td a:has-text("e2e-second")');
  await shot(page, 'list.png', { fullPage: true });
  // The list keeps the order the user chose as the filter redraws it (it went back to by age).
  await page.click('th button:has-text("Name")');
  await page.fill('input[type=search]', 'e2e');
  const listOrder = await page.locator('th:has(button:has-text("Name"))').getAttribute('aria-sort');
  check('list: the order chosen survives filtering', listOrder === 'ascending', String(listOrder));
  await page.fill('input[type=search]', '');
  // The two above: not e2e-resume nor e2e-killed, which test_e2e_dashboard.sh left for
  // resumeChecks and killedChecks.
  const ids = await page.evaluate(async () =>
    (await (await authFetch('/api/v1/experiments')).json()).experiments
      .filter((e) => e.name !== 'e2e-resume' && e.name !== 'e2e-killed')
      .map((e) => e.id),
  );
  await page.goto(`${BASE}/#/compare?ids=${ids.join(',')}`);
  await page.waitForSelector('.uplot');
  check('comparison shows both experiments', (await page.locator('thead th a').count()) === 2);
  await shot(page, 'compare.png', { fullPage: true });
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok');
  await shot(page, 'new.png');

  await showParityChecks(page, spec);
  await longNameChecks(page, spec);
  await allFailedChecks(page);
  await edgeChecks(page);
  await objectiveLimitChecks(page);
  await compareObjectivesChecks(page);
  await liveCompareChecks(page, variant(spec, 'e2e-cmp-live', 4, '700ms'));
  await lateStreamChecks(page, variant(spec, 'e2e-late', 8, '100ms'));

  await runningTrialChecks(page, variant(spec, 'e2e-running', 2, '6s'));
  await liveOrderChecks(page, variant(spec, 'e2e-order', 5, '800ms'));
  const before = errors.length;
  await deletedChecks(page, variant(spec, 'e2e-deleted', 4, '10ms'));
  await deletedTrialChecks(page, variant(spec, 'e2e-deleted-trial', 4, '2s'));
  // The expected 404s: the deleted experiment's stream and page, asked for again.
  errors.splice(
    before,
    errors.length,
    ...errors.slice(before).filter((e) => !/status of 404/.test(e)),
  );

  await unreadableChecks(page);
  await submitErrorChecks(page, spec);
  await doubleStartChecks(page, spec);
  await doubleCancelChecks(page, variant(spec, 'e2e-double-cancel', 20, '1s'));
  await resumeChecks(page);
  await killedChecks(page);
  await killedLiveChecks(page, variant(spec, 'e2e-killed-live', 6, '2s'));
  await loginOverDialogChecks(page, expId);
  // The expected 401 of the ended session, 404 of the experiment that is not there, 409 of the
  // refused start and 500 of the unreadable experiment.
  errors.splice(
    before,
    errors.length,
    ...errors.slice(before).filter((e) => !/status of (40[149]|500)/.test(e)),
  );

  check('no page errors', errors.length === 0, errors.join(' | '));
  check('no request left the server', external.length === 0, external.join(' '));
}

run()
  .catch((e) => {
    failures++;
    console.log(`not ok - ${e.stack || e}`);
  })
  .finally(async () => {
    // Close the browser whatever happened, so a failure ends the test instead of hanging it.
    if (ctx) await ctx.close().catch(() => {});
    console.log(`e2e: ${passes} passed, ${failures} failed`);
    process.exit(failures ? 1 : 0);
  });
