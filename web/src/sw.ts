/// <reference lib="webworker" />
// The console's service worker, served at `/sw.js` (built as its own entry, see vite.config.ts):
// it keeps the console's files and the last reads of sessions, so that a page reloaded without
// a network (a phone out of signal, the server down) still shows the console and the sessions
// as last read. Registered by `main.ts` where the browser allows it (HTTPS, or localhost).
// Writes, the event stream and every other route go to the server untouched: nothing is ever
// queued or answered in the server's place except a read's copy, marked as one.

import { CACHE_NAME, SHELL_TIMEOUT_MS, forgets, keepRead as keepReadIn, readKey, routeOf, savedHeaders, shellFiles, unreachable } from './offline';

declare const self: ServiceWorkerGlobalScope;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      // Best effort: a failed fetch leaves the files to be kept as the page loads them.
      try {
        await keepShell(await fetch('/', { cache: 'no-cache' }));
      } catch {
        /* kept later */
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name !== CACHE_NAME) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  const route = routeOf(req.method, new URL(req.url), self.location.origin);
  // What is kept is kept after the answer (`waitUntil`), at best: storage that is full or
  // gone never costs the page the server's answer.
  const keep = (keeping: Promise<unknown>) => {
    try {
      event.waitUntil(keeping);
    } catch {
      // The event is over (the page had the copy before the server answered): it runs on.
    }
  };
  if (route === 'shell') event.respondWith(shell(req, keep));
  else if (route === 'asset') event.respondWith(asset(req, keep));
  else if (route === 'read') event.respondWith(read(req, keep));
});

/** Keep the console's page `resp` (a 200) and the files it names; drop the files of older
 * builds. */
async function keepShell(resp: Response): Promise<void> {
  if (resp.status !== 200) return;
  const cache = await caches.open(CACHE_NAME);
  const html = await resp.clone().text();
  const files = shellFiles(html);
  await cache.put('/', resp);
  const kept = new Set(files.map((f) => new URL(f, self.location.origin).toString()));
  for (const key of await cache.keys()) {
    const u = new URL(key.url);
    if (u.pathname.startsWith('/assets/') && !kept.has(key.url)) await cache.delete(key);
  }
  for (const f of files) {
    // A file under /assets/ is named by its content: kept once. The icon is not: fetched again.
    if (!f.startsWith('/assets/') || !(await cache.match(f))) {
      const r = await fetch(f);
      if (r.status === 200) await cache.put(f, r);
    }
  }
}

async function shell(req: Request, keep: (keeping: Promise<unknown>) => void): Promise<Response> {
  const network = fetch(req).then((resp) => {
    if (resp.status === 200) keep(keepShell(resp.clone()).catch(() => undefined));
    return resp;
  });
  // The server's page when it answers in time; else the copy, if there is one.
  const timeout = new Promise<null>((ok) => setTimeout(() => ok(null), SHELL_TIMEOUT_MS));
  const first = await Promise.race([network.then((r) => (unreachable(r.status) ? null : r), () => null), timeout]);
  if (first) return first;
  const kept = await caches.match('/', { cacheName: CACHE_NAME });
  return kept ?? network;
}

async function asset(req: Request, keep: (keeping: Promise<unknown>) => void): Promise<Response> {
  const kept = await caches.match(req, { cacheName: CACHE_NAME });
  if (kept) return kept;
  const resp = await fetch(req);
  if (resp.status === 200) {
    const copy = resp.clone();
    keep(caches.open(CACHE_NAME).then((c) => c.put(req, copy)).catch(() => undefined));
  }
  return resp;
}

/** A read from the server, its copy kept (by `keep`, the fetch event's `waitUntil`: the page
 * has its answer at once, and a copy that cannot be kept, a full storage say, costs the page
 * nothing); else, out of reach, the copy. */
async function read(req: Request, keep: (keeping: Promise<unknown>) => void): Promise<Response> {
  const key = readKey(req.url, await digest(req.headers.get('Authorization') ?? ''));
  // Out of reach (no answer, or a gateway's): the copy read last with these credentials,
  // marked with its time.
  const copy = async () => caches.match(key, { cacheName: CACHE_NAME });
  let resp: Response;
  try {
    resp = await fetch(req);
  } catch (e) {
    const kept = await copy();
    if (kept) return kept;
    throw e;
  }
  if (unreachable(resp.status)) return (await copy()) ?? resp;
  if (resp.status === 200) keep(keepRead(key, resp.clone()).catch(() => undefined));
  // The server says the session is gone, or not this token's: its copy goes too.
  else if (forgets(resp.status)) keep(caches.open(CACHE_NAME).then((c) => c.delete(key)).catch(() => undefined));
  return resp;
}

/** Keep `resp` as the copy under `key` (`offline.ts`'s `keepRead`). */
async function keepRead(key: string, resp: Response): Promise<void> {
  const body = await resp.arrayBuffer();
  const cache = await caches.open(CACHE_NAME);
  await keepReadIn(cache, self.location.origin, key, body, savedHeaders(resp.headers, new Date().toISOString()));
}

/** SHA-256 of `text` in hex; empty for empty text. */
async function digest(text: string): Promise<string> {
  if (!text) return '';
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
