// SPDX-License-Identifier: Apache-2.0
// A port taken over while `morphling serve` was down: whoever bound it answered the browser that
// opened it then with pages to keep for a year (Cache-Control: max-age), and the login URL of a
// later start redirected to that copy of the page, whose scripts got the session. Two steps, in
// the same Chromium profiles (MP_PROFILE-right, MP_PROFILE-wrong):
//   node squat.mjs take   - serves such pages on a free port, has the browser open them, stops;
//                           prints the port
//   node squat.mjs login  - with serve now on that port (MP_BASE, MP_TOKEN): the login URL, and
//                           a wrong token's, show the server's page
// Env: MP_DEPS (dir with node_modules/playwright-core), MP_CHROMIUM, MP_PROFILE (a path prefix).
import { createRequire } from 'node:module';
import http from 'node:http';
import path from 'node:path';

const require = createRequire(path.join(process.env.MP_DEPS, 'package.json'));
const { chromium } = require('playwright-core');

const PAGE = '<!doctype html><title>squatter</title><script src="/app.js"></script>';
const SCRIPT = "document.title = 'squatter'; document.body.textContent = location.hash;";
let failures = 0;

function check(name, cond, detail = '') {
  if (!cond) failures++;
  console.log(`${cond ? 'ok' : 'not ok'} - ${name}${!cond && detail ? `: ${detail}` : ''}`);
}

// Two profiles, one for each login: the first login's answer would clear what the second's
// should.
async function browser(which) {
  return chromium.launchPersistentContext(`${process.env.MP_PROFILE}-${which}`, {
    executablePath: process.env.MP_CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
}

async function take() {
  const server = http.createServer((req, res) => {
    const js = req.url.startsWith('/app.js');
    res.writeHead(200, {
      'Content-Type': js ? 'text/javascript' : 'text/html',
      'Cache-Control': 'public, max-age=31536000, immutable',
    });
    res.end(js ? SCRIPT : PAGE);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  for (const which of ['right', 'wrong']) {
    const ctx = await browser(which);
    const page = await ctx.newPage();
    for (const p of ['/', '/?login=failed']) {
      await page.goto(`${base}${p}`);
      await page.waitForFunction(() => document.title === 'squatter');
    }
    await ctx.close();
  }
  await new Promise((resolve) => server.close(resolve));
  console.log(new URL(base).port);
}

// Which page the address opened: 'squatter', 'dashboard' (its list) or 'login' (its dialog).
async function shown(page, address) {
  await page.goto(address);
  const which = () =>
    document.title === 'squatter'
      ? 'squatter'
      : document.querySelector('dialog[open] #token-input')
        ? 'login'
        : document.querySelector('#main h1')
          ? 'dashboard'
          : '';
  return (await page.waitForFunction(which)).jsonValue();
}

async function login() {
  const base = process.env.MP_BASE;
  const token = encodeURIComponent(process.env.MP_TOKEN);
  const tries = [
    [
      'right',
      `/?token=${token}`,
      'dashboard',
      "the login URL opens the server's page, not one kept from whoever held the port",
    ],
    ['wrong', '/?token=not-the-token', 'login', "... and a wrong token's page is the server's too"],
  ];
  for (const [which, address, want, name] of tries) {
    const ctx = await browser(which);
    const page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    const got = await shown(page, `${base}${address}`);
    check(name, got === want, got);
    await ctx.close();
  }
}

await (process.argv[2] === 'take' ? take() : login());
process.exit(failures ? 1 : 0);
