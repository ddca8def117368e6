// Services: the catalog's services with tags, instance counts and a
// health summary; a service's page lists its instances and their checks.
import {watch, get, APIError} from '../api.js';
import {h, add, replace, empty, table, chip, enc} from '../dom.js';

// PAGE is how many rows the list renders at a time: with 10,000 services
// the filter narrows the list and "Show more" extends it.
const PAGE = 100;
// COUNT_EVERY bounds how often one service's instance count is re-read.
const COUNT_EVERY = 2000;

// countByService counts checks per service name.
function countByService(checks) {
  const m = new Map();
  for (const c of checks || []) {
    if (!c.ServiceName) continue;
    m.set(c.ServiceName, (m.get(c.ServiceName) || 0) + 1);
  }
  return m;
}

// list: three blocking queries — the service names and tags, and the
// critical and warning checks (usually few) — and, for the rows on
// screen only, each service's instance count (re-read when the catalog
// changes).
export function list({main, query, signal}) {
  let services = null;
  let critical = new Map();
  let warning = new Map();
  let limit = PAGE;
  let catalogIndex = 0;
  const counts = new Map(); // name -> {index, n}
  const filter = h('input', {type: 'search', id: 'svc-filter', value: query.get('filter') || '',
    placeholder: 'name or tag', autocomplete: 'off'});
  const summary = h('p', {class: 'summary', 'aria-live': 'polite'});
  const {table: tbl, body} = table('Services', ['Service', 'Tags', 'Instances', 'Health']);
  const more = h('button', {type: 'button', hidden: true, onclick: () => { limit += PAGE; render(); }}, 'Show more');
  const holder = h('div');
  add(main, [h('h1', null, 'Services'),
    h('div', {class: 'toolbar'}, h('label', {for: 'svc-filter'}, 'Filter'), filter),
    summary, holder, more]);

  filter.addEventListener('input', () => {
    limit = PAGE;
    const f = filter.value;
    history.replaceState(null, '', f ? `#/services?filter=${encodeURIComponent(f)}` : '#/services');
    render();
  });

  // Instance counts, fetched for rows that scroll into view, two at a time.
  const queue = [];
  let inflight = 0;
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) if (e.isIntersecting) want(e.target.dataset.service);
  });
  signal.addEventListener('abort', () => observer.disconnect());
  // A count is read again when the catalog changed, at most every
  // COUNT_EVERY ms per service, so a busy catalog costs a few reads per
  // visible row per interval, not one per change.
  const later = new Set();
  function want(name) {
    const c = counts.get(name);
    if ((c && c.index === catalogIndex) || queue.includes(name)) return;
    const wait = c ? COUNT_EVERY - (Date.now() - c.at) : 0;
    if (wait > 0) {
      if (!later.has(name)) {
        later.add(name);
        setTimeout(() => {
          later.delete(name);
          if (!signal.aborted && body.querySelector(`tr[data-service="${CSS.escape(name)}"]`)) want(name);
        }, wait);
      }
      return;
    }
    queue.push(name);
    pump();
  }
  function pump() {
    while (inflight < 2 && queue.length && !signal.aborted) {
      const name = queue.shift();
      const at = catalogIndex;
      inflight++;
      get(`/v1/catalog/service/${encodeURIComponent(name)}`, {signal}).then((inst) => {
        counts.set(name, {index: at, n: (inst || []).length, at: Date.now()});
        const cell = body.querySelector(`tr[data-service="${CSS.escape(name)}"] .count`);
        if (cell) cell.textContent = String((inst || []).length);
      }).catch(() => {}).finally(() => { inflight--; pump(); });
    }
  }

  function render() {
    if (services === null) return;
    const f = filter.value.trim().toLowerCase();
    const names = Object.keys(services).sort();
    const match = f ? names.filter((n) => n.toLowerCase().includes(f) ||
      (services[n] || []).some((t) => t.toLowerCase().includes(f))) : names;
    if (names.length === 0) {
      replace(summary);
      replace(holder, empty('No services yet.', 'Deploy one', '#/deploy'));
      more.hidden = true;
      return;
    }
    replace(summary, f ? `${match.length} of ${names.length} services match` : `${names.length} services`);
    if (match.length === 0) {
      replace(holder, empty(`No service matches “${filter.value}”.`));
      more.hidden = true;
      return;
    }
    const rows = match.slice(0, limit).map((name) => {
      const crit = critical.get(name) || 0;
      const warn = warning.get(name) || 0;
      const status = crit ? 'critical' : warn ? 'warning' : 'passing';
      const c = counts.get(name);
      const tr = h('tr', {'data-service': name, 'data-status': status, class: status},
        h('td', null, h('a', {href: `#/services/${enc(name)}`}, name)),
        h('td', {class: 'tags'}, (services[name] || []).map((t) => h('span', {class: 'tag'}, t))),
        h('td', {class: 'count num'}, c ? String(c.n) : '…'),
        h('td', null, crit ? chip('critical', `${crit} critical`) : null, ' ',
          warn ? chip('warning', `${warn} warning`) : null, !crit && !warn ? chip('passing') : null));
      return tr;
    });
    observer.disconnect();
    for (const tr of rows) observer.observe(tr);
    replace(body, rows);
    if (!holder.contains(tbl)) replace(holder, tbl);
    more.hidden = match.length <= limit;
    if (!more.hidden) more.textContent = `Show more (${match.length - limit} not shown)`;
  }

  const fail = (e) => replace(summary, h('span', {class: 'error'}, e.message));
  watch('/v1/catalog/services', signal, (data, index) => {
    services = data || {};
    catalogIndex = index;
    queue.length = 0;
    render();
  }, fail);
  watch('/v1/health/state/critical', signal, (data) => { critical = countByService(data); render(); }, fail);
  watch('/v1/health/state/warning', signal, (data) => { warning = countByService(data); render(); }, fail);
}

const rank = {passing: 0, warning: 1, critical: 2};
function worst(checks) {
  let s = 'passing';
  for (const c of checks) if ((rank[c.Status] ?? 0) > rank[s]) s = c.Status;
  return s;
}

// detail: one blocking query on /v1/health/service/<name>: instances with
// node, address, port, tags, meta, and every check with its output.
export function detail({main, params: [name], signal}) {
  const content = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  add(main, [h('p', {class: 'crumbs'}, h('a', {href: '#/services'}, 'Services'), ' / '),
    h('h1', null, name), content]);
  const seen = new Map(); // check key -> {status, at}: when this page saw each status change
  watch(`/v1/health/service/${encodeURIComponent(name)}`, signal, (entries) => {
    entries = entries || [];
    if (entries.length === 0) {
      replace(content, empty(`No instances of ${name} are registered.`, 'All services', '#/services'));
      return;
    }
    const byStatus = {passing: 0, warning: 0, critical: 0};
    const cards = entries.map((e) => {
      const st = worst(e.Checks || []);
      byStatus[st]++;
      const svc = e.Service;
      const {table: ct, body} = table(`Checks of ${svc.ID}`, ['Check', 'Status', 'Output', 'Last change']);
      for (const c of e.Checks || []) {
        const key = `${c.Node}/${c.CheckID}`;
        const prev = seen.get(key);
        if (!prev || prev.status !== c.Status) seen.set(key, {status: c.Status, at: prev ? new Date() : null});
        const at = seen.get(key).at;
        add(body, [h('tr', {class: c.Status, 'data-check': c.CheckID},
          h('td', null, c.Name || c.CheckID, c.ServiceID ? '' : h('span', {class: 'muted'}, ' (node)')),
          h('td', null, chip(c.Status)),
          h('td', null, h('pre', {class: 'output'}, c.Output || '')),
          h('td', null, at ? `${at.toLocaleTimeString()} (seen here)` : `index ${c.ModifyIndex}`))]);
      }
      const meta = Object.entries(svc.Meta || {});
      return h('section', {class: `instance ${st}`, 'data-instance': svc.ID, 'data-status': st,
        'aria-label': `Instance ${svc.ID}: ${st}`},
        h('h2', null, chip(st), ' ', svc.ID),
        h('dl', {class: 'facts'},
          h('dt', null, 'Node'), h('dd', null, h('a', {href: `#/nodes/${enc(e.Node.Node)}`}, e.Node.Node)),
          h('dt', null, 'Address'), h('dd', null, `${svc.Address || e.Node.Address}:${svc.Port}`),
          h('dt', null, 'Tags'), h('dd', null, (svc.Tags || []).length ? svc.Tags.map((t) => h('span', {class: 'tag'}, t)) : '—'),
          h('dt', null, 'Meta'), h('dd', null, meta.length ? meta.map(([k, v]) => h('span', {class: 'tag'}, `${k}=${v}`)) : '—')),
        (e.Checks || []).length ? ct : h('p', {class: 'muted'}, 'No checks: the instance counts as passing.'));
    });
    // Critical instances first: they are what the reader came for.
    cards.sort((a, b) => rank[b.dataset.status] - rank[a.dataset.status]);
    replace(content,
      h('p', {class: 'summary'}, `${entries.length} instances: `, chip('passing', `${byStatus.passing} passing`), ' ',
        chip('warning', `${byStatus.warning} warning`), ' ', chip('critical', `${byStatus.critical} critical`)),
      cards);
  }, (e) => replace(content, h('p', {class: 'error', role: 'alert'}, e instanceof APIError ? e.message : String(e))));
}
