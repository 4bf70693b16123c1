// Pending escalations: live from the feed, newest first, answered with a comment. Cards that
// were answered elsewhere (another reviewer, another replica) or expired say so at once.
import { api, seg } from './api.js';
import { h, fill, place, facts, link, when, duration, badge, banner } from './ui.js';

const items = new Map(); // id → { e, el, parts, busy, origin }
let selected = null;
let visible = false;
let ticker = null;
let readyMarked = false;

/** What became of the call, in words. */
export function outcome(e, onTimeout) {
  switch (e.state) {
    case 'approved':
      return e.reviewed_after ? 'The call had gone through; the approval teaches its precedent.'
        : e.flow === 'defer' ? 'The same call is allowed once when the agent calls again.'
          : 'The held call was forwarded.';
    case 'rejected':
      return e.reviewed_after ? 'The call had gone through; the rejection makes its precedent stricter.'
        : e.flow === 'defer' ? 'The call stays refused.' : 'The held call was refused (4032).';
    case 'expired':
      return e.flow === 'defer' ? 'Nobody answered in time; the call stays refused.'
        : onTimeout === 'allow' ? 'Nobody answered in time: the call was let through (on_timeout: allow).'
          : 'Nobody answered in time: the call was denied (4031).';
    case 'unavailable':
      return 'The shared review store was unavailable: the call was denied without review.';
    default:
      return '';
  }
}

/** The call's target in a few words. */
export function target(e) {
  return e.tool || e.resource || e.method || 'call';
}

function pendingIds() {
  return [...items.values()].filter((it) => it.e.state === 'pending')
    .sort((a, b) => b.e.created.localeCompare(a.e.created)).map((it) => it.e.id);
}

function card(ctx, e) {
  const comment = h('textarea', { id: `comment-${e.id}`, rows: 2, maxlength: 2000, placeholder: 'Why (optional; recorded in the audit trail)' });
  const approve = h('button', { class: 'approve', type: 'button', onclick: () => answer(ctx, e.id, true) }, 'Approve (a)');
  const reject = h('button', { class: 'reject', type: 'button', onclick: () => answer(ctx, e.id, false) }, 'Reject (r)');
  const left = h('span', { class: 'left', 'aria-label': 'time left' });
  const state = h('span');
  const result = h('p', { class: 'outcome', role: 'status' });
  const spot = e.spot_check || e.reason === 'spot_check';
  const t = e.trajectory;
  const el = h('article', {
    class: 'card esc', tabindex: -1, dataset: { id: e.id }, 'aria-labelledby': `t-${e.id}`,
    onclick: () => select(e.id, false),
  },
  h('div', { class: 'esc-head' },
    h('h2', { id: `t-${e.id}` }, target(e)),
    spot ? h('span', { class: 'badge spot' }, 'spot check') : null,
    e.reason === 'spot_check' ? null : h('span', { class: 'badge escalate' }, e.reason),
    state, left),
  spot ? h('p', { class: 'note spot' }, e.spot_check
    ? `Spot check of learned precedent ${e.spot_check.precedent} (${e.spot_check.level}), which would have decided ${e.spot_check.verdict}. Your answer checks what the gateway learned.`
    : 'Spot check of a learned precedent.') : null,
  e.reviewed_after ? h('p', { class: 'note' }, 'This call already went through; the answer only teaches.') : null,
  facts([
    ['Route', e.route], ['Boundary', ctx.boundary(e.route)], ['Caller', e.caller],
    ['Run', e.run_id ? link('runs', e.run_id) : null], ['Method', e.method], ['Resource', e.resource],
    ['Rules', e.rules], ['Finding types', e.findings], ['Flow', e.flow], ['Opened', when(e.created)],
    ['Escalation', h('span', { class: 'mono' }, e.id)],
  ]),
  h('div', { class: 'esc-body' },
    h('h3', null, 'Arguments'),
    e.arguments !== undefined ? h('pre', { class: 'args' }, JSON.stringify(e.arguments, null, 2))
      : h('p', { class: 'muted' }, e.arguments_note || 'No arguments kept.'),
    e.findings?.length ? h('p', { class: 'muted' }, 'Strings in which the guard found something are masked as «detector/type».') : null,
    h('h3', null, 'The run so far'),
    t ? facts([['Calls before', String(t.calls)], ['Tools called', t.called], ['Resources read', t.read], ['Routes', t.routes], ['Labels', t.labels]])
      : h('p', { class: 'muted' }, 'No run history (the run is recorded for trusted callers, or when rules read runs).'),
    h('details', null, h('summary', null, 'What learning sees'), h('p', { class: 'mono' }, e.shape))),
  h('div', { class: 'actions' },
    h('div', { class: 'comment' }, h('label', { for: `comment-${e.id}` }, 'Comment'), comment),
    approve, reject),
  result);
  return { el, parts: { comment, approve, reject, left, state, result } };
}

function update(ctx, it) {
  const { e, parts, el } = it;
  const open = e.state === 'pending';
  el.classList.toggle('decided', !open);
  parts.approve.disabled = parts.reject.disabled = !open || it.busy;
  parts.comment.disabled = !open;
  fill(parts.state, open ? null : badge(e.state));
  if (open) {
    tick(ctx, it);
    fill(parts.result, it.busy ? 'Sending…' : '');
    return;
  }
  fill(parts.left, e.answered ? `decided ${when(e.answered)}` : '');
  parts.left.classList.remove('low');
  const who = e.reviewer ? `${e.state} by ${e.reviewer}${e.comment ? ` (“${e.comment}”)` : ''}` : e.state;
  const how = it.origin === 'here' ? `You ${e.state === 'approved' ? 'approved' : 'rejected'} it.`
    : e.state === 'expired' || e.state === 'unavailable' ? '' : `Answered elsewhere: ${who}.`;
  fill(parts.result, [how, outcome(e, ctx.status?.escalation?.on_timeout)].filter(Boolean).join(' '));
}

function tick(ctx, it) {
  const ms = Date.parse(it.e.expires) - ctx.now();
  if (Number.isNaN(ms)) return;
  if (ms > 0) {
    fill(it.parts.left, `${duration(ms / 1000)} left`);
    it.parts.left.classList.toggle('low', ms < 30000);
  } else {
    fill(it.parts.left, 'time is up');
    it.parts.left.classList.add('low');
    // The gateway settles it at its deadline (a deferred one when next looked at): ask.
    if (!it.polling || Date.now() - it.polling > 3000) {
      it.polling = Date.now();
      refresh(ctx, it.e.id);
    }
  }
}

function upsert(ctx, e) {
  const it = items.get(e.id);
  if (!it) {
    if (e.state !== 'pending') return;
    const fresh = { e, ...card(ctx, e) };
    items.set(e.id, fresh);
    update(ctx, fresh);
    return;
  }
  const was = it.e.state;
  // Events carry no arguments once decided; keep what the card shows.
  it.e = { ...it.e, ...e };
  if (was === 'pending' && e.state !== 'pending' && !it.busy && !it.origin) {
    it.origin = e.state === 'expired' || e.state === 'unavailable' ? e.state : 'elsewhere';
  }
  update(ctx, it);
}

async function refresh(ctx, id) {
  try {
    upsert(ctx, await api(`/v1/escalations/${seg(id)}`));
    render(ctx);
  } catch (err) {
    if (err.status === 404) { items.delete(id); render(ctx); }
  }
}

async function answer(ctx, id, approve) {
  const it = items.get(id);
  if (!it || it.e.state !== 'pending' || it.busy) return;
  it.busy = true;
  update(ctx, it);
  const comment = it.parts.comment.value.trim();
  try {
    const e = await api(`/v1/escalations/${seg(id)}/${approve ? 'approve' : 'reject'}`, {
      method: 'POST', body: comment ? { reviewer: ctx.reviewer, comment } : { reviewer: ctx.reviewer },
    });
    it.origin = 'here';
    it.busy = false;
    upsert(ctx, e);
    banner('answer', 'ok', null);
    moveSelection(1);
  } catch (err) {
    it.busy = false;
    if (err.status === 409) { it.origin = 'elsewhere'; await refresh(ctx, id); }
    else if (err.status === 404) { items.delete(id); }
    else if (err.status === 401) { ctx.relogin('The admin API refused the token (401).'); }
    else banner('answer', 'error', `Not answered (${err.status || 'no answer'}): ${err.message}`);
    update(ctx, it);
  }
  render(ctx);
}

function select(id, focus = true) {
  selected = id;
  for (const it of items.values()) it.el.classList.toggle('selected', it.e.id === id);
  if (focus) items.get(id)?.el.focus();
}

function moveSelection(step) {
  const ids = pendingIds();
  if (!ids.length) { selected = null; return; }
  const i = ids.indexOf(selected);
  const next = i < 0 ? 0 : Math.min(ids.length - 1, Math.max(0, i + step));
  select(ids[next]);
}

const emptyNote = h('p', { class: 'empty' }, 'Nothing is waiting for a reviewer. New escalations appear here as they arrive.');
let head = null;

function decidedHead(ctx, decided) {
  head ??= h('h2', null, 'Just decided ', h('button', { type: 'button', onclick: () => {
    for (const it of [...items.values()]) if (it.e.state !== 'pending') items.delete(it.e.id);
    render(ctx);
  } }, 'Clear decided'));
  return head;
}

function render(ctx) {
  const ids = pendingIds();
  document.getElementById('pending-count').textContent = String(ids.length);
  if (!visible) return;
  const decided = [...items.values()].filter((it) => it.e.state !== 'pending')
    .sort((a, b) => (b.e.answered || '').localeCompare(a.e.answered || '')).slice(0, 20);
  const list = document.getElementById('pending-list');
  place(list, [
    ids.length ? ids.map((id) => items.get(id).el) : emptyNote,
    decided.length ? decidedHead(ctx, decided) : null,
    decided.map((it) => it.el)]);
  if (!selected || !ids.includes(selected)) {
    if (ids.length) select(ids[0], false);
  } else {
    select(selected, false);
  }
}

/** Reload the pending list (on start, and whenever the feed reconnects). */
export async function reload(ctx) {
  const r = await api('/v1/escalations?state=pending');
  const now = new Set(r.escalations.map((e) => e.id));
  for (const e of r.escalations) upsert(ctx, e);
  for (const it of items.values()) if (it.e.state === 'pending' && !now.has(it.e.id)) refresh(ctx, it.e.id);
  render(ctx);
  if (!readyMarked) { readyMarked = true; performance.mark('console-ready'); }
}

/** An event from the feed. */
export function onEvent(ctx, e) {
  upsert(ctx, e);
  render(ctx);
}

export async function show(ctx) {
  visible = true;
  render(ctx);
  clearInterval(ticker);
  ticker = setInterval(() => { for (const it of items.values()) if (it.e.state === 'pending') tick(ctx, it); }, 1000);
}

export function hide() {
  visible = false;
  clearInterval(ticker);
}

export function key(ctx, e) {
  const it = selected && items.get(selected);
  switch (e.key) {
    case 'j': case 'ArrowDown': moveSelection(1); break;
    case 'k': case 'ArrowUp': moveSelection(-1); break;
    case 'a': if (it) answer(ctx, it.e.id, true); break;
    case 'r': if (it) answer(ctx, it.e.id, false); break;
    case 'c': if (it) it.parts.comment.focus(); break;
    default: return;
  }
  e.preventDefault();
}
