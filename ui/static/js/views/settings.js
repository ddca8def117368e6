// Settings: the ACL token sent with every request (kept in this
// browser's localStorage).
import {token, setToken} from '../api.js';
import {h, add, replace} from '../dom.js';

export function view({main}) {
  const input = h('input', {type: 'password', id: 'token', value: token(), autocomplete: 'off'});
  const status = h('p', {role: 'status'});
  add(main, [h('h1', null, 'Settings'),
    h('div', {class: 'field'}, h('label', {for: 'token'}, 'ACL token (sent as X-Consul-Token)'), input),
    h('div', {class: 'toolbar'},
      h('button', {type: 'button', class: 'primary', onclick: () => { setToken(input.value.trim()); replace(status, 'Saved in this browser.'); }}, 'Save'),
      ' ',
      h('button', {type: 'button', onclick: () => { setToken(''); input.value = ''; replace(status, 'Token cleared.'); }}, 'Clear')),
    status]);
}
