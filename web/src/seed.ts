// Seeds are u64s (a job's `seed`, a generator's `?seed=`, the CLI's `--seed`): the forms keep
// them as the digits typed and send those digits, never a JS number, which rounds any seed
// past 2^53 (9007199254740993 went out as ...992: another run, not reproducible).

/** The largest seed the API takes: 2^64 - 1. */
export const MAX_SEED = 18446744073709551615n;

/** The seed typed in a form (decimal digits, spaces around them allowed), or null when it is
 * not a whole number from 0 to 2^64 - 1. */
export function seedOf(text: string | number | null | undefined): bigint | null {
  const s = String(text ?? '').trim();
  if (!/^\d{1,20}$/.test(s)) return null;
  const n = BigInt(s);
  return n <= MAX_SEED ? n : null;
}
