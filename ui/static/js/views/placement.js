// Placement map: nodes as columns, live replicas as tiles coloured by
// service (hue) and marked by state and health, following the
// allocations and the node list with blocking queries.
import {watch} from '../api.js';
import {h, add, replace, empty, hue, enc} from '../dom.js';
import {members} from './nodes.js';

const serfStatus = ['none', 'alive', 'leaving', 'left', 'failed'];

export function view({main, signal}) {
  let nodes = null;
  let allocs = null;
  let mem = new Map();
  const holder = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  add(main, [h('h1', null, 'Placement'),
    h('p', {class: 'legend'}, 'Tiles: ', h('span', {class: 'tile-key running'}, 'running'), ' ',
      h('span', {class: 'tile-key pending'}, 'pending'), ' ', h('span', {class: 'tile-key failed'}, 'failed / lost'), ' ',
      h('span', {class: 'tile-key unhealthy'}, 'running, unhealthy')),
    holder]);
  const render = () => {
    if (!nodes || !allocs) return;
    const live = allocs.filter((a) => a.DesiredStatus === 'run');
    if (nodes.length === 0) {
      replace(holder, empty('No nodes yet.'));
      return;
    }
    const byNode = new Map(nodes.map((n) => [n.Node, []]));
    for (const a of live) {
      if (!byNode.has(a.NodeName)) byNode.set(a.NodeName, []);
      byNode.get(a.NodeName).push(a);
    }
    const cols = [...byNode.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([node, as]) => {
      const m = mem.get(node);
      const st = m ? serfStatus[m.Status] || 'unknown' : 'unknown';
      as.sort((x, y) => (x.Service < y.Service ? -1 : x.Service > y.Service ? 1 : x.Index - y.Index));
      return h('section', {class: `column ${st}`, 'data-node': node, 'aria-label': `Node ${node} (${st}), ${as.length} replicas`},
        h('h2', null, h('a', {href: `#/nodes/${enc(node)}`}, node), h('span', {class: 'muted'}, ` ${st}`)),
        as.length ? h('ul', {class: 'tiles'}, as.map((a) => {
          const cls = a.ClientStatus === 'running' ? (a.Healthy ? 'running' : 'unhealthy') : a.ClientStatus === 'pending' ? 'pending' : 'failed';
          const li = h('li', {class: `tile ${cls}`, 'data-service': a.Service, 'data-alloc': a.ID,
            title: `${a.Service}.${a.Index} ${a.ClientStatus}${a.Healthy ? ', healthy' : ''} (version ${a.Version})`},
          h('a', {href: `#/deployments/${enc(a.Service)}`}, `${a.Service}.${a.Index}`),
          h('span', {class: 'tile-state'}, a.ClientStatus === 'running' && !a.Healthy ? 'unhealthy' : a.ClientStatus));
          li.style.setProperty('--hue', String(hue(a.Service)));
          return li;
        })) : h('p', {class: 'muted'}, 'no replicas'));
    });
    replace(holder, live.length ? null : empty('No replicas are placed.', 'Deploy a service', '#/deploy'),
      h('div', {class: 'map'}, cols));
  };
  const fail = (e) => replace(holder, h('p', {class: 'error'}, e.message));
  watch('/v1/catalog/nodes', signal, async (data) => {
    nodes = data || [];
    render();
    try { mem = await members(signal); render(); } catch { /* statuses show unknown */ }
  }, fail);
  watch('/v1/shoal/allocs', signal, (data) => { allocs = data || []; render(); }, fail);
}
