// Permissions: a view asks the agent which of its actions the ACL token
// holds (POST /v1/internal/acl/authorize, Consul's endpoint and shape)
// and disables the others, saying in the tooltip which permission is
// missing, so that an action the token lacks is not offered at all rather
// than failing with 403. With ACLs off the agent allows everything.
import {request, onTokenChange} from './api.js';

// BATCH is the most questions the agent answers in one request.
const BATCH = 64;

// need is one permission an action requires: access ("read", "write")
// to segment (a key, a service name…) of resource ("key", "session",
// "deploy", "service", "node", …).
export function need(resource, segment, access) {
  return {Resource: resource, Segment: segment, Access: access};
}

function describe(n) {
  return `${n.Resource}:${n.Access} on "${n.Segment}"`;
}

const qkey = (n) => `${n.Resource}\u0000${n.Segment}\u0000${n.Access}`;

// target is the element to disable: the first button of a confirmButton.
function target(el) {
  return el.classList.contains('confirm') ? el.querySelector('button') : el;
}

// mark disables el when missing is not empty (and undoes only what it
// did: a button disabled for another reason stays disabled).
function mark(el, missing) {
  const denied = missing.length > 0;
  const why = denied ? `Not allowed: your ACL token lacks ${missing.map(describe).join(' and ')}` : '';
  if (el.tagName === 'A') {
    if (denied && el.hasAttribute('href')) {
      el.dataset.aclHref = el.getAttribute('href');
      el.removeAttribute('href');
    } else if (!denied && el.dataset.aclHref !== undefined) {
      el.setAttribute('href', el.dataset.aclHref);
      delete el.dataset.aclHref;
    }
    if (denied) el.setAttribute('aria-disabled', 'true');
    else el.removeAttribute('aria-disabled');
  } else if (denied && !el.disabled) {
    el.disabled = true;
    el.dataset.aclDenied = 'true';
  } else if (!denied && el.dataset.aclDenied) {
    el.disabled = false;
    delete el.dataset.aclDenied;
  }
  if (denied) {
    el.title = why;
    el.dataset.aclMissing = missing.map(describe).join(', ');
  } else if (el.dataset.aclMissing !== undefined) {
    el.removeAttribute('title');
    delete el.dataset.aclMissing;
  }
}

// permissions returns {gate(el, ...needs)} for one view: gate disables el
// (a button, a confirmButton or a link) while the token lacks any of
// needs, and returns el. Questions are asked in batches, answers cached,
// and everything asked again when the token changes, until signal
// aborts. Until an answer arrives, and when the agent cannot answer
// (an unknown token), actions stay enabled: the request then reports
// the agent's own error.
export function permissions(signal) {
  const answers = new Map(); // qkey → Allow
  let gated = []; // {root, el, needs, attached}
  let generation = 0;
  let scheduled = false;

  const apply = (g) => mark(g.el, g.needs.filter((n) => answers.get(qkey(n)) === false));

  async function ask() {
    scheduled = false;
    const mine = generation;
    const seen = new Set();
    const qs = [];
    for (const g of gated) {
      for (const n of g.needs) {
        const k = qkey(n);
        if (!answers.has(k) && !seen.has(k)) { seen.add(k); qs.push(n); }
      }
    }
    for (let i = 0; i < qs.length; i += BATCH) {
      const chunk = qs.slice(i, i + BATCH);
      let data;
      try {
        ({data} = await request('POST', '/v1/internal/acl/authorize', {body: JSON.stringify(chunk), signal}));
      } catch {
        return;
      }
      if (signal.aborted || mine !== generation) return;
      chunk.forEach((n, j) => answers.set(qkey(n), Boolean(data?.[j]?.Allow)));
    }
    for (const g of gated) apply(g);
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(ask);
  }

  onTokenChange(() => {
    generation++;
    answers.clear();
    for (const g of gated) apply(g);
    schedule();
  }, signal);

  return {
    gate(el, ...needs) {
      // Forget elements a re-render removed (a live list rebuilds its rows).
      for (const g of gated) if (g.root.isConnected) g.attached = true;
      gated = gated.filter((g) => !g.attached || g.root.isConnected);
      const g = {root: el, el: target(el), needs, attached: false};
      gated.push(g);
      apply(g);
      if (needs.some((n) => !answers.has(qkey(n)))) schedule();
      return el;
    },
  };
}
