// DOM helpers. Every piece of text goes into the page through text nodes (never innerHTML),
// so whatever an agent put into its arguments is shown as text, never run.

/** Make an element: h('a', {href: '#/x', class: 'c', onclick: f}, 'text', child, [more]). */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A link inside the console (hash routes; ids are encoded, so never a script URL). */
export function link(route, id, text) {
  return h('a', { href: `#/${route}/${encodeURIComponent(id)}` }, text ?? id);
}

/** Local date and time of an RFC 3339 string. */
export function when(ts) {
  if (!ts) return '–';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toLocaleString();
}

/** The time of day of an RFC 3339 string, to the millisecond (hops of one run). */
export function clock(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts ?? '–');
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** A long id shown by its tail, whole on hover. */
export function shortId(id) {
  const s = String(id);
  return s.length > 12 ? `…${s.slice(-8)}` : s;
}

/** 75 → "1m 15s". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A percentage with one decimal. */
export function pct(part, total) {
  return total ? `${(100 * part / total).toFixed(1)}%` : '–';
}

/** A definition list of [label, value] pairs (values: text or nodes; empty ones skipped). */
export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && !v.length))
      .map(([k, v]) => h('div', null, h('dt', null, k), h('dd', null, Array.isArray(v) ? v.join(', ') : v))));
}

/** A table: columns [{label, num?}], rows of cells (text or nodes). */
export function table(columns, rows, empty = 'Nothing yet.') {
  if (!rows.length) return h('p', { class: 'empty' }, empty);
  return h('div', { class: 'table-wrap' }, h('table', null,
    h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : null, scope: 'col' }, c.label)))),
    h('tbody', null, rows.map((r) => h('tr', null, r.map((cell, i) =>
      h('td', { class: columns[i]?.num ? 'num' : columns[i]?.cls }, cell)))))));
}

const banners = new Map();

/** Show (or with text null, remove) the banner with `key`. kind: ok | warn | error. */
export function banner(key, kind, text) {
  const box = document.getElementById('banners');
  banners.get(key)?.remove();
  banners.delete(key);
  if (text === null || text === undefined) return;
  const el = h('p', { class: `banner ${kind}`, dataset: { key } }, text);
  banners.set(key, el);
  box.append(el);
  // Good news fades; warnings and errors stay until what they say changes.
  if (kind === 'ok') setTimeout(() => { if (banners.get(key) === el) banner(key); }, 8000);
}

/** A badge for a decision or a state. */
export function badge(word, cls) {
  return h('span', { class: `badge ${cls ?? word}` }, word);
}

/** Make `nodes` the children of `parent`, moving only what is out of place (a card being
 * typed in keeps its focus when another arrives). */
export function place(parent, nodes) {
  const want = nodes.flat(Infinity).filter(Boolean).map((n) => (n instanceof Node ? n : document.createTextNode(String(n))));
  want.forEach((node, i) => {
    if (parent.childNodes[i] !== node) parent.insertBefore(node, parent.childNodes[i] ?? null);
  });
  while (parent.childNodes.length > want.length) parent.lastChild.remove();
}
