// SPDX-License-Identifier: Apache-2.0
// The morphling dashboard: a hash-routed single page over the JSON API (api.js), kept live by
// Server-Sent Events. Routes: #/ (experiments), #/exp/ID, #/exp/ID/trial/N, #/compare?ids=,
// #/new. Views live in views/; resizing the window only re-lays-out the charts.
import { relayout } from './charts.js';
import { h } from './dom.js';
import { enter, main, stale } from './page.js';
import { viewCompare } from './views/compare.js';
import { viewExperiment } from './views/experiment.js';
import { viewList } from './views/list.js';
import { viewNew } from './views/new.js';
import { viewTrial } from './views/trial.js';

function markNav(section) {
  document.querySelectorAll('[data-nav]').forEach((a) => {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  });
}

async function route() {
  const gen = enter();
  const [path, query] = (location.hash || '#/').slice(1).split('?');
  const params = new URLSearchParams(query || '');
  try {
    // A malformed escape (#/exp/%E0) throws here: said on the page, like any other error.
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
    markNav(['new', 'compare'].includes(parts[0]) ? parts[0] : 'list');
    if (parts[0] === 'exp' && parts[2] === 'trial' && parts[3])
      await viewTrial(parts[1], parts[3], gen);
    else if (parts[0] === 'exp' && parts[1]) await viewExperiment(parts[1], gen);
    else if (parts[0] === 'compare') await viewCompare(params, gen);
    else if (parts[0] === 'new') await viewNew(gen);
    else await viewList(params, gen);
    if (stale(gen)) return;
    const h1 = main.querySelector('h1');
    document.title = `morphling · ${h1 ? h1.firstChild.textContent.trim() : ''}`;
  } catch (e) {
    if (!stale(gen))
      main.replaceChildren(h('div', { class: 'msg error', role: 'alert' }, e.message));
  }
}

window.addEventListener('hashchange', route);
let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(relayout, 150);
});
route();
