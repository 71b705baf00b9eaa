/**
 * The registry of series: one Series per (metric, label set), each owning an index in the main lane.
 * Unbound calls find their series through a per-metric cache keyed by the label object's insertion order;
 * past `maxSeriesPerMetric` label sets they share one overflow series; series created by unbound calls and
 * idle for `seriesIdleSeconds` are evicted so a long-running service does not grow.
 */
import type { LabelInput } from './api.js';
import type { BucketMapping } from './exponential-histogram.js';
import {
  BoundCounterHandle,
  BoundGaugeHandle,
  BoundHistogramHandle,
  type DropRecorder,
} from './handles.js';
import { allocateBuckets, type Page, type PageAllocator } from './lane.js';
import { canonicalLabels, insertionKey } from './labels.js';
import type { Labels, MetricKind } from './window.js';

export const OVERFLOW_LABELS: Labels = Object.freeze({ 'otel.metric.overflow': 'true' });

export interface MetricDefinition {
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly description: string;
}

/** Where a series lives in one lane (the main lane, or a worker's shared lane). */
export interface LaneLocation {
  readonly page: Page;
  readonly index: number;
  readonly buckets: Uint32Array | null;
}

export type Handle = BoundCounterHandle | BoundGaugeHandle | BoundHistogramHandle;

export class Series {
  /** Pinned series (bound, overflow, observed) are never evicted: a handle may still write to them. */
  pinned = false;
  /** Last window sequence in which the series recorded anything. */
  lastActive: number;
  /** Counters: cumulative total since creation. */
  total = 0;
  /** Cache keys of the family that point at this series (removed on eviction). */
  readonly aliases: string[] = [];
  /** Lanes holding records of this series: [0] is the main lane, then worker lanes. */
  readonly locations: LaneLocation[];
  /** Gauges: each lane's value at the end of the previous window (NaN until that lane first sets it). */
  readonly previousByLane: number[] = [NaN];

  constructor(
    readonly metric: MetricDefinition,
    readonly labels: Labels,
    /** Sorted `name="value"` pairs: the identity of the label set within its metric. */
    readonly labelKey: string,
    readonly local: LaneLocation,
    readonly pageNumber: number,
    readonly handle: Handle,
    createdAt: number,
  ) {
    this.lastActive = createdAt;
    this.locations = [local];
    this.key = `${metric.name}{${labelKey}}`;
  }

  /** Identity across windows: name plus sorted labels. */
  readonly key: string;
}

export interface TableOptions {
  readonly clock: Int32Array;
  readonly allocator: PageAllocator;
  readonly mapping: BucketMapping;
  readonly maxSeriesPerMetric: number;
  readonly drops: DropRecorder;
  /** Current window sequence, for idle tracking. */
  readonly now: () => number;
}

export class SeriesTable {
  /** Every live series in creation order: the order windows list them in. */
  readonly all = new Set<Series>();
  readonly families = new Map<string, Family>();

  constructor(readonly options: TableOptions) {}

  family(definition: MetricDefinition): Family {
    let family = this.families.get(definition.name);
    if (family === undefined) {
      family = new Family(definition, this);
      this.families.set(definition.name, family);
    }
    return family;
  }

  create(definition: MetricDefinition, labels: Labels, labelKey: string): Series {
    const { allocator, clock, mapping, drops } = this.options;
    const { page, index, pageNumber } = allocator.allocate();
    let buckets: Uint32Array | null = null;
    let handle: Handle;
    if (definition.kind === 'counter') {
      handle = new BoundCounterHandle(clock, page, index, definition.name, drops);
    } else if (definition.kind === 'gauge') {
      handle = new BoundGaugeHandle(clock, page, index, definition.name, drops);
    } else {
      buckets = allocateBuckets(allocator.slots, mapping.size, false);
      handle = new BoundHistogramHandle(clock, page, index, buckets, mapping.denseIndex, mapping.size, definition.name, drops);
    }
 const series = new Series(definition, labels, labelKey, { page, index, buckets }, pageNumber, handle, this.options.now());
    this.all.add(series);
    return series;
  }

  evict(series: Series, family: Family): void {
    this.all.delete(series);
    family.forget(series);
    this.options.allocator.release(series.pageNumber, series.local.index);
  }
}

/** All series of one metric name. */
export class Family {
  /** Canonical label key -> series. */
  readonly byLabels = new Map<string, Series>();
  /** Insertion-order label key -> series, for unbound calls. */
  private readonly cache = new Map<string, Series>();
  private unlabelled: Series | undefined;
  private overflow: Series | undefined;
  overflowRecords = 0;

  constructor(
    readonly definition: MetricDefinition,
    private readonly table: SeriesTable,
  ) {}

  /** The series for an unbound call; cached so the next call with the same label order is one map lookup. */
  lookup(labels: LabelInput | undefined): Series {
    if (labels === undefined) return (this.unlabelled ??= this.resolve(undefined, ''));
    const alias = insertionKey(labels);
    return this.cache.get(alias) ?? this.resolve(labels, alias);
  }

  /** The series for bind(): pinned so eviction never pulls storage from under a live handle. */
  bind(labels: LabelInput | undefined): Series {
    const series = labels === undefined ? this.lookup(undefined) : this.lookup(labels);
    series.pinned = true;
    return series;
  }

  private resolve(labels: LabelInput | undefined, alias: string): Series {
    const canonical = canonicalLabels(labels);
    let series = this.byLabels.get(canonical.key);
    if (series === undefined) {
      if (this.byLabels.size >= this.table.options.maxSeriesPerMetric) {
        // Not cached: the overflow path must stay bounded however many label sets arrive.
        this.overflowRecords++;
        return this.overflowSeries();
      }
      series = this.table.create(this.definition, canonical.labels, canonical.key);
      this.byLabels.set(canonical.key, series);
    }
    if (labels === undefined) {
      this.unlabelled = series;
    } else {
      this.cache.set(alias, series);
      series.aliases.push(alias);
    }
    return series;
  }

  private overflowSeries(): Series {
    if (this.overflow === undefined) {
      this.overflow = this.table.create(this.definition, OVERFLOW_LABELS, 'otel.metric.overflow="true"');
      this.overflow.pinned = true;
    }
    return this.overflow;
  }

  forget(series: Series): void {
    this.byLabels.delete(series.labelKey);
    for (const alias of series.aliases) this.cache.delete(alias);
    if (this.unlabelled === series) this.unlabelled = undefined;
  }
}
