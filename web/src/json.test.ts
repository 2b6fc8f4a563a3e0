import { describe, expect, it } from 'vitest';
import { keepBigIntegers, parseJsonExact, quoteBigIntegers } from './json';
import { toCsv } from './tables';

// A u64 seed above 2^53: as a JS number it becomes 2095304656364222976.
const SEED = '2095304656364222970';
const BODY = `{"id":"j1","rows":[{"run":0,"seed":${SEED},"policy":"greedy","coverage_ratio":0.5,"cost":1e3,"note":"seed ${SEED}, \\"${SEED}\\""},{"run":1,"seed":7,"policy":"maxmin","coverage_ratio":-0.25,"cost":null}]}`;

describe('JSON with integers beyond 2^53', () => {
  it('keeps a seed above 2^53 exact, and every other value as JSON.parse reads it', () => {
    expect(String(Number(SEED))).not.toBe(SEED);
    const parsed = parseJsonExact<{ rows: Record<string, unknown>[] }>(BODY);
    expect(parsed.rows[0]?.seed).toBe(SEED);
    expect(parsed.rows[1]?.seed).toBe(7);
    const plain = JSON.parse(BODY) as { rows: Record<string, unknown>[] };
    expect({ ...parsed.rows[0], seed: 0 }).toEqual({ ...plain.rows[0], seed: 0 });
    expect(parsed.rows[1]).toEqual(plain.rows[1]);
  });

  it('writes the exact seed into the CSV of the run table', () => {
    const { rows } = parseJsonExact<{ rows: Record<string, unknown>[] }>(BODY);
    const csv = toCsv(rows, ['run', 'seed', 'policy']);
    expect(csv.split('\r\n')[1]).toBe(`0,${SEED},greedy`);
    expect(toCsv([{ n: `-${SEED}`, f: '-1+2' }]).split('\r\n')[1]).toBe(`-${SEED},'-1+2`);
  });

  it('quotes only unsafe integer literals outside strings', () => {
    expect(quoteBigIntegers(`[${SEED},-${SEED},9007199254740991,1.5e300,"${SEED}",12]`)).toBe(
      `["${SEED}","-${SEED}",9007199254740991,1.5e300,"${SEED}",12]`,
    );
    expect(quoteBigIntegers('{"a":"x\\"1\\\\","b":18446744073709551615}')).toBe('{"a":"x\\"1\\\\","b":"18446744073709551615"}');
    expect(quoteBigIntegers('{"a":1}')).toBe('{"a":1}');
  });

  it('uses the source text a reviver is given (as Chromium passes it)', () => {
    expect(keepBigIntegers('seed', Number(SEED), { source: SEED })).toBe(SEED);
    expect(keepBigIntegers('seed', 7, { source: '7' })).toBe(7);
    expect(keepBigIntegers('cost', 1e300, { source: '1e300' })).toBe(1e300);
    expect(keepBigIntegers('seed', Number(SEED))).toBe(Number(SEED));
  });
});
