import { describe, expect, it } from 'vitest';
import { OFFLINE_CACHE, SAVED_AT_HEADER as PAGE_HEADER } from './api';
import { CACHE_NAME, SAVED_AT_HEADER, forgets, readKey, routeOf, savedHeaders, shellFiles, unreachable } from './offline';

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
  });
});
