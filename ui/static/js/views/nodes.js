// Nodes: catalog nodes with their Serf status, role and resources (from
// the members' Serf tags), failing checks; a node's page adds its meta,
// checks, service instances and scheduler replicas.
import {watch, get} from '../api.js';
import {h, add, replace, empty, table, chip, enc} from '../dom.js';

const serfStatus = ['none', 'alive', 'leaving', 'left', 'failed'];
const statusClass = {alive: 'passing', leaving: 'warning', left: 'muted', failed: 'critical', none: 'muted'};

// members reads the Serf members (not a blocking endpoint: read again
// whenever the catalog's node list changes) as a map by name.
export async function members(signal) {
  const m = new Map();
  for (const x of (await get('/v1/agent/members', {signal})) || []) m.set(x.Name, x);
  return m;
}

function resources(m) {
  const t = m?.Tags || {};
  return {
    role: t.role || 'client',
    cpu: t.cpu ? `${t.cpu} MHz` : '—',
    mem: t.mem ? `${t.mem} MB` : '—',
    drivers: t.drivers || '—',
    status: m ? serfStatus[m.Status] || String(m.Status) : 'unknown',
  };
}

export function list({main, signal}) {
  let nodes = null;
  let mem = new Map();
  let critical = new Map();
  const holder = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  const status = h('div', {class: 'status'});
  add(main, [h('h1', null, 'Nodes'), status, holder]);
  const render = () => {
    if (!nodes) return;
    if (nodes.length === 0) {
      replace(holder, empty('No nodes are registered yet; agents register themselves when they join.'));
      return;
    }
    const {table: t, body} = table('Nodes', ['Node', 'Address', 'Serf', 'Role', 'CPU', 'Memory', 'Drivers', 'Checks']);
    for (const n of nodes) {
      const r = resources(mem.get(n.Node));
      const crit = critical.get(n.Node) || 0;
      add(body, [h('tr', {'data-node': n.Node, class: crit ? 'critical' : null},
        h('td', null, h('a', {href: `#/nodes/${enc(n.Node)}`}, n.Node)),
        h('td', {class: 'mono'}, n.Address),
        h('td', null, chip(statusClass[r.status] || 'muted', r.status)),
        h('td', null, r.role), h('td', {class: 'num'}, r.cpu), h('td', {class: 'num'}, r.mem), h('td', null, r.drivers),
        h('td', null, crit ? chip('critical', `${crit} critical`) : chip('passing')))]);
    }
    replace(holder, t);
  };
  const fail = (e) => replace(status, h('p', {class: 'error'}, e.message));
  watch('/v1/catalog/nodes', signal, async (data) => {
    nodes = data || [];
    render();
    try { mem = await members(signal); render(); } catch (e) { if (!signal.aborted) fail(e); }
  }, fail);
  watch('/v1/health/state/critical', signal, (data) => {
    critical = new Map();
    for (const c of data || []) critical.set(c.Node, (critical.get(c.Node) || 0) + 1);
    render();
  }, fail);
}

export function detail({main, params: [name], signal}) {
  const facts = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  const checks = h('div');
  const svcs = h('div');
  const reps = h('div');
  add(main, [h('p', {class: 'crumbs'}, h('a', {href: '#/nodes'}, 'Nodes'), ' / '), h('h1', null, name), facts,
    h('h2', null, 'Checks'), checks, h('h2', null, 'Service instances'), svcs, h('h2', null, 'Replicas'), reps]);
  let allocWatch = null;
  const fail = (where) => (e) => replace(where, h('p', {class: 'error'}, e.message));
  watch(`/v1/catalog/node/${encodeURIComponent(name)}`, signal, async (data) => {
    if (!data || !data.Node) {
      replace(facts, empty(`No node named ${name} is registered.`, 'All nodes', '#/nodes'));
      return;
    }
    const n = data.Node;
    let r = resources(null);
    try { r = resources((await members(signal)).get(name)); } catch { /* shown as unknown */ }
    const meta = Object.entries(n.Meta || {});
    replace(facts, h('dl', {class: 'facts'},
      h('dt', null, 'Serf'), h('dd', null, chip(statusClass[r.status] || 'muted', r.status)),
      h('dt', null, 'ID'), h('dd', {class: 'mono'}, n.ID || '—'),
      h('dt', null, 'Address'), h('dd', {class: 'mono'}, n.Address),
      h('dt', null, 'Role'), h('dd', null, r.role),
      h('dt', null, 'Resources'), h('dd', null, `cpu ${r.cpu}, memory ${r.mem}, drivers ${r.drivers}`),
      h('dt', null, 'Meta'), h('dd', null, meta.length ? meta.map(([k, v]) => h('span', {class: 'tag'}, `${k}=${v}`)) : '—')));
    const list = Object.values(data.Services || {});
    if (list.length === 0) replace(svcs, empty('No service instances on this node.'));
    else {
      const {table: t, body} = table('Service instances', ['Service', 'ID', 'Port', 'Tags']);
      for (const s of list) {
        add(body, [h('tr', null, h('td', null, h('a', {href: `#/services/${enc(s.Service)}`}, s.Service)),
          h('td', null, s.ID), h('td', {class: 'num'}, String(s.Port)), h('td', null, (s.Tags || []).join(', ')))]);
      }
      replace(svcs, t);
    }
    if (n.ID && !allocWatch) {
      allocWatch = true;
      watch(`/v1/shoal/allocs?node=${encodeURIComponent(n.ID)}`, signal, (as) => {
        const live = (as || []).filter((a) => a.DesiredStatus === 'run');
        if (live.length === 0) {
          replace(reps, empty('No replicas scheduled here.', 'Deploy a service', '#/deploy'));
          return;
        }
        const {table: t, body} = table('Replicas', ['Replica', 'Version', 'State', 'Health', 'IP', 'Restarts']);
        for (const a of live) {
          add(body, [h('tr', {class: a.ClientStatus},
            h('td', null, h('a', {href: `#/deployments/${enc(a.Service)}`}, `${a.Service}.${a.Index}`)),
            h('td', {class: 'mono'}, a.Version), h('td', null, chip(a.ClientStatus)),
            h('td', null, a.ClientStatus === 'running' ? chip(a.Healthy ? 'passing' : 'critical', a.Healthy ? 'healthy' : 'unhealthy') : '—'),
            h('td', {class: 'mono'}, a.IP || '—'), h('td', {class: 'num'}, String(a.Restarts || 0)))]);
        }
        replace(reps, t);
      }, fail(reps));
    }
  }, fail(facts));
  watch(`/v1/health/node/${encodeURIComponent(name)}`, signal, (data) => {
    data = data || [];
    if (data.length === 0) {
      replace(checks, empty('No checks.'));
      return;
    }
    const {table: t, body} = table('Checks', ['Check', 'Service', 'Status', 'Output']);
    for (const c of data) {
      add(body, [h('tr', {class: c.Status}, h('td', null, c.Name || c.CheckID), h('td', null, c.ServiceName || '(node)'),
        h('td', null, chip(c.Status)), h('td', null, h('pre', {class: 'output'}, c.Output || '')))]);
    }
    replace(checks, t);
  }, fail(checks));
}
