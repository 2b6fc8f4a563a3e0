import { describe, expect, it } from 'vitest';
import { MAX_FORGOTTEN, OFFLINE_CACHE, SAVED_AT_HEADER as PAGE_HEADER, forgetIn, forgottenKey as pageForgottenKey } from './api';
import {
  CACHE_NAME,
  MAX_READS,
  SAVED_AT_HEADER,
  forgets,
  forgottenKey,
  keepRead,
  readKey,
  routeOf,
  savedHeaders,
  sessionOfRead,
  shellFiles,
  unreachable,
  type ReadCache,
} from './offline';

const origin = 'https://commons.example';
const at = (path: string, method = 'GET', base = origin) => routeOf(method, new URL(path, base), origin);

describe('what the service worker does with a request', () => {
  it('keeps the page, its files and the reads a coordinator needs, and nothing else', () => {
    expect(at('/')).toBe('shell');
    expect(at('/index.html')).toBe('shell');
    expect(at('/assets/index-DZwg6UKq.js')).toBe('asset');
    expect(at('/favicon.svg')).toBe('asset');
    expect(at('/v1/sessions')).toBe('read');
    expect(at('/v1/sessions?limit=20')).toBe('read');
    expect(at('/v1/sessions/s-1/state')).toBe('read');
    // Writes, the stream, the plan, explanations, jobs and the service's own routes go by.
    expect(at('/v1/sessions/s-1/events', 'POST')).toBe('pass');
    expect(at('/v1/sessions', 'POST')).toBe('pass');
    expect(at('/v1/sessions/s-1/state', 'DELETE')).toBe('pass');
    expect(at('/v1/sessions/s-1/stream')).toBe('pass');
    expect(at('/v1/sessions/s-1/plan')).toBe('pass');
    expect(at('/v1/sessions/s-1/why/n1')).toBe('pass');
    expect(at('/v1/sessions/s-1/state/x')).toBe('pass');
    expect(at('/v1/jobs')).toBe('pass');
    expect(at('/healthz')).toBe('pass');
    expect(at('/sw.js')).toBe('pass');
    // Another origin is never touched, whatever its path.
    expect(at('/v1/sessions', 'GET', 'https://elsewhere.example')).toBe('pass');
    expect(at('/', 'GET', 'http://commons.example')).toBe('pass');
  });

  it('finds the files the built page loads', () => {
    const html = `<link rel="icon" href="/favicon.svg" type="image/svg+xml" />
      <script type="module" crossorigin src="/assets/index-DZwg6UKq.js"></script>
      <link rel="stylesheet" crossorigin href="/assets/index-C43D6UEW.css">
      <a href="https://elsewhere.example/assets/x.js">x</a> <img src="/logo.png">`;
    expect(shellFiles(html)).toEqual(['/assets/index-C43D6UEW.css', '/assets/index-DZwg6UKq.js', '/favicon.svg']);
    expect(shellFiles('<p>no files</p>')).toEqual([]);
  });

  it('keys a read by its URL and credentials', () => {
    const a = readKey(`${origin}/v1/sessions/s-1/state`, 'ab12');
    expect(a).toBe(`${origin}/v1/sessions/s-1/state?commonsnet-auth=ab12`);
    expect(readKey(`${origin}/v1/sessions?limit=5`, '')).toBe(`${origin}/v1/sessions?limit=5&commonsnet-auth=none`);
    // Another token's copy is another key; the key is still a read.
    expect(readKey(`${origin}/v1/sessions/s-1/state`, 'cd34')).not.toBe(a);
    expect(routeOf('GET', new URL(a), origin)).toBe('read');
  });

  it('marks a copy with the time it was read, without the bytes-in-transit headers', () => {
    const read = new Headers({ 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': '12', etag: 'W/"s-3"' });
    const h = savedHeaders(read, '2026-12-07T13:00:00.000Z');
    expect(h.get(SAVED_AT_HEADER)).toBe('2026-12-07T13:00:00.000Z');
    expect(h.get('content-type')).toBe('application/json');
    expect(h.get('etag')).toBe('W/"s-3"');
    expect(h.has('content-encoding')).toBe(false);
    expect(h.has('content-length')).toBe(false);
    expect(read.has('content-encoding')).toBe(true);
  });

  it('takes a gateway that cannot reach the server as out of reach', () => {
    expect([502, 503, 504].every(unreachable)).toBe(true);
    expect([200, 304, 400, 401, 404, 409, 422, 500].some(unreachable)).toBe(false);
  });

  it('drops a copy the server says is gone or not this token\'s', () => {
    expect([401, 403, 404].every(forgets)).toBe(true);
    expect([200, 304, 400, 409, 422, 429, 500, 502, 503, 504].some(forgets)).toBe(false);
  });

  it('names the header and the cache as the page does', () => {
    expect(PAGE_HEADER).toBe(SAVED_AT_HEADER);
    expect(OFFLINE_CACHE).toBe(CACHE_NAME);
    expect(pageForgottenKey(origin, 's 1/x')).toBe(forgottenKey(origin, 's 1/x'));
    expect(routeOf('GET', new URL(forgottenKey(origin, 's-1')), origin)).toBe('pass');
  });
});

/** The Cache API as an ordered map (a put moves its key last), each step after a few turns of
 * the event loop drawn from `rng`, so that two tasks on it interleave as `rng` says. */
class SlowCache implements ReadCache {
  entries = new Map<string, Response>();
  constructor(private rng: () => number) {}
  private async turn() {
    for (let n = Math.floor(this.rng() * 4); n > 0; n--) await new Promise((ok) => setTimeout(ok, 0));
  }
  async put(key: string, resp: Response) {
    await this.turn();
    this.entries.delete(key);
    this.entries.set(key, resp);
  }
  async delete(key: string | Request) {
    await this.turn();
    return this.entries.delete(typeof key === 'string' ? key : key.url);
  }
  async keys() {
    await this.turn();
    return [...this.entries.keys()].map((k) => new Request(k));
  }
  async match(key: string) {
    await this.turn();
    return this.entries.get(key);
  }
}

function seeded(seed: number): () => number {
  let x = seed * 2654435761 + 1;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

describe('a deleted session\'s copies', () => {
  const state = (id: string, auth: string) => readKey(`${origin}/v1/sessions/${id}/state`, auth);
  const body = () => new TextEncoder().encode('{"seq": 3}').buffer;

  it('names the session a read is of', () => {
    expect(sessionOfRead(new URL(state('s%201', 'ab')))).toBe('s 1');
    expect(sessionOfRead(new URL(readKey(`${origin}/v1/sessions`, '')))).toBe(null);
  });

  it('are not kept by a read that was on its way when the session was forgotten, however the two interleave', async () => {
    for (let seed = 0; seed < 150; seed++) {
      const cache = new SlowCache(seeded(seed));
      cache.entries.set(state('s-1', 'ab'), new Response('old'));
      cache.entries.set(state('s-2', 'ab'), new Response('other'));
      // The page forgets s-1 while the worker keeps a read of it (another token's) and one of s-2.
      await Promise.all([
        forgetIn(cache, origin, 's-1'),
        keepRead(cache, origin, state('s-1', 'cd'), body(), new Headers()),
        keepRead(cache, origin, state('s-2', 'cd'), body(), new Headers()),
      ]);
      const left = [...cache.entries.keys()];
      expect(left.filter((k) => sessionOfRead(new URL(k)) === 's-1'), `seed ${seed}`).toEqual([]);
      expect(left.filter((k) => sessionOfRead(new URL(k)) === 's-2').sort()).toEqual([state('s-2', 'ab'), state('s-2', 'cd')]);
      expect(left).toContain(forgottenKey(origin, 's-1'));
    }
  });

  it('go when the storage is too full to take the mark', async () => {
    const cache = new SlowCache(() => 0);
    cache.entries.set(state('s-1', 'ab'), new Response('old'));
    cache.put = () => Promise.reject(new DOMException('Quota exceeded.', 'QuotaExceededError'));
    await forgetIn(cache, origin, 's-1');
    expect([...cache.entries.keys()]).toEqual([]);
  });

  it('leave a bounded number of marks, and reads within their own bound', async () => {
    const cache = new SlowCache(() => 0);
    for (let i = 0; i < MAX_FORGOTTEN + 5; i++) await forgetIn(cache, origin, `gone-${i}`);
    for (let i = 0; i < MAX_READS + 3; i++) await keepRead(cache, origin, state(`s-${i}`, ''), body(), new Headers());
    const keys = [...cache.entries.keys()];
    const marks = keys.filter((k) => k.startsWith(`${origin}/commonsnet-forgotten/`));
    expect(marks.length).toBe(MAX_FORGOTTEN);
    expect(marks[0]).toBe(forgottenKey(origin, 'gone-5'));
    expect(keys.filter((k) => routeOf('GET', new URL(k), origin) === 'read').length).toBe(MAX_READS);
    expect(cache.entries.has(state(`s-${MAX_READS + 2}`, ''))).toBe(true);
    expect(cache.entries.has(state('s-2', ''))).toBe(false);
  });
});
