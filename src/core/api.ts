import type { Logger } from './logger.js';
import type { Sink } from './sink.js';

export type { Logger } from './logger.js';

/** Label values may be given as numbers, booleans or bigints; they are stored as strings. */
export type LabelInput = Readonly<Record<string, string | number | boolean | bigint>>;

export interface InstrumentOptions {
  /** UCUM unit: `ms`, `s`, `By`, `1`, `{request}`. Default: empty (unitless). */
  unit?: string;
  description?: string;
}

export interface ObservedValue {
  value: number;
  labels?: LabelInput;
}

export interface GaugeOptions extends InstrumentOptions {
  /**
   * Polled once per window, never overlapping; `signal` aborts after `observeTimeoutMs` (pass it to your SDK call).
   * Return a number, or one value per label set. A throw, a rejection or a timeout is counted, never propagated.
   */
  observe?: (signal: AbortSignal) => number | readonly ObservedValue[] | Promise<number | readonly ObservedValue[]>;
}

export interface BoundCounter {
  /** Adds a non-negative finite value; anything else is dropped and counted. */
  add(value: number): void;
}
export interface Counter {
  readonly name: string;
  add(value: number, labels?: LabelInput): void;
  /** Resolves the label set once; the handle records without lookups or allocation. */
  bind(labels?: LabelInput): BoundCounter;
}

export interface BoundGauge {
  set(value: number): void;
  add(delta: number): void;
}
export interface Gauge {
  readonly name: string;
  set(value: number, labels?: LabelInput): void;
  add(delta: number, labels?: LabelInput): void;
  bind(labels?: LabelInput): BoundGauge;
}

/** Stops a timer and records the elapsed milliseconds; returns them. Calling it again records nothing. */
export type StopTimer = () => number;

export interface BoundHistogram {
  /** Records a non-negative finite value; anything else is dropped and counted. */
  record(value: number): void;
  startTimer(): StopTimer;
}
export interface Histogram {
  readonly name: string;
  record(value: number, labels?: LabelInput): void;
  bind(labels?: LabelInput): BoundHistogram;
  startTimer(labels?: LabelInput): StopTimer;
}


export interface MetricsOptions {
  /** Service name. Default: `OTEL_SERVICE_NAME`, else `unknown_service:node`. */
  service?: string;
  /** Window length in ms. Default 1000. Allowed: 100..60000, dividing 60000 evenly. */
  intervalMs?: number;
  /**
   * Where windows go. Default: the sinks named in `SCALESIGNAL_SINKS` (e.g. `prometheus,emf`);
   * when that is unset, the console sink unless `NODE_ENV=production`.
   */
  sinks?: readonly Sink[];
  /** Slots in the recording ring (W). Default 4. Allowed: 2..64. */
  slots?: number;
  /** Exponential histogram scale. Default 6 (0.54 % relative error). Allowed: 0..8. */
  histogramScale?: number;
  /** Label sets per metric before recordings go to the `otel.metric.overflow="true"` series. Default 2000. */
  maxSeriesPerMetric?: number;
  /** Series created by unbound calls and idle this long are evicted. Default 300. 0 disables eviction. */
  seriesIdleSeconds?: number;
  /** Timeout for an observed gauge's callback. Default: half the interval. */
  observeTimeoutMs?: number;
  /** Extra resource attributes (merged over the environment's). */
  resource?: Readonly<Record<string, string>>;
  /** Event-loop delay and utilisation gauges. Default true. */
  eventLoop?: boolean;
  /** Where sink failures and one-time notices go. Default: stderr, at most once a minute per sink. */
  logger?: Logger;
  /** Longest `shutdown()` waits for every sink to deliver and close. Default 5000 (under Kubernetes' 30 s grace). */
  shutdownTimeoutMs?: number;
  /**
   * Flush on SIGTERM and SIGINT (within `shutdownTimeoutMs`), then let the process exit as it would have: the
   * signal is raised again when no other listener handles it. Default false.
   */
  handleSignals?: boolean;
}

export interface ShutdownOptions {
  /** Overrides `shutdownTimeoutMs` for this call. */
  timeoutMs?: number;
}

export interface Metrics {
  readonly intervalMs: number;
  counter(name: string, options?: InstrumentOptions): Counter;
  gauge(name: string, options?: GaugeOptions): Gauge;
  histogram(name: string, options?: InstrumentOptions): Histogram;
  /**
   * Seals the partial window now and resolves once every window sealed up to this call has been delivered or
   * given up by every sink (never waiting on windows sealed later).
   */
  flush(): Promise<void>;
  /**
   * flush(), then stops the timer and shuts every sink down, all within `timeoutMs` (default `shutdownTimeoutMs`).
   * Never rejects; calling it again returns the same promise. Recording afterwards is a no-op.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}
