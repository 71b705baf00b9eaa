/**
 * The Meter: creates OTel instruments over one scalesignal Metrics.
 *
 * Kinds map to scalesignal's three: Counter and ObservableCounter -> counter; UpDownCounter, Gauge,
 * ObservableUpDownCounter and ObservableGauge -> gauge (an up-down counter's running sum is the gauge's value, and
 * the window carries its min, max and last); Histogram -> histogram.
 *
 * A series is its name and attributes; the meter's name, version and schema URL (the instrumentation scope) are
 * not part of it, so two libraries declaring the same instrument share its series, as in Prometheus.
 *
 * Per the API, creating an instrument never throws. A declaration scalesignal cannot honour (an invalid name, a
 * name already used by another kind or with another unit, e.g. scalesignal's own `http.server.request.duration` in
 * ms against instrumentation-http's in s) returns a no-op instrument and warns once through the logger.
 *
 * Advice (`explicitBucketBoundaries`) is accepted and ignored: every scalesignal histogram is base-2 exponential
 * at one scale (0.54 % relative error at scale 6), which answers any quantile more precisely than fixed buckets;
 * sinks that need `le` buckets derive them (see the Prometheus sink's `buckets` option).
 */
import type {
  BatchObservableCallback,
  Counter,
  Gauge,
  Histogram,
  Meter,
  MetricOptions,
  Observable,
  ObservableCounter,
  ObservableGauge,
  ObservableUpDownCounter,
  UpDownCounter,
} from '@opentelemetry/api';
import type { Logger } from '../core/api.js';
import type { ProviderCallbacks } from './callbacks.js';
import type { RecordingTarget } from './target.js';
import { CounterAdapter, GaugeAdapter, HistogramAdapter, UpDownCounterAdapter } from './instruments.js';
import {
  ObservableCounterAdapter,
  ObservableGaugeAdapter,
  ObservableInstrument,
  type CallbackRegistry,
} from './observable.js';


export type OtelKind =
  | 'Counter'
  | 'UpDownCounter'
  | 'Gauge'
  | 'Histogram'
  | 'ObservableCounter'
  | 'ObservableUpDownCounter'
  | 'ObservableGauge';

type Instrument = Counter | UpDownCounter | Gauge | Histogram | Observable;

/** ValueType.INT in @opentelemetry/api (compared by value so this module needs the API's types only). */
const VALUE_TYPE_INT = 0;

const NOOP = Object.freeze({
  add() {},
  record() {},
  addCallback() {},
  removeCallback() {},
});

/** OTel kind per metric name, per Metrics: providers sharing one Metrics must agree. */
const declaredKinds = new WeakMap<RecordingTarget, Map<string, OtelKind>>();

/** State shared by every meter of one provider. */
export class MeterState {
  private readonly instruments = new Map<string, Instrument>();
  private readonly observables = new WeakSet<ObservableInstrument>();
  private readonly warned = new Set<string>();
  private readonly kinds: Map<string, OtelKind>;
  private joined: ProviderCallbacks | null | undefined;

  constructor(
    readonly metrics: RecordingTarget,
    /** Joins the Metrics' callback hub; null when it cannot poll callbacks (a worker thread's Metrics). */
    private readonly connect: () => ProviderCallbacks | null,
    private readonly logger: Logger,
  ) {
    let kinds = declaredKinds.get(metrics);
    if (kinds === undefined) declaredKinds.set(metrics, (kinds = new Map()));
    this.kinds = kinds;
  }

  /** Joined on the first observable instrument, so a provider without any adds no `scalesignal.otel.callbacks` series. */
  get callbacks(): ProviderCallbacks | null {
    if (this.joined === undefined) this.joined = this.connect();
    return this.joined;
  }

  /** Unregisters this provider's callbacks, if it ever registered any. */
  release(): void {
    this.joined?.release();
  }

  instrument(kind: OtelKind, name: string, options: MetricOptions | undefined): Instrument {
    const opts: MetricOptions = typeof options === 'object' && options !== null ? options : {};
    const unit = typeof opts.unit === 'string' ? opts.unit : '';
    const description = typeof opts.description === 'string' ? opts.description : '';
    const integer = opts.valueType === VALUE_TYPE_INT;
    const key = `${kind}\u0000${integer ? 'int' : 'double'}\u0000${unit}\u0000${String(name)}`;
    const existing = this.instruments.get(key);
    if (existing !== undefined) return existing;

    const declared = this.kinds.get(name);
    if (declared !== undefined && declared !== kind) {
      return this.refuse(key, `instrument "${name}" is already a ${declared}; the ${kind} of that name records nothing`);
    }
    let instrument: Instrument;
    try {
      instrument = this.create(kind, name, { unit, description }, integer);
    } catch (error) {
      return this.refuse(key, `${kind} "${name}" records nothing: ${error instanceof Error ? error.message : String(error)}`);
    }
    this.kinds.set(name, kind);
    this.instruments.set(key, instrument);
    if (instrument instanceof ObservableInstrument) this.observables.add(instrument);
    return instrument;
  }

  private create(kind: OtelKind, name: string, options: { unit: string; description: string }, integer: boolean): Instrument {
    const { metrics } = this;
    switch (kind) {
      case 'Counter':
        return new CounterAdapter(metrics.counter(name, options), integer);
      case 'UpDownCounter':
        return new UpDownCounterAdapter(metrics.gauge(name, options), integer);
      case 'Gauge':
        return new GaugeAdapter(metrics.gauge(name, options), integer);
      case 'Histogram':
        return new HistogramAdapter(metrics.histogram(name, options), integer);
      case 'ObservableCounter':
        return new ObservableCounterAdapter(name, integer, this.registry(kind, name), metrics.counter(name, options));
      case 'ObservableUpDownCounter':
      case 'ObservableGauge':
        return new ObservableGaugeAdapter(name, integer, this.registry(kind, name), metrics.gauge(name, options));
    }
  }

  private registry(kind: OtelKind, name: string): CallbackRegistry {
    const callbacks = this.callbacks;
    if (callbacks !== null) return callbacks;
    return {
      add: () => this.warnOnce(`callbacks:${name}`, `${kind} "${name}": callbacks are polled on the main thread; this one never runs`),
      remove: () => {},
    };
  }

  private refuse(key: string, message: string): Instrument {
    this.warnOnce(key, message);
    return NOOP;
  }

  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    try {
      this.logger.warn(`scalesignal/otel: ${message}`);
    } catch {
      // A failing logger must not turn an instrument declaration into a throw.
    }
  }

  /** Observables of this provider only; others (another provider's, the SDK's, no-ops) are ignored. */
  own(observables: unknown): Set<ObservableInstrument> {
    const set = new Set<ObservableInstrument>();
    if (!Array.isArray(observables)) return set;
    for (const observable of observables) {
      if (observable instanceof ObservableInstrument && this.observables.has(observable)) set.add(observable);
    }
    return set;
  }
}

export class ScalesignalMeter implements Meter {
  constructor(private readonly state: MeterState) {}

  createCounter(name: string, options?: MetricOptions): Counter {
    return this.state.instrument('Counter', name, options) as Counter;
  }

  createUpDownCounter(name: string, options?: MetricOptions): UpDownCounter {
    return this.state.instrument('UpDownCounter', name, options) as UpDownCounter;
  }

  createGauge(name: string, options?: MetricOptions): Gauge {
    return this.state.instrument('Gauge', name, options) as Gauge;
  }

  /** `options.advice.explicitBucketBoundaries` is ignored: histograms are exponential (see the module comment). */
  createHistogram(name: string, options?: MetricOptions): Histogram {
    return this.state.instrument('Histogram', name, options) as Histogram;
  }

  createObservableCounter(name: string, options?: MetricOptions): ObservableCounter {
    return this.state.instrument('ObservableCounter', name, options) as ObservableCounter;
  }

  createObservableUpDownCounter(name: string, options?: MetricOptions): ObservableUpDownCounter {
    return this.state.instrument('ObservableUpDownCounter', name, options) as ObservableUpDownCounter;
  }

  createObservableGauge(name: string, options?: MetricOptions): ObservableGauge {
    return this.state.instrument('ObservableGauge', name, options) as ObservableGauge;
  }

  addBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    if (typeof callback !== 'function') return;
    const own = this.state.own(observables);
    if (own.size === 0) return;
    const callbacks = this.state.callbacks;
    if (callbacks === null) {
      this.state.warnOnce('batch', 'batch observable callbacks are polled on the main thread; this one never runs');
      return;
    }
    callbacks.addBatch(callback, own);
  }

  removeBatchObservableCallback(callback: BatchObservableCallback, observables: Observable[]): void {
    this.state.callbacks?.removeBatch(callback, this.state.own(observables));
  }
}
