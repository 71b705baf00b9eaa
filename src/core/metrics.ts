/**
 * createMetrics: wires the lane, the series table, the wall-clock-aligned scheduler, the sealer and the
 * dispatcher together. The scheduler advances the shared clock at every interval boundary; the sealer turns
 * each finished interval into one Window, however late the timer fired.
 */
import type { Counter, Gauge, GaugeOptions, Histogram, InstrumentOptions, Metrics, MetricsOptions } from './api.js';
import { SinkRunner } from './dispatcher.js';
import { bucketMapping } from './exponential-histogram.js';
import type { DropReason, DropRecorder } from './handles.js';
import { CounterInstrument, GaugeInstrument, HistogramInstrument } from './instruments.js';
import { PageAllocator } from './lane.js';
import { ObservedGauge, type ObserveFailure } from './observer.js';
import { assertMetricName, ConfigError, resolveOptions, type ResolvedOptions } from './options.js';
import { resolveResource } from './resource.js';
import { Sealer, type SealRequest } from './sealer.js';
import { SeriesTable, type Family, type MetricDefinition } from './series.js';
import type { MetricKind, Window } from './window.js';
import type { Sink } from '../sinks/sink.js';
import { defaultSinks } from '../sinks/defaults.js';
import { installEventLoopMetrics } from '../integrations/event-loop.js';

/** At most this many empty windows are emitted for one stall (a suspended laptop, a debugger pause). */
const MAX_GAP_WINDOWS = 300;

export function createMetrics(options?: MetricsOptions): Metrics {
  return new MetricsRegistry(resolveOptions(options));
}

/** Hooks for the worker_threads side and for tests; not part of the public API. */
export interface MetricsInternals {
  readonly clock: Int32Array;
  readonly table: SeriesTable;
  readonly options: ResolvedOptions;
  /** Delay between advancing the clock and sealing, so a worker's write racing the boundary lands first. */
  sealGraceMs: number;
  /** Called with a slot just before it is sealed: worker lanes copy their new records into main-thread mirrors. */
  readonly beforeSeal: Array<(slot: number) => void>;
  /** Seals every interval that ended by `now` (the timer calls this; tests may too). */
  tick(now?: number): void;
  family(definition: MetricDefinition): Family;
}

export class MetricsRegistry implements Metrics, MetricsInternals {
  readonly intervalMs: number;
  readonly clock: Int32Array;
  readonly table: SeriesTable;
  sealGraceMs = 0;
  readonly beforeSeal: Array<(slot: number) => void> = [];
  private readonly sealer: Sealer;
  private readonly runners: SinkRunner[];
  private readonly observed: ObservedGauge[] = [];
  private readonly instruments = new Map<string, { kind: MetricKind; unit: string; instrument: Counter | Gauge | Histogram }>();
  private openSequence: number;
  /** Start of the open window when it does not begin on a boundary (creation, or after flush()). */
  private openStart: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** A seal delayed by sealGraceMs; flush() waits for it so no window is lost at shutdown or sealed out of order. */
  private graceSeal: Promise<void> | undefined;
  private readonly closers: Array<() => void> = [];
  private readonly dropped: Counter;
  private readonly observeFailures: Counter;
  private readonly sinkWindows: Counter;
  private readonly sinkLatency: Gauge;
  private readonly sinkStats: Map<string, Gauge> = new Map();

  constructor(readonly options: ResolvedOptions) {
    this.intervalMs = options.intervalMs;
    const now = Date.now();
    this.openSequence = Math.floor(now / this.intervalMs);
    this.openStart = now;
    // Shared so that worker lanes can read the current slot; element 0 is the slot index.
    this.clock = new Int32Array(new SharedArrayBuffer(4));
    this.clock[0] = this.openSequence % options.slots;
    const drops: DropRecorder = { drop: (metric, reason) => this.recordDrop(metric, reason) };
    this.table = new SeriesTable({
      clock: this.clock,
      allocator: new PageAllocator(options.slots, false),
      mapping: bucketMapping(options.histogramScale),
      maxSeriesPerMetric: options.maxSeriesPerMetric,
      drops,
      now: () => this.openSequence,
    });
    const idleWindows = Math.ceil((options.seriesIdleSeconds * 1000) / this.intervalMs);
    this.sealer = new Sealer(this.table, options.histogramScale, resolveResource(options.service, options.resource), idleWindows);

    this.dropped = this.counter('scalesignal.recordings.dropped', {
      unit: '{recording}',
      description: 'Recordings dropped: NaN, infinite, negative (counters, histograms) or not a number',
    });
    this.observeFailures = this.counter('scalesignal.observe.failures', {
      unit: '{failure}',
      description: 'Observed-gauge callbacks that threw, timed out, returned a non-number or were still running',
    });
    this.sinkWindows = this.counter('scalesignal.sink.windows', {
      unit: '{window}',
      description: 'Windows handed to each sink, by outcome: sent, failed, dropped (backlog full), retried',
    });
    this.sinkLatency = this.gauge('scalesignal.sink.export.duration', {
      unit: 'ms',
      description: 'Duration of the last export attempt of each sink',
    });

    const sinks: readonly Sink[] = options.sinks ?? defaultSinks(process.env, options.logger);
    this.runners = sinks.map(
      (sink) =>
        new SinkRunner(sink, {
          intervalMs: this.intervalMs,
          logger: options.logger,
          onOutcome: (name, outcome, windows, latencyMs) => {
            this.sinkWindows.add(windows, { sink: name, outcome });
            if (outcome !== 'dropped') this.sinkLatency.set(latencyMs, { sink: name });
          },
        }),
    );
    if (options.eventLoop) this.closers.push(installEventLoopMetrics(this));
    this.schedule();
  }

  counter(name: string, options: InstrumentOptions = {}): Counter {
    return this.instrument(name, 'counter', options, (family) => new CounterInstrument(family)) as Counter;
  }

  histogram(name: string, options: InstrumentOptions = {}): Histogram {
    return this.instrument(name, 'histogram', options, (family) => new HistogramInstrument(family)) as Histogram;
  }

  gauge(name: string, options: GaugeOptions = {}): Gauge {
    if (options.observe !== undefined && typeof options.observe !== 'function') {
      throw new ConfigError(`gauge "${name}": option "observe" must be a function returning a number or a promise of one`);
    }
    const existed = this.instruments.has(name);
    const gauge = this.instrument(name, 'gauge', options, (family) => new GaugeInstrument(family)) as Gauge;
    if (options.observe !== undefined) {
      if (existed) throw new ConfigError(`gauge "${name}" already exists; an observed gauge must be declared once`);
      const family = this.table.families.get(name) as Family;
      this.observed.push(
        new ObservedGauge(family, options.observe, (metric, reason: ObserveFailure) =>
          this.observeFailures.add(1, { metric, reason }),
        ),
      );
    }
    return gauge;
  }

  family(definition: MetricDefinition): Family {
    return this.table.family(definition);
  }

  private instrument(
    name: string,
    kind: MetricKind,
    options: InstrumentOptions,
    make: (family: Family) => Counter | Gauge | Histogram,
  ): Counter | Gauge | Histogram {
    assertMetricName(name);
    if (typeof options !== 'object' || options === null) throw new ConfigError(`${kind} "${name}": options must be an object`);
    const unit = options.unit ?? '';
    if (typeof unit !== 'string' || unit.length > 63) {
      throw new ConfigError(`${kind} "${name}": option "unit" must be a UCUM string such as "ms", "s", "By", "{request}"`);
    }
    const existing = this.instruments.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind || existing.unit !== unit) {
        throw new ConfigError(
          `metric "${name}" is already a ${existing.kind} with unit "${existing.unit}"; cannot redeclare it as a ${kind} with unit "${unit}"`,
        );
      }
      return existing.instrument;
    }
    const family = this.table.family({ name, kind, unit, description: options.description ?? '' });
    const instrument = make(family);
    this.instruments.set(name, { kind, unit, instrument });
    return instrument;
  }

  private recordDrop(metric: string, reason: DropReason): void {
    this.dropped.add(1, { metric, reason });
  }

  private schedule(): void {
    if (this.stopped) return;
    // Aim at the end of the open window, not at "the next boundary after now": libuv's timers can fire a
    // millisecond before Date.now() reaches the boundary, and a clock that crosses it between tick() and here
    // would otherwise skip a boundary and seal that window a whole interval late. At most one interval ahead,
    // so a wall clock stepped back does not park the timer.
    const delay = (this.openSequence + 1) * this.intervalMs - Date.now();
    this.timer = setTimeout(() => {
      this.tick();
      this.schedule();
    }, Math.min(Math.max(0, delay), this.intervalMs));
    this.timer.unref();
  }

  tick(now = Date.now()): void {
    const sequence = Math.floor(now / this.intervalMs);
    if (sequence > this.openSequence && !this.stopped) {
      // Synchronous observations land in the window that is closing.
      for (const gauge of this.observed) gauge.poll(this.options.observeTimeoutMs);
      const requests = this.advance(sequence);
      if (this.sealGraceMs > 0) {
        const pending: Promise<void> = new Promise((resolve) => {
          setTimeout(() => {
            try {
              this.sealAndDispatch(requests);
            } finally {
              if (this.graceSeal === pending) this.graceSeal = undefined;
              resolve();
            }
          }, this.sealGraceMs).unref();
        });
        this.graceSeal = pending;
      } else {
        this.sealAndDispatch(requests);
      }
    }
  }

  /** Moves the clock to `sequence` and returns one seal request per finished interval. */
  private advance(sequence: number): SealRequest[] {
    const { slots } = this.options;
    const requests: SealRequest[] = [];
    const first = Math.max(this.openSequence, sequence - MAX_GAP_WINDOWS);
    for (let s = first; s < sequence; s++) {
      const start = s === this.openSequence ? this.openStart : s * this.intervalMs;
      // Only the open interval's slot was written: the clock never pointed at the intervals of a stall.
      requests.push({ sequence: s, start, end: (s + 1) * this.intervalMs, slot: s === this.openSequence ? s % slots : -1 });
    }
    // Atomics: the publication worker lanes read (they then read it with plain loads on every record).
    Atomics.store(this.clock, 0, sequence % slots);
    this.openSequence = sequence;
    this.openStart = sequence * this.intervalMs;
    return requests;
  }

  private sealAndDispatch(requests: readonly SealRequest[]): void {
    const windows: Window[] = [];
    for (const request of requests) {
      for (const hook of this.beforeSeal) hook(request.slot);
      windows.push(this.sealer.seal(request));
    }
    this.publishSinkStats();
    for (const runner of this.runners) runner.enqueue(windows);
  }

  private publishSinkStats(): void {
    for (const { sink } of this.runners) {
      if (typeof sink.stats !== 'function') continue;
      let stats: Readonly<Record<string, number>>;
      try {
        stats = sink.stats();
      } catch {
        continue;
      }
      for (const key of Object.keys(stats)) {
        let gauge = this.sinkStats.get(key);
        if (gauge === undefined) {
          gauge = this.gauge(`scalesignal.sink.${key.replace(/[^A-Za-z0-9_.]/g, '_')}`);
          this.sinkStats.set(key, gauge);
        }
        gauge.set(stats[key], { sink: sink.name });
      }
    }
  }

  async flush(): Promise<void> {
    if (this.graceSeal !== undefined) await this.graceSeal;
    if (!this.stopped) {
      const now = Date.now();
      const sequence = Math.floor(now / this.intervalMs);
      if (sequence > this.openSequence) {
        this.tick(now);
      } else {
        const slot = this.clock[0];
        const request: SealRequest = { sequence: this.openSequence, start: this.openStart, end: now, slot };
        this.openStart = now;
        this.sealAndDispatch([request]);
      }
    }
    if (this.graceSeal !== undefined) await this.graceSeal;
    await Promise.all(this.runners.map((runner) => runner.idle()));
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    await this.flush();
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const close of this.closers) close();
    await Promise.all(this.runners.map((runner) => runner.idle(true)));
    await Promise.all(
      this.runners.map(async ({ sink }) => {
        try {
          await sink.shutdown?.();
        } catch (error) {
          this.options.logger.warn(`scalesignal: sink "${sink.name}" failed to shut down: ${String(error)}`);
        }
      }),
    );
  }
}
