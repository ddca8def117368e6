// Deployments: the scheduler's services (specs under shoal/services/)
// with desired / running / healthy counts, status and spec errors; a
// service's page with its allocations, spec versions with rollback,
// scale, remove and replica logs;
// and the spec editor, validated by the server before deploying.
import {follow, watch, request, kvPath, b64bytes} from '../api.js';
import {h, add, replace, empty, table, chip, confirmButton, enc} from '../dom.js';
import {permissions, need} from '../acl.js';

const SPEC_PREFIX = 'shoal/services/';

const TEMPLATE = `{
  "name": "hello",
  "driver": "exec",
  "command": "/bin/sleep",
  "args": ["3600"],
  "replicas": 2,
  "resources": {"cpu": 10, "memory": 10}
}
`;

// state summarises a service: its chip class and text.
// specNeeds are the permissions writing (or deleting) the spec of
// service name takes: key write on its key and deploy write on it.
function specNeeds(name) {
  return [need('key', SPEC_PREFIX + name, 'write'), need('deploy', name, 'write')];
}

function state(s) {
  if (s.Error) return ['critical', 'spec error'];
  if (s.Update?.Halted) return ['critical', 'update halted'];
  if (s.Update && (s.Update.Outdated || s.Update.InFlight)) return ['warning', 'updating'];
  if ((s.Unplaced || []).length) return ['warning', 'unplaced replicas'];
  if (s.Desired === 0) return ['muted', 'no replicas'];
  if (s.Healthy === s.Desired) return ['passing', 'healthy'];
  if (s.Running === s.Desired) return ['warning', 'running, not all healthy'];
  return ['warning', 'starting'];
}

export function list({main, signal}) {
  const holder = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  add(main, [h('h1', null, 'Deployments'),
    h('div', {class: 'toolbar'}, h('a', {class: 'button primary', href: '#/deploy'}, 'Deploy a service')), holder]);
  // The list's counts come from the allocations, which its own index
  // does not follow: re-read it when either changes.
  follow(['/v1/shoal/services', '/v1/shoal/allocs'], '/v1/shoal/services', signal, (data) => {
    data = data || [];
    if (data.length === 0) {
      replace(holder, empty('No services deployed yet.', 'Deploy one', '#/deploy'));
      return;
    }
    const {table: t, body} = table('Deployed services', ['Service', 'Version', 'Desired', 'Running', 'Healthy', 'Status']);
    for (const s of data) {
      const [cls, text] = state(s);
      add(body, [h('tr', {'data-deployment': s.Name, class: cls},
        h('td', null, h('a', {href: `#/deployments/${enc(s.Name)}`}, s.Name)),
        h('td', {class: 'mono'}, s.Version || '—'),
        h('td', {class: 'num desired'}, String(s.Desired)),
        h('td', {class: 'num running'}, String(s.Running)),
        h('td', {class: 'num healthy'}, String(s.Healthy)),
        h('td', null, chip(cls, text), s.Error ? h('pre', {class: 'output error'}, s.Error) : null))]);
    }
    replace(holder, t);
  }, (e) => replace(holder, h('p', {class: 'error'}, e.message)));
}

// readSpec reads the stored spec: {text, index} or null when none.
async function readSpec(name, signal) {
  const r = await request('GET', kvPath(SPEC_PREFIX + name), {signal, allow404: true});
  const e = r.data && r.data[0];
  if (!e) return null;
  return {text: new TextDecoder().decode(b64bytes(e.Value)), index: e.ModifyIndex};
}

// validate asks the server; it resolves to {Name, Version} or rejects
// with the server's exact message.
async function validate(text) {
  return (await request('POST', '/v1/shoal/validate', {body: text})).data;
}

export function detail({main, params: [name], signal}) {
  const status = h('div', {class: 'status', role: 'status', 'aria-live': 'polite'});
  const head = h('div', null, h('p', {class: 'empty'}, 'Loading…'));
  const allocsEl = h('div');
  const versionsEl = h('div', {id: 'versions'}, h('p', {class: 'empty'}, 'Loading…'));
  const logs = h('div');
  const showAll = h('input', {type: 'checkbox', id: 'show-stopped'});
  const replicas = h('input', {type: 'number', id: 'scale-replicas', min: 0, value: ''});
  const say = (cls, ...parts) => replace(status, h('p', {class: cls, role: cls.includes('error') ? 'alert' : null}, parts));

  async function scale() {
    const n = Number(replicas.value);
    if (!Number.isInteger(n) || n < 0) return say('error', 'Replicas must be a whole number, 0 or more.');
    try {
      const cur = await readSpec(name, signal);
      if (!cur) return say('error', `No spec stored for ${name}.`);
      let spec;
      try { spec = JSON.parse(cur.text); } catch { return say('error', 'The stored spec is not JSON; edit it instead.'); }
      spec.replicas = n;
      const text = JSON.stringify(spec, null, 2) + '\n';
      await validate(text);
      const {data: ok} = await request('PUT', `${kvPath(SPEC_PREFIX + name)}?cas=${cur.index}`, {body: text});
      if (ok !== true) return say('error conflict', 'Not scaled: the spec changed meanwhile. Try again.');
      say('ok', `Scaling ${name} to ${n} replicas.`);
    } catch (e) {
      say('error', `Not scaled: ${e.message}`);
    }
  }

  async function remove() {
    try {
      await request('DELETE', kvPath(SPEC_PREFIX + name));
      location.hash = '#/deployments';
    } catch (e) {
      say('error', `Not removed: ${e.message}`);
    }
  }

  async function rollback(v) {
    try {
      const {data: r} = await request('PUT', `/v1/shoal/services/${encodeURIComponent(name)}/rollback?version=${v.ID}`);
      say('ok', `Rolling ${name} back to version ${r.ID} (${r.Version}).`);
    } catch (e) {
      say(e.status === 409 ? 'error conflict' : 'error', `Not rolled back: ${e.message}`);
    }
  }

  async function showLogs(a) {
    replace(logs, h('h2', null, `Logs of ${name}.${a.Index} (last 50 lines)`), h('p', {class: 'muted'}, 'Loading…'));
    try {
      const r = await request('GET', `/v1/shoal/allocs/${encodeURIComponent(a.ID)}/logs?tail=50`, {signal, raw: true});
      replace(logs, h('h2', null, `Logs of ${name}.${a.Index} (last 50 lines)`), h('pre', {class: 'logs', tabindex: 0}, r.text || '(no output)'));
    } catch (e) {
      replace(logs, h('h2', null, `Logs of ${name}.${a.Index}`),
        h('p', {class: 'error'}, e.status === 404 ? `${e.message}. Logs are served by the agent of the replica's node: open this UI on ${a.NodeName}.` : e.message));
    }
  }

  const perms = permissions(signal);
  const specWrite = specNeeds(name);
  add(main, [h('p', {class: 'crumbs'}, h('a', {href: '#/deployments'}, 'Deployments'), ' / '), h('h1', null, name), status, head,
    h('div', {class: 'toolbar'},
      h('label', {for: 'scale-replicas'}, 'Replicas'), replicas,
      perms.gate(h('button', {type: 'button', id: 'scale', onclick: scale}, 'Scale'), ...specWrite), ' ',
      perms.gate(h('a', {class: 'button', href: `#/deploy/${enc(name)}`}, 'Edit spec'), ...specWrite), ' ',
      perms.gate(confirmButton('Remove', `Remove ${name} and stop all its replicas?`, remove), ...specWrite)),
    h('h2', null, 'Versions'), versionsEl,
    h('h2', null, 'Allocations'),
    h('div', {class: 'toolbar'}, showAll, h('label', {for: 'show-stopped'}, 'Show stopped allocations')),
    allocsEl, logs]);

  let last = null;
  const renderAllocs = () => {
    if (!last) return;
    const as = (last.Allocs || []).filter((a) => showAll.checked || a.DesiredStatus === 'run')
      .sort((a, b) => a.Index - b.Index || (a.CreateIndex - b.CreateIndex));
    if (as.length === 0) {
      replace(allocsEl, empty('No allocations.'));
      return;
    }
    const {table: t, body} = table('Allocations', ['Replica', 'Node', 'Version', 'Desired', 'State', 'Health', 'IP', 'Restarts', '']);
    for (const a of as) {
      add(body, [h('tr', {'data-alloc': a.ID, class: a.ClientStatus},
        h('td', null, `${name}.${a.Index}`, h('span', {class: 'muted mono'}, ` ${a.ID.slice(0, 8)}`)),
        h('td', null, h('a', {href: `#/nodes/${enc(a.NodeName)}`}, a.NodeName)),
        h('td', {class: 'mono'}, a.Version),
        h('td', null, a.DesiredStatus, a.DesiredDescription ? h('span', {class: 'muted'}, ` (${a.DesiredDescription})`) : null),
        h('td', null, chip(a.ClientStatus === 'running' ? 'passing' : a.ClientStatus === 'pending' ? 'warning' : 'critical', a.ClientStatus),
          a.ClientDescription ? h('span', {class: 'muted'}, ` ${a.ClientDescription}`) : null),
        h('td', null, a.ClientStatus === 'running' ? chip(a.Healthy ? 'passing' : 'critical', a.Healthy ? 'healthy' : 'unhealthy') : '—'),
        h('td', {class: 'mono'}, a.IP || '—'),
        h('td', {class: 'num'}, String(a.Restarts || 0)),
        h('td', null, h('button', {type: 'button', onclick: () => showLogs(a)}, 'Logs')))]);
    }
    replace(allocsEl, t);
  };
  showAll.addEventListener('change', renderAllocs);

  // The spec history, newest first: each older version can be deployed
  // again (after a confirmation), through the server's rollback.
  watch(`/v1/shoal/services/${encodeURIComponent(name)}/versions`, signal, (vs) => {
    if (!vs || vs.length === 0) {
      replace(versionsEl, empty('No versions recorded yet.'));
      return;
    }
    const {table: t, body} = table('Spec versions', ['ID', 'First seen', 'Replicas', 'Image', 'Version', '']);
    for (const v of vs) {
      add(body, [h('tr', {'data-version': String(v.ID), class: v.Current ? 'current' : null},
        h('td', {class: 'num'}, String(v.ID)),
        h('td', null, new Date(v.Time).toLocaleString()),
        h('td', {class: 'num replicas'}, v.Mode === 'global' ? 'global' : String(v.Replicas)),
        h('td', {class: 'mono'}, v.Image || '—'),
        h('td', {class: 'mono'}, v.Version,
          h('details', null, h('summary', null, 'Spec'), h('pre', {class: 'output', tabindex: 0}, v.Spec))),
        h('td', null, v.Current ? chip('passing', 'deployed') :
          perms.gate(confirmButton('Roll back', `Deploy version ${v.ID} of ${name} again?`, () => rollback(v), 'rollback'),
            need('deploy', name, 'write'))))]);
    }
    replace(versionsEl, t);
  }, (e) => replace(versionsEl, h('p', {class: 'error'}, e.message)));

  follow(['/v1/shoal/services', `/v1/shoal/allocs?service=${encodeURIComponent(name)}`],
    `/v1/shoal/services/${encodeURIComponent(name)}`, signal, (s) => {
    if (!s) {
      replace(head, empty(`No service named ${name} is deployed.`, 'Deploy one', '#/deploy'));
      replace(allocsEl);
      return;
    }
    last = s;
    const [cls, text] = state(s);
    if (replicas.value === '' && document.activeElement !== replicas) replicas.value = String(s.Desired);
    const u = s.Update;
    replace(head, h('dl', {class: 'facts', 'data-deployment': name},
      h('dt', null, 'Status'), h('dd', null, chip(cls, text)),
      h('dt', null, 'Version'), h('dd', {class: 'mono'}, s.Version || '—'),
      h('dt', null, 'Replicas'), h('dd', {id: 'counts'}, `${s.Desired} desired, ${s.Running} running, ${s.Healthy} healthy`),
      s.Error ? [h('dt', null, 'Spec error'), h('dd', null, h('pre', {class: 'output error'}, s.Error))] : null,
      u ? [h('dt', null, 'Rollout'), h('dd', null, `${u.Outdated} outdated, ${u.Replacing} being replaced, ${u.InFlight} starting, ${u.Failed} failed${u.Halted ? ' — halted' : ''}`)] : null,
      (s.Unplaced || []).length ? [h('dt', null, 'Unplaced'), h('dd', null, s.Unplaced.join('; '))] : null,
      s.LastGoodVersion ? [h('dt', null, 'Last good version'), h('dd', {class: 'mono'}, s.LastGoodVersion)] : null,
      s.RolledBackFrom ? [h('dt', null, 'Rolled back from'), h('dd', {class: 'mono'}, s.RolledBackFrom)] : null));
    renderAllocs();
  }, (e) => say('error', e.message));
}

export function editor({main, params, signal}) {
  const name = params[0] || '';
  const ta = h('textarea', {id: 'spec', rows: 18, spellcheck: 'false', value: name ? '' : TEMPLATE});
  const result = h('div', {class: 'status', role: 'status', 'aria-live': 'polite'});
  let loadedIndex = 0; // ModifyIndex of the spec opened for editing; 0 = new
  const say = (cls, ...parts) => replace(result, h('div', {class: cls, role: cls.includes('error') ? 'alert' : null}, parts));

  async function check() {
    try {
      const v = await validate(ta.value);
      say('ok', `Valid: service ${v.Name}, version ${v.Version}.`);
      return v;
    } catch (e) {
      say('error', 'Invalid spec: ', h('pre', {class: 'output', id: 'spec-error'}, e.message));
      return null;
    }
  }
  async function deploy() {
    const v = await check();
    if (!v) return;
    const cas = v.Name === name ? loadedIndex : 0;
    try {
      const {data: ok} = await request('PUT', `${kvPath(SPEC_PREFIX + v.Name)}?cas=${cas}`, {body: ta.value});
      if (ok !== true) {
        say('error conflict', cas ? `Not deployed: the spec of ${v.Name} changed since you opened it. ` : `Not deployed: a service named ${v.Name} exists. `,
          h('a', {href: `#/deploy/${enc(v.Name)}`}, 'Open its spec'));
        return;
      }
      location.hash = `#/deployments/${enc(v.Name)}`;
    } catch (e) {
      say('error', `Not deployed: ${e.message}`);
    }
  }
  const deployButton = h('button', {type: 'button', class: 'primary', id: 'deploy', onclick: deploy}, 'Deploy');
  add(main, [h('p', {class: 'crumbs'}, h('a', {href: '#/deployments'}, 'Deployments'), ' / '),
    h('h1', null, name ? `Edit ${name}` : 'Deploy a service'),
    h('p', {class: 'muted'}, 'The spec is JSON (see docs/scheduler.md). The server validates it before it is stored at shoal/services/<name>.'),
    h('label', {for: 'spec'}, 'Spec'), ta, result,
    h('div', {class: 'toolbar'},
      h('button', {type: 'button', id: 'validate', onclick: check}, 'Validate'), ' ',
      // A new service's name is known only from the spec: the server
      // then answers for it.
      name ? permissions(signal).gate(deployButton, ...specNeeds(name)) : deployButton)]);
  if (name) {
    readSpec(name, signal).then((cur) => {
      if (!cur) {
        ta.value = TEMPLATE.replace('"hello"', JSON.stringify(name));
        say('muted', `No spec stored for ${name}; starting from a template.`);
        return;
      }
      ta.value = cur.text;
      loadedIndex = cur.index;
    }).catch((e) => say('error', e.message));
  }
}
