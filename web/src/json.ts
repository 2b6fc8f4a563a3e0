// JSON as the server wrote it: integers beyond what a JS number holds exactly (a run's `seed`
// is a u64) are kept as their digits, never rounded.

/** An integer literal (no fraction, no exponent) a JS number holds exactly. */
function exact(digits: string): boolean {
  return Number.isSafeInteger(Number(digits));
}

const INTEGER = /^-?\d+$/;

/** The reviver of `JSON.parse` given the source text of each value (ES2025's JSON.parse source
 * text access, in Chromium since 114): an unsafe integer becomes its digits. */
export function keepBigIntegers(_key: string, value: unknown, context?: { source?: string }): unknown {
  const source = context?.source;
  if (typeof value === 'number' && typeof source === 'string' && INTEGER.test(source) && !exact(source)) return source;
  return value;
}

let sourceAccess: boolean | undefined;

/** Whether this engine passes a reviver the source text of each value. */
export function hasSourceAccess(): boolean {
  if (sourceAccess === undefined) {
    let seen = false;
    JSON.parse('1', (_k, v, ...rest: unknown[]) => {
      const ctx = rest[0] as { source?: unknown } | undefined;
      seen = typeof ctx?.source === 'string';
      return v;
    });
    sourceAccess = seen;
  }
  return sourceAccess;
}

/** `text` with each unsafe integer literal outside strings put in quotes, so `JSON.parse`
 * reads it as its digits (for engines without source text access). */
export function quoteBigIntegers(text: string): string {
  let out = '';
  let from = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: skip to its closing quote, past escapes.
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) i += 2;
        else if (d === 0x22) break;
        else i++;
      }
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      i++;
      while (i < n && /[0-9.eE+-]/.test(text[i] ?? '')) i++;
      const token = text.slice(start, i);
      if (INTEGER.test(token) && !exact(token)) {
        out += `${text.slice(from, start)}"${token}"`;
        from = i;
      }
    } else i++;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** `JSON.parse` keeping every integer beyond 2^53 as its exact digits (a string). */
export function parseJsonExact<T = unknown>(text: string): T {
  if (hasSourceAccess()) return JSON.parse(text, keepBigIntegers as (k: string, v: unknown) => unknown) as T;
  return JSON.parse(quoteBigIntegers(text)) as T;
}
