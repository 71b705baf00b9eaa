/** The exposition data model between the sink's state and the renderers: immutable once built for a scrape. */
import type { NativeHistogram } from './native.js';

export type FamilyType = 'counter' | 'gauge' | 'histogram';

/** The labels of a sample that has none of its own (one shared object). */
export const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

export interface Sample {
  /** Set for histogram parts (`_bucket`, `_sum`, `_count`); absent means the family name. */
  readonly metricName?: string;
  /** Sample-specific labels (`le`); usually empty. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * The series' labels. prom-client's own Histogram passes them this way: the Registry formats each such object
   * once and caches the string by identity, so a series' labels are escaped once in its lifetime, not per scrape.
   */
  readonly sharedLabels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * One histogram series. The text formats expand it into `_bucket`/`_sum`/`_count` samples a chunk at a time
 * while rendering (render.ts): a snapshot holding 25 sample objects per series would be ~30,000 objects at 1,000
 * histograms, all surviving into the next scavenge, which then pauses the host for milliseconds.
 */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>;
  readonly count: number;
  /** In the exposed unit. */
  readonly sum: number;
  /** Classic buckets: upper bounds in the exposed unit, ascending, their `le` labels, and their cumulative counts. */
  readonly bounds: readonly number[];
  readonly boundLabels: readonly Readonly<Record<string, string>>[];
  readonly cumulative: readonly number[];
  /** The native histogram, when the snapshot was taken for the protobuf exposition (the only one carrying it). */
  readonly native?: NativeHistogram;
}

interface FamilyBase {
  /** Counters: the text-format name, ending in `_total` (prom-client strips it for OpenMetrics). */
  readonly name: string;
  readonly help: string;
}

export interface ValueFamily extends FamilyBase {
  readonly type: 'counter' | 'gauge';
  readonly samples: readonly Sample[];
}

export interface HistogramFamily extends FamilyBase {
  readonly type: 'histogram';
  readonly series: readonly HistogramSeries[];
}

export type Family = ValueFamily | HistogramFamily;
