// The admin API, as the console calls it: the token in the Authorization header of every
// call (no cookies, so a page elsewhere cannot act for the reviewer), JSON in and out.

const TOKEN = 'sec0.token';
const REVIEWER = 'sec0.reviewer';

let token = sessionStorage.getItem(TOKEN) || '';

/** The token for this tab only (sessionStorage). */
export function setToken(t) {
  token = t || '';
  if (token) sessionStorage.setItem(TOKEN, token); else sessionStorage.removeItem(TOKEN);
}

/** The reviewer's name, remembered on this machine. */
export function reviewer() { return localStorage.getItem(REVIEWER) || ''; }
export function setReviewer(name) { localStorage.setItem(REVIEWER, name); }

/** An answer that was not 2xx. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function headers(extra) {
  const h = { ...extra };
  if (token) h.Authorization = `Bearer ${token}`;
  return h;
}

function message(status, body) {
  const e = body && typeof body === 'object' ? body.error : null;
  if (typeof e === 'string') return e;
  if (e && typeof e.message === 'string') return e.message;
  if (typeof body === 'string' && body) return body.slice(0, 300);
  return `HTTP ${status}`;
}

/** Call the admin API; resolves with the JSON (or text) body, rejects with ApiError. */
export async function api(path, { method = 'GET', body, text = false } = {}) {
  let r;
  try {
    r = await fetch(path, {
      method,
      headers: headers(body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' }),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `the gateway's admin listener cannot be reached (${e.message})`);
  }
  const type = r.headers.get('content-type') || '';
  const data = !text && type.includes('json') ? await r.json().catch(() => null) : await r.text();
  if (!r.ok) throw new ApiError(r.status, message(r.status, data), data);
  return data;
}

/** Path segment encoding. */
export const seg = encodeURIComponent;

/**
 * Follow the escalation feed (server-sent events over fetch, so the token goes in a header).
 * onEvent(escalation) for each event; onState('live' | 'down', error) when the stream opens or
 * breaks (it reconnects with backoff; a 401 stops it). Returns a function that stops it.
 */
export function follow(onEvent, onState) {
  let stopped = false;
  let ctrl = null;
  let wait = 1000;
  const dispatch = (raw) => {
    let event = 'message';
    const data = [];
    for (const line of raw.split(/\r\n|\r|\n/)) {
      if (line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event === 'escalation' && data.length) {
      try { onEvent(JSON.parse(data.join('\n'))); } catch (e) { console.warn('feed event', e); }
    } else if (event === 'lagged') {
      onState('lagged');
    }
  };
  (async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        const r = await fetch('/v1/escalations/feed', {
          headers: headers({ Accept: 'text/event-stream' }), signal: ctrl.signal, credentials: 'omit', cache: 'no-store',
        });
        if (!r.ok) throw new ApiError(r.status, `feed: HTTP ${r.status}`);
        onState('live');
        wait = 1000;
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          for (let m = buf.match(/\r\n\r\n|\n\n|\r\r/); m; m = buf.match(/\r\n\r\n|\n\n|\r\r/)) {
            dispatch(buf.slice(0, m.index));
            buf = buf.slice(m.index + m[0].length);
          }
        }
        throw new ApiError(0, 'the feed ended');
      } catch (e) {
        if (stopped) return;
        onState('down', e);
        if (e.status === 401) return;
      }
      await new Promise((res) => setTimeout(res, wait));
      wait = Math.min(wait * 2, 15000);
    }
  })();
  return () => { stopped = true; ctrl?.abort(); };
}
