/**
 * The sending side of the CloudWatch sink: buffers windows, and on each of its pacing slots sends what is pending
 * through the transport, reacting to the answer (AIMD on throttling, backoff on transient failures, drop and report
 * on rejection). It owns one timer (unref'd, so it never keeps a process alive) and never throws into the host.
 *
 * Time comes from a `Clock`, so the fleet simulation can run thousands of publishers in virtual time.
 */
import type { Logger } from '../../core/api.js';
import type { Window } from '../../core/window.js';
import { Batcher, type BatchLimits } from './batcher.js';
import type { DatumConverter } from './datum.js';
import type { Pacer } from './pacer.js';
import { PendingQueue } from './pending.js';
import { classify, MissingSdkError, type Failure } from './transport.js';
import type { CloudWatchTransport, MetricDatum } from './types.js';

export interface Clock {
  now(): number;
  /** `keepAlive` false (the default) means the timer must not hold the process open. */
  setTimeout(fn: () => void, ms: number, keepAlive?: boolean): unknown;
  clearTimeout(handle: unknown): void;
  /** Lets other work run between slices of a long conversion. Default: setImmediate. */
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
  yield: () => new Promise((resolve) => setImmediate(resolve)),
};

export interface PublisherOptions {
  readonly name: string;
  /** Undefined: the service name of the first window (`ScaleSignal` if that is not a valid namespace). */
  readonly namespace: string | undefined;
  readonly converter: DatumConverter;
  readonly pacer: Pacer;
  readonly transport: Promise<CloudWatchTransport>;
  readonly limits: BatchLimits;
  readonly maxPendingDatapoints: number;
  readonly requestTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: () => number;
  /** Re-read before each slot when the fleet size is given as a function. */
  readonly fleetSize?: () => number | Promise<number>;
}

export interface PublisherStats {
  requestsSent: number;
  requestsThrottled: number;
  requestsFailed: number;
  batchesDropped: number;
  datapointsSent: number;
  datapointsDropped: number;
}

/** CloudWatch rejects timestamps more than two weeks old; an hour of margin for clock skew. */
const MAX_AGE_MS = 14 * 24 * 3600_000 - 3600_000;
const MAX_BACKOFF_MS = 60_000;
const MIN_REQUEST_BYTES = 64 * 1024;
const LOG_EVERY_MS = 60_000;
const FALLBACK_NAMESPACE = 'ScaleSignal';

/** The service name as namespace, like the EMF sink, when CloudWatch accepts it. */
function namespaceFor(service: string): string {
  const name = service.trim();
  return name === '' || name.length > 255 || name.startsWith('AWS/') ? FALLBACK_NAMESPACE : name;
}

class RequestTimeout extends Error {
  constructor(ms: number) {
    super(`PutMetricData did not answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

type Outcome = 'ok' | Failure['kind'];

export class Publisher {
  readonly counts: PublisherStats = {
    requestsSent: 0,
    requestsThrottled: 0,
    requestsFailed: 0,
    batchesDropped: 0,
    datapointsSent: 0,
    datapointsDropped: 0,
  };
  private readonly queue: PendingQueue;
  private readonly batcher: Batcher;
  private readonly lastLog = new Map<string, number>();
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

  constructor(private readonly o: PublisherOptions) {
    this.queue = new PendingQueue(o.maxPendingDatapoints);
    this.batcher = new Batcher(o.converter);
    this.namespace = o.namespace;
    this.maxBytes = o.limits.maxBytes;
    const clock = o.clock;
    this.yieldToLoop = clock.yield !== undefined ? () => (clock.yield as () => Promise<void>).call(clock) : () => new Promise((resolve) => setImmediate(resolve));
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

  start(): void {
    this.schedule();
  }

  /** Buffers windows; O(series) per window, never sends, never throws. */
  enqueue(windows: readonly Window[]): void {
    try {
      for (const window of windows) {
        this.namespace ??= namespaceFor(window.resource.service);
        const count = this.o.converter.countDatums(window);
        if (this.disabled || this.closed) {
          this.counts.datapointsDropped += count;
          continue;
        }
        const dropped = this.queue.push(window, count);
        if (dropped > 0) this.dropped(dropped, 'overflow', `pending datapoints exceed maxPendingDatapoints (${this.o.maxPendingDatapoints}); dropped the oldest seconds`);
      }
    } catch (error) {
      this.report('enqueue', `could not buffer a window: ${String(error)}`);
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
    if (left > 0) this.dropped(left, 'shutdown', `shutdown: ${left} datapoint(s) not delivered within ${this.o.shutdownTimeoutMs} ms`);
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
    if (this.queue.datapoints === 0) return;
    const transport = this.resolvedTransport ?? (await this.awaitTransport());
    if (transport === undefined || this.closed) return;
    const allowed = this.o.pacer.perSlot;
    await this.batcher.prepare(this.queue, allowed * this.o.limits.maxDatums, this.yieldToLoop);
    if (this.closed) return;
    const now = this.o.clock.now();
    this.dropStale(now);
    let sent = 0;
    let clean = true;
    for (let i = 0; i < allowed && !this.closed; i++) {
      const batch = this.batcher.take(this.queue, { maxDatums: this.o.limits.maxDatums, maxBytes: this.maxBytes }, this.namespace ?? FALLBACK_NAMESPACE);
      if (batch === undefined) break;
      if (sent === 0) this.o.pacer.sent(now);
      sent++;
      const outcome = await this.send(transport, batch.datums, this.o.requestTimeoutMs);
      if (outcome === 'ok') continue;
      if (outcome === 'fatal') {
        clean = false;
        continue;
      }
      clean = false;
      if (outcome === 'transient') {
        this.transientStreak++;
        const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (this.transientStreak - 1));
        this.notBefore = this.o.clock.now() + backoff * (0.5 + this.o.random());
      }
      break;
    }
    if (sent > 0 && clean) {
      this.transientStreak = 0;
      this.notBefore = 0;
      this.o.pacer.onSuccess();
    }
  }

  private async awaitTransport(): Promise<CloudWatchTransport | undefined> {
    try {
      this.resolvedTransport = await this.o.transport;
      return this.resolvedTransport;
    } catch {
      return undefined;
    }
  }

  /** Sends one request and settles its datums: delivered, put back for a retry, or dropped. */
  private async send(transport: CloudWatchTransport, datums: MetricDatum[], timeoutMs: number): Promise<Outcome> {
    // Created only if the transport reads `signal` (the SDK does; a simulation need not pay for it).
    let controller: AbortController | undefined;
    const options = {
      get signal(): AbortSignal {
        controller ??= new AbortController();
        return controller.signal;
      },
    };
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.o.clock.setTimeout(() => {
        const error = new RequestTimeout(timeoutMs);
        controller?.abort(error);
        reject(error);
      }, timeoutMs);
    });
    try {
      await Promise.race([transport({ Namespace: this.namespace ?? FALLBACK_NAMESPACE, MetricData: datums }, options), timeout]);
      this.counts.requestsSent++;
      this.counts.datapointsSent += datums.length;
      return 'ok';
    } catch (error) {
      const failure = classify(error);
      this.settleFailure(failure, datums);
      return failure.kind;
    } finally {
      this.o.clock.clearTimeout(timer);
    }
  }

  private settleFailure(failure: Failure, datums: MetricDatum[]): void {
    const what = `${failure.code}${failure.status !== undefined ? ` (HTTP ${failure.status})` : ''}: ${failure.message}`;
    switch (failure.kind) {
      case 'throttled':
        this.counts.requestsThrottled++;
        this.o.pacer.onThrottle(this.o.random);
        this.requeue(datums);
        this.report('throttled', `throttled by CloudWatch (${what}); backing off to one request every ${this.o.pacer.period} s, the batch will be retried`);
        return;
      case 'tooLarge':
        this.counts.requestsFailed++;
        // The estimate was not conservative enough for this endpoint: halve the size and resend in pieces.
        this.maxBytes = Math.max(MIN_REQUEST_BYTES, Math.floor(this.maxBytes / 2));
        this.requeue(datums);
        this.report('tooLarge', `request too large (${what}); request size limit lowered to ${this.maxBytes} bytes`);
        return;
      case 'transient':
        this.counts.requestsFailed++;
        this.requeue(datums);
        this.report('transient', `PutMetricData failed (${what}); will retry with backoff`);
        return;
      case 'fatal':
        this.counts.requestsFailed++;
        this.counts.batchesDropped++;
        this.dropped(datums.length, 'rejected', `PutMetricData rejected a request (${what}); dropped its ${datums.length} datapoint(s)`);
        return;
    }
  }

  private requeue(datums: MetricDatum[]): void {
    const dropped = this.queue.requeue(datums);
    if (dropped > 0) this.dropped(dropped, 'overflow', `pending datapoints exceed maxPendingDatapoints (${this.o.maxPendingDatapoints}); dropped the oldest seconds`);
  }

  private async flushAll(deadline: number): Promise<void> {
    if (this.queue.datapoints === 0 || this.disabled) return;
    const clock = this.o.clock;
    const transport = await Promise.race([this.awaitTransport(), this.sleep(deadline - clock.now()).then(() => undefined)]);
    if (transport === undefined) return;
    while (this.queue.datapoints > 0) {
      const remaining = deadline - clock.now();
      if (remaining <= 0) return;
      this.dropStale(clock.now());
      const batch = this.batcher.take(this.queue, { maxDatums: this.o.limits.maxDatums, maxBytes: this.maxBytes }, this.namespace ?? FALLBACK_NAMESPACE);
      if (batch === undefined) return;
      const outcome = await this.send(transport, batch.datums, Math.min(this.o.requestTimeoutMs, remaining));
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
    const stale = this.queue.dropOlderThan(now - MAX_AGE_MS);
    if (stale > 0) this.dropped(stale, 'stale', `dropped ${stale} datapoint(s) older than CloudWatch accepts (two weeks)`);
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
    const dropped = this.queue.clear();
    this.counts.datapointsDropped += dropped;
    const message = error instanceof MissingSdkError ? error.message : `cannot create the CloudWatch client: ${String(error)}; datapoints are dropped`;
    this.o.logger.warn(`scalesignal cloudwatch sink "${this.o.name}": ${message}`);
  }

  private dropped(count: number, key: string, message: string): void {
    this.counts.datapointsDropped += count;
    this.report(key, message);
  }

  /** Warnings at most once a minute per kind: a failing backend must not flood the host's logs. */
  private report(key: string, message: string): void {
    const now = this.o.clock.now();
    const last = this.lastLog.get(key);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.lastLog.set(key, now);
    try {
      this.o.logger.warn(`scalesignal cloudwatch sink "${this.o.name}": ${message}`);
    } catch {
      // A broken logger must not break sending.
    }
  }
}
