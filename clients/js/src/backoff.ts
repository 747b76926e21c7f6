// Reconnect delays: "full jitter" exponential backoff (a uniformly random delay between 0 and
// min(cap, base × 2^attempt)), raised to any hint the server gave (`retry_after_ms`, a status frame's
// advice, or a close code's floor). Full jitter spreads a crowd of clients dropped at once, e.g. by a server
// restart, over the whole window instead of letting them return in synchronized waves.

export interface BackoffOptions {
  /** First window, in ms (default 500). */
  baseMs?: number;
  /** Largest window, in ms (default 30,000). */
  capMs?: number;
  /** Random source in [0, 1) (tests make it deterministic). */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? 500;
    this.capMs = options.capMs ?? 30_000;
    this.random = options.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs)) throw new RangeError('backoff: need 0 < baseMs <= capMs');
  }

  /** Attempts since the last `reset`. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, at least `floorMs`, and counts the attempt. */
  next(floorMs = 0): number {
    const window = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.max(Math.floor(this.random() * window), floorMs);
  }

  /** After a successful session. */
  reset(): void {
    this.attempt = 0;
  }
}
