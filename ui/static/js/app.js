// The router: each view has a #/ URL, so links, reloads and the back
// button work. A route change aborts the previous view's signal, which
// cancels its blocking queries.
import {onConnection} from './api.js';
import {h, replace} from './dom.js';
import * as services from './views/services.js';
import * as nodes from './views/nodes.js';
import * as kv from './views/kv.js';
import * as sessions from './views/sessions.js';
import * as deployments from './views/deployments.js';
import * as placement from './views/placement.js';
import * as overlay from './views/overlay.js';
import * as settings from './views/settings.js';

// routes: pattern over the path after "#/", the nav section, the view.
// A view is fn({main, params, query, signal}).
const routes = [
  [/^services$/, 'services', services.list],
  [/^services\/(.+)$/, 'services', services.detail],
  [/^nodes$/, 'nodes', nodes.list],
  [/^nodes\/(.+)$/, 'nodes', nodes.detail],
  [/^kv\/(.*)$/, 'kv', kv.view],
  [/^sessions$/, 'sessions', sessions.list],
  [/^deployments$/, 'deployments', deployments.list],
  [/^deployments\/(.+)$/, 'deployments', deployments.detail],
  [/^deploy$/, 'deployments', deployments.editor],
  [/^deploy\/(.+)$/, 'deployments', deployments.editor],
  [/^placement$/, 'placement', placement.view],
  [/^overlay$/, 'overlay', overlay.view],
  [/^settings$/, 'settings', settings.view],
];

let current = null;

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  if (hash === '') {
    location.replace('#/services');
    return;
  }
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  if (current) current.abort();
  current = new AbortController();
  const main = document.getElementById('main');
  main.replaceChildren();
  let section = '';
  const found = routes.find(([re]) => re.test(path));
  if (!found) {
    replace(main, h('h1', null, 'Not found'),
      h('p', {class: 'empty'}, 'There is no page at this address. ', h('a', {href: '#/services'}, 'Go to services')));
  } else {
    const [re, sec, view] = found;
    section = sec;
    const params = path.match(re).slice(1).map((p) => p.split('/').map(decodeURIComponent).join('/'));
    try {
      view({main, params, query, signal: current.signal});
    } catch (e) {
      replace(main, h('p', {class: 'error', role: 'alert'}, `This view failed: ${e.message}`));
    }
  }
  for (const a of document.querySelectorAll('nav a[data-nav]')) {
    if (a.dataset.nav === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const h1 = main.querySelector('h1');
  document.title = h1 ? `${h1.textContent} · Shoal` : 'Shoal';
  // Keyboard and screen-reader users land on the new content.
  if (document.activeElement === document.body || document.activeElement?.closest('nav')) main.focus({preventScroll: true});
}

onConnection((ok, err) => {
  const el = document.getElementById('conn');
  el.textContent = ok ? 'live' : `agent unreachable, retrying (${err?.message || 'error'})`;
  el.className = ok ? 'conn ok' : 'conn bad';
});

window.addEventListener('hashchange', route);
route();
// The boot check (boot.js) reports a page where this line never ran.
document.documentElement.setAttribute('data-started', '');
