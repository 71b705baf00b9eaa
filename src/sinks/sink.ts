import type { Window } from '../core/window.js';

/**
 * A sink receives sealed Windows, oldest first. `export` may be async; while it is pending, later windows
 * queue in a bounded backlog owned by the dispatcher (oldest dropped and counted), so a slow sink never
 * delays recording or other sinks.
 *
 * Throw (or reject with) a `SinkError` whose `retryable` is true to have the same windows retried with
 * exponential backoff and jitter; any other error drops those windows and is counted as failed.
 */
export interface Sink {
  readonly name: string;
  export(windows: readonly Window[]): void | Promise<void>;
  /** Called once by `metrics.shutdown()` after the last export. */
  shutdown?(): void | Promise<void>;
  /** Longest an export may take before it is abandoned and counted as failed; default min(intervalMs, 5000). */
  readonly timeoutMs?: number;
  /** Windows kept while exports are pending or retried; default 60. */
  readonly maxBacklog?: number;
  /**
   * Sink-specific health numbers (e.g. `requests_throttled`, `pending_datapoints`), read once per window and
   * published as the gauge `scalesignal.sink.<key>{sink=<name>}`. The dispatcher already publishes
   * windows sent / failed / dropped and the last export latency for every sink.
   */
  stats?(): Readonly<Record<string, number>>;
}

export class SinkError extends Error {
  readonly retryable: boolean;
  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'SinkError';
    this.retryable = options.retryable;
  }
}
