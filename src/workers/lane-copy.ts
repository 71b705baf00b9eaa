/**
 * The main thread's copy of one slot of one series of a worker lane into the main-thread mirror the sealer reads.
 *
 * The worker's slots only grow (count, sum, buckets are cumulative; this thread never clears them), so a copy
 * takes the difference from what it copied last. To take only whole records it is a sequence-lock read made
 * lock-free: read `count`, then the fields, then `begun` (src/workers/sequenced-handles.ts). `begun == count`
 * proves no record was half-written while the fields were read, so they hold exactly `count` whole records and
 * count, sum, min, max and buckets agree. Otherwise it retries a couple of times (a running writer finishes a
 * record in nanoseconds) and then gives up for this seal: nothing of that slot is copied, and its records move
 * whole into a later window (the next seal collects every slot that is neither sealing nor open). Neither thread
 * ever waits for the other: the worker never reads anything the main thread writes except min / max, and the
 * main thread bounds its work.
 *
 * Min / max are the only fields this thread writes in the worker's memory: it resets them once a slot's records
 * are copied (never in the open slot). A record racing that reset may compare against the old value and skip its
 * store; the reset is then undone to the old bounds when `begun` moved, and for histograms the bucket increments
 * are checked against count on every copy, so a bucket outside [min, max] is found and min / max widened to it.
 */
import { lowerBound, upperBound, type BucketMapping } from '../core/histogram/mapping.js';
import type { Page } from '../core/pages.js';
import { PAGE_SIZE } from '../core/pages.js';
import type { LaneLocation, Series } from '../core/series.js';

/** Reads of one slot before it is left for a later seal (a writer in the middle of a record is nanoseconds away from its end). */
const ATTEMPTS = 3;

/** A worker page with the main thread's mirror of it and what has been copied so far. */
export interface MirroredPage {
  readonly worker: Page;
  /** Per slot and series: the count the record in flight will reach (== count when none is). */
  readonly begun: Float64Array;
  /** Main-thread page the sealer reads and clears, like the main lane. */
  readonly mirror: Page;
  /** Per slot and series: the worker's cumulative count and sum already copied into the mirror. */
  readonly copiedCount: Float64Array;
  readonly copiedSum: Float64Array;
}

export interface HeldSeries {
  readonly series: Series;
  /** The mirror location merged into the series. */
  readonly location: LaneLocation;
  readonly page: MirroredPage;
  readonly index: number;
  readonly gauge: boolean;
  readonly workerBuckets: Uint32Array | null;
  /** Per slot and bucket: the worker's cumulative bucket value already copied. */
  readonly copiedBuckets: Uint32Array | null;
}

export interface CopyStats {
  /** Records copied into a window. */
  records: number;
  /** Of those, records copied from a slot other than the one being sealed: they landed in a later window than their second's. */
  stragglers: number;
  /** Slots left for a later seal because a record was in flight on every attempt. */
  deferred: number;
  /** Reads that found a record in flight and were repeated. */
  retries: number;
}

/** Test hook: runs between the reads of a copy (after count, after the fields), to interleave a writer's steps. */
export type CopyProbe = (held: HeldSeries, slot: number, phase: 'fields' | 'verify') => void;

export class LaneCopier {
  readonly stats: CopyStats = { records: 0, stragglers: 0, deferred: 0, retries: 0 };
  probe: CopyProbe | undefined;
  /** Atomics.load on it orders this thread's plain reads of the worker's memory (count, then fields, then begun). */
  private readonly fence = new Int32Array(new SharedArrayBuffer(4));
  /** Bucket increments found by the last read: dense index, the worker's cumulative value, the increment. */
  private readonly grownIndex: Int32Array;
  private readonly grownNow: Uint32Array;
  private readonly grownAdd: Uint32Array;
  private grownLength = 0;
  private zeroNow = 0;
  private zeroAdd = 0;

  constructor(private readonly mapping: BucketMapping) {
    this.grownIndex = new Int32Array(mapping.size);
    this.grownNow = new Uint32Array(mapping.size);
    this.grownAdd = new Uint32Array(mapping.size);
  }

  /**
   * Copies the whole records `source` gained since the last copy into the mirror's `target` slot (the window
   * being sealed). `reset`: the slot is not open, so its min / max restart. `trusted`: the writer is gone (its
   * thread ended), so the fields cannot move and no check is needed. Returns false when the slot was left for a
   * later seal.
   */
  copy(held: HeldSeries, source: number, target: number, reset: boolean, trusted: boolean): boolean {
    const { worker, begun, copiedCount } = held.page;
    const o = source * PAGE_SIZE + held.index;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const count = worker.count[o];
      const fresh = count - copiedCount[o];
      if (!(fresh > 0)) return true;
      Atomics.load(this.fence, 0);
      this.probe?.(held, source, 'fields');
      const sum = worker.sum[o];
      const min = worker.min[o];
      const max = worker.max[o];
      const last = worker.last[o];
      let inBuckets = fresh;
      if (held.workerBuckets !== null) {
        inBuckets = this.readBuckets(held, source, min, max, false);
        // Fewer than `fresh` in [min, max]: a record missed its min / max store (it raced a reset); scan them all.
        if (inBuckets !== fresh) inBuckets = this.readBuckets(held, source, min, max, true);
      }
      this.probe?.(held, source, 'verify');
      Atomics.load(this.fence, 0);
      if (!trusted && begun[o] !== count) {
        this.stats.retries++;
        continue;
      }
      // Histograms: the buckets are the records (a thread that ended mid-record may have left a bucket without its count).
      const records = held.workerBuckets === null ? fresh : inBuckets;
      this.commit(held, o, source, target, count, records, sum, min, max, last);
      this.stats.records += records;
      if (source !== target) this.stats.stragglers += records;
      if (reset && !trusted) this.reset(held, o, count, min, max);
      return true;
    }
    this.stats.deferred++;
    return false;
  }

  /** True when a record is half-written in `only` (or in any slot) of the series. */
  inFlight(held: HeldSeries, slots: number, only?: number): boolean {
    const { worker, begun } = held.page;
    for (let slot = only ?? 0; slot < (only === undefined ? slots : only + 1); slot++) {
      const o = slot * PAGE_SIZE + held.index;
      if (begun[o] !== worker.count[o]) return true;
    }
    return false;
  }

  private commit(
    held: HeldSeries,
    o: number,
    source: number,
    target: number,
    count: number,
    records: number,
    sum: number,
    min: number,
    max: number,
    last: number,
  ): void {
    const { mirror, copiedCount, copiedSum } = held.page;
    const t = target * PAGE_SIZE + held.index;
    copiedCount[o] = count;
    mirror.count[t] += records;
    mirror.sum[t] += sum - copiedSum[o];
    copiedSum[o] = sum;
    if (held.workerBuckets !== null) {
      const { mapping } = this;
      const stride = mapping.size + 1;
      const copied = held.copiedBuckets as Uint32Array;
      const into = held.location.buckets as Uint32Array;
      const sourceBase = source * stride;
      const targetBase = target * stride;
      for (let k = 0; k < this.grownLength; k++) {
        const i = this.grownIndex[k];
        into[targetBase + i] += this.grownAdd[k];
        copied[sourceBase + i] = this.grownNow[k];
      }
      into[targetBase + mapping.size] += this.zeroAdd;
      copied[sourceBase + mapping.size] = this.zeroNow;
      // Min / max cover every bucket copied (the sealer reads and clears [index(min), index(max)]).
      if (this.grownLength > 0) {
        const low = this.grownIndex[0];
        const high = this.grownIndex[this.grownLength - 1];
        if (!(min > 0) || mapping.denseIndex(min) > low) {
          if (!(min <= lowerBound(mapping.scale, mapping.offset + low))) min = lowerBound(mapping.scale, mapping.offset + low);
        }
        if (!(max > 0) || mapping.denseIndex(max) < high) {
          if (!(max >= upperBound(mapping.scale, mapping.offset + high))) max = upperBound(mapping.scale, mapping.offset + high);
        }
      }
      if (this.zeroAdd > 0) {
        if (!(min <= 0)) min = 0;
        if (!(max >= 0)) max = 0;
      }
    } else if (!(min <= max)) {
      min = max = last;
    }
    if (min < mirror.min[t]) mirror.min[t] = min;
    if (max > mirror.max[t]) mirror.max[t] = max;
    if (last !== last && held.gauge) last = held.page.worker.current[held.index];
    mirror.last[t] = last;
  }

  /** Restarts a copied slot's min / max; undone if a record began meanwhile (it may have compared against the old ones). */
  private reset(held: HeldSeries, o: number, count: number, min: number, max: number): void {
    const { worker, begun } = held.page;
    if (held.gauge || held.workerBuckets !== null) {
      worker.min[o] = Infinity;
      worker.max[o] = -Infinity;
      Atomics.load(this.fence, 0);
      if (begun[o] !== count) {
        if (min < worker.min[o]) worker.min[o] = min;
        if (max > worker.max[o]) worker.max[o] = max;
      }
    }
  }

  /** Finds the bucket increments of `source` over [index(min), index(max)], or every bucket; returns their total. */
  private readBuckets(held: HeldSeries, source: number, min: number, max: number, all: boolean): number {
    const { mapping } = this;
    const base = source * (mapping.size + 1);
    const buckets = held.workerBuckets as Uint32Array;
    const copied = held.copiedBuckets as Uint32Array;
    const zeroNow = buckets[base + mapping.size];
    // >>> 0 keeps a difference right when a cumulative bucket wraps past 2^32.
    this.zeroNow = zeroNow;
    this.zeroAdd = (zeroNow - copied[base + mapping.size]) >>> 0;
    let total = this.zeroAdd;
    const low = all ? 0 : min > 0 ? mapping.denseIndex(min) : 0;
    const high = all ? mapping.size - 1 : max > 0 ? mapping.denseIndex(max) : -1;
    let n = 0;
    for (let i = low; i <= high; i++) {
      const now = buckets[base + i];
      const added = (now - copied[base + i]) >>> 0;
      if (added !== 0) {
        this.grownIndex[n] = i;
        this.grownNow[n] = now;
        this.grownAdd[n] = added;
        n++;
        total += added;
      }
    }
    this.grownLength = n;
    return total;
  }
}
