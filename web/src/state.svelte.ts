// The console's shared state: language, token, the API client, the scenario the planner loaded
// (the coordinator can start a session from it).

import { Api, ApiError, describeDetail, type Scenario } from './api';
import { formatNumber, formatPercent, pickLanguage, translate, type Key, type Lang } from './i18n';

const TOKEN_KEY = 'commonsnet.token';
const LANG_KEY = 'commonsnet.lang';

function stored(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
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

export function setLang(lang: Lang): void {
  ui.lang = lang;
  document.documentElement.lang = lang;
  try {
    sessionStorage.setItem(LANG_KEY, lang);
  } catch {
    /* storage may be off; the choice then lasts until reload */
  }
}

/** Keep the token for this tab only (session storage), never in a URL. */
export function setToken(token: string): void {
  ui.token = token.trim();
  ui.tokenNeeded = false;
  ui.tokenVersion += 1;
  try {
    if (ui.token) sessionStorage.setItem(TOKEN_KEY, ui.token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    /* as above */
  }
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
  return e instanceof Error ? e.message : String(e);
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
