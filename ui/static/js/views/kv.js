// Key/Value: a folder tree by "/" (one level at a time, listed by the
// server with ?keys&separator=/), and an editor per key that saves with
// check-and-set so that a change made elsewhere since the key was opened
// is reported, not overwritten.
import {watch, request, kvPath, b64bytes, APIError} from '../api.js';
import {h, add, replace, empty, confirmButton, enc, fmtBytes} from '../dom.js';
import {permissions, need} from '../acl.js';

// PAGE is how many keys of one folder are rendered at a time.
const PAGE = 500;
// HEX_PREVIEW is how much of a binary value is shown.
const HEX_PREVIEW = 4096;
// PRETTY_MAX bounds the values shown formatted as JSON.
const PRETTY_MAX = 256 * 1024;

export function view(ctx) {
  const path = ctx.params[0];
  if (ctx.query.has('new')) return create(ctx, path);
  if (path === '' || path.endsWith('/')) return folder(ctx, path);
  return editor(ctx, path);
}

function crumbs(path) {
  const parts = path.split('/');
  const out = [h('a', {href: '#/kv/'}, 'Key/Value')];
  let acc = '';
  for (let i = 0; i < parts.length - 1; i++) {
    acc += parts[i] + '/';
    out.push(' / ', h('a', {href: `#/kv/${enc(acc)}`}, parts[i]));
  }
  return h('p', {class: 'crumbs'}, out);
}

function folder({main, signal}, prefix) {
  const list = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  const status = h('p', {class: 'status', role: 'status'});
  const perms = permissions(signal);
  const write = need('key', prefix, 'write');
  const actions = h('div', {class: 'toolbar'},
    perms.gate(h('a', {class: 'button', href: `#/kv/${enc(prefix)}?new`}, 'Create key'), write));
  if (prefix) {
    add(actions, perms.gate(confirmButton('Delete folder', `Delete ${prefix} and every key under it?`, async () => {
      try {
        await request('DELETE', `${kvPath(prefix)}?recurse`);
        location.hash = `#/kv/${enc(parentOf(prefix))}`;
      } catch (e) {
        replace(status, h('span', {class: 'error'}, e.message));
      }
    }), write));
  }
  add(main, [crumbs(prefix), h('h1', null, prefix || 'Key/Value'), actions, status, list]);
  let limit = PAGE;
  let keys = [];
  const render = () => {
    if (keys.length === 0) {
      replace(list, empty(prefix ? `No keys under ${prefix}.` : 'No keys yet.', 'Create one', `#/kv/${enc(prefix)}?new`));
      return;
    }
    // Folders first, then keys, each sorted.
    const sorted = [...keys].sort((a, b) => (b.endsWith('/') - a.endsWith('/')) || (a < b ? -1 : a > b ? 1 : 0));
    const ul = h('ul', {class: 'keys'}, sorted.slice(0, limit).map((k) => {
      const isFolder = k.endsWith('/');
      const label = k.slice(prefix.length) || '(empty name)';
      return h('li', {class: isFolder ? 'folder' : 'key'},
        h('a', {href: `#/kv/${enc(k)}`, 'data-key': k}, label));
    }));
    const rest = sorted.length - limit;
    replace(list, h('p', {class: 'summary'}, `${keys.length} entries`), ul,
      rest > 0 ? h('button', {type: 'button', onclick: () => { limit += PAGE; render(); }}, `Show more (${rest} not shown)`) : null);
  };
  watch(`${kvPath(prefix)}?keys&separator=/`, signal, (data) => {
    keys = (data || []).filter((k) => k !== prefix);
    render();
  }, (e) => replace(status, h('span', {class: 'error'}, e.message)));
}

function parentOf(key) {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  const i = trimmed.lastIndexOf('/');
  return i < 0 ? '' : trimmed.slice(0, i + 1);
}

// decode returns the value as text when it is valid UTF-8, else null.
function decode(bytes) {
  try {
    return new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch {
    return null;
  }
}

function hexdump(bytes) {
  const lines = [];
  const n = Math.min(bytes.length, HEX_PREVIEW);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const asc = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${asc}`);
  }
  return lines.join('\n');
}

// pretty returns JSON formatted for reading, or null when text is not a
// JSON object or array. The stored bytes are never changed by it.
function pretty(text) {
  if (text.length > PRETTY_MAX || !/^\s*[[{]/.test(text)) return null;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return null;
  }
}

function editor({main, signal}, key) {
  const status = h('div', {class: 'status', role: 'status', 'aria-live': 'polite'});
  const body = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  add(main, [crumbs(key), h('h1', null, key), status, body]);
  const perms = permissions(signal);
  const keyWrite = need('key', key, 'write');
  let opened = null; // the entry as loaded into the editor
  let latest = null; // the entry as last seen from the server
  let dirty = false;

  const say = (cls, ...parts) => replace(status, parts.length ? h('p', {class: cls, role: cls === 'error' ? 'alert' : null}, parts) : null);

  function load(entry) {
    opened = entry;
    dirty = false;
    const bytes = b64bytes(entry.Value);
    const text = decode(bytes);
    const flags = h('input', {type: 'number', id: 'kv-flags', min: 0, value: String(entry.Flags || 0)});
    const info = h('dl', {class: 'facts'},
      h('dt', null, 'Size'), h('dd', null, fmtBytes(bytes.length)),
      h('dt', null, 'Modify index'), h('dd', {id: 'kv-index'}, String(entry.ModifyIndex)),
      h('dt', null, 'Lock'), h('dd', null, entry.Session ? h('a', {href: '#/sessions'}, `held by session ${entry.Session}`) : 'none'));
    let valueEl;
    let getValue;
    if (text === null) {
      valueEl = h('div', null,
        h('p', {class: 'muted'}, `Binary value (${fmtBytes(bytes.length)}); not editable here. First ${fmtBytes(Math.min(bytes.length, HEX_PREVIEW))} as hex:`),
        h('pre', {class: 'hex', tabindex: 0}, hexdump(bytes)));
      getValue = null;
    } else {
      const ta = h('textarea', {id: 'kv-value', spellcheck: 'false', rows: 14, value: text});
      ta.addEventListener('input', () => { dirty = true; });
      const formatted = pretty(text);
      valueEl = h('div', null, h('label', {for: 'kv-value'}, 'Value'), ta,
        formatted !== null ? h('details', null, h('summary', null, 'Formatted JSON (read-only; the stored bytes are unchanged)'),
          h('pre', {class: 'pretty', tabindex: 0}, formatted)) : null);
      getValue = () => ta.value;
    }
    flags.addEventListener('input', () => { dirty = true; });
    const save = h('button', {type: 'button', class: 'primary', id: 'kv-save', disabled: !getValue}, 'Save');
    save.addEventListener('click', () => write(getValue(), Number(flags.value || 0), opened.ModifyIndex));
    replace(body, info, valueEl,
      h('div', {class: 'field'}, h('label', {for: 'kv-flags'}, 'Flags'), flags),
      h('div', {class: 'toolbar'}, perms.gate(save, keyWrite), ' ',
        perms.gate(confirmButton('Delete', `Delete ${key}?`, remove), keyWrite)));
  }

  async function write(value, flags, cas) {
    try {
      const {data: ok} = await request('PUT', `${kvPath(key)}?cas=${cas}&flags=${flags}`, {body: value});
      if (ok === true) {
        dirty = false;
        say('ok', 'Saved.');
        return;
      }
      conflict(value, flags);
    } catch (e) {
      say('error', `Not saved: ${e.message}`);
    }
  }

  function conflict(value, flags) {
    const now = latest && latest.ModifyIndex !== opened.ModifyIndex ? ` (now at index ${latest.ModifyIndex})` : '';
    say('error conflict', `Not saved: ${key} was changed by someone else since you opened it at index ${opened.ModifyIndex}${now}. `,
      h('button', {type: 'button', onclick: () => { if (latest) load(latest); say('ok', 'Loaded the current value; your edits were discarded.'); }}, 'Load their version'),
      ' ',
      h('button', {type: 'button', class: 'danger', onclick: () => latest && write(value, flags, latest.ModifyIndex)}, 'Overwrite with mine'));
  }

  async function remove() {
    try {
      const {data: ok} = await request('DELETE', `${kvPath(key)}?cas=${opened.ModifyIndex}`);
      if (ok === true) {
        location.hash = `#/kv/${enc(parentOf(key))}`;
        return;
      }
      say('error conflict', `Not deleted: ${key} was changed by someone else since you opened it. Reload to see the new value.`);
    } catch (e) {
      say('error', `Not deleted: ${e.message}`);
    }
  }

  watch(kvPath(key), signal, (data) => {
    const entry = data && data[0];
    if (!entry) {
      latest = null;
      if (opened) {
        say('error', `${key} was deleted elsewhere. Saving will recreate it only if you create it again.`);
      } else {
        replace(body, empty(`There is no key ${key}.`, 'Create it', `#/kv/${enc(parentOf(key))}?new&key=${encodeURIComponent(key)}`));
      }
      return;
    }
    latest = entry;
    if (!opened || (!dirty && entry.ModifyIndex !== opened.ModifyIndex)) {
      load(entry);
      return;
    }
    if (entry.ModifyIndex !== opened.ModifyIndex) {
      say('warning', `Changed elsewhere (now at index ${entry.ModifyIndex}) while you were editing; saving will report a conflict.`);
    }
  }, (e) => say('error', e instanceof APIError ? e.message : String(e)));
}

function create({main, query, signal}, prefix) {
  const name = h('input', {type: 'text', id: 'kv-new-key', value: query.get('key') || prefix, autocomplete: 'off', spellcheck: 'false'});
  const value = h('textarea', {id: 'kv-new-value', rows: 10, spellcheck: 'false'});
  const flags = h('input', {type: 'number', id: 'kv-new-flags', min: 0, value: '0'});
  const status = h('div', {class: 'status', role: 'status'});
  const go = async () => {
    const key = name.value;
    if (!key) {
      replace(status, h('p', {class: 'error', role: 'alert'}, 'A key needs a name.'));
      return;
    }
    try {
      // cas=0 creates only: an existing key is reported, not replaced.
      const {data: ok} = await request('PUT', `${kvPath(key)}?cas=0&flags=${Number(flags.value || 0)}`, {body: value.value});
      if (ok !== true) {
        replace(status, h('p', {class: 'error', role: 'alert'}, `${key} already exists. `, h('a', {href: `#/kv/${enc(key)}`}, 'Open it')));
        return;
      }
      location.hash = `#/kv/${enc(key)}`;
    } catch (e) {
      replace(status, h('p', {class: 'error', role: 'alert'}, `Not created: ${e.message}`));
    }
  };
  add(main, [crumbs(prefix), h('h1', null, 'Create key'),
    h('p', {class: 'muted'}, 'A name ending in / creates a folder.'),
    h('div', {class: 'field'}, h('label', {for: 'kv-new-key'}, 'Key'), name),
    h('div', {class: 'field'}, h('label', {for: 'kv-new-value'}, 'Value'), value),
    h('div', {class: 'field'}, h('label', {for: 'kv-new-flags'}, 'Flags'), flags),
    status,
    h('div', {class: 'toolbar'}, permissions(signal).gate(h('button', {type: 'button', class: 'primary', id: 'kv-create', onclick: go}, 'Create'),
      need('key', prefix, 'write')), ' ',
      h('a', {class: 'button', href: `#/kv/${enc(prefix)}`}, 'Cancel'))]);
  name.focus();
}
