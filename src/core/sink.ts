/**
 * The Sink contract, beside the Window it carries: a sink receives sealed Windows, oldest first, and speaks its
 * backend's language. This is the supported extension point for custom sinks.
 */
import type { Logger } from './logger.js';
import type { Window } from './window.js';

export type WindowOutcome = 'sent' | 'failed' | 'dropped';

export interface ExportContext {
  /** Aborted when the export exceeds `timeoutMs`: pass it to your HTTP client so a hung request is let go. */
  readonly signal: AbortSignal;
  /**
   * For sinks that own their delivery (`settlesWindows: true`): report each window's outcome, once, named by its
   * timestamp. Calls for unknown or already settled windows are ignored.
   */
  readonly settled?: (timestamp: number, outcome: WindowOutcome) => void;
}

export interface SinkContext {
  readonly intervalMs: number;
  /** The user's logger (createMetrics' `logger` option). */
  readonly logger: Logger;
}

/**
 * `export` may be async; while it is pending, later windows wait in a bounded backlog owned by the SDK (oldest
 * dropped and counted), so a slow sink never delays recording or other sinks. Every window handed to a sink ends
 * as exactly one of sent (export resolved), failed (export threw, or timed out: its outcome is unknown and a
 * resend could double-count, so it is not resent) or dropped (backlog full, or still queued at the shutdown
 * deadline), counted in `scalesignal.sink.windows{sink,outcome}`.
 *
 * Throw (or reject with) a `SinkError` whose `retryable` is true only when the backend provably did not take the
 * windows (connection refused, HTTP 429/503 before processing): they are retried with exponential backoff and
 * full jitter, never sooner than the error's `retryAfterMs`. Any other error counts them failed.
 */
export interface Sink {
  readonly name: string;
  export(windows: readonly Window[], context?: ExportContext): void | Promise<void>;
  /** Called once at registration, before the first export. */
  start?(context: SinkContext): void;
  /**
   * True for a sink that queues and paces delivery itself (the AWS sinks): its export() resolves when windows
   * are handed over, and it reports each window's real outcome through `context.settled`. The SDK then counts
   * those outcomes instead of the export's, never retries the export itself, and counts a window the sink never
   * settled by shutdown as dropped.
   */
  readonly settlesWindows?: boolean;
  /** For sinks with their own queue: resolves when everything handed over is settled, or after `timeoutMs`. */
  flush?(timeoutMs?: number): Promise<void>;
  /** Called once by `metrics.shutdown()` after the last export; bounded by the shutdown deadline. */
  shutdown?(): void | Promise<void>;
  /** Longest an export may take before it is abandoned and counted as failed; default min(intervalMs, 5000). */
  readonly timeoutMs?: number;
  /** Windows kept while exports are pending or retried; default 60. */
  readonly maxBacklog?: number;
  /** Bytes (estimated from series, labels and buckets) kept while exports are pending or retried; default 16 MiB. */
  readonly maxBacklogBytes?: number;
  /**
   * Sink-specific health numbers (e.g. `requests_throttled`, `pending_datapoints`), read once per window and
   * published as the gauge `scalesignal.sink.<key>{sink=<name>}`. The SDK already publishes windows sent /
   * failed / dropped, retries and the last export latency for every sink.
   */
  stats?(): Readonly<Record<string, number>>;
}

export class SinkError extends Error {
  readonly retryable: boolean;
  /** The backend asked to wait this long (HTTP Retry-After); the next attempt comes no sooner. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'SinkError';
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}
