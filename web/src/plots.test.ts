import { describe, expect, it } from 'vitest';
import type { RunRow } from './api';
import { byPolicy, extent, fiveNumbers, linear, ticks, timelineSpan } from './plots';

describe('ticks', () => {
  it('are round, evenly spaced and cover the range', () => {
    for (const [lo, hi] of [[0, 1], [0.37, 0.92], [-3, 17], [100, 12345], [5, 5.001]] as const) {
      const t = ticks(lo, hi);
      expect(t.length).toBeGreaterThanOrEqual(2);
      expect(t.length).toBeLessThanOrEqual(11);
      const step = t[1]! - t[0]!;
      for (let i = 1; i < t.length; i++) expect(t[i]! - t[i - 1]!).toBeCloseTo(step, 9);
      expect(t[0]!).toBeGreaterThanOrEqual(lo - 1e-9);
      expect(t[t.length - 1]!).toBeLessThanOrEqual(hi + 1e-9);
      expect(t[0]! - lo).toBeLessThan(step + 1e-9);
    }
  });

  it('map the data range inside the pixel range', () => {
    const s = linear([2, 7, 3], 10, 110);
    expect(s(2)).toBeGreaterThanOrEqual(10);
    expect(s(7)).toBeLessThanOrEqual(110);
    expect(s(7)).toBeGreaterThan(s(2));
  });
});

describe('byPolicy and fiveNumbers', () => {
  const row = (policy: string, coverage: number | null, access: number | null): RunRow => ({
    run: 0, scenario: 's', policy, replicate: 0, status: 'optimal', coverage_ratio: coverage, cost: 1,
    min_group_ratio: coverage, gini: 0, mean_access_time_h: access, solve_ms: 1,
  });

  it('averages each policy over its runs with a plan, in order of appearance', () => {
    const s = byPolicy([row('greedy', 0.5, 1), row('coverage', 0.9, 2), row('greedy', 0.7, null), row('greedy', null, 3)]);
    expect(s.map((x) => x.policy)).toEqual(['greedy', 'coverage']);
    expect(s[0]!.runs).toBe(3);
    expect(s[0]!.coverage).toBeCloseTo(0.6, 12);
    expect(s[0]!.access).toEqual([1, 3]);
  });

  it('gives quartiles by linear interpolation', () => {
    expect(fiveNumbers([4, 1, 3, 2, 5])).toEqual([1, 2, 3, 4, 5]);
    expect(fiveNumbers([1, 2])).toEqual([1, 1.25, 1.5, 1.75, 2]);
    expect(fiveNumbers([])).toBeNull();
  });
});

describe('over 300,000 values', () => {
  // Math.min(...xs) throws a RangeError past about 100,000 arguments in V8.
  const xs = Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 300_000);

  it('finds the extent with a loop, skipping what is not finite', () => {
    expect(() => Math.min(...xs)).toThrow(RangeError);
    expect(extent([...xs, NaN, Infinity, -Infinity])).toEqual([0, 299_999]);
    expect(extent([])).toBeNull();
    expect(extent([NaN])).toBeNull();
  });

  it('scales and draws a timeline of that many', () => {
    const f = linear(xs, 0, 100);
    expect(f(0)).toBeCloseTo(0);
    expect(f(300_000)).toBeCloseTo(100);
    const bars = xs.map((x) => ({ start: x + 5, end: x + 9 }));
    expect(timelineSpan(bars)).toEqual([5, 300_008]);
    expect(timelineSpan([])).toEqual([1, 1]);
    expect(timelineSpan([{ start: 0.2, end: 0.5 }])).toEqual([0.2, 1]);
  });
});
