/**
 * The one rate-limited reporter: sink failures and notices reach the user's logger at most once per period per
 * topic, so a backend that is down for an hour writes a line a minute, not one per window.
 */
import type { Logger } from './api.js';

export const REPORT_EVERY_MS = 60_000;

/** At most once per `everyMs` per topic: for sinks whose reports go to their own callback (`onError`). */
export class RateLimit {
  private readonly lastAt = new Map<string, number>();

  constructor(
    private readonly everyMs = REPORT_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this topic was not allowed in the last `everyMs`; then it counts as allowed now. */
  allow(topic = ''): boolean {
    const now = this.now();
    const last = this.lastAt.get(topic);
    if (last !== undefined && now - last < this.everyMs) return false;
    this.lastAt.set(topic, now);
    return true;
  }
}

export class RateLimitedReporter {
  private readonly limit: RateLimit;

  constructor(
    private readonly logger: Logger,
    private readonly prefix: string,
    everyMs = REPORT_EVERY_MS,
    now: () => number = Date.now,
  ) {
    this.limit = new RateLimit(everyMs, now);
  }

  /** Logs `message` unless this topic was logged less than `everyMs` ago; returns whether it was logged. */
  warn(message: string, topic = ''): boolean {
    if (!this.limit.allow(topic)) return false;
    try {
      this.logger.warn(`${this.prefix}${message}`);
    } catch {
      // A logger that throws must not break a sink or the seal.
    }
    return true;
  }
}
