/**
 * Pending datapoints, one entry per second, bounded: when full, the oldest seconds go first (counted), because
 * for autoscaling the newest seconds are the ones worth paying a request for.
 *
 * Windows are stored as they arrive and converted to datums only when a request is built: `export()` stays O(1)
 * per window, and a pod that sends every 19 s holds 19 windows, not 19 x series datum objects.
 */
import type { Window } from '../../core/window.js';
import type { MetricDatum } from './types.js';

export interface PendingEntry {
  /** Epoch ms of the second (the datums' Timestamp). */
  readonly start: number;
  /** Not yet converted. */
  window: Window | undefined;
  /** Converted and not yet sent (a partly sent second, or a batch put back for retry). */
  datums: MetricDatum[] | undefined;
  /** Estimated JSON bytes of each datum, when converted here (absent for datums put back after a failure). */
  sizes: number[] | undefined;
  /** Datapoints this entry holds (exact: counted with the converter's own rules). */
  count: number;
}

export class PendingQueue {
  /** Sorted by start, oldest first. */
  private readonly entries: PendingEntry[] = [];
  private total = 0;

  constructor(private readonly maxDatapoints: number) {}

  get datapoints(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Oldest first; the batcher reads and edits entries in place, then calls `settle`. */
  get list(): readonly PendingEntry[] {
    return this.entries;
  }

  /** Adds a second; returns the datapoints dropped to stay within the bound. */
  push(window: Window, count: number): number {
    if (count <= 0) return 0;
    this.insert({ start: window.start, window, datums: undefined, sizes: undefined, count });
    return this.trim();
  }

  /** Puts datums of a failed request back, each under its own second; returns datapoints dropped by the bound. */
  requeue(datums: readonly MetricDatum[]): number {
    const bySecond = new Map<number, MetricDatum[]>();
    for (const d of datums) {
      const key = d.Timestamp.getTime();
      const list = bySecond.get(key);
      if (list === undefined) bySecond.set(key, [d]);
      else list.push(d);
    }
    for (const [start, list] of bySecond) this.insert({ start, window: undefined, datums: list, sizes: undefined, count: list.length });
    return this.trim();
  }

  /** Drops every entry older than `cutoffMs` (CloudWatch rejects data older than two weeks); returns datapoints. */
  dropOlderThan(cutoffMs: number): number {
    let dropped = 0;
    let n = 0;
    while (n < this.entries.length && this.entries[n].start < cutoffMs) dropped += this.entries[n++].count;
    if (n > 0) this.entries.splice(0, n);
    this.total -= dropped;
    return dropped;
  }

  /** Removes everything; returns the datapoints removed. */
  clear(): number {
    const dropped = this.total;
    this.entries.length = 0;
    this.total = 0;
    return dropped;
  }

  /** After the batcher took datums: removes emptied entries and recomputes the total. */
  settle(): void {
    let total = 0;
    let w = 0;
    for (let r = 0; r < this.entries.length; r++) {
      const e = this.entries[r];
      if (e.count > 0) {
        this.entries[w++] = e;
        total += e.count;
      }
    }
    this.entries.length = w;
    this.total = total;
  }

  private insert(entry: PendingEntry): void {
    const list = this.entries;
    // Windows arrive in order, so this is almost always an append.
    let i = list.length;
    while (i > 0 && list[i - 1].start > entry.start) i--;
    if (i === list.length) list.push(entry);
    else list.splice(i, 0, entry);
    this.total += entry.count;
  }

  private trim(): number {
    let dropped = 0;
    let n = 0;
    while (this.total - dropped > this.maxDatapoints && n < this.entries.length) dropped += this.entries[n++].count;
    if (n > 0) this.entries.splice(0, n);
    this.total -= dropped;
    return dropped;
  }
}
