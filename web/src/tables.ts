// Result tables on screen and in downloads: columns, sorting, filtering and CSV.

import type { Row } from './api';
import type { Lang } from './i18n';

export type Cell = string | number | null | undefined;
export type SortDir = 'ascending' | 'descending';

/** The columns of a list of rows, in the order the first rows give them. */
export function columnsOf(rows: readonly Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const r of rows.slice(0, 50)) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/** Compare two cells: empty cells last, numbers as numbers, text by locale. */
export function compareCells(a: Cell, b: Cell): number {
  const ea = a === null || a === undefined || a === '';
  const eb = b === null || b === undefined || b === '';
  if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Rows sorted by `column` (stable), empty cells last in either direction. */
export function sortRows<T extends Record<string, unknown>>(rows: readonly T[], column: string | null, dir: SortDir): T[] {
  const out = [...rows];
  if (column === null) return out;
  const sign = dir === 'ascending' ? 1 : -1;
  return out.sort((x, y) => {
    const a = x[column] as Cell;
    const b = y[column] as Cell;
    const ea = a === null || a === undefined || a === '';
    const eb = b === null || b === undefined || b === '';
    if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1;
    return sign * compareCells(a, b);
  });
}

/** Rows where any cell contains every word of `query` (case-insensitive), as stored or as
 * `showCell` writes it in `lang` (a Swedish reader types the `0,333` on screen). */
export function filterRows<T extends Record<string, unknown>>(
  rows: readonly T[],
  query: string,
  lang: Lang = 'en',
): T[] {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0) return [...rows];
  return rows.filter((r) => {
    const text = Object.values(r)
      .map((v) => (v === null || v === undefined ? '' : `${String(v)} ${showCell(v, lang)}`))
      .join(' ')
      .toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** RFC 4180 CSV with a header row; cells with a comma, quote or line break are quoted. A text
 * cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) gets a `'`
 * first (OWASP's advice on CSV injection); numbers are written as they are, and so are the
 * digits of an integer too large for a JS number (kept as text when read, see `json.ts`). */
export function toCsv(rows: readonly Record<string, unknown>[], columns: readonly string[] = columnsOf(rows)): string {
  const cell = (v: unknown): string => {
    if (v === null || v === undefined) return '';
    let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s) && !/^-?\d+$/.test(s)) s = `'${s}`;
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [columns.map(cell).join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(r[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

/** Read CSV text (RFC 4180, with `\r\n` or `\n` line ends) into rows of cells. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let any = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    any = true;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\n' || (c === '\r' && text[i + 1] === '\n')) {
      if (c === '\r') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      any = false;
    } else cell += c;
  }
  if (any) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** The `id`, `lat` and `lon` of each row of a CSV table, for the map (rows without a
 * position are left out). */
export function positionsOfCsv(text: string): { id: string; lat: number; lon: number }[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  const id = header.indexOf('id');
  const lat = header.indexOf('lat');
  const lon = header.indexOf('lon');
  if (id < 0 || lat < 0 || lon < 0) return [];
  return rows
    .map((r) => ({ id: r[id] ?? '', lat: Number.parseFloat(r[lat] ?? ''), lon: Number.parseFloat(r[lon] ?? '') }))
    .filter((p) => p.id !== '' && Number.isFinite(p.lat) && Number.isFinite(p.lon));
}

/** One formatter per language: `showCell` runs for every cell of a table on each render and
 * each keystroke of its filter. */
const CELL_FORMATS = new Map<Lang, Intl.NumberFormat>();
function cellFormat(lang: Lang): Intl.NumberFormat {
  let f = CELL_FORMATS.get(lang);
  if (f === undefined) {
    f = new Intl.NumberFormat(lang === 'sv' ? 'sv-SE' : 'en-GB', { maximumFractionDigits: 3, useGrouping: false });
    CELL_FORMATS.set(lang, f);
  }
  return f;
}

/** A cell for the screen: numbers rounded to 3 decimals with the language's decimal sign
 * (`0,333` in Swedish) and no grouping (ids and counts read as typed), empty for null. */
export function showCell(v: unknown, lang: Lang = 'en'): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return String(v);
    // Rounded first, so that a value that rounds to 0 shows as 0, not -0.
    const rounded = Number.isInteger(v) ? v : Math.round(v * 1000) / 1000 + 0;
    return cellFormat(lang).format(rounded);
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export type { Row };
