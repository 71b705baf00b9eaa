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
import { allocateBuckets, type Page, type PageAllocator } from './pages.js';
import { canonicalLabels } from './labels.js';
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

  /** A worker lane's mirror joins the series: the sealer reads locations[i] with previousByLane[i]. */
  attach(location: LaneLocation): void {
    this.locations.push(location);
    this.previousByLane.push(NaN);
  }

  detach(location: LaneLocation): void {
    const at = this.locations.indexOf(location);
    if (at > 0) {
      this.locations.splice(at, 1);
      this.previousByLane.splice(at, 1);
    }
  }
}

export interface TableOptions {
  readonly clock: Int32Array;
  readonly allocator: PageAllocator;
  readonly mapping: BucketMapping;
  readonly maxSeriesPerMetric: number;
  readonly drops: DropRecorder;
  /** Current window sequence, for idle tracking. */
  readonly now: () => number;
  /** Histogram buckets in SharedArrayBuffers: a worker's lane, read by the main thread's sealer. */
  readonly shared?: boolean;
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
      buckets = allocateBuckets(allocator.slots, mapping.size, this.options.shared === true);
      handle = new BoundHistogramHandle(clock, page, index, buckets, mapping.tables, mapping.size, definition.name, drops);
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

/**
 * Cache for unbound calls: a trie walked in the label object's own key order, label name then value at each
 * level, ending at the series. A hit costs a for-in walk and two Map lookups per label, with no string
 * building and no allocation. Each key order of the same labels gets its own path to the same series.
 */
interface TrieNode {
  readonly names: Map<string, Map<unknown, TrieNode>>;
  series: Series | undefined;
}

const newNode = (): TrieNode => ({ names: new Map(), series: undefined });

/** All series of one metric name. */
export class Family {
  /** Canonical label key -> series. */
  readonly byLabels = new Map<string, Series>();
  private trie: TrieNode = newNode();
  private unlabelled: Series | undefined;
  private overflow: Series | undefined;

  constructor(
    readonly definition: MetricDefinition,
    private readonly table: SeriesTable,
  ) {}

  /** The series for an unbound call; cached so the next call with the same label order is one map lookup. */
  lookup(labels: LabelInput | undefined): Series {
    if (labels === undefined) return (this.unlabelled ??= this.resolve(undefined));
    let node = this.trie;
    for (const name in labels) {
      const child = node.names.get(name)?.get(labels[name]);
      if (child === undefined) return this.resolve(labels);
      node = child;
    }
    return node.series ?? this.resolve(labels);
  }

  /** The series for bind(): pinned so eviction never pulls storage from under a live handle. */
  bind(labels: LabelInput | undefined): Series {
    const series = labels === undefined ? this.lookup(undefined) : this.lookup(labels);
    series.pinned = true;
    return series;
  }

  private resolve(labels: LabelInput | undefined): Series {
    const canonical = canonicalLabels(labels);
    let series = this.byLabels.get(canonical.key);
    if (series === undefined) {
      if (this.byLabels.size >= this.table.options.maxSeriesPerMetric) {
        // Not cached: the overflow path must stay bounded however many label sets arrive.
        return this.overflowSeries();
      }
      series = this.table.create(this.definition, canonical.labels, canonical.key);
      this.byLabels.set(canonical.key, series);
    }
    if (labels === undefined) this.unlabelled = series;
    else this.remember(labels, series);
    return series;
  }

  private remember(labels: LabelInput, series: Series): void {
    let node = this.trie;
    for (const name in labels) {
      let byValue = node.names.get(name);
      if (byValue === undefined) node.names.set(name, (byValue = new Map()));
      let child = byValue.get(labels[name]);
      if (child === undefined) byValue.set(labels[name], (child = newNode()));
      node = child;
    }
    node.series = series;
  }

  /** Public so a worker's overflow series joins the main thread's overflow series (src/workers/link.ts). */
  overflowSeries(): Series {
    if (this.overflow === undefined) {
      this.overflow = this.table.create(this.definition, OVERFLOW_LABELS, 'otel.metric.overflow="true"');
      this.overflow.pinned = true;
    }
    return this.overflow;
  }

  forget(series: Series): void {
    this.byLabels.delete(series.labelKey);
    // Evictions are rare and batched per window: rebuilding the cache lazily keeps the trie free of dead paths.
    this.trie = newNode();
    if (this.unlabelled === series) this.unlabelled = undefined;
  }
}
