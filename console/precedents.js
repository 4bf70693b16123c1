// Precedents: what the gateway learned from reviewers' answers, with revoke, and the rules
// file `sec0-gateway learn export` writes, to download, review and commit.
import { api, seg } from './api.js';
import { h, fill, table, badge, banner } from './ui.js';

function bar(value, threshold, verdict) {
  const fillBar = h('span');
  fillBar.style.width = `${Math.max(0, Math.min(1, value)) * 100}%`; // CSSOM: allowed by the CSP
  return h('div', null, `${value.toFixed(2)} ≥ ${threshold.toFixed(2)}`,
    h('div', { class: `bar ${verdict}`, role: 'img', 'aria-label': `confidence ${value.toFixed(2)}, threshold ${threshold.toFixed(2)}` },
      fillBar));
}

async function download() {
  try {
    const text = await api('/v1/precedents/export', { text: true });
    const url = URL.createObjectURL(new Blob([text], { type: 'application/yaml' }));
    const a = h('a', { href: url, download: '90-precedents.yaml' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    banner('export', 'error', `The rules file could not be fetched: ${e.message}`);
  }
}

function revokeButton(ctx, p) {
  const b = h('button', {
    type: 'button', class: 'reject', 'aria-label': `Revoke ${p.id}`,
    onclick: async () => {
      if (b.dataset.confirm !== 'yes') {
        b.dataset.confirm = 'yes';
        b.textContent = 'Confirm revoke';
        return;
      }
      b.disabled = true;
      try {
        await api(`/v1/precedents/${seg(p.id)}`, { method: 'DELETE' });
        banner('revoke', 'ok', `Revoked ${p.id}: its answers no longer count.`);
      } catch (e) {
        banner('revoke', 'error', `${p.id} was not revoked (${e.status || 'no answer'}): ${e.message}`);
      }
      await show(ctx);
    },
  }, 'Revoke');
  return b;
}

export async function show(ctx) {
  const r = await api('/v1/precedents');
  const list = r.precedents;
  fill(document.getElementById('precedents-body'),
    h('div', { class: 'toolbar' },
      h('button', { type: 'button', class: 'primary', onclick: download }, 'Download as rules (90-precedents.yaml)'),
      h('span', { class: 'muted' }, ctx.status?.learn?.enabled === false ? 'Learning is off (learn.enabled: false).'
        : 'Exact precedents become precedent: true rules; generalised ones are listed as comments.')),
    table(
      [{ label: 'Precedent' }, { label: 'Level' }, { label: 'What it covers', cls: 'words' }, { label: 'Verdict' },
        { label: 'Confidence' }, { label: 'Approvals', num: true }, { label: 'Rejections', num: true },
        { label: 'Spot checks ✓/✗', num: true }, { label: 'Uses', num: true }, { label: '' }],
      list.map((p) => [
        h('span', { class: 'mono' }, p.id), p.level, p.fingerprint, badge(p.verdict),
        bar(p.confidence, p.threshold, p.verdict),
        `${p.approvals} (${p.approvals_since_rejection} since a rejection)`, String(p.rejections),
        `${p.spot_checks.approved}/${p.spot_checks.rejected}`, String(p.uses), revokeButton(ctx, p),
      ]),
      'Nothing learned yet: precedents form as reviewers answer escalations.'));
}
