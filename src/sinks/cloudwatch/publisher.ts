/**
 * The sending side of the CloudWatch sink: buffers windows, and on each of its pacing slots sends what is pending
 * through the transport, reacting to the answer (AIMD on throttling, backoff on transient failures, drop and report
 * on rejection). It owns one timer (unref'd, so it never keeps a process alive) and never throws into the host.
 *
 * Every window it takes is settled exactly once in the ledger: sent (all its datums accepted), failed (some
 * rejected, or sent in a request whose outcome is unknown: never resent, a duplicate would double CloudWatch's
 * Sum) or dropped (never left the process: bounds, two-week age limit, shutdown). A request whose timeout passed
 * before the transport wrote it (it reports that: `SendOptions.trackWrite`) is not unknown: it is sent again.
 *
 * Time comes from a `Clock`, so the fleet simulation can run thousands of publishers in virtual time.
 */
import type { Logger } from '../../core/api.js';
import type { RateLimitedReporter } from '../../core/reporter.js';
import { SinkError } from '../../core/sink.js';
import { nextTurn } from '../../core/turns.js';
import type { SeriesWindow, Window } from '../../core/window.js';
import type { WindowLedger, WindowReceipt } from '../aws/ledger.js';
import { namespaceFromService } from '../aws/namespace.js';
import type { AwsView } from '../aws/view.js';
import { estimateWindowBytes } from '../../core/window-size.js';
import { Batcher, type Batch, type BatchLimits } from './batcher.js';
import type { DatumConverter } from './datum.js';
import type { Pacer } from './pacer.js';
import { PendingQueue, type PendingEntry } from './pending.js';
import { classify, MissingSdkError, type Failure, type SendOptions } from './transport.js';
import type { CloudWatchTransport } from './types.js';

export interface Clock {
  now(): number;
  /** `keepAlive` false (the default) means the timer must not hold the process open. */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * Lets other work run between slices of a long conversion and of each request's serialization and SDK steps.
   * Default: the shared turn queue (core/turns.ts); fake-time tests give a microtask.
   */
  yield?(): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms, keepAlive = false) => {
    const timer = setTimeout(fn, ms);
    if (!keepAlive) timer.unref();
    return timer;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  yield: nextTurn,
};

export interface PublisherOptions {
  readonly name: string;
  /** Undefined: the service name of the first window, made namespace-safe. */
  readonly namespace: string | undefined;
  readonly view: AwsView;
  readonly filter: ((series: SeriesWindow) => boolean) | undefined;
  readonly converter: DatumConverter;
  readonly ledger: WindowLedger;
  readonly pacer: Pacer;
  readonly transport: Promise<CloudWatchTransport>;
  readonly limits: BatchLimits;
  readonly maxPendingDatapoints: number;
  readonly maxBacklogBytes: number;
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The sink's rate-limited reporter (shared with the transport's notices). */
  readonly reporter: RateLimitedReporter;
  readonly random: () => number;
  /** Re-read before each slot when the fleet size is given as a function. */
  readonly fleetSize?: () => number | Promise<number>;
}

export interface PublisherStats {
  requestsSent: number;
  requestsThrottled: number;
  requestsFailed: number;
  /** Requests with no answer in time or a connection lost mid-request: their datums are not resent. */
  requestsUnknown: number;
  batchesDropped: number;
  datapointsSent: number;
  datapointsDropped: number;
  datapointsUnknown: number;
}

/** CloudWatch rejects timestamps more than two weeks old; an hour of margin for clock skew. */
const MAX_AGE_MS = 14 * 24 * 3600_000 - 3600_000;
/** Longest pause after transient failures (and the most of a Retry-After honoured). */
export const MAX_BACKOFF_MS = 60_000;
const MIN_REQUEST_BYTES = 64 * 1024;

class RequestTimeout extends Error {
  constructor(ms: number) {
    super(`PutMetricData did not answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** The timeout passed before the transport wrote the request (a busy event loop): nothing reached CloudWatch. */
class RequestNotWritten extends SinkError {
  constructor(ms: number) {
    super(`PutMetricData was not yet written when its ${ms} ms timeout passed (a busy event loop); nothing was sent, it is sent again`, { retryable: true });
    this.name = 'RequestNotWritten';
  }
}

/** The clock's yield, else the shared turn queue. */
export function clockYield(clock: Clock): () => Promise<void> {
  const yieldTo = clock.yield;
  return yieldTo !== undefined ? () => yieldTo.call(clock) : nextTurn;
}

type Outcome = 'ok' | Failure['kind'];

export class Publisher {
  readonly counts: PublisherStats = {
    requestsSent: 0,
    requestsThrottled: 0,
    requestsFailed: 0,
    requestsUnknown: 0,
    batchesDropped: 0,
    datapointsSent: 0,
    datapointsDropped: 0,
    datapointsUnknown: 0,
  };
  private readonly queue: PendingQueue;
  private readonly batcher: Batcher;
  private maxBytes: number;
  private timer: unknown;
  private busy: Promise<void> | undefined;
  private closed = false;
  private disabled = false;
  private transientStreak = 0;
  private notBefore = 0;
  private resolvedTransport: CloudWatchTransport | undefined;
  private namespace: string | undefined;
  private readonly yieldToLoop: () => Promise<void>;
  private settledWaiters: Array<() => void> = [];

  constructor(private readonly o: PublisherOptions) {
    this.queue = new PendingQueue(o.maxPendingDatapoints, o.maxBacklogBytes);
    this.batcher = new Batcher(o.converter);
    this.namespace = o.namespace;
    this.maxBytes = o.limits.maxBytes;
    this.yieldToLoop = clockYield(o.clock);
    o.transport.then(
      (transport) => {
        this.resolvedTransport = transport;
      },
      (error: unknown) => this.disable(error),
    );
  }

  get pendingDatapoints(): number {
    return this.queue.datapoints;
  }

  get backlogBytes(): number {
    return this.queue.bytes;
  }

  start(): void {
    this.schedule();
  }

  /** Buffers windows; O(series) per window, never sends, never throws. */
  enqueue(windows: readonly Window[], receipt: WindowReceipt | undefined): void {
    for (const window of windows) {
      const ticket = this.o.ledger.open(window, receipt);
      try {
        this.namespace ??= namespaceFromService(window.resource.service);
        const view = this.o.view.series(window, this.o.filter);
        const count = this.o.converter.countDatums(view);
        if (this.disabled || this.closed) {
          this.counts.datapointsDropped += count;
          this.o.ledger.settle(ticket, 'dropped');
          continue;
        }
        if (count === 0) {
          // Nothing CloudWatch would store: delivered as it is.
          this.o.ledger.settle(ticket, 'sent');
          continue;
        }
        const entry: PendingEntry = {
          ticket,
          timestamp: window.timestamp,
          view,
          converting: undefined,
          datums: undefined,
          sizes: undefined,
          count,
          inFlight: 0,
          touched: false,
          failed: false,
          bytes: estimateWindowBytes(window),
          done: false,
        };
        this.evict(this.queue.push(entry), 'overflow');
      } catch (error) {
        this.o.ledger.settle(ticket, 'dropped');
        this.report('enqueue', `could not buffer a window: ${String(error)}`);
      }
    }
  }

  /** Resolves when every window taken so far is settled, or after `timeoutMs`; never sends outside the pacing. */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = this.o.clock.now() + timeoutMs;
    while (this.o.ledger.pending > 0 && !this.closed) {
      const left = deadline - this.o.clock.now();
      if (left <= 0) return;
      await new Promise<void>((resolve) => {
        const timer = this.o.clock.setTimeout(resolve, left);
        this.settledWaiters.push(() => {
          this.o.clock.clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Stops the timer, waits for the slot in flight, then sends everything pending, within `shutdownTimeoutMs`. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const deadline = this.o.clock.now() + this.o.shutdownTimeoutMs;
    try {
      if (this.busy !== undefined) await this.busy;
      await this.flushAll(deadline);
    } catch (error) {
      this.report('shutdown', `shutdown flush failed: ${String(error)}`);
    }
    const left = this.queue.clear();
    if (left.length > 0) this.evict(left, 'shutdown');
  }

  private schedule(): void {
    if (this.closed || this.disabled) return;
    const now = this.o.clock.now();
    const at = this.o.pacer.nextSendAt(now, this.notBefore);
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = this.o.clock.setTimeout(() => this.onTimer(), Math.max(0, at - now));
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.closed || this.busy !== undefined) return;
    this.busy = this.slot()
      .catch((error: unknown) => this.report('slot', `send slot failed: ${String(error)}`))
      .finally(() => {
        this.busy = undefined;
        this.schedule();
      });
  }

  /** One pacing slot: up to `perSlot` requests, stopping at the first throttle or transient failure. */
  private async slot(): Promise<void> {
    this.refreshFleetSize();
    if (this.queue.size === 0) return;
    const transport = this.resolvedTransport ?? (await this.awaitTransport());
    if (transport === undefined || this.closed) return;
    const allowed = this.o.pacer.perSlot;
    await this.batcher.prepare(this.queue, allowed * this.o.limits.maxDatums, this.yieldToLoop);
    this.sweep();
    if (this.closed) return;
    const now = this.o.clock.now();
    this.dropStale(now);
    let sent = 0;
    let clean = true;
    for (let i = 0; i < allowed && !this.closed; i++) {
      const batch = this.take();
      if (batch === undefined) break;
      if (sent === 0) this.o.pacer.sent(now);
      sent++;
      const outcome = await this.send(transport, batch, this.o.requestTimeoutMs);
      if (outcome === 'ok') continue;
      clean = false;
      if (outcome === 'fatal' || outcome === 'unknown') continue;
      if (outcome === 'transient') this.transientStreak++;
      break;
    }
    if (sent > 0 && clean) {
      this.transientStreak = 0;
      this.notBefore = 0;
      this.o.pacer.onSuccess();
    }
    // Datums weigh less than the sealed windows they come from: when the backlog fills (an outage), converting
    // the rest now (in slices) keeps more seconds within maxBacklogBytes. They would be converted to be sent anyway.
    if (!this.closed && this.queue.bytes > this.o.maxBacklogBytes / 2) {
      await this.batcher.prepare(this.queue, Number.POSITIVE_INFINITY, this.yieldToLoop);
      this.sweep();
    }
  }

  private take(): Batch | undefined {
    const batch = this.batcher.take(this.queue, { maxDatums: this.o.limits.maxDatums, maxBytes: this.maxBytes }, this.namespace ?? namespaceFromService(''));
    this.sweep();
    return batch;
  }

  private async awaitTransport(): Promise<CloudWatchTransport | undefined> {
    try {
      this.resolvedTransport = await this.o.transport;
      return this.resolvedTransport;
    } catch {
      return undefined;
    }
  }

  /** Sends one request and settles its datums: delivered, put back for a retry, or failed. */
  private async send(transport: CloudWatchTransport, batch: Batch, timeoutMs: number): Promise<Outcome> {
    // Created only if the transport reads `signal` (the SDK does; a simulation need not pay for it).
    let controller: AbortController | undefined;
    let write: 'untracked' | 'pending' | 'started' = 'untracked';
    const options: SendOptions = {
      get signal(): AbortSignal {
        controller ??= new AbortController();
        return controller.signal;
      },
      trackWrite: () => {
        if (write === 'untracked') write = 'pending';
        return () => void (write = 'started');
      },
    };
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.o.clock.setTimeout(() => {
        // The transport sees the abort before it writes, so a request still pending is never written.
        const error = write === 'pending' ? new RequestNotWritten(timeoutMs) : new RequestTimeout(timeoutMs);
        controller?.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([transport({ Namespace: this.namespace ?? namespaceFromService(''), MetricData: batch.datums }, options), timeout]);
      this.counts.requestsSent++;
      this.counts.datapointsSent += batch.datums.length;
      this.settleRuns(batch, false);
      return 'ok';
    } catch (error) {
      const failure = classify(error);
      this.settleFailure(failure, batch);
      return failure.kind;
    } finally {
      this.o.clock.clearTimeout(timer);
    }
  }

  private settleFailure(failure: Failure, batch: Batch): void {
    const what = `${failure.code}${failure.status !== undefined ? ` (HTTP ${failure.status})` : ''}: ${failure.message}`;
    const n = batch.datums.length;
    switch (failure.kind) {
      case 'throttled':
        this.counts.requestsThrottled++;
        this.o.pacer.onThrottle(this.o.random);
        this.putBack(batch);
        this.waitAtLeast(failure.retryAfterMs);
        this.report('throttled', `throttled by CloudWatch (${what}); backing off to one request every ${this.o.pacer.period} s, the batch will be retried`);
        return;
      case 'tooLarge':
        this.counts.requestsFailed++;
        // The estimate was not conservative enough for this endpoint: halve the size and resend in pieces.
        this.maxBytes = Math.max(MIN_REQUEST_BYTES, Math.floor(this.maxBytes / 2));
        this.putBack(batch);
        this.report('tooLarge', `request too large (${what}); request size limit lowered to ${this.maxBytes} bytes`);
        return;
      case 'transient': {
        this.counts.requestsFailed++;
        this.putBack(batch);
        // Capped at one period (and 60 s): the next attempt is at most two periods after the failure, so data is
        // fresh again within two periods of CloudWatch recovering, and a failing pod never sends more than a
        // healthy one.
        const cap = Math.min(MAX_BACKOFF_MS, this.o.pacer.period * 1000);
        const backoff = Math.min(cap, 1000 * 2 ** Math.min(this.transientStreak, 16));
        this.notBefore = this.o.clock.now() + backoff * (0.5 + 0.5 * this.o.random());
        this.waitAtLeast(failure.retryAfterMs);
        this.report('transient', `PutMetricData failed (${what}); will retry with backoff`);
        return;
      }
      case 'unknown':
        this.counts.requestsUnknown++;
        this.counts.datapointsUnknown += n;
        this.settleRuns(batch, true);
        this.report('unknown', `PutMetricData outcome unknown (${what}); its ${n} datapoint(s) are counted failed and not resent (a duplicate would double CloudWatch's sums)`);
        return;
      case 'fatal':
        this.counts.requestsFailed++;
        this.counts.batchesDropped++;
        this.counts.datapointsDropped += n;
        this.settleRuns(batch, true);
        this.report('rejected', `PutMetricData rejected a request (${what}); dropped its ${n} datapoint(s)`);
        return;
    }
  }

  private waitAtLeast(ms: number | undefined): void {
    if (ms === undefined) return;
    this.notBefore = Math.max(this.notBefore, this.o.clock.now() + Math.min(MAX_BACKOFF_MS, ms));
  }

  /** The batch's datums left for good (accepted, or failed): their windows settle once nothing else is pending. */
  private settleRuns(batch: Batch, failed: boolean): void {
    for (const run of batch.runs) {
      const entry = run.entry;
      entry.inFlight -= run.count;
      entry.touched = true;
      if (failed) entry.failed = true;
    }
    this.sweep();
  }

  private putBack(batch: Batch): void {
    for (const run of batch.runs) this.batcher.putBack(run, batch);
    this.evict(this.queue.enforce(), 'overflow');
  }

  /** Settles every entry with nothing left to send or to hear about. */
  private sweep(): void {
    let settled = false;
    for (const entry of this.queue.list) {
      if (entry.done || entry.view !== undefined || entry.count > 0 || entry.inFlight > 0) continue;
      entry.done = true;
      this.o.ledger.settle(entry.ticket, entry.failed ? 'failed' : 'sent');
      settled = true;
    }
    if (!settled) return;
    this.queue.refresh();
    this.wakeSettled();
  }

  /** Entries that leave without being sent: dropped, or failed when part of them already reached CloudWatch. */
  private evict(entries: readonly PendingEntry[], reason: 'overflow' | 'stale' | 'shutdown' | 'disabled'): void {
    if (entries.length === 0) return;
    let datapoints = 0;
    for (const entry of entries) {
      if (entry.done) continue;
      entry.done = true;
      datapoints += entry.count;
      this.o.ledger.settle(entry.ticket, entry.touched ? 'failed' : 'dropped');
    }
    this.counts.datapointsDropped += datapoints;
    this.wakeSettled();
    const messages = {
      overflow: `pending data exceeds maxPendingDatapoints (${this.o.maxPendingDatapoints}) or maxBacklogBytes (${this.o.maxBacklogBytes}); dropped the oldest seconds (${datapoints} datapoint(s))`,
      stale: `dropped ${datapoints} datapoint(s) older than CloudWatch accepts (two weeks)`,
      shutdown: `shutdown: ${datapoints} datapoint(s) not delivered within ${this.o.shutdownTimeoutMs} ms`,
      disabled: `${datapoints} datapoint(s) dropped`,
    };
    this.report(reason, messages[reason]);
  }

  private wakeSettled(): void {
    const waiters = this.settledWaiters;
    if (waiters.length === 0) return;
    this.settledWaiters = [];
    for (const wake of waiters) wake();
  }

  private async flushAll(deadline: number): Promise<void> {
    if (this.queue.size === 0 || this.disabled) return;
    const clock = this.o.clock;
    const transport = await Promise.race([this.awaitTransport(), this.sleep(deadline - clock.now()).then(() => undefined)]);
    if (transport === undefined) return;
    while (this.queue.size > 0) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) return;
      this.dropStale(clock.now());
      // In slices, as in a slot: the process is going away, but the host still serves until it does.
      await this.batcher.prepare(this.queue, this.o.limits.maxDatums, this.yieldToLoop);
      this.sweep();
      const batch = this.take();
      if (batch === undefined) return;
      const outcome = await this.send(transport, batch, Math.min(this.o.requestTimeoutMs, Math.max(1, deadline - clock.now())));
      if (outcome === 'throttled' || outcome === 'transient') {
        // Short, jittered pauses: the process is going away, so waiting a whole period is not an option.
        await this.sleep(Math.min(deadline - clock.now(), 200 + this.o.random() * 600));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    // Held open on purpose: during shutdown this wait is the only thing between the flush and process exit.
    return new Promise((resolve) => this.o.clock.setTimeout(resolve, ms, true));
  }

  private dropStale(now: number): void {
    this.evict(this.queue.takeOlderThan(now - MAX_AGE_MS), 'stale');
  }

  private refreshFleetSize(): void {
    const source = this.o.fleetSize;
    if (source === undefined) return;
    const apply = (value: unknown): void => {
      if (typeof value === 'number' && Number.isFinite(value) && value >= 1) this.o.pacer.setFleetSize(Math.ceil(value));
      else this.report('fleetSize', `fleetSize() returned ${String(value)}; keeping ${this.o.pacer.period} s period`);
    };
    try {
      const value = source();
      if (value instanceof Promise) value.then(apply, (error: unknown) => this.report('fleetSize', `fleetSize() failed: ${String(error)}`));
      else apply(value);
    } catch (error) {
      this.report('fleetSize', `fleetSize() failed: ${String(error)}`);
    }
  }

  private disable(error: unknown): void {
    if (this.disabled) return;
    this.disabled = true;
    if (this.timer !== undefined) this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.evict(this.queue.clear(), 'disabled');
    const message = error instanceof MissingSdkError ? error.message : `cannot create the CloudWatch client: ${String(error)}; datapoints are dropped`;
    this.o.logger.warn(`scalesignal cloudwatch sink "${this.o.name}": ${message}`);
  }

  /** At most once a minute per kind: a failing backend must not flood the host's logs. */
  private report(key: string, message: string): void {
    this.o.reporter.warn(message, key);
  }
}
