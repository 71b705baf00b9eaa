/**
 * Bound handles: the recording hot path. Each holds direct references to its lane's typed arrays and its
 * series index, so a record is a clock read plus a few typed-array stores: no lookup, no allocation, no throw.
 * The clock is an Int32Array whose element 0 is the current slot; the scheduler advances it.
 */
import type { BoundCounter, BoundGauge, BoundHistogram, StopTimer } from './api.js';
import { HI, LO, scratch, scratchWords, type IndexTables } from './histogram/mapping.js';
import { PAGE_SIZE, type Page } from './pages.js';

/** Why a recording was dropped: `overflow` when adding it would make a sum infinite, `invalid_labels` (unbound calls). */
export type DropReason = 'non_finite' | 'negative' | 'not_a_number' | 'overflow' | 'invalid_labels';

export interface DropRecorder {
  /** `recordings` defaults to 1. */
  drop(metric: string, reason: DropReason, recordings?: number): void;
}

function reasonFor(value: unknown): DropReason {
  if (typeof value !== 'number') return 'not_a_number';
  if (value < 0) return 'negative';
  return value < Infinity ? 'overflow' : 'non_finite';
}

/** Where a histogram's buckets live; the main lane's are allocated on first record (src/core/series.ts). */
export interface BucketHolder {
  buckets: Uint32Array | null;
}

const NO_BUCKETS = new Uint32Array(0);

export class BoundCounterHandle implements BoundCounter {
  private readonly count: Float64Array;
  private readonly pageSize = PAGE_SIZE;
  private readonly sum: Float64Array;
  private readonly last: Float64Array;

  constructor(
    private readonly clock: Int32Array,
    page: Page,
    private readonly index: number,
    private readonly metric: string,
    private readonly drops: DropRecorder,
  ) {
    this.count = page.count;
    this.sum = page.sum;
    this.last = page.last;
  }

  add(value: number): void {
    if (typeof value === 'number' && value >= 0) {
      const o = this.clock[0] * this.pageSize + this.index;
      const sum = this.sum[o] + value;
      // Also false for NaN and Infinity; a sum that would overflow is dropped, never stored as Infinity.
      if (sum < Infinity) {
        this.sum[o] = sum;
        this.last[o] = value;
        this.count[o]++; // last (here and below): a counted record is complete for a worker lane's reader (src/workers/link.ts)
        return;
      }
    }
    this.drops.drop(this.metric, reasonFor(value));
  }
}

function gaugeReason(value: unknown): DropReason {
  if (typeof value !== 'number') return 'not_a_number';
  return value - value === 0 ? 'overflow' : 'non_finite';
}

export class BoundGaugeHandle implements BoundGauge {
  private readonly count: Float64Array;
  private readonly pageSize = PAGE_SIZE;
  private readonly sum: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly last: Float64Array;
  private readonly current: Float64Array;

  constructor(
    private readonly clock: Int32Array,
    page: Page,
    private readonly index: number,
    private readonly metric: string,
    private readonly drops: DropRecorder,
  ) {
    this.count = page.count;
    this.sum = page.sum;
    this.min = page.min;
    this.max = page.max;
    this.last = page.last;
    this.current = page.current;
  }

  set(value: number): void {
    this.setInSlot(value, this.clock[0]);
  }

  /**
   * set() into a given slot. An observed gauge's value for a window that has closed but is not sealed yet (its
   * callback answered after the boundary) goes into that window's slot, so it lands in the second it was polled for.
   */
  setInSlot(value: number, slot: number): void {
    if (typeof value === 'number' && value - value === 0) {
      const o = slot * this.pageSize + this.index;
      const sum = this.sum[o] + value;
      if (sum - sum === 0) {
        this.current[this.index] = value;
        this.sum[o] = sum;
        this.last[o] = value;
        if (value < this.min[o]) this.min[o] = value;
        if (value > this.max[o]) this.max[o] = value;
        this.count[o]++;
        return;
      }
    }
    this.drops.drop(this.metric, gaugeReason(value));
  }

  add(delta: number): void {
    // A non-finite delta makes a non-finite sum, which set() drops and counts.
    this.set(this.current[this.index] + (typeof delta === 'number' ? delta : NaN));
  }
}

export class BoundHistogramHandle implements BoundHistogram {
  private readonly count: Float64Array;
  private readonly pageSize = PAGE_SIZE;
  private readonly sum: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly stride: number;
  private readonly slots: number;
  private readonly zeroBucket: number;
  private readonly lowerBucket: Int16Array;
  private readonly boundaryHigh: Uint32Array;
  private readonly boundaryLow: Uint32Array;
  private readonly subShift: number;
  private readonly perOctave: number;
  private readonly expBias: number;
  private readonly maxDense: number;
  /** NO_BUCKETS until the first record allocates this lane's buckets. */
  private buckets: Uint32Array;
  private readonly holder: BucketHolder;
  // Module bindings cost a context load and hole check per access; instance fields do not.
  private readonly bits = scratch;
  private readonly words = scratchWords;
  private readonly high = HI;
  private readonly low = LO;

  constructor(
    private readonly clock: Int32Array,
    page: Page,
    private readonly index: number,
    /** The lane's buckets, or their holder when they are allocated on first record. */
    buckets: Uint32Array | BucketHolder,
    tables: IndexTables,
    bucketCount: number,
    private readonly metric: string,
    private readonly drops: DropRecorder,
  ) {
    this.count = page.count;
    this.sum = page.sum;
    this.min = page.min;
    this.max = page.max;
    this.stride = bucketCount + 1;
    this.slots = page.slots;
    this.holder = buckets instanceof Uint32Array ? { buckets } : buckets;
    this.buckets = this.holder.buckets ?? NO_BUCKETS;
    this.zeroBucket = bucketCount;
    this.lowerBucket = tables.lowerBucket;
    this.boundaryHigh = tables.boundaryHigh;
    this.boundaryLow = tables.boundaryLow;
    this.subShift = tables.subShift;
    this.perOctave = tables.perOctave;
    this.expBias = tables.expBias;
    this.maxDense = tables.maxDense;
  }

  record(value: number): void {
    if (typeof value === 'number' && value >= 0) {
      const slot = this.clock[0];
      const o = slot * this.pageSize + this.index;
      const sum = this.sum[o] + value;
      // Also false for NaN and Infinity; a sum that would overflow is dropped, never stored as Infinity.
      if (!(sum < Infinity)) {
        this.drops.drop(this.metric, reasonFor(value));
        return;
      }
      this.sum[o] = sum;
      if (value < this.min[o]) {
        this.min[o] = value;
        // A series' first record always lowers min (a cleared slot holds Infinity): the lazy allocation check
        // runs here, off the common path.
        if (this.buckets.length === 0) this.allocateBuckets();
      }
      if (value > this.max[o]) this.max[o] = value;
      let bucket = this.zeroBucket;
      if (value > 0) {
        // Same computation as BucketMapping.denseIndex, inlined: exponent + table + one comparison.
        this.bits[0] = value;
        const hi = this.words[this.high];
        const mantissa = hi & 0xfffff;
        let k = this.lowerBucket[mantissa >>> this.subShift];
        const high = this.boundaryHigh[k + 1];
        if (mantissa > high || (mantissa === high && this.words[this.low] > this.boundaryLow[k + 1])) k++;
        bucket = ((hi >>> 20) - this.expBias) * this.perOctave + k;
        if (bucket < 0) bucket = 0;
        else if (bucket > this.maxDense) bucket = this.maxDense;
      }
      this.buckets[slot * this.stride + bucket]++;
      this.count[o]++;
    } else {
      this.drops.drop(this.metric, reasonFor(value));
    }
  }

  /** Once per series: an idle histogram holds no buckets (64 KB at scale 6 and 4 slots). */
  private allocateBuckets(): void {
    const buckets = new Uint32Array(this.slots * this.stride);
    this.holder.buckets = buckets;
    this.buckets = buckets;
  }

  startTimer(): StopTimer {
    return startTimer((ms) => this.record(ms));
  }
}

/** One clock read at start and one at stop; the returned function records once. */
export function startTimer(record: (elapsedMs: number) => void): StopTimer {
  const start = performance.now();
  let stopped = false;
  return () => {
    const elapsed = performance.now() - start;
    if (!stopped) {
      stopped = true;
      record(elapsed);
    }
    return elapsed;
  };
}
