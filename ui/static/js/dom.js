// DOM helpers. Every value from the API reaches the page through text
// nodes or attribute values set here, never through innerHTML, so a KV
// value such as <script>alert(1)</script> shows as text.

// h builds an element: h('a', {href: '#/x', class: 'y'}, 'text', child...).
// Attributes named on* that hold functions become event listeners; strings
// and numbers among the children become text nodes; null, undefined and
// false children are left out. A style attribute is refused: the page's
// Content-Security-Policy forbids inline styles (use classes, or
// el.style.setProperty for computed values).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'style') {
      throw new Error('h: inline style attributes are not allowed (CSP)');
    } else if (k === 'value') {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, children);
  return el;
}

// add appends children (nested arrays allowed) to el as nodes or text.
export function add(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  el.replaceChildren();
  return add(el, children);
}

// empty is the placeholder of a list with nothing in it: a sentence and
// an optional link to what to do about it.
export function empty(text, linkText, href) {
  return h('p', {class: 'empty'}, text, linkText ? [' ', h('a', {href}, linkText)] : null);
}

// table builds a table with a caption (for screen readers), a header row
// and a tbody, returning {table, body}.
export function table(caption, headers) {
  const body = h('tbody');
  const t = h('table', null,
    h('caption', {class: 'sr-only'}, caption),
    h('thead', null, h('tr', null, headers.map((x) => h('th', {scope: 'col'}, x)))),
    body);
  return {table: t, body};
}

// chip is a short status label; its class colours it (passing, warning,
// critical, ...), its text says the same for those who cannot see colour.
export function chip(status, text) {
  return h('span', {class: `chip ${status}`}, text ?? status);
}

// hue maps a name to a stable colour hue (0-359).
export function hue(name) {
  let x = 0;
  for (const c of name) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 360;
}

// pathHash encodes a path of segments for a #/ URL.
export function enc(s) {
  return String(s).split('/').map(encodeURIComponent).join('/');
}

// confirmButton is a button that asks again in place (no modal dialog)
// before running action.
export function confirmButton(label, question, action, cls = 'danger') {
  const wrap = h('span', {class: 'confirm'});
  const first = h('button', {type: 'button', class: cls, onclick: () => {
    replace(wrap, h('span', {class: 'question'}, question, ' '),
      h('button', {type: 'button', class: cls, onclick: () => { replace(wrap, first); action(); }}, `Yes, ${label.toLowerCase()}`),
      ' ',
      h('button', {type: 'button', onclick: () => { replace(wrap, first); first.focus(); }}, 'Cancel'));
    wrap.querySelector('button').focus();
  }}, label);
  return add(wrap, [first]);
}

// fmtBytes formats a byte count.
export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
