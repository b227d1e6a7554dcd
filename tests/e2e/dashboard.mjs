// SPDX-License-Identifier: Apache-2.0
// Drives the dashboard in headless Chromium: logging in through the login URL `morphling serve`
// prints, list page, new-experiment editor (an error shown at its line, then a valid submission
// of a replay experiment), trials arriving live on the experiment page without a reload, the
// charts, keyboard focus and the comparison page.
// Env: MP_BASE (server URL), MP_TOKEN (its token), MP_DEPS (dir with node_modules/playwright-core),
// MP_CHROMIUM, MP_PROFILE (fresh user-data dir), MP_SHOTS (screenshot dir).
import { createRequire } from 'node:module';
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

async function run() {
  ctx = await chromium.launchPersistentContext(process.env.MP_PROFILE, {
    executablePath: process.env.MP_CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  // The one 400 expected is the deliberate validation error.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().includes('status of 400')) errors.push(m.text()); });
  const external = [];
  page.on('request', (r) => { if (!r.url().startsWith(BASE)) external.push(r.url()); });
  page.setDefaultTimeout(20000);

  // Not logged in: the page loads, the API answers 401 and the page asks to log in.
  await page.goto(`${BASE}/`);
  await page.waitForSelector('dialog[open] #token-input');
  check('without the cookie the page asks to log in', true);
  errors.length = 0; // the expected 401s
  // The login URL sets the HttpOnly cookie and redirects to the clean URL.
  await page.goto(`${BASE}/?token=${process.env.MP_TOKEN}`);
  await page.waitForSelector('h1:has-text("Experiments")');
  check('the login URL redirects to the clean URL', page.url() === `${BASE}/`, page.url());
  const cookies = await ctx.cookies(BASE);
  const c = cookies.find((k) => k.name.startsWith('morphling_token_'));
  check('the token cookie is HttpOnly and SameSite=Strict', c && c.httpOnly && c.sameSite === 'Strict',
    JSON.stringify(c));
  check('scripts cannot read the token', !(await page.evaluate(() => document.cookie)).includes(process.env.MP_TOKEN || '-'));
  check('list page renders', true);
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement.textContent);
  check('first Tab focuses the skip link', focused === 'Skip to content', focused);

  await page.click('nav >> text=New experiment');
  await page.waitForSelector('#spec-ok');
  check('template validates', (await page.locator('#spec-ok').textContent()).includes('Valid'));
  const spec = await page.inputValue('#spec');
  const lines = spec.split('\n');
  const bad = lines.findIndex((l) => l.includes('max_trials:')) + 1;
  await page.fill('#spec', spec.replace('max_trials: 30', 'max_trials: zero'));
  await page.click('#validate-btn');
  await page.waitForSelector('#spec-error');
  const errText = await page.locator('#spec-error').textContent();
  check('validation error names its line', errText.includes(`Line ${bad}`), errText);
  const gutterErr = await page.locator('.gutter .err').textContent();
  check('error line is marked in the gutter', gutterErr === String(bad), gutterErr);

  await page.fill('#spec', spec.replace('name: replay-live', 'name: e2e-live'));
  await page.click('#submit-btn');
  await page.waitForURL(/#\/exp\/\d+$/);
  await page.evaluate(() => { window.__noReload = true; });
  await page.waitForSelector('#trials-h');
  const first = await trialCount(page);
  await page.waitForFunction(() => /\((\d+)\)/.test(document.querySelector('#trials-h')?.textContent || '') &&
    Number(/\((\d+)\)/.exec(document.querySelector('#trials-h').textContent)[1]) >= 5);
  const later = await trialCount(page);
  check('trials arrive live', later > first, `${first} -> ${later}`);
  check('page was not reloaded', await page.evaluate(() => window.__noReload === true));
  await page.waitForSelector('.badge.SUCCEEDED >> nth=0');
  await page.waitForFunction(() => document.querySelector('h1 .badge')?.textContent === 'SUCCEEDED', null, { timeout: 60000 });
  check('experiment finishes', true);
  await page.waitForSelector('.uplot');
  const charts = await page.locator('.uplot').count();
  check('charts drawn (best so far, Pareto, per parameter)', charts >= 6, `${charts} charts`);
  check('heat map drawn', (await page.locator('.heat .cell').count()) > 4);
  check('recommendation card shows a configuration', (await page.locator('.config span').count()) === 4);
  const sortBtn = page.locator('th button:has-text("Time")');
  await sortBtn.focus();
  await page.keyboard.press('Enter');
  check('trial table sorts from the keyboard',
    (await page.locator('th:has(button:has-text("Time"))').getAttribute('aria-sort')) !== 'none');
  await shot(page, 'experiment.png', { fullPage: true });
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'experiment-top.png');
  await shot(page.locator('#charts'), 'charts.png');

  await page.locator('button[aria-label="Logs of trial 1"]').click();
  await page.waitForSelector('dialog[open] pre.log');
  check('trial logs open in a dialog', true);
  await page.keyboard.press('Escape');

  // A second experiment for the comparison page, submitted through the API.
  const res = await page.evaluate(async (s) => {
    const r = await fetch('/api/v1/experiments', { method: 'POST', body: s });
    return r.status;
  }, spec.replace('name: replay-live', 'name: e2e-second').replace('seed: 7', 'seed: 11').replace('delay: 150ms', 'delay: 10ms'));
  check('second experiment created from the page origin', res === 201, String(res));
  await page.goto(`${BASE}/#/`);
  await page.waitForSelector('td a:has-text("e2e-second")');
  await shot(page, 'list.png', { fullPage: true });
  const ids = await page.evaluate(async () => (await (await fetch('/api/v1/experiments')).json()).experiments.map((e) => e.id));
  await page.goto(`${BASE}/#/compare?ids=${ids.join(',')}`);
  await page.waitForSelector('.uplot');
  check('comparison shows both experiments', (await page.locator('thead th a').count()) === 2);
  await shot(page, 'compare.png', { fullPage: true });
  await page.goto(`${BASE}/#/new`);
  await page.waitForSelector('#spec-ok');
  await shot(page, 'new.png');

  check('no page errors', errors.length === 0, errors.join(' | '));
  check('no request left the server', external.length === 0, external.join(' '));
}

run().catch((e) => {
  failures++;
  console.log(`not ok - ${e.stack || e}`);
}).finally(async () => {
  // Close the browser whatever happened, so a failure ends the test instead of hanging it.
  if (ctx) await ctx.close().catch(() => {});
  console.log(`e2e: ${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
});
