// The console's shell: sign-in, the status line, the live feed, pages by URL hash, keys.
import { api, ApiError, setToken, reviewer, setReviewer, follow } from './api.js';
import { h, fill, banner, when } from './ui.js';
import * as pending from './pending.js';

const PAGES = ['pending', 'history', 'precedents', 'decisions', 'runs'];
const loaders = {
  pending: async () => pending,
  history: () => import('./history.js'),
  precedents: () => import('./precedents.js'),
  decisions: () => import('./decisions.js'),
  runs: () => import('./runs.js'),
  audit: () => import('./runs.js').then((m) => ({ show: m.showAudit })),
};

/** What every page may read: the gateway's status, the clock skew, the reviewer. */
const ctx = {
  status: null,
  skew: 0,
  reviewer: reviewer(),
  now() { return Date.now() + this.skew; },
  boundary(route) { return this.status?.routes?.find((r) => r.name === route)?.boundary; },
  relogin(why) { showLogin(why); },
};

let current = null;
let stopFeed = null;
let started = false;

async function loadStatus() {
  const s = await api('/v1/status');
  ctx.status = s;
  const server = Date.parse(s.now);
  if (!Number.isNaN(server)) ctx.skew = server - Date.now();
  renderStatus(s);
  return s;
}

function renderStatus(s) {
  const p = s.policy;
  const reload = p?.last_reload;
  fill(document.getElementById('status'),
    p ? h('span', { title: `policy version ${p.version}` }, 'policy ', h('b', { class: 'mono' }, String(p.version).slice(0, 12)), ` · ${p.rules} rules${p.mode === 'observe' ? ' · observe' : ''}`)
      : h('span', null, 'no policy'),
    reload ? h('span', { title: reload.error || '' }, 'last reload ', h('b', null, reload.result), ` ${when(reload.at)}`)
      : p ? h('span', null, 'no reload since start') : null,
    h('span', null, 'store ', h('b', null, s.store.backend === 'redis' ? `redis (${s.store.answers})` : 'memory')),
    h('span', null, `v${s.gateway.version}`));
  banner('token', 'warn', s.token ? null
    : 'No admin token is configured (admin.token_file): the console is served only on loopback, and anyone on this machine can answer escalations.');
  banner('store', s.store.answers === 'unavailable' ? 'error' : 'warn',
    s.store.answers === 'unavailable' ? 'The shared review store (Redis) is unavailable: answers are refused and escalated calls are denied until it is back. Other replicas may still reach it.'
      : s.store.answers === 'local' ? 'The shared review store (Redis) is unavailable: answers given here stay on this replica until it is back.'
        : null);
  banner('reload', 'error', reload?.result === 'error' ? `The last policy reload failed; the previous rules keep serving: ${reload.error}` : null);
}

function showLogin(why) {
  stopFeed?.();
  stopFeed = null;
  started = false;
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== 'login';
  const needToken = ctx.status ? ctx.status.token : true;
  document.getElementById('login-token').closest('form').querySelector('label[for="login-token"]').hidden = !needToken;
  document.getElementById('login-token').hidden = !needToken;
  document.getElementById('login-reviewer').value = ctx.reviewer;
  fill(document.getElementById('login-error'), why || '');
  (needToken ? document.getElementById('login-token') : document.getElementById('login-reviewer')).focus();
}

async function signIn(ev) {
  ev.preventDefault();
  const form = ev.target;
  const name = form.reviewer.value.trim();
  if (!form.token.hidden) setToken(form.token.value.trim());
  if (!name) { fill(document.getElementById('login-error'), 'Your name is recorded with every answer: please give one.'); return; }
  try {
    await loadStatus();
  } catch (e) {
    setToken('');
    fill(document.getElementById('login-error'), e.status === 401
      ? 'The admin API refused this token (401). Check admin.token_file.'
      : `The admin API did not answer: ${e.message}`);
    form.token.select();
    return;
  }
  setReviewer(name);
  ctx.reviewer = name;
  form.token.value = '';
  start();
}

function start() {
  if (started) return;
  started = true;
  stopFeed = follow((e) => pending.onEvent(ctx, e), (state, err) => {
    const catchUp = () => pending.reload(ctx).catch((e) => {
      if (e.status === 401) ctx.relogin('The admin API refused the token (401).');
      else banner('feed', 'warn', `Pending escalations could not be listed: ${e.message}`);
    });
    if (state === 'live') { banner('feed', 'warn', null); catchUp(); }
    else if (state === 'lagged') catchUp();
    else if (err?.status === 401) ctx.relogin('The admin API no longer accepts this token (401).');
    else banner('feed', 'warn', `The live feed is interrupted (${err?.message || 'no answer'}); reconnecting…`);
  });
  route();
}

async function route() {
  if (!started) return;
  const [, name = 'pending', ...rest] = location.hash.split('/');
  const page = loaders[name] ? name : 'pending';
  const arg = rest.length ? decodeURIComponent(rest.join('/')) : undefined;
  for (const s of document.querySelectorAll('.page')) s.hidden = s.id !== `page-${page}`;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (current?.hide) current.hide();
  try {
    current = await loaders[page]();
    await current.show(ctx, arg);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) { ctx.relogin('The admin API refused the token (401).'); return; }
    banner('page', 'error', `This page could not be shown: ${e.message}`);
    return;
  }
  banner('page', 'error', null);
}

function onKey(e) {
  const t = e.target;
  if (t instanceof HTMLElement && t.matches('input, textarea, select')) {
    if (e.key === 'Escape') t.blur();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey || !started) return;
  const n = Number(e.key);
  if (n >= 1 && n <= PAGES.length) { location.hash = `#/${PAGES[n - 1]}`; e.preventDefault(); return; }
  if (e.key === '?') { document.getElementById('keys').showModal(); e.preventDefault(); return; }
  current?.key?.(ctx, e);
}

async function boot() {
  document.getElementById('login-form').addEventListener('submit', signIn);
  document.getElementById('keys-close').addEventListener('click', () => document.getElementById('keys').close());
  window.addEventListener('hashchange', route);
  document.addEventListener('keydown', onKey);
  setInterval(() => { if (started) loadStatus().catch(() => {}); }, 15000);
  try {
    await loadStatus();
  } catch (e) {
    showLogin(e.status === 401 ? '' : `The admin API did not answer: ${e.message}`);
    return;
  }
  if (!ctx.reviewer) { showLogin(''); return; }
  start();
}

boot().finally(() => performance.mark('console-boot'));
