// What the console's service worker (`sw.ts`) does with a request, as plain functions the unit
// tests check without a browser. A coordinator's phone that loses signal keeps the console and
// the last read of its sessions: reloading the page without a network shows them, marked with
// the time they were read, instead of the browser's "no internet" page.

/** The header a read answered from the service worker's copy carries: when the copy was read
 * from the server (an ISO 8601 time). The console shows it and keeps trying the server. */
export const SAVED_AT_HEADER = 'X-CommonsNet-Saved-At';

/** The service worker's cache; a new name (a new way of keeping things) drops the old ones. */
export const CACHE_NAME = 'commonsnet-console-v1';

/** How many reads of sessions (the list, one state each) are kept at most, the newest. */
export const MAX_READS = 20;

/** How long a page load waits for the server before it takes the copy of the console. */
export const SHELL_TIMEOUT_MS = 4_000;

/**
 * What the service worker does with a request:
 * - `pass`: not touched (writes, the event stream, the other routes, other origins);
 * - `shell`: the console's page, from the server, else (out of reach or slower than
 *   [`SHELL_TIMEOUT_MS`]) the copy;
 * - `asset`: a console file named by its content (never changes), the copy first;
 * - `read`: a read a coordinator needs without signal (the sessions list, a session's state),
 *   from the server and kept, else the copy marked with [`SAVED_AT_HEADER`].
 */
export type Route = 'pass' | 'shell' | 'asset' | 'read';

export function routeOf(method: string, url: URL, origin: string): Route {
  if (method !== 'GET' || url.origin !== origin) return 'pass';
  const p = url.pathname;
  if (p === '/' || p === '/index.html') return 'shell';
  if (p.startsWith('/assets/') || p === '/favicon.svg') return 'asset';
  if (p === '/v1/sessions' || /^\/v1\/sessions\/[^/]+\/state$/.test(p)) return 'read';
  return 'pass';
}

/** An answer that says the server is out of reach behind a gateway (502, 503, 504): the page
 * and reads then take their copy, as when no answer comes at all. */
export function unreachable(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}

/** An answer after which a read's copy is dropped: the session is gone (404), or the
 * credentials no longer read it (401, 403). */
export function forgets(status: number): boolean {
  return status === 401 || status === 403 || status === 404;
}

/** The console files the page `html` loads (its script, style and icon): kept when the
 * service worker is installed, so the first reload without signal finds them. */
export function shellFiles(html: string): string[] {
  const found = new Set<string>();
  for (const m of html.matchAll(/(?:src|href)="(\/(?:assets\/[^"]+|favicon\.svg))"/g)) {
    if (m[1] !== undefined) found.add(m[1]);
  }
  return [...found].sort();
}

/** The cache key of a read: its URL and a digest of the credentials it was sent with
 * (`authDigest`, hex; empty without), so that a copy is only ever shown to the token that read
 * it. A query parameter, since the Cache API compares URLs without their fragment. */
export function readKey(url: string, authDigest: string): string {
  const u = new URL(url);
  u.searchParams.set('commonsnet-auth', authDigest || 'none');
  return u.toString();
}

/** The headers of a copy given to the page: those read, without the ones about the bytes as
 * they travelled (the copy's body is already decoded), with [`SAVED_AT_HEADER`]. */
export function savedHeaders(read: Headers, savedAt: string): Headers {
  const h = new Headers(read);
  h.delete('content-encoding');
  h.delete('content-length');
  h.set(SAVED_AT_HEADER, savedAt);
  return h;
}
