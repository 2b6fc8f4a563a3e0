import { describe, expect, it } from 'vitest';
import { defaultBackoff, EventStream, SseParser, type SseEvent } from './sse';

const STREAM =
  ': keep-alive\n' +
  'id: 1\nevent: change\ndata: {"seq":1}\n\n' +
  'id: 2\r\ndata: line one\r\ndata: line two\r\n\r\n' +
  'data:no space\rid: 3\r\r' +
  'event: ping\n\n' + // no data: dispatches nothing
  'id: 4\ndata: {"seq":4}\n\n';

function parseAll(chunks: string[]): { events: SseEvent[]; last: string | null } {
  const p = new SseParser();
  const events = chunks.flatMap((c) => p.feed(c));
  return { events, last: p.lastId };
}

describe('SseParser', () => {
  const whole = parseAll([STREAM]);

  it('parses ids, event names, multi-line data and every line ending', () => {
    expect(whole.events).toEqual([
      { id: '1', event: 'change', data: '{"seq":1}' },
      { id: '2', event: 'message', data: 'line one\nline two' },
      { id: '3', event: 'message', data: 'no space' },
      { id: '4', event: 'message', data: '{"seq":4}' },
    ]);
    expect(whole.last).toBe('4');
  });

  it('gives the same events however the bytes are split', () => {
    // Every split into single characters, and 200 random splits.
    expect(parseAll([...STREAM]).events).toEqual(whole.events);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let k = 0; k < 200; k++) {
      const chunks: string[] = [];
      for (let i = 0; i < STREAM.length; ) {
        const n = 1 + Math.floor(rand() * 12);
        chunks.push(STREAM.slice(i, i + n));
        i += n;
      }
      expect(parseAll(chunks).events).toEqual(whole.events);
    }
  });

  it('holds an unfinished event until its blank line', () => {
    const p = new SseParser();
    expect(p.feed('id: 9\ndata: x\n')).toEqual([]);
    expect(p.feed('\n')).toEqual([{ id: '9', event: 'message', data: 'x' }]);
  });
});

describe('defaultBackoff', () => {
  it('doubles from 250 ms up to 5 s', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map(defaultBackoff)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
  });
});

describe('EventStream.finish', () => {
  it('lets the last connection run out and opens no other', async () => {
    const body = 'retry: 1000\n\nevent: deleted\ndata: {"session":"s"}\n\n';
    let fetches = 0;
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async () => {
      fetches += 1;
      return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
    }) as typeof fetch;
    try {
      const states: string[] = [];
      const events: string[] = [];
      let finished!: () => void;
      const done = new Promise<void>((r) => (finished = r));
      const s: EventStream = new EventStream({
        url: '/v1/sessions/s/stream',
        headers: () => ({}),
        onEvent: (ev) => {
          events.push(ev.event);
          if (ev.event === 'deleted') {
            s.finish();
            finished();
          }
        },
        onState: (st) => states.push(st),
        backoff: () => 0,
      });
      s.start();
      await done;
      await new Promise((r) => setTimeout(r, 50));
      expect(events).toEqual(['deleted']);
      expect(fetches).toBe(1);
      expect(states.at(-1)).toBe('closed');
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
