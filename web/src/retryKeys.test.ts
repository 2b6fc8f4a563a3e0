import { describe, expect, it } from 'vitest';
import { newKey, RetryKeys } from './retryKeys';

describe('retry keys', () => {
  it('resends an unanswered request under its key, and new requests under new keys', () => {
    const keys = new RetryKeys();
    const first = keys.keyFor('{"a":1}');
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    // No answer (a dropped connection, status 0) or a server fault: the same body, the same key.
    keys.settled(0);
    expect(keys.keyFor('{"a":1}')).toBe(first);
    keys.settled(503);
    expect(keys.keyFor('{"a":1}')).toBe(first);
    // Another body is another request.
    const other = keys.keyFor('{"a":2}');
    expect(other).not.toBe(first);
    // Stored (2xx) or refused (4xx): nothing is pending, the same body is a new request.
    keys.settled(202);
    expect(keys.keyFor('{"a":2}')).not.toBe(other);
    const refused = keys.keyFor('{"a":3}');
    keys.settled(422);
    expect(keys.keyFor('{"a":3}')).not.toBe(refused);
  });

  it('makes keys that differ', () => {
    expect(new Set(Array.from({ length: 100 }, newKey)).size).toBe(100);
  });
});
