// SPDX-License-Identifier: Apache-2.0
// ESLint's settings for the dashboard and its end-to-end test (scripts/check-web.sh runs it with
// MP_WEB_MODULES set to the node_modules folder `make deps` filled: deps/cache/npm/web).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.MP_WEB_MODULES || '.', 'x.js'));
const js = require('@eslint/js');

const browser = {
  window: 'readonly',
  document: 'readonly',
  location: 'readonly',
  sessionStorage: 'readonly',
  fetch: 'readonly',
  localStorage: 'readonly',
  TextDecoder: 'readonly',
  AbortController: 'readonly',
  URLSearchParams: 'readonly',
  Node: 'readonly',
  Blob: 'readonly',
  URL: 'readonly',
  Intl: 'readonly',
  confirm: 'readonly',
  getComputedStyle: 'readonly',
  requestAnimationFrame: 'readonly',
  setTimeout: 'readonly',
  clearTimeout: 'readonly',
  console: 'readonly',
};
const node = { process: 'readonly', console: 'readonly', setTimeout: 'readonly' };

export default [
  js.configs.recommended,
  { files: ['web/eslint.config.mjs'], languageOptions: { globals: node } },
  {
    files: ['web/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: browser },
    rules: {
      'max-len': ['error', { code: 100, ignoreUrls: true }],
      'no-unused-vars': ['error', { args: 'after-used', caughtErrors: 'none' }],
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
      'no-var': 'error',
    },
  },
  {
    files: ['tests/e2e/**/*.mjs'],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: { ...node, ...browser, authFetch: 'readonly' },
    },
    rules: { 'max-len': ['error', { code: 120, ignoreUrls: true }] },
  },
];
