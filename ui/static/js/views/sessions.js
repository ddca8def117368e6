// Sessions: every session with its node, behaviour and TTL, destroyable.
import {watch, request} from '../api.js';
import {h, add, replace, empty, table, confirmButton, enc} from '../dom.js';
import {permissions, need} from '../acl.js';

export function list({main, signal}) {
  const status = h('div', {class: 'status', role: 'status'});
  const holder = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  add(main, [h('h1', null, 'Sessions'), status, holder]);
  const perms = permissions(signal);
  watch('/v1/session/list', signal, (data) => {
    data = data || [];
    if (data.length === 0) {
      replace(holder, empty('No sessions. Clients create them to hold locks (for example consul lock, or PUT /v1/session/create).'));
      return;
    }
    const {table: t, body} = table('Sessions', ['ID', 'Name', 'Node', 'Behavior', 'TTL', 'Lock delay', 'Checks', '']);
    for (const s of data) {
      add(body, [h('tr', {'data-session': s.ID},
        h('td', {class: 'mono'}, s.ID),
        h('td', null, s.Name || '—'),
        h('td', null, h('a', {href: `#/nodes/${enc(s.Node)}`}, s.Node)),
        h('td', null, s.Behavior || 'release'),
        h('td', null, s.TTL || '—'),
        h('td', null, s.LockDelay ? `${s.LockDelay / 1e9} s` : '—'),
        h('td', null, (s.NodeChecks || s.Checks || []).join(', ') || '—'),
        // Destroying needs session:write on the session's node.
        h('td', null, perms.gate(confirmButton('Destroy', `Destroy session ${s.ID.slice(0, 8)}? Its locks are released (or deleted).`, async () => {
          try {
            await request('PUT', `/v1/session/destroy/${encodeURIComponent(s.ID)}`);
            replace(status, h('p', {class: 'ok'}, `Destroyed ${s.ID}.`));
          } catch (e) {
            replace(status, h('p', {class: 'error', role: 'alert'}, `Not destroyed: ${e.message}`));
          }
        }), need('session', s.Node, 'write'))))]);
    }
    replace(holder, t);
  }, (e) => replace(status, h('p', {class: 'error'}, e.message)));
}
