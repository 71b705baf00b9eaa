/**
 * Seconds waiting to be sent, one entry per window, sorted by timestamp and bounded twice: in datapoints
 * (`maxPendingDatapoints`) and in bytes (`maxBacklogBytes`). When full, the oldest seconds go first (counted),
 * because for autoscaling the newest seconds are the ones worth paying a request for; a second with datums in
 * a request that has not been answered yet is never evicted.
 *
 * A window is stored as its AWS view (series under their CloudWatch identity, collisions merged) and converted
 * to datums only when a request is built: `export()` stays cheap, and a pod that sends every 19 s holds 19
 * views, not 19 x series datum objects.
 */
import type { Ticket } from '../aws/ledger.js';
import type { AwsSeries } from '../aws/view.js';
import type { MetricDatum } from './types.js';

export interface PendingEntry {
  readonly ticket: Ticket;
  /** Epoch ms of the second (the datums' Timestamp). */
  readonly timestamp: number;
  /** Not yet converted. */
  view: readonly AwsSeries[] | undefined;
  /** Series of `view` converted so far, with their datums, while a conversion is spread over several turns. */
  converting: { next: number; readonly datums: MetricDatum[]; readonly sizes: number[] } | undefined;
  /** Converted and not yet sent (a partly sent second, or datums put back after a failure). */
  datums: MetricDatum[] | undefined;
  /** Estimated JSON bytes of each of `datums`. */
  sizes: number[] | undefined;
  /** Datums waiting (exact: counted with the converter's own rules before conversion). */
  count: number;
  /** Datums in a request that has not been answered. */
  inFlight: number;
  /** Some datum was accepted by CloudWatch or may have been. */
  touched: boolean;
  /** Some datum was rejected or may not have arrived. */
  failed: boolean;
  bytes: number;
  done: boolean;
}

export class PendingQueue {
  /** Sorted by timestamp, oldest first. */
  private readonly entries: PendingEntry[] = [];
  private datapointTotal = 0;
  private byteTotal = 0;

  constructor(
    private readonly maxDatapoints: number,
    private readonly maxBytes: number,
  ) {}

  get datapoints(): number {
    return this.datapointTotal;
  }

  get bytes(): number {
    return this.byteTotal;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Oldest first; the batcher reads and edits entries in place, then calls `refresh`. */
  get list(): readonly PendingEntry[] {
    return this.entries;
  }

  /** Adds a second; returns the entries evicted to stay within the bounds (possibly this one). */
  push(entry: PendingEntry): PendingEntry[] {
    const list = this.entries;
    // Windows arrive in order, so this is almost always an append.
    let i = list.length;
    while (i > 0 && list[i - 1].timestamp > entry.timestamp) i--;
    if (i === list.length) list.push(entry);
    else list.splice(i, 0, entry);
    this.refresh();
    return this.trim();
  }

  /** Applies the bounds after entries grew (datums put back after a failure); returns evicted entries. */
  enforce(): PendingEntry[] {
    this.refresh();
    return this.trim();
  }

  /** Evicts every idle entry older than `cutoffMs` (CloudWatch rejects data older than two weeks). */
  takeOlderThan(cutoffMs: number): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (let i = 0; i < this.entries.length && this.entries[i].timestamp < cutoffMs; ) {
      if (this.entries[i].inFlight > 0) i++;
      else out.push(...this.entries.splice(i, 1));
    }
    this.refresh();
    return out;
  }

  /** Removes and returns every entry. */
  clear(): PendingEntry[] {
    const all = this.entries.splice(0);
    this.refresh();
    return all;
  }

  /** Drops settled entries and recomputes the totals. */
  refresh(): void {
    let datapoints = 0;
    let bytes = 0;
    let w = 0;
    for (let r = 0; r < this.entries.length; r++) {
      const e = this.entries[r];
      if (e.done) continue;
      this.entries[w++] = e;
      datapoints += e.count;
      bytes += e.bytes;
    }
    this.entries.length = w;
    this.datapointTotal = datapoints;
    this.byteTotal = bytes;
  }

  private trim(): PendingEntry[] {
    const evicted: PendingEntry[] = [];
    for (let i = 0; i < this.entries.length && (this.datapointTotal > this.maxDatapoints || this.byteTotal > this.maxBytes); ) {
      const e = this.entries[i];
      if (e.inFlight > 0) {
        i++;
        continue;
      }
      this.entries.splice(i, 1);
      this.datapointTotal -= e.count;
      this.byteTotal -= e.bytes;
      evicted.push(e);
    }
    return evicted;
  }
}
