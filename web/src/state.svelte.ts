// The console's shared state: language, token, the API client, the scenario the planner loaded
// (the coordinator can start a session from it), and the rest of the planner's work (its form,
// tables and result), which outlives the planner's component when another view is shown.

import { Api, ApiError, describeDetail, type Entity, type Scenario, type SolveResponse } from './api';
import { formatNumber, formatPercent, pickLanguage, TextError, translate, type Key, type Lang } from './i18n';
import type { SolveRequest } from './planner';
import { formOf, type GeneratorName, type PolicyForm } from './policy';

const TOKEN_KEY = 'commonsnet.token';
const LANG_KEY = 'commonsnet.lang';

/** What this tab keeps under `key` (session storage), if storage is on. */
export function stored(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Keep `value` under `key` for this tab (session storage), or drop it (null); with storage
 * off it lasts until reload. */
export function keep(key: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    /* storage may be off (a private window's quota) */
  }
}

export const ui = $state({
  lang: (stored(LANG_KEY) as Lang | null) ?? pickLanguage(navigator.languages ?? [navigator.language]),
  token: stored(TOKEN_KEY) ?? '',
  /** Set when the server answered 401: the token form opens. */
  tokenNeeded: false,
  /** Bumped when the token changes, so views read again what a 401 kept from them. */
  tokenVersion: 0,
});

export const shared = $state<{ scenario: Scenario | null }>({ scenario: null });

export interface PlannerState {
  /** Table files solved by the server as they are (else `shared.scenario` is the scenario). */
  tables: Map<string, File> | null;
  /** The `policy.json` that came with the tables: the form writes over it, never drops it. */
  tablePolicy: Record<string, unknown> | undefined;
  /** Positions read from CSV tables (Parquet and Arrow are read by the server only). */
  tablePositions: { resources: Entity[]; needs: Entity[] };
  form: PolicyForm;
  result: SolveResponse | null;
  /** The request `result` was solved with (its downloads use it, not the form since). */
  solved: SolveRequest | null;
  busy: boolean;
  /** Bumped at every load: a solve answered for an earlier scenario is dropped. */
  loads: number;
  error: Said | null;
  generator: GeneratorName;
  /** The generator's seed as typed: a u64, kept as its digits. */
  seed: string;
  scale: number;
  timed: boolean;
  tab: 'allocations' | 'needs' | 'resources';
  whyQuery: string;
}

/** The planner's work, kept here so that a view switch (which unmounts the planner) loses none
 * of it. */
export const planner = $state<PlannerState>({
  tables: null,
  tablePolicy: undefined,
  tablePositions: { resources: [], needs: [] },
  form: formOf(undefined),
  result: null,
  solved: null,
  busy: false,
  loads: 0,
  error: null,
  generator: 'disaster',
  seed: '1',
  scale: 1,
  timed: false,
  tab: 'allocations',
  whyQuery: '',
});

export function setLang(lang: Lang): void {
  ui.lang = lang;
  document.documentElement.lang = lang;
  keep(LANG_KEY, lang);
}

/** Keep the token for this tab only (session storage), never in a URL. */
export function setToken(token: string): void {
  ui.token = token.trim();
  ui.tokenNeeded = false;
  ui.tokenVersion += 1;
  keep(TOKEN_KEY, ui.token || null);
}

export const api = new Api(() => ui.token);

export function t(key: Key, params: Record<string, string | number> = {}): string {
  return translate(ui.lang, key, params);
}

export function num(x: number | null | undefined, digits = 2): string {
  return x === null || x === undefined ? '–' : formatNumber(ui.lang, x, digits);
}

export function pct(x: number | null | undefined): string {
  return x === null || x === undefined ? '–' : formatPercent(ui.lang, x);
}

/** An error in words for the screen; a 401 also opens the token form. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 401) ui.tokenNeeded = true;
    if (e.status === 0) return t('error.network');
    const details = e.details.slice(0, 8).map(describeDetail);
    return [`${e.message} (${e.status} ${e.code})`, ...details].join('\n');
  }
  if (e instanceof TextError) return e.in(ui.lang);
  return e instanceof Error ? e.message : String(e);
}

/** Words for the screen with the server's own apart: those are English whatever the page's
 * language, and are drawn marked `lang="en"` after the page's own words. */
export interface Said {
  own: string;
  en: string;
}

/** Words of the page's own only. */
export function ownSaid(text: string): Said {
  return { own: text, en: '' };
}

/** `errorText` of `e`, the server's words (an answer with an error) kept apart. */
export function errorSaid(e: unknown, own = ''): Said {
  const text = errorText(e);
  if (e instanceof ApiError && e.status !== 0) return { own, en: text };
  return { own: own ? `${own} ${text}` : text, en: '' };
}

/** Save a blob as a file through a temporary link (no data: URL, no new window). */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
