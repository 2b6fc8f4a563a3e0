/** Idempotency keys for what a page creates (a job, a session): a new key for each new
 * request, the same key again when a request whose answer never came is sent again (the
 * server may have stored it while the answer was lost), so a retry never makes a second one.
 * A request refused with a 4xx stored nothing: the next one gets a new key. */
export class RetryKeys {
  private unanswered: { key: string; body: string } | null = null;

  /** The key to send the request of body `body` with. */
  keyFor(body: string): string {
    const key = this.unanswered?.body === body ? this.unanswered.key : newKey();
    this.unanswered = { key, body };
    return key;
  }

  /** The request's answer came (`status`: its HTTP status; 0 when it never came): a stored
   * request or a refused one frees the key, a lost answer or a server fault keeps it. */
  settled(status: number): void {
    if (status >= 200 && status < 500) this.unanswered = null;
  }
}

/** 32 hex digits from `crypto.getRandomValues` (not `randomUUID`: the console may be served
 * over plain HTTP on a LAN, where `randomUUID` is not offered). */
export function newKey(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
