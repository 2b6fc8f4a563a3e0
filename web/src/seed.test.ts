import { describe, expect, it } from 'vitest';
import { MAX_SEED, seedOf } from './seed';
import { parseJsonExact, stringifyExact } from './json';

describe('a u64 seed from a form to a request', () => {
  it('keeps every digit of a seed past 2^53, up to 2^64 - 1', () => {
    // As a JS number 9007199254740993 is 9007199254740992: another run.
    expect(String(Number('9007199254740993'))).toBe('9007199254740992');
    expect(seedOf('9007199254740993')).toBe(9007199254740993n);
    expect(seedOf(' 18446744073709551615 ')).toBe(MAX_SEED);
    expect(seedOf('0')).toBe(0n);
    expect(seedOf('007')).toBe(7n);
    expect(seedOf(12)).toBe(12n);
  });

  it('refuses what is not a u64', () => {
    for (const bad of ['18446744073709551616', '99999999999999999999999', '-1', '1.5', '1e3', '', ' ', 'x', '0x10', null, undefined]) {
      expect(seedOf(bad), String(bad)).toBeNull();
    }
  });

  it('writes it into the JSON body as a number literal, exactly', () => {
    const job = { generator: { name: 'urban', count: 2, scale: 0.5 }, policies: ['greedy'], replicates: 1, seed: seedOf('9007199254740993') };
    const body = stringifyExact(job);
    expect(body).toBe('{"generator":{"name":"urban","count":2,"scale":0.5},"policies":["greedy"],"replicates":1,"seed":9007199254740993}');
    expect(parseJsonExact<{ seed: unknown }>(body).seed).toBe('9007199254740993');
    expect(stringifyExact({ seed: MAX_SEED })).toBe('{"seed":18446744073709551615}');
    // A hole in a sparse array is null, as JSON.stringify writes it ('[1,,3]' is no JSON).
    expect(stringifyExact([1, , 3])).toBe(JSON.stringify([1, , 3]));
  });

  it('writes everything else as JSON.stringify does', () => {
    const plain = { a: [1, 'x', null, undefined, () => 1, NaN, { b: true, c: undefined }], d: new Date(0), e: -0.5e-7, 'k"': '\u2028' };
    expect(stringifyExact(plain)).toBe(JSON.stringify(plain));
    for (const v of [null, 1, 'x', [], {}, [undefined]]) expect(stringifyExact(v)).toBe(JSON.stringify(v));
  });
});
