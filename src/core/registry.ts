/**
 * The registry: one per createMetrics() call. It owns the main lane's series table, the window clock, the
 * sealer and a sink runner per sink, and is the Metrics object users hold. It reads no environment and knows no
 * concrete sink: the composition root (src/create-metrics.ts) hands it resolved options, the resource, the sinks
 * and the binders to install.
 */
import type { Counter, Gauge, GaugeOptions, Histogram, InstrumentOptions, Logger, Metrics, ShutdownOptions } from './api.js';
import { ConfigError, ConfigErrorCode } from './errors.js';
import { bucketMapping } from './histogram/mapping.js';
import type { DropRecorder } from './handles.js';
import { InstrumentRegistry } from './instrument-registry.js';
import { ObservedGauge } from './observer.js';
import type { ResolvedOptions } from './options.js';
import { PageAllocator } from './pages.js';
import { Sealer, type SealRequest } from './sealer.js';
import { SelfMetrics } from './self-metrics.js';
import { SeriesTable, type Family, type LaneLocation, type MetricDefinition, type Series } from './series.js';
import type { Sink } from './sink.js';
import { SinkRunner } from './sink-runner.js';
import { WindowClock } from './window-clock.js';
import { WindowStamper } from './window-stamper.js';
import type { Resource, Window } from './window.js';
import { METRICS_PORT, type HasWorkerPort, type WorkerPort } from './worker-port.js';

/** An opt-in integration: installed on a registry, returns how to stop it. */
export type Binder = (metrics: Metrics) => () => void;

export interface RegistryOptions extends Omit<ResolvedOptions, 'resource' | 'sinks'> {
  readonly resource: Resource;
  readonly sinks: readonly Sink[];
  readonly binders?: readonly Binder[];
}

export class MetricsRegistry implements Metrics, HasWorkerPort {
  readonly intervalMs: number;
  readonly table: SeriesTable;
  /** Internal (tests and benches): the window clock. */
  readonly clock: WindowClock;
  private readonly instruments: InstrumentRegistry;
  private readonly selfMetrics: SelfMetrics;
  private readonly sealer: Sealer;
  private readonly stamper: WindowStamper;
  private readonly runners: SinkRunner[];
  private readonly observed: ObservedGauge[] = [];
  /** Internal (benches): hooks run just before a slot is sealed. */
  readonly beforeSeal = new Set<(slot: number, ahead: number) => void>();
  /** Checks that delay a grace seal while a lane is still writing the slot (worker lanes). */
  private readonly sealHolds = new Set<(slot: number) => boolean>();
  /** Hooks run by flush() before its cut (worker lanes: collect, and at shutdown wait for records in flight). */
  private readonly flushHooks = new Set<(final: boolean) => void | Promise<void>>();
  private readonly closers: Array<() => void> = [];
  /** Highest interval sequence sealed so far. */
  private sealedThrough = -Infinity;
  private sealGraceMs = 0;
  /** A seal delayed by sealGraceMs; flush() waits for it so no window is lost at shutdown or sealed out of order. */
  private graceSeal: Promise<void> | undefined;
  private stopped = false;
  private shuttingDown: Promise<void> | undefined;
  private port: WorkerPort | undefined;

  constructor(readonly options: RegistryOptions) {
    this.intervalMs = options.intervalMs;
    this.clock = new WindowClock(options.intervalMs, options.slots);
    const drops: DropRecorder = { drop: (metric, reason, recordings) => this.selfMetrics.recordingDropped(metric, reason, recordings) };
    this.table = new SeriesTable({
      clock: this.clock.shared,
      allocator: new PageAllocator(options.slots, false),
      mapping: bucketMapping(options.histogramScale),
      maxSeriesPerMetric: options.maxSeriesPerMetric,
      drops,
      now: () => this.clock.openSequence,
    });
    this.instruments = new InstrumentRegistry(this.table);
    this.selfMetrics = new SelfMetrics(this.instruments);
    const idleWindows = Math.ceil((options.seriesIdleSeconds * 1000) / this.intervalMs);
    this.sealer = new Sealer(this.table, options.histogramScale, options.resource, idleWindows);
    this.stamper = new WindowStamper(this.intervalMs);
    this.runners = options.sinks.map(
      (sink) =>
        new SinkRunner(sink, {
          intervalMs: this.intervalMs,
          logger: options.logger,
          onOutcome: (name, outcome, windows, latencyMs) => this.selfMetrics.sinkOutcome(name, outcome, windows, latencyMs),
        }),
    );
    for (const bind of options.binders ?? []) this.closers.push(bind(this));
    this.clock.start(
      () => this.tick(),
      (sequence) => this.pollEarly(sequence),
      () => this.observationLead(),
    );
  }

  get logger(): Logger {
    return this.options.logger;
  }

  counter(name: string, options: InstrumentOptions = {}): Counter {
    return this.instruments.counter(name, options);
  }

  histogram(name: string, options: InstrumentOptions = {}): Histogram {
    return this.instruments.histogram(name, options);
  }

  gauge(name: string, options: GaugeOptions = {}): Gauge {
    if (options !== null && typeof options === 'object' && options.observe !== undefined && typeof options.observe !== 'function') {
      throw new ConfigError(`gauge "${name}": option "observe" must be a function returning a number or a promise of one`);
    }
    const existed = this.instruments.has(name);
    const gauge = this.instruments.gauge(name, options);
    if (options.observe !== undefined) {
      if (existed) throw new ConfigError(`gauge "${name}" already exists; an observed gauge must be declared once`, ConfigErrorCode.metricConflict);
      const family = this.table.families.get(name) as Family;
      this.observed.push(
        new ObservedGauge(
          family,
          options.observe,
          (metric, reason) => this.selfMetrics.observeFailed(metric, reason),
          (sequence) => this.slotOf(sequence),
        ),
      );
    }
    return gauge;
  }

  /** The slot of an interval that has ended or is open but is not sealed yet; -1 once sealed. */
  private slotOf(sequence: number): number {
    if (this.stopped || sequence <= this.sealedThrough || sequence > this.clock.openSequence) return -1;
    return sequence % this.options.slots;
  }

  private observationLead(): number {
    let lead = 0;
    for (const gauge of this.observed) lead = Math.max(lead, gauge.leadMs(this.options.observeTimeoutMs));
    return lead;
  }

  /** Polls the asynchronous observed gauges ahead of the boundary, so their answers land in this window. */
  private pollEarly(sequence: number): void {
    if (this.stopped || sequence !== this.clock.openSequence) return;
    for (const gauge of this.observed) {
      if (gauge.leadMs(this.options.observeTimeoutMs) > 0) gauge.poll(this.options.observeTimeoutMs, sequence);
    }
  }

  /** Seals every interval that ended by `now` (the timer calls this; tests may too). */
  tick(now = Date.now()): void {
    const sequence = Math.floor(now / this.intervalMs);
    if (sequence <= this.clock.openSequence || this.stopped) return;
    const closing = this.clock.openSequence;
    // Gauges not polled early for the closing window are polled now, before the clock moves, so synchronous
    // answers land in it; late asynchronous ones land in it too while it waits for its seal.
    for (const gauge of this.observed) {
      if (gauge.polledFor !== closing) gauge.poll(this.options.observeTimeoutMs, closing);
    }
    const requests = this.clock.advance(sequence);
    this.sealAfterGrace(requests, false);
  }

  private sealAfterGrace(requests: readonly SealRequest[], mustDeliver: boolean): void {
    if (this.sealGraceMs <= 0) {
      this.sealAndDispatch(requests, mustDeliver);
      return;
    }
    const previous = this.graceSeal;
    let holdUntil = Infinity;
    const pending: Promise<void> = new Promise((resolve) => {
      const seal = () => {
        // A lane still writing a slot to seal (a worker descheduled mid-record): 1 ms more, up to half an
        // interval after the grace (counted from when this thread got to run, so a stalled loop still waits).
        if (holdUntil === Infinity) holdUntil = Date.now() + Math.floor(this.intervalMs / 2);
        if (Date.now() < holdUntil && requests.some((request) => this.sealHeld(request.slot))) {
          setTimeout(seal, 1).unref();
          return;
        }
        // Seals stay in order: a seal scheduled while an earlier one waits goes after it.
        void Promise.resolve(previous).then(() => {
          try {
            this.sealAndDispatch(requests, mustDeliver);
          } finally {
            if (this.graceSeal === pending) this.graceSeal = undefined;
            resolve();
          }
        });
      };
      setTimeout(seal, this.sealGraceMs).unref();
    });
    this.graceSeal = pending;
  }

  private sealHeld(slot: number): boolean {
    if (slot < 0) return false;
    for (const held of this.sealHolds) {
      try {
        if (held(slot)) return true;
      } catch (error) {
        this.options.logger.warn(`scalesignal: a seal hold check failed: ${String(error)}`);
      }
    }
    return false;
  }

  private sealAndDispatch(requests: readonly SealRequest[], mustDeliver: boolean): void {
    const windows: Window[] = [];
    this.selfMetrics.publishSinkStats(this.options.sinks);
    for (const request of requests) {
      for (const hook of this.beforeSeal) {
        try {
          hook(request.slot, this.clock.openSequence - request.sequence);
        } catch (error) {
          this.options.logger.warn(`scalesignal: a seal hook failed: ${String(error)}`);
        }
      }
      const sealed = this.sealer.seal(request);
      if (request.sequence > this.sealedThrough) this.sealedThrough = request.sequence;
      const window = this.stamper.stamp(sealed, request.sequence, mustDeliver);
      if (window !== undefined) windows.push(window);
    }
    if (windows.length === 0) return;
    for (const runner of this.runners) runner.enqueue(windows);
  }

  flush(): Promise<void> {
    return holdOpen(this.flushWindows(false));
  }

  /** `final`: shutdown's last flush, which closes the worker lanes before its cut. */
  private async flushWindows(final: boolean): Promise<void> {
    if (this.graceSeal !== undefined) await this.graceSeal;
    if (!this.stopped) {
      const now = Date.now();
      const sequence = Math.floor(now / this.intervalMs);
      if (sequence > this.clock.openSequence) this.tick(now);
      if (this.graceSeal !== undefined) await this.graceSeal;
      if (final) this.clock.closeWorkerLanes();
      const hooks = this.runFlushHooks(final);
      if (hooks !== undefined) {
        await hooks;
        // A boundary may have passed while a hook waited: seal it first, so windows stay in order.
        const later = Date.now();
        if (Math.floor(later / this.intervalMs) > this.clock.openSequence) this.tick(later);
        if (this.graceSeal !== undefined) await this.graceSeal;
      }
      this.sealAndDispatch([this.clock.cut(Date.now())], true);
    }
    // Only what is queued now: windows sealed later are the next flush's business.
    await Promise.all(this.runners.map((runner) => runner.flushed()));
  }

  /** Runs the flush hooks; a promise only when one of them must be awaited (only worker lanes install one). */
  private runFlushHooks(final: boolean): Promise<unknown> | undefined {
    const waits: Promise<void>[] = [];
    for (const hook of this.flushHooks) {
      try {
        const result = hook(final);
        if (result !== undefined) waits.push(result.catch((error) => this.options.logger.warn(`scalesignal: a flush hook failed: ${String(error)}`)));
      } catch (error) {
        this.options.logger.warn(`scalesignal: a flush hook failed: ${String(error)}`);
      }
    }
    return waits.length === 0 ? undefined : Promise.all(waits);
  }

  shutdown(options?: ShutdownOptions): Promise<void> {
    this.shuttingDown ??= holdOpen(this.close(options));
    return this.shuttingDown;
  }

  private async close(options: ShutdownOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.options.shutdownTimeoutMs;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw new ConfigError('shutdown({ timeoutMs }): timeoutMs must be a number >= 0');
    const deadline = Date.now() + timeoutMs;
    const remaining = () => Math.max(0, deadline - Date.now());
    await withDeadline(this.flushWindows(true), remaining());
    this.stopped = true;
    this.clock.stop();
    for (const close of this.closers) {
      try {
        close();
      } catch (error) {
        this.options.logger.warn(`scalesignal: an integration failed to stop: ${String(error)}`);
      }
    }
    await Promise.all(this.runners.map((runner) => runner.close(remaining())));
  }

  [METRICS_PORT](): WorkerPort {
    this.port ??= this.openPort();
    return this.port;
  }

  private openPort(): WorkerPort {
    const { options } = this;
    return {
      clock: this.clock.shared.buffer as SharedArrayBuffer,
      intervalMs: this.intervalMs,
      slots: options.slots,
      histogramScale: options.histogramScale,
      maxSeriesPerMetric: options.maxSeriesPerMetric,
      logger: options.logger,
      series: (definition: MetricDefinition, labels: Readonly<Record<string, string>> | 'overflow'): Series => {
        const { name, kind, unit, description } = definition;
        this.instruments.declare(name, kind, { unit, description });
        const family = this.table.family(definition);
        if (family.definition.kind !== kind || family.definition.unit !== unit) {
          throw new ConfigError(`metric "${name}" is a ${family.definition.kind} on the main thread`, ConfigErrorCode.metricConflict);
        }
        // bind() pins the series: eviction must never take storage a worker's location is merged into.
        return labels === 'overflow' ? family.overflowSeries() : family.bind(labels);
      },
      attachLocation: (series: Series, location: LaneLocation) => series.attach(location),
      detachLocation: (series: Series, location: LaneLocation) => series.detach(location),
      onBeforeSeal: (hook: (slot: number, ahead: number) => void) => {
        this.beforeSeal.add(hook);
        return () => this.beforeSeal.delete(hook);
      },
      holdSealWhile: (held: (slot: number) => boolean) => {
        this.sealHolds.add(held);
        return () => this.sealHolds.delete(held);
      },
      onFlush: (hook: (final: boolean) => void | Promise<void>) => {
        this.flushHooks.add(hook);
        return () => this.flushHooks.delete(hook);
      },
      requestSealGrace: (ms: number) => {
        this.sealGraceMs = Math.max(this.sealGraceMs, Math.min(ms, Math.floor(this.intervalMs / 5)));
      },
    };
  }
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
/**
 * Keeps the process alive until `work` settles. The SDK's timers and sockets are unref'd so it never holds a
 * process open by itself, but a caller awaiting flush() or shutdown() must see it settle: without a ref'd handle
 * Node would exit mid-delivery (exit code 13 under a top-level await) and skip the caller's next lines.
 */
function holdOpen<T>(work: Promise<T>): Promise<T> {
  const hold = setTimeout(() => {}, 2 ** 31 - 1);
  return work.finally(() => clearTimeout(hold));
}

function withDeadline(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref?.();
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}
