// Server-Sent Events over fetch, so that the bearer token travels in a header (EventSource
// cannot send one) and `Last-Event-ID` is ours to set when a dropped connection resumes.

export interface SseEvent {
  id: string | null;
  event: string;
  data: string;
}

/** An incremental parser of the `text/event-stream` format (WHATWG HTML, 9.2.6): feed it text as
 * it arrives, in chunks of any size; it returns the events completed by each chunk. */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | null = null;
  /** The last `id` field seen (kept across events, as the spec's "last event ID buffer"). */
  lastId: string | null = null;

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = '';
        return null;
      }
      const ev = { id: this.id, event: this.event || 'message', data: this.data.join('\n') };
      this.data = [];
      this.event = '';
      return ev;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) {
          this.id = value;
          this.lastId = value;
        }
        break;
      default:
        break;
    }
    return null;
  }
}

export type StreamState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StreamOptions {
  url: string;
  headers: () => Record<string, string>;
  onEvent: (ev: SseEvent) => void;
  onState: (s: StreamState) => void;
  /** The stream gave up: the server answered a status no retry can change (400, 401, 403,
   * 404: bad resume point, no or wrong token, session gone). */
  onFatal?: (status: number) => void;
  /** Wait before reconnecting after the n-th failure in a row (ms). */
  backoff?: (n: number) => number;
  /** Where to resume from (`Last-Event-ID`) on the first connection. */
  lastEventId?: string | null;
  /** A connection that brings nothing (not even the server's keep-alive comment, sent every
   * 15 s) for this long is taken as dead and replaced (ms). */
  idleTimeout?: number;
}

const FATAL = new Set([400, 401, 403, 404]);

/** A session's stream: reconnects after any drop with `Last-Event-ID` set to the last event
 * received, until `close()` or a fatal answer. */
export class EventStream {
  private controller: AbortController | null = null;
  private closed = false;
  private failures = 0;
  lastEventId: string | null;

  constructor(private readonly opts: StreamOptions) {
    this.lastEventId = opts.lastEventId ?? null;
  }

  start(): void {
    void this.loop();
  }

  /** Drop the current connection (as a network failure would); the stream reconnects. */
  drop(): void {
    this.controller?.abort();
  }

  close(): void {
    this.closed = true;
    this.controller?.abort();
    this.opts.onState('closed');
  }

  /** The server said its last word (a `deleted` event): the connection is left to end on
   * its own, not aborted, and is not replaced when it does. */
  finish(): void {
    this.closed = true;
    this.opts.onState('closed');
  }

  private async loop(): Promise<void> {
    let first = true;
    while (!this.closed) {
      this.opts.onState(first ? 'connecting' : 'reconnecting');
      first = false;
      const controller = new AbortController();
      this.controller = controller;
      let watchdog: ReturnType<typeof setTimeout> | null = null;
      const idle = this.opts.idleTimeout ?? 45_000;
      const alive = () => {
        if (watchdog !== null) clearTimeout(watchdog);
        watchdog = setTimeout(() => controller.abort(), idle);
      };
      try {
        const headers: Record<string, string> = { ...this.opts.headers(), Accept: 'text/event-stream' };
        if (this.lastEventId !== null) headers['Last-Event-ID'] = this.lastEventId;
        alive();
        const resp = await fetch(this.opts.url, { headers, signal: controller.signal });
        if (FATAL.has(resp.status)) {
          this.closed = true;
          this.opts.onState('closed');
          this.opts.onFatal?.(resp.status);
          return;
        }
        if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
        this.opts.onState('open');
        const parser = new SseParser();
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          alive();
          // Data came through: the connection works, so the next drop starts a new backoff.
          this.failures = 0;
          for (const ev of parser.feed(value)) {
            if (ev.id !== null) this.lastEventId = ev.id;
            this.opts.onEvent(ev);
          }
        }
      } catch {
        // A drop, an abort or a refused connection: all mean "reconnect" unless closed.
      } finally {
        if (watchdog !== null) clearTimeout(watchdog);
      }
      if (this.closed) break;
      this.opts.onState('reconnecting');
      this.failures += 1;
      const wait = (this.opts.backoff ?? defaultBackoff)(this.failures);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** 250 ms, doubling, at most 5 s. */
export function defaultBackoff(n: number): number {
  return Math.min(5000, 250 * 2 ** Math.max(0, n - 1));
}
