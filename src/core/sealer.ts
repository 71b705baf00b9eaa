/**
 * The sealer turns one finished slot of every lane into an immutable Window, then clears that slot.
 * It runs on the main thread, off the hot path, once per interval.
 */
import { bucketMapping, type BucketMapping } from './histogram/mapping.js';
import { quantilesInto } from './histogram/quantiles.js';
import { WINDOW_QUANTILES } from './histogram/window-histograms.js';
import { clearSlot, PAGE_SIZE } from './pages.js';
import type { Series, SeriesTable } from './series.js';
import type { HistogramBuckets, Resource, SeriesWindow, Window } from './window.js';

/** Largest count stored as a small integer (V8 Smi on every platform). */
const SMALL_INTEGER_MAX = 0x3fffffff;

export interface SealRequest {
  /** Window sequence: floor(start / intervalMs). */
  readonly sequence: number;
  readonly start: number;
  readonly end: number;
  /** The interval's start on the boundary grid (sequence * intervalMs). */
  readonly timestamp: number;
  /** Slot to read, or -1 for a second that no lane could write (its slot is reused by a later second). */
  readonly slot: number;
}


export class Sealer {
  private readonly scratch: Float64Array;
  /** zeroCount + every count of the buckets collectBuckets returned last. */
  private bucketTotal = 0;
  private readonly mapping: BucketMapping;
  private readonly quantiles = new Float64Array(WINDOW_QUANTILES.length);

  constructor(
    private readonly table: SeriesTable,
    scale: number,
    private readonly resource: Resource,
    private readonly idleWindows: number,
  ) {
    this.mapping = bucketMapping(scale);
    this.scratch = new Float64Array(this.mapping.size);
  }

  seal(request: SealRequest): Window {
    // The rest of an interval a flush() cut up to its boundary is empty (it is carried and merged): never divide by 0.
    const seconds = Math.max(request.end - request.start, 1) / 1000;
    const series: SeriesWindow[] = [];
    const evictable: Series[] = [];
    for (const entry of this.table.all) {
      const window = this.sealSeries(entry, request, seconds);
      if (window !== undefined) series.push(Object.freeze(window));
      if (this.idleWindows > 0 && this.isIdle(entry, request.sequence)) evictable.push(entry);
    }
    for (const entry of evictable) {
      const family = this.table.families.get(entry.metric.name);
      if (family !== undefined) this.table.evict(entry, family);
    }
    return Object.freeze({
      start: request.start,
      end: request.end,
      timestamp: request.timestamp,
      resource: this.resource,
      series: Object.freeze(series),
    });
  }

  private isIdle(entry: Series, sequence: number): boolean {
    if (entry.pinned || entry.locations.length > 1) return false;
    if (sequence - entry.lastActive < this.idleWindows) return false;
    // A gauge that still holds a non-zero value is state, not an idle series.
    if (entry.metric.kind === 'gauge') {
      const value = entry.previousByLane[0];
      return value === 0 || Number.isNaN(value);
    }
    return true;
  }

  private sealSeries(entry: Series, request: SealRequest, seconds: number): SeriesWindow | undefined {
    const { slot } = request;
    let count = 0;
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    let last = NaN;
    let gaugeValue = 0;
    let gaugeSeen = false;
    let minLow = 0;
    let maxHigh = 0;
    const kind = entry.metric.kind;
    for (let lane = 0; lane < entry.locations.length; lane++) {
      const { page, index } = entry.locations[lane];
      let laneCount = 0;
      let laneMin = Infinity;
      let laneMax = -Infinity;
      let laneLast = NaN;
      if (slot >= 0) {
        const o = slot * PAGE_SIZE + index;
        laneCount = page.count[o];
        if (laneCount > 0) {
          count += laneCount;
          sum += page.sum[o];
          laneMin = page.min[o];
          laneMax = page.max[o];
          laneLast = page.last[o];
          if (laneMin < min) min = laneMin;
          if (laneMax > max) max = laneMax;
          last = laneLast;
        }
      }
      if (kind === 'gauge') {
        // Gauges across lanes add up (each thread holds its part, like an up-down counter).
        const previous = entry.previousByLane[lane] ?? NaN;
        const end = laneCount > 0 ? laneLast : previous;
        if (!Number.isNaN(end)) {
          gaugeSeen = true;
          gaugeValue += end;
          const startValue = Number.isNaN(previous) ? end : previous;
          minLow += Math.min(startValue, laneCount > 0 ? laneMin : end);
          maxHigh += Math.max(startValue, laneCount > 0 ? laneMax : end);
        }
        entry.previousByLane[lane] = end;
      }
    }
    if (count > 0) entry.lastActive = request.sequence;

    if (kind === 'gauge') {
      if (slot >= 0) this.clear(entry, slot);
      if (!gaugeSeen) return undefined;
      return plainWindow(entry, count, sum, minLow, maxHigh, gaugeValue, count / seconds, gaugeValue);
    }
    if (kind === 'counter') {
      if (!(entry.total + sum < Infinity)) {
        // The cumulative total must stay finite (Prometheus and OTLP report it): this window's records are dropped.
        this.table.options.drops.drop(entry.metric.name, 'overflow', count);
        count = 0;
        sum = 0;
        last = NaN;
      }
      entry.total += sum;
      if (slot >= 0) this.clear(entry, slot);
      return plainWindow(entry, count, sum, NaN, NaN, last, sum / seconds, entry.total);
    }
    if (count === 0) {
      if (slot >= 0) this.clear(entry, slot);
      return histogramWindow(entry, 0, 0, NaN, NaN, last, 0, NaN, NaN, NaN, NaN, EMPTY_BUCKETS(this.mapping.scale));
    }
    const buckets = this.collectBuckets(entry, slot, min, max);
    if (slot >= 0) this.clear(entry, slot);
    const q = this.quantiles;
    quantilesInto(buckets, WINDOW_QUANTILES, min, max, q, this.bucketTotal);
    return histogramWindow(entry, count, sum, min, max, last, count / seconds, q[0], q[1], q[2], q[3], buckets);
  }

  /** Sums the slot's buckets of every lane over [index(min), index(max)] only: the rest is known to be zero. */
  private collectBuckets(entry: Series, slot: number, min: number, max: number): HistogramBuckets {
    const { mapping } = this;
    const stride = mapping.size + 1;
    const base = slot * stride;
    const low = min > 0 ? mapping.denseIndex(min) : 0;
    const high = max > 0 ? mapping.denseIndex(max) : -1;
    let zeroCount = 0;
    // One lane (the main thread's): read its buckets in place; several: sum them into the scratch row first.
    let source: Uint32Array | Float64Array | null = null;
    let offset = 0;
    if (entry.locations.length === 1) {
      source = entry.locations[0].buckets;
      offset = base;
      if (source !== null) zeroCount = source[base + mapping.size];
    } else {
      source = this.scratch;
      for (let i = low; i <= high; i++) source[i] = 0;
      for (const { buckets } of entry.locations) {
        if (buckets === null) continue;
        zeroCount += buckets[base + mapping.size];
        for (let i = low; i <= high; i++) source[i] += buckets[base + i];
      }
    }
    let first = low;
    let lastNonZero = high;
    if (source === null) lastNonZero = first - 1;
    else {
      while (first <= high && source[offset + first] === 0) first++;
      while (lastNonZero >= first && source[offset + lastNonZero] === 0) lastNonZero--;
    }
    const length = lastNonZero - first + 1;
    // Sized once and filled with small integers: a pushed (growing) array of doubles cost ~3x as much, and
    // Object.freeze boxes every double of a double array into a heap number (garbage once a second).
    const counts: number[] = new Array<number>(length > 0 ? length : 0);
    let total = zeroCount;
    for (let i = 0; i < length; i++) {
      const c = source![offset + first + i];
      counts[i] = c <= SMALL_INTEGER_MAX ? c | 0 : c;
      total += c;
    }
    // What the quantiles rank against, summed here so they need no pass of their own.
    this.bucketTotal = total;
    return Object.freeze({
      scale: mapping.scale,
      offset: length > 0 ? mapping.offset + first : 0,
      counts: Object.freeze(counts),
      zeroCount,
    });
  }

  private clear(entry: Series, slot: number): void {
    const stride = this.mapping.size + 1;
    for (const location of entry.locations) {
      const o = slot * PAGE_SIZE + location.index;
      const { buckets, page } = location;
      if (buckets !== null && page.count[o] > 0) {
        const base = slot * stride;
        const low = page.min[o] > 0 ? this.mapping.denseIndex(page.min[o]) : 0;
        const high = page.max[o] > 0 ? this.mapping.denseIndex(page.max[o]) : -1;
        buckets.fill(0, base + low, base + high + 1);
        buckets[base + this.mapping.size] = 0;
      }
      clearSlot(page, slot, location.index);
    }
  }
}

// Series windows are built by two literal functions with a fixed field order (no spread, no closures): sealing
// 1,000 series once a second must stay a sub-millisecond pause for the host's event loop.
function plainWindow(entry: Series, count: number, sum: number, min: number, max: number, last: number, rate: number, total: number): SeriesWindow {
  const { metric } = entry;
  return {
    name: metric.name,
    unit: metric.unit,
    description: metric.description,
    kind: metric.kind,
    labels: entry.labels,
    key: entry.key,
    count,
    sum,
    min,
    max,
    last,
    rate,
    total,
    p50: NaN,
    p90: NaN,
    p95: NaN,
    p99: NaN,
  };
}

function histogramWindow(
  entry: Series,
  count: number,
  sum: number,
  min: number,
  max: number,
  last: number,
  rate: number,
  p50: number,
  p90: number,
  p95: number,
  p99: number,
  buckets: HistogramBuckets,
): SeriesWindow {
  const { metric } = entry;
  return {
    name: metric.name,
    unit: metric.unit,
    description: metric.description,
    kind: metric.kind,
    labels: entry.labels,
    key: entry.key,
    count,
    sum,
    min,
    max,
    last,
    rate,
    total: count,
    p50,
    p90,
    p95,
    p99,
    buckets,
  };
}

function EMPTY_BUCKETS(scale: number): HistogramBuckets {
  return Object.freeze({ scale, offset: 0, counts: Object.freeze([]) as readonly number[], zeroCount: 0 });
}
