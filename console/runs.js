// Runs: a run's hops in order, as `sec0-gateway audit run` prints them, and one decision's
// audit records — both read from this replica's local audit file sink (audit.file).
import { api, seg } from './api.js';
import { h, fill, table, link, badge, clock, shortId } from './ui.js';

function unavailable(e) {
  return e.body?.error?.reason === 'no_audit_file'
    ? h('p', { class: 'banner warn' }, 'Not available on this replica: runs and audit records are read from the local audit file sink (audit.file), which it does not write. Use `sec0-gateway audit run` where the audit files are.')
    : h('p', { class: 'banner error' }, `Could not be read (${e.status || 'no answer'}): ${e.message}`);
}

function target(r) {
  return r.tool || r.resource || r.prompt || r.agent || '';
}

export async function show(ctx, runId) {
  const body = document.getElementById('runs-body');
  const input = h('input', { id: 'run-id', name: 'run', value: runId || '', required: true, autocomplete: 'off', spellcheck: 'false', size: 40 });
  const result = h('div', { 'aria-live': 'polite' });
  fill(body,
    h('form', {
      class: 'filters',
      onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/runs/${seg(input.value.trim())}`; },
    }, h('label', { for: 'run-id' }, 'Run id', input), h('button', { type: 'submit', class: 'primary' }, 'Show hops')),
    result);
  if (!runId) {
    fill(result, h('p', { class: 'muted' }, ctx.status?.audit_file
      ? 'Enter a run id (x-sec0-run-id) to see its hops in the order they happened.'
      : 'This replica writes no local audit file (audit.file): runs cannot be shown here.'));
    input.focus();
    return;
  }
  let r;
  try {
    r = await api(`/v1/runs/${seg(runId)}`);
  } catch (e) {
    if (e.status === 401) throw e;
    fill(result, unavailable(e));
    return;
  }
  fill(result,
    h('p', null, `${r.hops.length} record${r.hops.length === 1 ? '' : 's'} of run `, h('b', { class: 'mono' }, r.run_id),
      r.truncated ? ' (the first ones only)' : '', r.skipped_lines ? ` · ${r.skipped_lines} unreadable lines skipped` : ''),
    table(
      [{ label: 'Time' }, { label: 'Hop' }, { label: 'Parent' }, { label: 'Direction' }, { label: 'Route' }, { label: 'Method' },
        { label: 'Target' }, { label: 'Decision' }, { label: 'Reason' }, { label: 'Status', num: true }, { label: 'Decision id' }],
      r.hops.map((x) => [h('span', { title: x.ts }, clock(x.ts)), x.hop_id ? h('span', { class: 'mono', title: x.hop_id }, shortId(x.hop_id)) : '–',
        x.parent_hop ? h('span', { class: 'mono', title: x.parent_hop }, shortId(x.parent_hop)) : '–',
        x.direction || x.kind, x.route || '–', x.method || '–', target(x),
        x.escalation?.state ? ['escalation ', badge(x.escalation.state)] : x.decision ? badge(x.decision) : x.kind,
        x.reason || '', x.http_status ?? '–',
        x.decision_id ? h('span', { title: x.decision_id }, link('audit', x.decision_id, shortId(x.decision_id))) : '–']),
      'No record of this run in this replica\'s audit files.'),
    r.lines.length ? h('details', null, h('summary', null, 'As `sec0-gateway audit run` prints it'), h('pre', { class: 'args' }, r.lines.join('\n'))) : null);
}

/** `#/audit/<decision id>`: the decision's audit records. */
export async function showAudit(ctx, id) {
  const body = document.getElementById('audit-body');
  if (!id) { fill(body, h('p', { class: 'muted' }, 'No decision id given.')); return; }
  let r;
  try {
    r = await api(`/v1/audit/decisions/${seg(id)}`);
  } catch (e) {
    if (e.status === 401) throw e;
    fill(body, e.status === 404 && e.body?.error?.reason !== 'no_audit_file'
      ? h('p', { class: 'banner warn' }, `No audit record of decision ${id} in this replica's audit files (another replica may have written it, or it has not been flushed yet).`)
      : unavailable(e));
    return;
  }
  fill(body,
    h('p', null, `${r.records.length} record${r.records.length === 1 ? '' : 's'} of decision `, h('b', { class: 'mono' }, r.decision_id),
      r.records[0]?.run_id ? [' in run ', link('runs', r.records[0].run_id)] : ''),
    r.records.map((rec) => h('section', { class: 'card' },
      h('h2', null, `${rec.kind || 'record'} · ${rec.ts || ''}`, rec.escalation?.state ? [' · ', badge(rec.escalation.state)] : ''),
      h('pre', { class: 'args' }, JSON.stringify(rec, null, 2)))));
}
