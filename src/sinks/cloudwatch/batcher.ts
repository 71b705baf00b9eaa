/**
 * Packs pending datums into PutMetricData requests: at most 1000 datums and 1 MB each.
 *
 * Sizes are upper estimates of the JSON body (size.ts). The limit applies to the uncompressed body: the API
 * documents 1 MB per POST and gzip as allowed, not which side of compression the limit counts, so the safe
 * reading is taken.
 *
 * Order: when everything pending fits one request, one request carries it all. When it does not (after an
 * outage, or more series than one request holds), the newest seconds go first so an autoscaler reading the
 * metric sees the present; older seconds follow in later slots while the bounds allow.
 */
import type { DatumConverter } from './datum.js';
import type { PendingEntry, PendingQueue } from './pending.js';
import { envelopeBytes } from './size.js';
import type { MetricDatum } from './types.js';

export const MAX_DATUMS_PER_REQUEST = 1000;
/**
 * Series converted between two looks at the clock: a histogram with 150 values is ~20-50 us, so 8 of them keep a
 * slice within ~0.4 ms of its budget (64 overshot it by 1-3 ms).
 */
const CONVERT_CHUNK = 8;
/** 1 MB read as 10^6 bytes: below both 1,000,000 and 1,048,576. */
export const MAX_REQUEST_BYTES = 1_000_000;

export interface BatchLimits {
  readonly maxDatums: number;
  readonly maxBytes: number;
}

/** `count` datums of a batch, consecutive from `from`, belong to `entry`. */
export interface BatchRun {
  readonly entry: PendingEntry;
  readonly from: number;
  readonly count: number;
}

export interface Batch {
  readonly datums: MetricDatum[];
  /** Estimated JSON bytes of each datum, kept for a retry (estimating 1,000 datums again is milliseconds). */
  readonly sizes: number[];
  readonly runs: readonly BatchRun[];
  /** Estimated uncompressed JSON body size. */
  readonly bytes: number;
}

export class Batcher {
  private namespace = '';
  private envelope = 0;

  constructor(private readonly converter: DatumConverter) {}

  /**
   * Converts the newest not-yet-converted seconds that the next `datums` datums will come from, yielding to the
   * event loop whenever a slice of work exceeds `sliceMs`: a wide backlog of histograms then never blocks the host
   * for long. Windows may arrive (and old ones be evicted) while this yields, so what to convert next is looked
   * up again each time: a second that arrived meanwhile is converted here, in slices, not whole by `take`.
   */
  async prepare(queue: PendingQueue, datums: number, yieldToLoop: () => Promise<void>, sliceMs = 1): Promise<void> {
    let sliceStart = performance.now();
    for (let entry = nextToConvert(queue, datums); entry !== undefined; entry = nextToConvert(queue, datums)) {
      // A second's series a chunk at a time: one 2,000-series second is 10-40 ms of conversion in one piece.
      this.convert(entry, CONVERT_CHUNK);
      if (performance.now() - sliceStart > sliceMs) {
        await yieldToLoop();
        sliceStart = performance.now();
      }
    }
    queue.refresh();
  }

  /** Takes the next request's datums out of the queue (marking them in flight), or undefined when nothing waits. */
  take(queue: PendingQueue, limits: BatchLimits, namespace: string): Batch | undefined {
    const entries = queue.list;
    if (namespace !== this.namespace) {
      this.namespace = namespace;
      this.envelope = envelopeBytes(namespace);
    }
    const datums: MetricDatum[] = [];
    const datumSizes: number[] = [];
    const runs: BatchRun[] = [];
    let bytes = this.envelope;
    let full = false;
    for (let i = entries.length - 1; i >= 0 && !full; i--) {
      const entry = entries[i];
      if (entry.view !== undefined) this.convert(entry);
      const list = entry.datums;
      if (list === undefined || list.length === 0) continue;
      const sizes = entry.sizes as number[];
      let taken = 0;
      for (; taken < list.length; taken++) {
        const size = sizes[taken];
        if (datums.length > 0 && (datums.length >= limits.maxDatums || bytes + size > limits.maxBytes)) {
          full = true;
          break;
        }
        datums.push(list[taken]);
        datumSizes.push(size);
        bytes += size;
      }
      if (taken === 0) continue;
      runs.push({ entry, from: datums.length - taken, count: taken });
      let takenBytes = 0;
      for (let k = 0; k < taken; k++) takenBytes += sizes[k];
      entry.datums = taken === list.length ? undefined : list.slice(taken);
      entry.sizes = taken === list.length ? undefined : sizes.slice(taken);
      entry.count -= taken;
      entry.inFlight += taken;
      entry.bytes = Math.max(0, entry.bytes - takenBytes);
    }
    queue.refresh();
    return datums.length === 0 ? undefined : { datums, sizes: datumSizes, runs, bytes };
  }

  /** Puts a run's datums back at the front of its entry, for a retry. */
  putBack(run: BatchRun, batch: Batch): void {
    const entry = run.entry;
    const back = batch.datums.slice(run.from, run.from + run.count);
    const sizes = batch.sizes.slice(run.from, run.from + run.count);
    entry.datums = entry.datums === undefined ? back : back.concat(entry.datums);
    entry.sizes = entry.sizes === undefined ? sizes : sizes.concat(entry.sizes);
    entry.count += run.count;
    entry.inFlight -= run.count;
    for (const s of sizes) entry.bytes += s;
  }

  /** Converts up to `chunk` more series of the entry's view; the datums replace the view once all are done. */
  private convert(entry: PendingEntry, chunk = Number.POSITIVE_INFINITY): void {
    const view = entry.view;
    if (view === undefined) return;
    const progress = (entry.converting ??= { next: 0, datums: [], sizes: [] });
    const to = Math.min(view.length, progress.next + chunk);
    this.converter.convert(view, entry.timestamp, progress.datums, progress.sizes, progress.next, to);
    progress.next = to;
    if (to < view.length) return;
    const converted = progress.datums;
    const sizes = progress.sizes;
    entry.converting = undefined;
    entry.view = undefined;
    entry.datums = converted;
    entry.sizes = sizes;
    entry.count = converted.length;
    let bytes = 64;
    for (const s of sizes) bytes += s;
    entry.bytes = bytes;
  }
}

/** The newest unconverted second among those the next `datums` datums come from (newest first). */
function nextToConvert(queue: PendingQueue, datums: number): PendingEntry | undefined {
  const entries = queue.list;
  let covered = 0;
  for (let i = entries.length - 1; i >= 0 && covered < datums; i--) {
    const entry = entries[i];
    if (entry.done) continue;
    if (entry.view !== undefined) return entry;
    covered += entry.count;
  }
  return undefined;
}
