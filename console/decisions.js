// Decisions: allow / deny / redact / escalate over the last hour and day, by route and
// boundary (this replica's counts, /v1/decisions/summary), the policy in force, and the
// latest decisions that were not plain allows with their audit records. The chart library
// (uPlot, vendored with its licence) is loaded only when this page is opened.
import { api } from './api.js';
import { h, fill, table, link, when, pct, badge } from './ui.js';

const KINDS = ['allow', 'deny', 'redact', 'escalate'];
let uplot = null;
let plot = null;
let observer = null;
let timer = null;
let state = { window: '1h', group: '' };

function loadUplot() {
  uplot ??= new Promise((resolve, reject) => {
    document.head.append(h('link', { rel: 'stylesheet', href: '/console/vendor/uPlot.min.css' }));
    const s = h('script', { src: '/console/vendor/uPlot.iife.min.js' });
    s.addEventListener('load', () => resolve(window.uPlot));
    s.addEventListener('error', () => reject(new Error('the chart library did not load')));
    document.head.append(s);
  });
  return uplot;
}

function color(kind) {
  return getComputedStyle(document.documentElement).getPropertyValue(`--${kind}`).trim() || '#555';
}

function matches(s, group) {
  if (!group) return true;
  const [k, v] = group.split(':');
  return k === 'route' ? s.route === v : s.boundary === v;
}

/** Per kind, the counts of the series in `group`, point by point. */
function byKind(summary, group) {
  const out = Object.fromEntries(KINDS.map((k) => [k, summary.times.map(() => 0)]));
  for (const s of summary.series) {
    if (!matches(s, group)) continue;
    s.counts.forEach((n, i) => { out[s.decision][i] += n; });
  }
  return out;
}

function ratios(hour, day, key) {
  const rows = new Map();
  for (const [w, summary] of [['hour', hour], ['day', day]]) {
    for (const s of summary.series) {
      const k = s[key];
      const r = rows.get(k) ?? { hour: {}, day: {} };
      r[w][s.decision] = (r[w][s.decision] || 0) + s.total;
      rows.set(k, r);
    }
  }
  const cells = (t) => {
    const total = KINDS.reduce((a, k) => a + (t[k] || 0), 0);
    return [String(total), ...KINDS.map((k) => pct(t[k] || 0, total))];
  };
  return table(
    [{ label: key === 'route' ? 'Route' : 'Boundary' },
      ...['hour', 'day'].flatMap((w) => [{ label: `${w}: calls`, num: true }, ...KINDS.map((k) => ({ label: `${w}: ${k}`, num: true }))])],
    [...rows.entries()].sort().map(([k, r]) => [k, ...cells(r.hour), ...cells(r.day)]),
    'No decisions yet.');
}

async function drawChart(area, summary) {
  const U = await loadUplot();
  const series = byKind(summary, state.group);
  const data = [summary.times, ...KINDS.map((k) => series[k])];
  const totals = Object.fromEntries(KINDS.map((k) => [k, series[k].reduce((a, b) => a + b, 0)]));
  area.closest('figure').dataset.totals = JSON.stringify(totals);
  plot?.destroy();
  observer?.disconnect();
  fill(area);
  const width = Math.max(260, area.clientWidth || 600);
  plot = new U({
    width, height: 240,
    scales: { x: { time: true } },
    series: [{}, ...KINDS.map((k) => ({ label: k, stroke: color(k), width: 2, points: { show: false } }))],
    axes: [{}, { label: `calls per ${summary.step_seconds === 60 ? 'minute' : `${summary.step_seconds / 60} minutes`}`, size: 60 }],
  }, data, area);
  observer = new ResizeObserver(() => plot?.setSize({ width: Math.max(260, area.clientWidth), height: 240 }));
  observer.observe(area);
}

function toolbar(ctx, groups, redraw) {
  const seg = h('div', { class: 'seg', role: 'group', 'aria-label': 'Window' },
    ['1h', '24h'].map((w) => h('button', {
      type: 'button', 'aria-pressed': String(state.window === w),
      onclick: () => { state.window = w; redraw(); },
    }, w === '1h' ? 'Last hour' : 'Last day')));
  const select = h('select', { 'aria-label': 'Routes and boundaries', onchange: (e) => { state.group = e.target.value; redraw(); } },
    h('option', { value: '' }, 'all routes'),
    groups.map((g) => h('option', { value: g, selected: g === state.group }, g.replace(':', ': '))));
  return h('div', { class: 'toolbar' }, seg, select);
}

export async function show(ctx) {
  const [hour, day] = await Promise.all([
    api('/v1/decisions/summary?window=1h'), api('/v1/decisions/summary?window=24h')]);
  const body = document.getElementById('decisions-body');
  const p = ctx.status?.policy;
  const r = p?.last_reload;
  const groups = [...new Set(day.series.flatMap((s) => [`route:${s.route}`, `boundary:${s.boundary}`]))].sort();
  const area = h('div', { class: 'chart-area' });
  const legend = h('div', { class: 'totals' });
  const redraw = () => show(ctx);
  const summary = state.window === '1h' ? hour : day;
  const t = byKind(summary, state.group);
  fill(legend, KINDS.map((k) => {
    const sw = h('span', { class: 'swatch' });
    sw.style.background = color(k);
    return h('span', { dataset: { kind: k } }, sw, `${k} ${t[k].reduce((a, b) => a + b, 0)}`);
  }));
  const audit = ctx.status?.audit_file;
  fill(body,
    h('p', null, p ? ['Policy ', h('b', { class: 'mono' }, p.version), ` in force (${p.rules} rules in ${p.files} files, ${p.mode}). `,
      r ? [`Last reload ${when(r.at)}: `, badge(r.result === 'ok' ? 'ok' : 'error', r.result === 'ok' ? 'allow' : 'deny'), r.error ? ` ${r.error}` : '']
        : 'No reload since the gateway started.'] : 'No policy is configured: every routed call is forwarded.'),
    h('p', { class: 'muted' }, `Counted by this replica since ${when(new Date(day.since * 1000).toISOString())}; Prometheus (sec0_gateway_decisions_total) has every replica's.`),
    toolbar(ctx, groups, redraw),
    h('figure', { class: 'card chart' },
      h('figcaption', null, h('h2', null, `Decisions, ${state.window === '1h' ? 'last hour' : 'last day'}${state.group ? ` (${state.group.replace(':', ': ')})` : ''}`)),
      legend, area),
    h('h2', null, 'By route'), ratios(hour, day, 'route'),
    h('h2', null, 'By boundary'), ratios(hour, day, 'boundary'),
    h('h2', null, 'Latest decisions other than allow'),
    table([{ label: 'When' }, { label: 'Decision' }, { label: 'Mode' }, { label: 'Reason' }, { label: 'Route' },
      { label: 'Boundary' }, { label: 'Tool' }, { label: 'Direction' }, { label: 'Decision id' }],
    hour.recent.map((d) => [when(d.ts), badge(d.decision), d.mode, d.reason, d.route, d.boundary, d.tool || '–', d.direction,
      audit ? link('audit', d.decision_id) : h('span', { class: 'mono' }, d.decision_id)]),
    'No deny, redact or escalate decision yet.'));
  try {
    await drawChart(area, summary);
  } catch (e) {
    fill(area, h('p', { class: 'error' }, e.message));
  }
  clearTimeout(timer);
  timer = setTimeout(() => { if (!document.getElementById('page-decisions').hidden) show(ctx).catch(() => {}); }, 15000);
}

export function hide() {
  clearTimeout(timer);
  observer?.disconnect();
}
