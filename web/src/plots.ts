// Small SVG plots for the researcher view: linear scales with round ticks, runs grouped by
// policy.

import type { RunRow } from './api';

export interface Scale {
  (x: number): number;
  ticks: number[];
}

/** Round tick values covering [lo, hi] (about `n` of them, steps of 1, 2 or 5 times 10^k). */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.round(v / step) * step);
  }
  return out;
}

/** The smallest and largest finite number of `values`, or null when there is none. A loop:
 * `Math.min(...xs)` passes every value as an argument, and V8 throws a RangeError past about
 * 100,000 of them (a plan or a map of that many entities). */
export function extent(values: Iterable<number>): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** The hours a timeline of `bars` draws: [earliest start, latest end], the end at least 1 and
 * the start at most the end (as before: `max(1, ends)`, `min(hi, starts)`). */
export function timelineSpan(bars: readonly { start: number; end: number }[]): [number, number] {
  const hi = Math.max(1, extent(bars.map((b) => b.end))?.[1] ?? 1);
  const lo = Math.min(hi, extent(bars.map((b) => b.start))?.[0] ?? hi);
  return [lo, hi];
}

/** A linear map of [lo, hi] (widened to round ticks) onto [r0, r1]. */
export function linear(values: readonly number[], r0: number, r1: number): Scale {
  let [lo, hi] = extent(values) ?? [0, 1];
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const t = ticks(lo, hi);
  lo = Math.min(lo, t[0] ?? lo);
  hi = Math.max(hi, t[t.length - 1] ?? hi);
  const f = ((x: number) => r0 + ((x - lo) / (hi - lo)) * (r1 - r0)) as Scale;
  f.ticks = t;
  return f;
}

export interface PolicyStats {
  policy: string;
  runs: number;
  coverage: number | null;
  cost: number | null;
  minGroup: number | null;
  access: number[];
}

function mean(xs: number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/** Per policy (in order of first appearance): the mean coverage ratio, cost and worst group
 * ratio over its runs with a plan, and every run's mean access time. */
export function byPolicy(rows: readonly RunRow[]): PolicyStats[] {
  const groups = new Map<string, RunRow[]>();
  for (const r of rows) {
    const g = groups.get(r.policy);
    if (g) g.push(r);
    else groups.set(r.policy, [r]);
  }
  const nums = (rs: RunRow[], k: keyof RunRow) =>
    rs.map((r) => r[k]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return [...groups].map(([policy, rs]) => ({
    policy,
    runs: rs.length,
    coverage: mean(nums(rs, 'coverage_ratio')),
    cost: mean(nums(rs, 'cost')),
    minGroup: mean(nums(rs, 'min_group_ratio')),
    access: nums(rs, 'mean_access_time_h'),
  }));
}

/** Five-number summary (min, lower quartile, median, upper quartile, max) of `xs`. */
export function fiveNumbers(xs: readonly number[]): [number, number, number, number, number] | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => {
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    const hi = Math.ceil(i);
    return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (i - lo);
  };
  return [s[0] as number, q(0.25), q(0.5), q(0.75), s[s.length - 1] as number];
}
