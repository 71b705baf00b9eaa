/**
 * The one rate-limited reporter: sink failures and notices reach the user's logger at most once per period per
 * topic, so a backend that is down for an hour writes a line a minute, not one per window.
 */
import type { Logger } from './api.js';

export const REPORT_EVERY_MS = 60_000;

export class RateLimitedReporter {
  private readonly lastAt = new Map<string, number>();

  constructor(
    private readonly logger: Logger,
    private readonly prefix: string,
    private readonly everyMs = REPORT_EVERY_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `message` unless this topic was logged less than `everyMs` ago; returns whether it was logged. */
  warn(message: string, topic = ''): boolean {
    const now = this.now();
    const last = this.lastAt.get(topic);
    if (last !== undefined && now - last < this.everyMs) return false;
    this.lastAt.set(topic, now);
    try {
      this.logger.warn(`${this.prefix}${message}`);
    } catch {
      // A logger that throws must not break a sink or the seal.
    }
    return true;
  }
}
