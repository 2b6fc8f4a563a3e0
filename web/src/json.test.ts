import { describe, expect, it } from 'vitest';
import { findRepeatedKey, jsonPath, keepBigIntegers, parseJsonExact, parseJsonStrict, quoteBigIntegers } from './json';
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

describe('JSON with a key given twice', () => {
  // The reviewer's file: the CLI and the API refuse it (422); JSON.parse keeps priority 100.
  const DUP = `{"name":"dup","resources":[{"id":"r1","community":"a","kind":"water","capacity":{"water_l":10}}],
 "needs":[{"id":"n1","community":"a","kind":"water","demand":{"water_l":5},"priority":1,"priority":100}],
 "policy":{"objective":"coverage"}}`;

  it('finds the repeated key at any depth, with its path and place', () => {
    expect((JSON.parse(DUP) as { needs: { priority: number }[] }).needs[0]?.priority).toBe(100);
    expect(findRepeatedKey(DUP)).toEqual({ path: ['needs', 0, 'priority'], line: 2, column: 98 });
    expect(() => parseJsonStrict(DUP)).toThrow(
      'duplicate key needs[0].priority (line 2, column 98): a key may appear only once in an object',
    );
    const deep = '{"needs":[{"id":"a"},{"id":"b"},{"id":"c"},{"id":"d","demand":{"l":1,"m":[1,{"x":1}],"l":2}}]}';
    expect(jsonPath(findRepeatedKey(deep)?.path ?? [])).toBe('needs[3].demand.l');
    expect(jsonPath(findRepeatedKey('{"a":1,"b":{},"a":2}')?.path ?? [])).toBe('a');
    expect(jsonPath(findRepeatedKey('[[0],{"p":{"q r":1,"q r":2}}]')?.path ?? [])).toBe('[1].p["q r"]');
  });

  it('counts its column in bytes, as the CLI does', () => {
    // `commonsnet solve` on this text: "scenario.name: duplicate key (line 1, column 23)".
    const text = '{"name":"åäö","name":"x","resources":[],"needs":[]}';
    expect(findRepeatedKey(text)).toEqual({ path: ['name'], line: 1, column: 23 });
  });

  it('compares keys as the strings they denote, and reads keys in strings and lists rightly', () => {
    expect(jsonPath(findRepeatedKey(String.raw`{"policy":{"a":1,"\u0061":2}}`)?.path ?? [])).toBe('policy.a');
    // The same key in two objects, a key-like string as a value, escaped quotes in keys.
    for (const ok of [
      '{"needs":[{"id":"a","priority":1},{"id":"b","priority":1}]}',
      String.raw`{"a":"\"a\":1","b":["a","a"],"c":{"a":{"a":1}}}`,
      String.raw`{"k\"":1,"k":2,"k\\":3}`,
      '[]',
      '"a"',
      '{}',
    ]) {
      expect(findRepeatedKey(ok), ok).toBeNull();
      expect(parseJsonStrict(ok)).toEqual(JSON.parse(ok));
    }
  });

  it('leaves not-JSON to JSON.parse', () => {
    expect(() => parseJsonStrict('{"a":1,')).toThrow(SyntaxError);
  });
});
