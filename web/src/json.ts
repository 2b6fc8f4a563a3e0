// JSON as the server wrote it: integers beyond what a JS number holds exactly (a run's `seed`
// is a u64) are kept as their digits, never rounded.
import { TextError } from './i18n';

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

/** A step of a path into a JSON document: an object key or a list index. */
export type PathStep = string | number;

/** `needs[3].priority` (as the engine writes a JSON path): keys joined by dots, indices in
 * brackets, a key that is not a plain name (letters, digits, `_`, `-`) as `["..."]`. */
export function jsonPath(steps: readonly PathStep[]): string {
  let out = '';
  for (const s of steps) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[\p{L}\p{N}_-]+$/u.test(s)) out += out === '' ? s : `.${s}`;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

/** A key given twice in one object: its path from the document's root (the repeated key
 * last), and where in the text it is given the second time (1-based line, and the column of
 * the key's closing quote, as the CLI and the API say it). */
export interface RepeatedKey {
  path: PathStep[];
  line: number;
  column: number;
}

type Frame = { kind: 'object'; keys: Set<string>; key: string | null; wantKey: boolean } | { kind: 'array'; index: number };

/** The first key repeated inside one object of the JSON text `text` (at any depth), or null.
 * `text` must be valid JSON (parse it first): `JSON.parse` keeps the last value of a repeated
 * key without a word, where the CLI and the API refuse the document. Keys are compared as
 * the strings they denote (`"a"` and `"\u0061"` are one key). */
export function findRepeatedKey(text: string): RepeatedKey | null {
  const stack: Frame[] = [];
  let line = 1;
  let lineStart = 0;
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: to its closing quote, past escapes (a JSON string holds no raw line break).
      const start = i;
      let escaped = false;
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i += 2;
        } else if (d === 0x22) break;
        else i++;
      }
      i++;
      const top = stack[stack.length - 1];
      if (top?.kind === 'object' && top.wantKey) {
        const raw = text.slice(start, i);
        const key = escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        if (top.keys.has(key)) {
          const path: PathStep[] = [];
          for (const f of stack.slice(0, -1)) path.push(f.kind === 'object' ? (f.key ?? '') : f.index);
          path.push(key);
          // In bytes of UTF-8, as serde_json counts its columns (the CLI's and the API's).
          return { path, line, column: new TextEncoder().encode(text.slice(lineStart, i)).length };
        }
        top.keys.add(key);
        top.key = key;
        top.wantKey = false;
      }
      continue;
    }
    if (c === 0x7b) stack.push({ kind: 'object', keys: new Set(), key: null, wantKey: true });
    else if (c === 0x5b) stack.push({ kind: 'array', index: 0 });
    else if (c === 0x7d || c === 0x5d) stack.pop();
    else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.kind === 'object') top.wantKey = true;
      else if (top?.kind === 'array') top.index += 1;
    } else if (c === 0x0a) {
      line += 1;
      lineStart = i + 1;
    }
    i++;
  }
  return null;
}

/** `JSON.parse`, refusing (as the CLI and the API do) a document that repeats a key inside an
 * object: the error names the key's path, e.g. `duplicate key needs[3].priority (line 5,
 * column 40)`. */
export function parseJsonStrict<T = unknown>(text: string): T {
  const value = JSON.parse(text) as T;
  const repeated = findRepeatedKey(text);
  if (repeated) {
    throw new TextError('file.duplicateKey', {
      path: jsonPath(repeated.path),
      line: repeated.line,
      column: repeated.column,
    });
  }
  return value;
}

/** `JSON.stringify` of plain data, with each BigInt written as its digits, a JSON number (a
 * u64 seed past 2^53 goes out exactly; `JSON.stringify` throws on a BigInt). */
export function stringifyExact(value: unknown): string {
  return write(value) ?? 'null';
}

function write(v: unknown): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  // `Array.from`, not `map`: a hole in a sparse array is `null`, as `JSON.stringify` has it.
  if (Array.isArray(v)) return `[${Array.from(v, (x) => write(x) ?? 'null').join(',')}]`;
  if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON !== 'function') {
    const parts: string[] = [];
    for (const [k, x] of Object.entries(v)) {
      const s = write(x);
      if (s !== undefined) parts.push(`${JSON.stringify(k)}:${s}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v) as string | undefined;
}
