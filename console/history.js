// History: answered escalations — who answered, when, and what became of the held call —
// filtered by route, tool, caller, run and state.
import { api } from './api.js';
import { h, fill, table, link, when, badge } from './ui.js';
import { outcome, target } from './pending.js';

const STATES = ['', 'approved', 'rejected', 'expired', 'unavailable', 'pending'];
const FIELDS = ['route', 'tool', 'caller', 'run_id'];

function filtersOf(arg) {
  const p = new URLSearchParams(arg || '');
  return Object.fromEntries(['state', ...FIELDS].map((k) => [k, p.get(k) || '']));
}

function form(ctx, f) {
  const routes = (ctx.status?.routes || []).map((r) => r.name);
  const input = (name, label) => h('label', null, label,
    h('input', { name, value: f[name], type: 'search', autocomplete: 'off', spellcheck: 'false', size: 14 }));
  return h('form', {
    class: 'filters', 'aria-label': 'Filter the history',
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const [k, v] of new FormData(ev.target)) if (String(v).trim()) q.set(k, String(v).trim());
      location.hash = `#/history/${q}`;
    },
  },
  h('label', null, 'State', h('select', { name: 'state' },
    STATES.map((s) => h('option', { value: s, selected: s === f.state }, s || 'answered (all)')))),
  h('label', null, 'Route', h('select', { name: 'route' },
    ['', ...routes].map((r) => h('option', { value: r, selected: r === f.route }, r || 'any')))),
  input('tool', 'Tool'), input('caller', 'Caller'), input('run_id', 'Run'),
  h('button', { type: 'submit', class: 'primary' }, 'Filter'),
  h('button', { type: 'button', onclick: () => { location.hash = '#/history'; } }, 'Clear'));
}

export async function show(ctx, arg) {
  const f = filtersOf(arg);
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  const body = document.getElementById('history-body');
  const r = await api(`/v1/escalations${q.size ? `?${q}` : ''}`);
  const list = f.state ? r.escalations : r.escalations.filter((e) => e.state !== 'pending');
  const audit = ctx.status?.audit_file;
  const onTimeout = ctx.status?.escalation?.on_timeout;
  fill(body,
    form(ctx, f),
    h('p', { class: 'muted' }, `${list.length} escalation${list.length === 1 ? '' : 's'}, newest first${audit ? '; the decision id opens its audit records' : ''}.`),
    table(
      [{ label: 'Opened' }, { label: 'Decided' }, { label: 'State' }, { label: 'Reviewer' }, { label: 'Comment' },
        { label: 'Outcome' }, { label: 'Route' }, { label: 'Target' }, { label: 'Caller' }, { label: 'Run' },
        { label: 'Reason' }, { label: 'Decision id' }],
      list.map((e) => [
        when(e.created), when(e.answered), badge(e.state), e.reviewer || '–', e.comment || '',
        outcome(e, onTimeout), e.route, target(e), e.caller, e.run_id ? link('runs', e.run_id) : '–',
        [e.reason, e.spot_check ? ' (spot check)' : ''],
        audit ? link('audit', e.id) : h('span', { class: 'mono' }, e.id),
      ]),
      'No escalation matches.'));
}
