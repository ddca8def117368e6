// Overlay: each node's subnet lease and VTEP, with its Serf state.
import {watch} from '../api.js';
import {h, add, replace, empty, table, chip, enc} from '../dom.js';

export function view({main, signal}) {
  const holder = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  add(main, [h('h1', null, 'Overlay'), holder]);
  watch('/v1/shoal/overlay', signal, (data) => {
    data = data || [];
    if (data.length === 0) {
      replace(holder, empty('No overlay leases: the overlay is disabled, or no node has leased a subnet yet.'));
      return;
    }
    const {table: t, body} = table('Overlay leases', ['Node', 'Subnet', 'VTEP', 'MAC', 'State']);
    for (const l of data) {
      add(body, [h('tr', null,
        h('td', null, h('a', {href: `#/nodes/${enc(l.Node)}`}, l.Node)),
        h('td', {class: 'mono'}, l.Subnet), h('td', {class: 'mono'}, l.VTEP), h('td', {class: 'mono'}, l.MAC),
        h('td', null, chip(l.State === 'alive' ? 'passing' : 'critical', l.State)))]);
    }
    replace(holder, t);
  }, (e) => replace(holder, h('p', {class: 'error'}, e.message)));
}
