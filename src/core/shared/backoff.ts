/**
 * Exponential backoff after failures, so an unreachable IdP gets a trickle of retries instead of
 * one request per incoming API call. Time comes from the injected clock (ms).
 */
export class FailureBackoff {
  private failures = 0;
  private retryAt = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly now: () => number,
    /** Longest a server's Retry-After is honoured (ms); by default the backoff's own ceiling. */
    private readonly maxHintMs = maxMs,
  ) {}

  /** Records a failure; `hintSeconds` (a server's Retry-After) can only lengthen the wait. */
  recordFailure(hintSeconds?: number): void {
    this.failures += 1;
    const delay = Math.min(this.maxMs, this.baseMs * 2 ** (this.failures - 1));
    const hinted = hintSeconds !== undefined ? Math.min(this.maxHintMs, hintSeconds * 1000) : 0;
    this.retryAt = this.now() + Math.max(delay, hinted);
  }

  recordSuccess(): void {
    this.failures = 0;
    this.retryAt = 0;
  }

  get failing(): boolean {
    return this.failures > 0;
  }

  /** Milliseconds to wait before the next attempt; 0 when an attempt may go ahead now. */
  get waitMs(): number {
    return Math.max(0, this.retryAt - this.now());
  }
}
