/**
 * Packs pending datums into PutMetricData requests: at most 1000 datums and 1 MB each.
 *
 * The size is estimated from the JSON the SDK writes (AWS JSON 1.0: field names, quoted strings, numbers in
 * JavaScript's shortest form, timestamps as epoch seconds) with a per-datum margin, so an estimate never falls
 * below the real body. The limit applies to the uncompressed body: the API documents 1 MB per POST and gzip as
 * allowed, not which side of compression the limit counts, so the safe reading is taken.
 *
 * Order: when everything pending fits one request, one request carries it all. When it does not (after an
 * outage, or more series than one request holds), the newest seconds go first so an autoscaler reading the
 * metric sees the present; older seconds follow in later slots while the pending bound allows.
 */
import type { DatumConverter } from './datum.js';
import type { PendingEntry, PendingQueue } from './pending.js';
import type { Dimension, MetricDatum } from './types.js';

export const MAX_DATUMS_PER_REQUEST = 1000;
/** 1 MB read as 10^6 bytes: below both 1,000,000 and 1,048,576. */
export const MAX_REQUEST_BYTES = 1_000_000;
/** Per-datum slack on top of the estimate (whitespace-free JSON needs none; this covers serializer changes). */
const DATUM_MARGIN = 16;

export interface BatchLimits {
  readonly maxDatums: number;
  readonly maxBytes: number;
}

export interface Batch {
  readonly datums: MetricDatum[];
  /** Estimated uncompressed JSON body size. */
  readonly bytes: number;
}

export class Batcher {
  private readonly envelope: number;
  private readonly dimensionBytes = new WeakMap<readonly Dimension[], number>();

  constructor(
    namespace: string,
    private readonly converter: DatumConverter,
  ) {
    // {"Namespace":"...","MetricData":[]}
    this.envelope = 30 + stringBytes(namespace);
  }

  /**
   * Converts the newest not-yet-converted seconds that the next `datums` datums will come from, yielding to the
   * event loop whenever a slice of work exceeds `sliceMs`: a wide backlog of histograms then never blocks the host
   * for long. `take` converts anything still left synchronously.
   */
  async prepare(queue: PendingQueue, datums: number, sliceMs = 4): Promise<void> {
    // A snapshot: windows may arrive (and old ones be dropped) while this yields.
    const entries = queue.list.slice();
    let sliceStart = performance.now();
    let covered = 0;
    for (let i = entries.length - 1; i >= 0 && covered < datums; i--) {
      const entry = entries[i];
      if (entry.window !== undefined) {
        this.convert(entry);
        if (performance.now() - sliceStart > sliceMs) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = performance.now();
        }
      }
      covered += entry.count;
    }
    queue.settle();
  }

  /** Takes the next request's datums out of the queue, or undefined when nothing is pending. */
  take(queue: PendingQueue, limits: BatchLimits): Batch | undefined {
    const entries = queue.list;
    if (entries.length === 0) return undefined;
    const datums: MetricDatum[] = [];
    let bytes = this.envelope;
    let full = false;
    for (let i = entries.length - 1; i >= 0 && !full; i--) {
      const entry = entries[i];
      if (entry.window !== undefined) this.convert(entry);
      const list = entry.datums;
      if (list === undefined || list.length === 0) {
        entry.count = 0;
        continue;
      }
      let taken = 0;
      for (; taken < list.length; taken++) {
        const size = this.estimate(list[taken]) + 1;
        if (datums.length > 0 && (datums.length >= limits.maxDatums || bytes + size > limits.maxBytes)) {
          full = true;
          break;
        }
        datums.push(list[taken]);
        bytes += size;
      }
      if (taken === list.length) {
        entry.datums = undefined;
        entry.count = 0;
      } else {
        entry.datums = list.slice(taken);
        entry.count = entry.datums.length;
      }
    }
    queue.settle();
    return datums.length === 0 ? undefined : { datums, bytes };
  }

  private convert(entry: PendingEntry): void {
    if (entry.window === undefined) return;
    const converted: MetricDatum[] = [];
    this.converter.convert(entry.window, converted);
    entry.window = undefined;
    entry.datums = converted;
    entry.count = converted.length;
  }

  /** Upper estimate of one datum's JSON size in bytes. */
  estimate(d: MetricDatum): number {
    // {"MetricName":"…","Timestamp":1700000000.123} plus the margin
    let n = 30 + stringBytes(d.MetricName) + 14 + DATUM_MARGIN;
    if (d.Dimensions !== undefined && d.Dimensions.length > 0) n += this.dimensionsBytes(d.Dimensions);
    if (d.Value !== undefined) n += 9 + numberBytes(d.Value);
    const s = d.StatisticValues;
    if (s !== undefined) {
      // ,"StatisticValues":{"SampleCount":,"Sum":,"Minimum":,"Maximum":}
      n += 66 + numberBytes(s.SampleCount) + numberBytes(s.Sum) + numberBytes(s.Minimum) + numberBytes(s.Maximum);
    }
    if (d.Values !== undefined) n += 12 + numbersBytes(d.Values);
    if (d.Counts !== undefined) n += 12 + numbersBytes(d.Counts);
    if (d.Unit !== undefined) n += 10 + d.Unit.length;
    if (d.StorageResolution !== undefined) n += 23;
    return n;
  }

  private dimensionsBytes(dimensions: readonly Dimension[]): number {
    // Dimension arrays are shared per series, so their size is computed once.
    const cached = this.dimensionBytes.get(dimensions);
    if (cached !== undefined) return cached;
    // ,"Dimensions":[ … ] and {"Name":"…","Value":"…"}, per dimension
    let n = 16;
    for (const d of dimensions) n += 20 + stringBytes(d.Name) + stringBytes(d.Value);
    this.dimensionBytes.set(dimensions, n);
    return n;
  }
}

const PLAIN = /^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/;

/** Exact size of a JSON string literal, quotes included. */
export function stringBytes(text: string): number {
  if (PLAIN.test(text)) return text.length + 2;
  return Buffer.byteLength(JSON.stringify(text));
}

function numberBytes(value: number): number {
  // Non-finite values never reach here; the SDK would write them as quoted strings.
  return String(value).length;
}

function numbersBytes(values: readonly number[]): number {
  let n = values.length;
  for (let i = 0; i < values.length; i++) n += String(values[i]).length;
  return n;
}
