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

/** The cache key that marks session `id` as forgotten: the page drops the copies of a deleted
 * session's state (api.ts's `forgetCopies`, whose key a unit test holds equal), and a read of
 * that state which was on its way then must not be kept after. Not a read's route: the bound
 * on reads does not drop it. */
export function forgottenKey(origin: string, id: string): string {
  return `${origin}/commonsnet-forgotten/${encodeURIComponent(id)}`;
}

/** The session whose state `url` reads, or null for another read. */
export function sessionOfRead(url: URL): string | null {
  const m = /^\/v1\/sessions\/([^/]+)\/state$/.exec(url.pathname);
  return m?.[1] === undefined ? null : decodeURIComponent(m[1]);
}

/** As much of the Cache API as keeping and forgetting reads use. */
export interface ReadCache {
  put(key: string, resp: Response): Promise<void>;
  delete(key: string | Request): Promise<boolean>;
  keys(): Promise<ReadonlyArray<Request>>;
  match(key: string): Promise<Response | undefined>;
}

/** Keep `resp` (its body read, its headers `headers`) as the copy of the read under `key`; the
 * newest [`MAX_READS`] reads stay. A copy of a session forgotten meanwhile goes at once: the
 * mark is looked for after the copy is put, and the page puts the mark before it drops the
 * copies, so whichever of the two comes last sees the other's work. */
export async function keepRead(cache: ReadCache, origin: string, key: string, body: ArrayBuffer, headers: Headers): Promise<void> {
  // `put` replaces the entry as one step (the copy before stays when it fails) and moves it
  // last among the keys, which come oldest first.
  await cache.put(key, new Response(body, { status: 200, headers }));
  const id = sessionOfRead(new URL(key));
  if (id !== null && (await cache.match(forgottenKey(origin, id))) !== undefined) {
    await cache.delete(key);
    return;
  }
  const reads = (await cache.keys()).filter((k) => routeOf('GET', new URL(k.url), origin) === 'read');
  for (const old of reads.slice(0, Math.max(0, reads.length - MAX_READS))) await cache.delete(old);
}
