/**
 * The Window: one sealed interval (one second by default) of every live series.
 * This is the custom-sink contract: every sink receives the same read-only Windows.
 */

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export type Labels = Readonly<Record<string, string>>;

/** Base-2 exponential histogram buckets, the OTel ExponentialHistogram layout (positive range only). */
export interface HistogramBuckets {
  /** base = 2^(2^-scale); scale 6 gives 0.54 % relative error. */
  readonly scale: number;
  /** Index of counts[0]: bucket i covers (base^(offset+i), base^(offset+i+1)]. */
  readonly offset: number;
  /** Dense counts from `offset` upwards; empty when the window saw no positive value. */
  readonly counts: readonly number[];
  /** Values equal to zero. */
  readonly zeroCount: number;
}

export interface SeriesWindow {
  /** Canonical name, dotted OTel style, e.g. `http.server.request.duration`. */
  readonly name: string;
  /** UCUM unit, e.g. `ms`, `s`, `By`, `{request}`; empty string when unitless. */
  readonly unit: string;
  readonly description: string;
  readonly kind: MetricKind;
  readonly labels: Labels;
  /** Stable identity of the series across windows: name plus sorted labels. */
  readonly key: string;
  /** Recordings in the window (counter adds, gauge changes, histogram records). */
  readonly count: number;
  /** Sum of recorded values (counters: the increase in this window). */
  readonly sum: number;
  /**
   * Smallest / largest value in the window; for gauges this includes the value held at the window's start.
   * NaN for counters (an add's size is not a signal) and for empty histograms.
   */
  readonly min: number;
  readonly max: number;
  /** Gauges: the value at the window's end. Counters: the last added value (NaN when none). Histograms: NaN. */
  readonly last: number;
  /** Counters: increase per second over the window. Others: recordings per second. */
  readonly rate: number;
  /** Counters: running total since the series was created (what cumulative backends export). */
  readonly total: number;
  /** Histograms only, NaN when the window is empty; clamped to [min, max]. */
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  /** Histograms only. */
  readonly buckets?: HistogramBuckets;
}

export interface Window {
  /** Epoch milliseconds, inclusive. */
  readonly start: number;
  /**
   * Epoch milliseconds, exclusive; `end - start` is the interval except for a window cut short by flush(). Always
   * after `start` and after the previous window's end (OTLP stamps points with it: a repeat is a duplicate point).
   */
  readonly end: number;
  /**
   * Epoch milliseconds of the interval this window is reported at: push sinks stamp datapoints with it. No two
   * windows share one, even when flush() cut an interval in two (the rest of it is carried into the next window).
   */
  readonly timestamp: number;
  /** Service identity and resource attributes shared by every series. */
  readonly resource: Resource;
  /** Every live series, including counters and gauges that did not change (so rates read 0, not "no data"). */
  readonly series: readonly SeriesWindow[];
}

export interface Resource {
  readonly service: string;
  /** Pod, namespace, node and OTEL_RESOURCE_ATTRIBUTES entries; never used as CloudWatch dimensions by default. */
  readonly attributes: Readonly<Record<string, string>>;
}

/** Quantile of a histogram series by name, e.g. `quantile(s, 0.99)`; clamps to [min, max]. */
export type QuantileName = 'p50' | 'p90' | 'p95' | 'p99';
