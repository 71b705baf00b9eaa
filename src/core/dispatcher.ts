/**
 * Fan-out of sealed Windows to sinks. Each sink gets its own runner: a bounded backlog (oldest dropped and
 * counted), one export at a time, a timeout, and exponential backoff with jitter for retryable failures.
 * A slow or failing sink never delays recording or the other sinks.
 */
import type { Logger } from './api.js';
import type { Sink } from '../sinks/sink.js';
import type { Window } from './window.js';

export interface SinkHealth {
  sent: number;
  failed: number;
  dropped: number;
  retries: number;
  lastLatencyMs: number;
  lastError: string | undefined;
}

export interface RunnerOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Called after every export attempt, for self-metrics. */
  readonly onOutcome: (sink: string, outcome: 'sent' | 'failed' | 'dropped' | 'retried', windows: number, latencyMs: number) => void;
}

const MAX_BACKOFF_MS = 10_000;
const LOG_EVERY_MS = 60_000;

export class SinkRunner {
  readonly health: SinkHealth = { sent: 0, failed: 0, dropped: 0, retries: 0, lastLatencyMs: 0, lastError: undefined };
  private readonly queue: Window[] = [];
  private readonly maxBacklog: number;
  private readonly timeoutMs: number;
  private running = false;
  private attempt = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private wakeBackoff: (() => void) | undefined;
  private idleWaiters: Array<() => void> = [];
  private lastLogAt = -Infinity;
  private closing = false;

  constructor(
    readonly sink: Sink,
    private readonly options: RunnerOptions,
  ) {
    this.maxBacklog = sink.maxBacklog ?? 60;
    this.timeoutMs = sink.timeoutMs ?? Math.min(options.intervalMs, 5000);
  }

  enqueue(windows: readonly Window[]): void {
    for (const window of windows) this.queue.push(window);
    const excess = this.queue.length - this.maxBacklog;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.health.dropped += excess;
      this.options.onOutcome(this.sink.name, 'dropped', excess, 0);
      this.report(`backlog full, dropped ${excess} window(s)`);
    }
    void this.pump();
  }

  /**
   * Resolves when nothing is queued or in flight, or once the next attempt has failed and will be retried.
   * A backoff wait is cut short so flush() costs one attempt, not a backoff of up to 10 s; `closing` (shutdown)
   * also stops retrying.
   */
  idle(closing = false): Promise<void> {
    if (closing) this.closing = true;
    this.wakeBackoff?.();
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice();
        const started = performance.now();
        const error = await this.exportWithTimeout(batch);
        const latency = performance.now() - started;
        this.health.lastLatencyMs = latency;
        // The backlog may have dropped some of the batch meanwhile: remove what is still at the head.
        const inBatch = new Set(batch);
        const removeHead = () => {
          while (this.queue.length > 0 && inBatch.has(this.queue[0])) this.queue.shift();
        };
        if (error === undefined) {
          removeHead();
          this.attempt = 0;
          this.health.sent += batch.length;
          this.options.onOutcome(this.sink.name, 'sent', batch.length, latency);
          continue;
        }
        this.health.lastError = describe(error);
        if (isRetryable(error) && !this.closing) {
          this.attempt++;
          this.health.retries++;
          this.options.onOutcome(this.sink.name, 'retried', batch.length, latency);
          this.report(`export failed (${this.health.lastError}); retry ${this.attempt}`);
          // flush() waits for an attempt, not for a backend to come back.
          this.releaseWaiters();
          await this.backoff();
          continue;
        }
        removeHead();
        this.attempt = 0;
        this.health.failed += batch.length;
        this.options.onOutcome(this.sink.name, 'failed', batch.length, latency);
        this.report(`export failed (${this.health.lastError}); ${batch.length} window(s) dropped`);
      }
    } finally {
      this.running = false;
      this.releaseWaiters();
    }
  }

  private releaseWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private exportWithTimeout(batch: readonly Window[]): Promise<unknown> {
    return new Promise<unknown>((resolve) => {
      const timer = setTimeout(() => resolve(new TimeoutError(this.timeoutMs)), this.timeoutMs);
      timer.unref();
      const done = (error: unknown) => {
        clearTimeout(timer);
        resolve(error);
      };
      try {
        const result = this.sink.export(batch);
        if (result && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).then(() => done(undefined), (error: unknown) => done(error ?? new Error('rejected')));
        } else {
          done(undefined);
        }
      } catch (error) {
        done(error ?? new Error('threw'));
      }
    });
  }

  private backoff(): Promise<void> {
    // Full jitter: a fleet of pods that failed together does not retry together.
    const ceiling = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(this.attempt, 16));
    const delay = Math.random() * ceiling;
    return new Promise((resolve) => {
      this.wakeBackoff = () => {
        clearTimeout(this.backoffTimer);
        this.wakeBackoff = undefined;
        resolve();
      };
      this.backoffTimer = setTimeout(() => this.wakeBackoff?.(), delay);
      this.backoffTimer.unref();
    });
  }

  private report(message: string): void {
    const now = Date.now();
    if (now - this.lastLogAt < LOG_EVERY_MS) return;
    this.lastLogAt = now;
    this.options.logger.warn(`scalesignal: sink "${this.sink.name}": ${message}`);
  }
}

export class TimeoutError extends Error {
  readonly retryable = true;
  constructor(ms: number) {
    super(`export timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
