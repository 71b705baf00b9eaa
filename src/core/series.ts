/**
 * The registry of series: one Series per (metric, label set), each owning an index in the main lane.
 * Unbound calls find their series through a per-metric cache keyed by the label object's insertion order;
 * past `maxSeriesPerMetric` label sets they share one overflow series; series created by unbound calls and
 * idle for `seriesIdleSeconds` are evicted so a long-running service does not grow.
 */
import type { LabelInput } from './api.js';
import type { BucketMapping } from './histogram/mapping.js';
import {
  BoundCounterHandle,
  BoundGaugeHandle,
  BoundHistogramHandle,
  type DropRecorder,
} from './handles.js';
import { allocateBuckets, type Page, type PageAllocator } from './pages.js';
import { ConfigError, ConfigErrorCode } from './errors.js';
import { canonicalize, NO_LABELS, readLabels, type CanonicalLabels, type RawLabels } from './labels.js';
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
  /**
   * Histograms: dense buckets of every slot. The main lane allocates them on the series' first record (an idle
   * histogram costs no bucket memory), so the handle sets this field then; null for counters and gauges.
   */
  buckets: Uint32Array | null;
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
    const location: LaneLocation = { page, index, buckets: null };
    let handle: Handle;
    if (definition.kind === 'counter') {
      handle = new BoundCounterHandle(clock, page, index, definition.name, drops);
    } else if (definition.kind === 'gauge') {
      handle = new BoundGaugeHandle(clock, page, index, definition.name, drops);
    } else {
      // A worker's lane announces its bucket buffer when the series is created: shared buckets exist from the start.
      if (this.options.shared === true) location.buckets = allocateBuckets(allocator.slots, mapping.size, true);
      handle = new BoundHistogramHandle(clock, page, index, location, mapping.tables, mapping.size, definition.name, drops);
    }
    const series = new Series(definition, labels, labelKey, location, pageNumber, handle, this.options.now());
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
 * Cache for unbound calls: a trie walked in the label object's own key order, label name then raw value at each
 * level, ending at the series. A hit costs a for-in walk and two Map lookups per label, with no string
 * building and no allocation. Each key order of the same labels gets its own path to the same series.
 *
 * Bounded: only exact inputs are cached (every key kept and every value unchanged by canonicalisation), so inputs
 * that all resolve to one series (long values differing after the cut, keys with undefined values, rejected names)
 * add nothing;
 * rejected inputs and the overflow series are never cached; and past `maxCacheNodes` (label orders, number vs
 * string values) the trie is dropped and rebuilt from the next lookups.
 */
interface TrieNode {
  names: Map<string, Map<unknown, TrieNode>>;
  series: Series | undefined;
}

/** Leaves share one empty map until a longer path goes through them: a leaf costs no Map of its own. */
const NO_NAMES: Map<string, Map<unknown, TrieNode>> = new Map();
const newNode = (): TrieNode => ({ names: NO_NAMES, series: undefined });

/** Trie nodes per family allowed per series the family may hold (a path has one node per label). */
export const CACHE_NODES_PER_SERIES = 16;

/** All series of one metric name. */
export class Family {
  /** Canonical label key -> series. */
  readonly byLabels = new Map<string, Series>();
  private trie: TrieNode = newNode();
  private nodes = 0;
  private readonly maxCacheNodes: number;
  private unlabelled: Series | undefined;
  private overflow: Series | undefined;

  constructor(
    readonly definition: MetricDefinition,
    private readonly table: SeriesTable,
  ) {
    this.maxCacheNodes = Math.max(1024, CACHE_NODES_PER_SERIES * table.options.maxSeriesPerMetric);
  }

  /** Nodes in the lookup cache (tests and benches: it must stay bounded whatever the input). */
  get cacheSize(): number {
    return this.nodes;
  }

  /**
   * The series for an unbound call, or undefined when the labels are unusable (the recording is then dropped and
   * counted). Never throws: getters and Proxy traps are read inside a try.
   */
  lookup(labels: unknown): Series | undefined {
    if (labels === undefined || labels === null) return this.unlabelled ?? this.resolve(undefined);
    if (typeof labels !== 'object') return this.reject();
    try {
      let node = this.trie;
      for (const name in labels) {
        const child = node.names.get(name)?.get((labels as Record<string, unknown>)[name]);
        if (child === undefined) return this.resolve(labels);
        node = child;
      }
      return node.series ?? this.resolve(labels);
    } catch {
      return this.reject();
    }
  }

  /** The series for bind(): pinned so eviction never pulls storage from under a live handle. */
  bind(labels: LabelInput | undefined | null): Series {
    // Not through the lookup cache: a bound series is resolved once, its path would only cost memory.
    const series = labels === undefined || labels === null ? this.lookup(labels) : this.resolve(labels, false);
    if (series === undefined) throw new ConfigError(`${this.definition.name}.bind(): labels cannot be read`, ConfigErrorCode.labels);
    series.pinned = true;
    return series;
  }

  private reject(): undefined {
    this.table.options.drops.drop(this.definition.name, 'invalid_labels');
    return undefined;
  }

  private resolve(labels: object | undefined, cache = true): Series | undefined {
    if (labels === undefined) {
      const series = this.seriesFor(NO_LABELS);
      if (series !== this.overflow) this.unlabelled = series;
      return series;
    }
    const raw = readLabels(labels);
    if (raw === undefined) return this.reject();
    const canonical = canonicalize(raw);
    const series = this.seriesFor(canonical);
    // Not cached: the overflow path must stay bounded however many label sets arrive.
    if (cache && canonical.exact && series !== this.overflow) this.remember(raw, series);
    return series;
  }

  private seriesFor(canonical: CanonicalLabels): Series {
    let series = this.byLabels.get(canonical.key);
    if (series === undefined) {
      if (this.byLabels.size >= this.table.options.maxSeriesPerMetric) return this.overflowSeries();
      series = this.table.create(this.definition, canonical.labels, canonical.key);
      this.byLabels.set(canonical.key, series);
    }
    return series;
  }

  /** Caches the path of values exactly as the caller passed them (read once, so a getter cannot change them). */
  private remember(raw: RawLabels, series: Series): void {
    if (this.nodes + raw.names.length > this.maxCacheNodes) {
      this.trie = newNode();
      this.nodes = 0;
    }
    let node = this.trie;
    for (let i = 0; i < raw.names.length; i++) {
      if (node.names === NO_NAMES) node.names = new Map();
      const names = node.names;
      let byValue = names.get(raw.names[i]);
      if (byValue === undefined) names.set(raw.names[i], (byValue = new Map()));
      let child = byValue.get(raw.values[i]);
      if (child === undefined) {
        byValue.set(raw.values[i], (child = newNode()));
        this.nodes++;
      }
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
    this.nodes = 0;
    if (this.unlabelled === series) this.unlabelled = undefined;
  }
}
