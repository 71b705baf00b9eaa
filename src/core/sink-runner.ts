/**
 * One sink's delivery: a backlog bounded in windows and in bytes (oldest dropped and counted), one export at a
 * time with a timeout, and backoff with full jitter for retryable failures. A slow or failing sink never delays
 * recording or the other sinks.
 *
 * Accounting is exact: a batch leaves the backlog when its export starts, so a window is never both in flight
 * and droppable; each window then ends as exactly one of sent, failed or dropped.
 */
import type { Logger } from './api.js';
import { RateLimitedReporter } from './reporter.js';
import type { WindowOutcome } from './self-metrics.js';
import type { Sink } from './sink.js';
import { estimateWindowBytes } from './window-size.js';
import type { Window } from './window.js';
import { nextTurn } from './turns.js';

export interface RunnerOptions {
  readonly intervalMs: number;
  readonly logger: Logger;
  /** Called for every settled group of windows (and 'retried' for every failed attempt that will be retried). */
  readonly onOutcome: (sink: string, outcome: WindowOutcome, windows: number, latencyMs: number) => void;
}

export const DEFAULT_MAX_BACKLOG = 60;
export const DEFAULT_MAX_BACKLOG_BYTES = 16 * 1024 * 1024;
/**
 * Backoff ceiling: two intervals (at most 10 s). One request per interval is what a healthy sink sends anyway (the
 * retry carries the whole backlog), so a retry never loads a recovering backend more than normal operation, and
 * fresh data follows within about two intervals of recovery. A backend that wants less says so with Retry-After.
 */
const MAX_BACKOFF_MS = 10_000;


interface Entry {
  readonly window: Window;
  readonly bytes: number;
  /** Order of arrival, for flush(): it waits for the entries that arrived before it. */
  readonly id: number;
}

interface Waiter {
  readonly through: number;
  readonly resolve: () => void;
}

export class SinkRunner {
  private queue: Entry[] = [];
  private queuedBytes = 0;
  private readonly maxBacklog: number;
  private readonly maxBacklogBytes: number;
  private readonly timeoutMs: number;
  private readonly reporter: RateLimitedReporter;
  private running = false;
  private attempt = 0;
  private nextId = 1;
  /** The id of the oldest window of the export in progress (it has left the queue but is not settled yet). */
  private inFlightFrom: number | undefined;
  private wakeBackoff: (() => void) | undefined;
  /** In a wait the backend asked for (Retry-After): flush() does not wait it out. */
  private waitingForBackend = false;
  private waiters: Waiter[] = [];
  /** Windows handed to a sink that settles them itself, by timestamp, until it reports their outcome. */
  private readonly unsettled = new Set<number>();
  private readonly settlesWindows: boolean;
  private readonly reportSettled = (timestamp: number, outcome: 'sent' | 'failed' | 'dropped'): void => {
    if (!this.unsettled.delete(timestamp)) return;
    if (outcome === 'sent' || outcome === 'failed' || outcome === 'dropped') this.settle(outcome, 1, -1);
  };
  private closing = false;

  constructor(
    readonly sink: Sink,
    private readonly options: RunnerOptions,
  ) {
    this.maxBacklog = positive(sink.maxBacklog, DEFAULT_MAX_BACKLOG);
    this.maxBacklogBytes = positive(sink.maxBacklogBytes, DEFAULT_MAX_BACKLOG_BYTES);
    this.timeoutMs = positive(sink.timeoutMs, Math.min(options.intervalMs, 5000));
    this.settlesWindows = sink.settlesWindows === true;
    this.reporter = new RateLimitedReporter(options.logger, `scalesignal: sink "${sink.name}": `);
    try {
      sink.start?.({ intervalMs: options.intervalMs, logger: options.logger });
    } catch (error) {
      this.reporter.warn(`start() failed: ${describe(error)}`, 'start');
    }
  }

  enqueue(windows: readonly Window[]): void {
    if (this.closing) {
      this.settle('dropped', windows.length, -1);
      return;
    }
    for (const window of windows) {
      const bytes = estimateWindowBytes(window);
      this.queue.push({ window, bytes, id: this.nextId++ });
      this.queuedBytes += bytes;
    }
    this.trim();
    void this.pump();
  }

  /** Drops the oldest queued windows while the backlog is over either bound (the newest one always stays). */
  private trim(): void {
    let excess = 0;
    while (this.queue.length > 1 && (this.queue.length > this.maxBacklog || this.queuedBytes > this.maxBacklogBytes)) {
      const entry = this.queue.shift() as Entry;
      this.queuedBytes -= entry.bytes;
      excess++;
    }
    if (excess > 0) {
      this.settle('dropped', excess, -1);
      this.reporter.warn(`backlog full (${this.maxBacklog} windows / ${this.maxBacklogBytes} bytes), dropped ${excess} window(s)`, 'dropped');
      this.releaseSettled();
    }
  }

  /**
   * Resolves once every window enqueued before this call is settled, or has had one attempt since (a backoff
   * wait is cut short, so flush() costs at most one attempt and one timeout, never a backend's recovery).
   */
  flushed(): Promise<void> {
    const own = this.ownFlushed();
    // A sink with its own queue is asked to settle what it holds too (bounded by its own timeout).
    if (typeof this.sink.flush !== 'function') return own;
    return own.then(() => this.sinkFlush());
  }

  private ownFlushed(): Promise<void> {
    const through = this.nextId - 1;
    if (through < this.oldestPending() || this.waitingForBackend) return Promise.resolve();
    this.wakeBackoff?.();
    return new Promise((resolve) => this.waiters.push({ through, resolve }));
  }

  private async sinkFlush(): Promise<void> {
    try {
      await this.sink.flush?.();
    } catch (error) {
      this.reporter.warn(`flush failed: ${describe(error)}`, 'flush-error');
    }
  }

  /**
   * Stops retrying, waits up to `ms` for what is queued, then shuts the sink down within what is left; windows
   * still queued after that are counted dropped.
   */
  async close(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    this.closing = true;
    await race(this.flushed(), ms);
    if (this.queue.length > 0) {
      const left = this.queue.length;
      this.queue = [];
      this.queuedBytes = 0;
      this.settle('dropped', left, -1);
      this.reporter.warn(`shutdown deadline reached; dropped ${left} undelivered window(s)`, 'shutdown');
      this.releaseSettled();
    }
    try {
      await race(Promise.resolve(this.sink.shutdown?.()), Math.max(0, deadline - Date.now()));
    } catch (error) {
      this.reporter.warn(`shutdown failed: ${describe(error)}`, 'shutdown-error');
    }
    if (this.unsettled.size > 0) {
      // Never reported by the sink before the deadline: it did not leave the process as far as we know.
      const left = this.unsettled.size;
      this.unsettled.clear();
      this.settle('dropped', left, -1);
    }
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // Export on a turn of its own, not inside the seal: the seal and every sink's synchronous work would
      // otherwise run back to back as one pause of the host's event loop.
      await nextTurn();
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        this.queuedBytes = 0;
        const lastId = batch[batch.length - 1].id;
        this.inFlightFrom = batch[0].id;
        const started = performance.now();
        if (this.settlesWindows) for (const entry of batch) this.unsettled.add(entry.window.timestamp);
        const error = await this.exportWithTimeout(batch.map((entry) => entry.window));
        const latency = performance.now() - started;
        this.inFlightFrom = undefined;
        if (this.settlesWindows) {
          // The sink reports each window itself; an export that failed settles what it did not report.
          let unreported = 0;
          if (error !== undefined) {
            for (const entry of batch) if (this.unsettled.delete(entry.window.timestamp)) unreported++;
            if (unreported > 0) this.settle('failed', unreported, latency);
            this.reporter.warn(`export failed (${describe(error)})`, 'failed');
          } else if (latency >= 0) {
            this.settle('latency', 0, latency);
          }
          this.releaseSettled();
          continue;
        }
        if (error === undefined) {
          this.attempt = 0;
          this.settle('sent', batch.length, latency);
          this.releaseSettled();
          continue;
        }
        const retryable = isRetryable(error) && !this.closing;
        if (retryable) {
          this.attempt++;
          this.settle('retried', batch.length, latency);
          this.reporter.warn(`export failed (${describe(error)}); retrying`, 'retry');
          // Back at the head, before anything that arrived meanwhile; the bounds apply again.
          this.queue = batch.concat(this.queue);
          this.queuedBytes = this.queue.reduce((sum, entry) => sum + entry.bytes, 0);
          this.trim();
          // flush() waits for an attempt, not for a backend to come back.
          this.releaseWaiters(lastId);
          await this.backoff(retryAfter(error));
          continue;
        }
        this.attempt = 0;
        this.settle('failed', batch.length, latency);
        this.releaseSettled();
        this.reporter.warn(`export failed (${describe(error)}); ${batch.length} window(s) not delivered`, 'failed');
      }
    } finally {
      this.running = false;
      this.releaseWaiters(this.nextId - 1);
    }
  }

  private settle(outcome: WindowOutcome, windows: number, latencyMs: number): void {
    try {
      this.options.onOutcome(this.sink.name, outcome, windows, latencyMs);
    } catch {
      // Self-metrics must never break delivery.
    }
  }

  /** Ids below this one are settled: not queued, not in flight. */
  private oldestPending(): number {
    const queued = this.queue.length > 0 ? this.queue[0].id : Infinity;
    return Math.min(queued, this.inFlightFrom ?? Infinity);
  }

  private releaseSettled(): void {
    this.releaseWaiters(this.oldestPending() - 1);
  }

  private releaseWaiters(through: number): void {
    if (this.waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.through <= through || (this.queue.length === 0 && !this.running)) waiter.resolve();
      else keep.push(waiter);
    }
    this.waiters = keep;
  }

  private exportWithTimeout(batch: readonly Window[]): Promise<unknown> {
    return new Promise<unknown>((resolve) => {
      const controller = new AbortController();
      const timer = setTimeout(() => {
        const error = new TimeoutError(this.timeoutMs);
        controller.abort(error);
        resolve(error);
      }, this.timeoutMs);
      timer.unref();
      const done = (error: unknown) => {
        clearTimeout(timer);
        resolve(error);
      };
      try {
        const result = this.sink.export(
          batch,
          this.settlesWindows ? { signal: controller.signal, settled: this.reportSettled } : { signal: controller.signal },
        );
        if (result && typeof (result as Promise<void>).then === 'function') {
          (result as Promise<void>).then(
            () => done(undefined),
            (error: unknown) => done(error ?? new Error('rejected')),
          );
        } else {
          done(undefined);
        }
      } catch (error) {
        done(error ?? new Error('threw'));
      }
    });
  }

  private backoff(retryAfterMs: number): Promise<void> {
    // Full jitter: a fleet of pods that failed together does not retry together. Retry-After is a floor.
    const ceiling = Math.min(MAX_BACKOFF_MS, 2 * this.options.intervalMs, 100 * 2 ** Math.min(this.attempt, 16));
    const delay = Math.max(retryAfterMs, Math.random() * ceiling);
    const honourFloor = retryAfterMs > 0;
    this.waitingForBackend = honourFloor;
    if (honourFloor) this.releaseWaiters(Infinity);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeBackoff = undefined;
        this.waitingForBackend = false;
        resolve();
      }, delay);
      timer.unref();
      // flush() may cut a jittered wait short, never one the backend asked for.
      this.wakeBackoff = honourFloor
        ? undefined
        : () => {
            clearTimeout(timer);
            this.wakeBackoff = undefined;
            resolve();
          };
    });
  }
}

/** The export ran past its timeout: its outcome is unknown, so it is counted failed and not resent. */
export class TimeoutError extends Error {
  readonly retryable = false;
  constructor(ms: number) {
    super(`export timed out after ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

function isRetryable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === true;
}

function retryAfter(error: unknown): number {
  const ms = typeof error === 'object' && error !== null ? (error as { retryAfterMs?: unknown }).retryAfterMs : undefined;
  return typeof ms === 'number' && Number.isFinite(ms) && ms > 0 ? Math.min(ms, 300_000) : 0;
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unknown error';
  }
}

function race(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
