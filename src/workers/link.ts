/**
 * Main-thread side of worker lanes. A worker records into its own SharedArrayBuffer lane (same layout as the
 * main lane); this module receives one message per new page and per new series over the worker's MessagePort and
 * adds the worker's location to the canonical Series of the main registry, so the sealer merges every lane into
 * the same Window. When the port closes (the worker exited, crashed, was terminated or called close()), the lane
 * stays until every slot it wrote has been sealed, then its locations are dropped: counter totals stay in
 * `Series.total`, the worker's gauge contribution goes away.
 *
 * The main thread never clears a worker's count, sum or buckets (see Lane): totals are exact however the threads
 * are scheduled, and a worker's crash cannot touch another lane (each has its own buffers).
 *
 * Grace: with a worker attached, the registry seals `sealGraceMs` (20 ms, at most a fifth of the interval) after
 * advancing the clock, so a record that read the old slot just before the boundary is finished when the slot is
 * read, and lands in its own window. A record whose thread is descheduled for longer than the grace between reading
 * the clock and its last store is still counted, once, in the same slot's next window (`slots` intervals later).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Metrics } from '../core/api.js';
import { bucketMapping, bucketRepresentative, type BucketMapping } from '../core/histogram/mapping.js';
import { allocateBuckets, allocatePage, PAGE_SIZE, pageByteLength, viewPage, type Page } from '../core/pages.js';
import { ConfigError, ConfigErrorCode } from '../core/errors.js';
import type { LaneLocation, Series } from '../core/series.js';
import { workerPortOf, type WorkerPort } from '../core/worker-port.js';
import { LINK_TAG, type LaneMessage, type PortMessage, type SyncedMessage, type WorkerLink } from './protocol.js';

/** Delay between a boundary and its seal once a worker may write (never more than a fifth of the interval). */
export const WORKER_SEAL_GRACE_MS = 20;

/** A closed lane whose slots are still not all sealed after this many checks (one per interval) is dropped anyway: the registry is no longer sealing. */
const MAX_DRAIN_CHECKS_PER_SLOT = 4;

let nextRegistryId = 1;
const hubs = new WeakMap<WorkerPort, Hub>();
/** Pool workers name their registry by id; weak so a discarded registry can be collected. */
const hubsById = new Map<number, WeakRef<Hub>>();
const forget = new FinalizationRegistry<number>((id) => hubsById.delete(id));

/**
 * A link for one `new Worker(...)`: put it in `workerData` and its port in `transferList`.
 *
 *   const link = createWorkerLink(metrics);
 *   new Worker(file, { workerData: { scalesignal: link }, transferList: [link.port] });
 */
export function createWorkerLink(metrics: Metrics): WorkerLink & { readonly port: MessagePort } {
  const hub = hubOf(metrics, 'createWorkerLink');
  const { port1, port2 } = new MessageChannel();
  hub.attach(port1);
  return { ...hub.link(), port: port2 };
}

/**
 * A link every worker of a pool can share (piscina's `workerData` goes to each worker). Each worker sends its
 * own lane port to the main thread through `parentPort`; hand those messages to acceptMetricsPort:
 *
 *   const pool = new Piscina({ filename, workerData: { scalesignal: createPoolLink(metrics) } });
 *   pool.on('message', acceptMetricsPort);
 */
export function createPoolLink(metrics: Metrics): WorkerLink {
  return hubOf(metrics, 'createPoolLink').link();
}

/**
 * Takes a pool worker's lane port out of a message it posted on `parentPort`. Returns true when the message was
 * one (so your own message handler can ignore it), false for any other message.
 */
export function acceptMetricsPort(message: unknown): boolean {
  if (!isPortMessage(message)) return false;
  const hub = hubsById.get(message.registry)?.deref();
  if (hub === undefined) message.port.close();
  else hub.attach(message.port);
  return true;
}

/** Worker lanes attached to a registry, including closed ones not yet drained (for tests and diagnostics). */
export function workerLaneCount(metrics: Metrics): number {
  const port = workerPortOf(metrics);
  return port === undefined ? 0 : (hubs.get(port)?.lanes.size ?? 0);
}

function isPortMessage(message: unknown): message is PortMessage {
  if (typeof message !== 'object' || message === null) return false;
  const candidate = message as Partial<PortMessage>;
  return (
    candidate.scalesignal === LINK_TAG &&
    typeof candidate.registry === 'number' &&
    typeof candidate.port === 'object' &&
    candidate.port !== null &&
    typeof candidate.port.postMessage === 'function'
  );
}

function hubOf(metrics: Metrics, where: string): Hub {
  const port = workerPortOf(metrics);
  if (port === undefined) {
    throw new ConfigError(`${where}(metrics): metrics must be the object returned by createMetrics()`, ConfigErrorCode.worker);
  }
  let hub = hubs.get(port);
  if (hub === undefined) {
    hub = new Hub(port);
    hubs.set(port, hub);
    hubsById.set(hub.id, new WeakRef(hub));
    forget.register(hub, hub.id);
  }
  return hub;
}

/** One registry's worker lanes. */
class Hub {
  readonly id = nextRegistryId++;
  readonly lanes = new Set<Lane>();
  readonly slots: number;
  readonly mapping: BucketMapping;
  readonly bucketsLength: number;
  private readonly warned = new Set<string>();

  constructor(readonly port: WorkerPort) {
    this.slots = port.slots;
    this.mapping = bucketMapping(port.histogramScale);
    this.bucketsLength = port.slots * (this.mapping.size + 1);
    port.requestSealGrace(WORKER_SEAL_GRACE_MS);
    port.onBeforeSeal((slot) => {
      if (slot < 0) return;
      for (const lane of this.lanes) lane.copy(slot);
    });
  }

  link(): WorkerLink {
    const { port } = this;
    return {
      scalesignal: LINK_TAG,
      registry: this.id,
      clock: port.clock,
      intervalMs: port.intervalMs,
      slots: port.slots,
      histogramScale: port.histogramScale,
      maxSeriesPerMetric: port.maxSeriesPerMetric,
    };
  }

  attach(port: MessagePort): void {
    this.lanes.add(new Lane(this, port));
  }

  /**
   * The main registry's series for a worker's series, declared with the main thread's rules so a kind or unit
   * conflict with the main thread (or another worker) is refused, whichever side came first.
   */
  canonical(message: Extract<LaneMessage, { type: 'series' }>): Series | undefined {
    const { name, kind, unit, description } = message;
    try {
      return this.port.series({ name, kind, unit, description }, message.overflow ? 'overflow' : message.labels);
    } catch (error) {
      this.warnOnce(name, `scalesignal: a worker's ${kind} "${name}" is ignored: ${(error as Error).message}`);
      return undefined;
    }
  }

  warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.port.logger.warn(message);
  }
}

/** A worker page with the main thread's mirror of it and what has been copied so far. */
interface MirroredPage {
  readonly worker: Page;
  /** Main-thread page the sealer reads and clears, like the main lane. */
  readonly mirror: Page;
  /** Per slot and series: the worker's cumulative count and sum already copied into the mirror. */
  readonly copiedCount: Float64Array;
  readonly copiedSum: Float64Array;
}

interface BucketsCopied {
  /** Lowest and highest dense bucket that grew. */
  low: number;
  high: number;
  zeros: number;
  /** Increments copied, zero bucket included. */
  records: number;
}

interface HeldSeries {
  readonly series: Series;
  /** Histograms: dense bucket indexes this lane has ever had records in (the range copies scan). */
  hullLow: number;
  hullHigh: number;
  /** The mirror location merged into the series. */
  readonly location: LaneLocation;
  readonly page: MirroredPage;
  readonly index: number;
  readonly gauge: boolean;
  readonly workerBuckets: Uint32Array | null;
  readonly copiedBuckets: Uint32Array | null;
}

/**
 * One worker's lane as the main thread sees it. The worker's slots are never cleared by this thread: count, sum
 * and buckets only grow there, and before each seal the new part (cumulative minus already copied) is added into a
 * main-thread mirror that the sealer reads and clears as it does the main lane. Clearing memory that another
 * thread read-modify-writes would double-count or lose a whole slot whenever that thread is descheduled in the
 * middle of a record; reading by difference cannot, however late a record lands (it then counts in the slot's
 * next window). Only min and max are reset in the worker's memory, where a racing record can at worst leave its
 * value out of one window's min / max.
 */
class Lane {
  private readonly pages: MirroredPage[] = [];
  private readonly held: HeldSeries[] = [];
  private drainChecks = 0;
  private detached = false;

  constructor(
    private readonly hub: Hub,
    private readonly port: MessagePort,
  ) {
    port.on('message', (message: LaneMessage) => this.receive(message));
    port.once('close', () => this.drain());
    // The lane must not keep the main process alive; the worker itself does, as long as it runs.
    port.unref();
  }

  /**
   * Adds what the worker recorded in `slot` since the last copy to the mirror. The count is read first: the
   * handles store it last, so every counted record's other fields are already there. A record still in flight
   * may show its sum or buckets before its count; they are copied with this window and its count with the next
   * one of the slot, so every total stays exact.
   */
  copy(slot: number): void {
    const { mapping } = this.hub;
    for (const held of this.held) {
      const { worker, mirror, copiedCount, copiedSum } = held.page;
      const o = slot * PAGE_SIZE + held.index;
      const count = worker.count[o];
      const fresh = count - copiedCount[o];
      if (fresh === 0) continue;
      copiedCount[o] = count;
      const sum = worker.sum[o];
      mirror.count[o] += fresh;
      mirror.sum[o] += sum - copiedSum[o];
      copiedSum[o] = sum;
      let min = worker.min[o];
      let max = worker.max[o];
      // A record racing these resets can miss its own min / max store (it compared against the old value).
      worker.min[o] = Infinity;
      worker.max[o] = -Infinity;
      let last = worker.last[o];
      if (last !== last && held.gauge) last = worker.current[held.index];
      if (held.workerBuckets !== null) {
        const grown = this.copyBuckets(held, slot, min, max, fresh);
        // Widen min / max to every bucket copied, so the sealer reads and clears all of them; a racing record's
        // value is then known to its bucket's precision.
        const valid = min <= max;
        if (grown.low <= grown.high) {
          if (!valid || min === 0 || grown.low < mapping.denseIndex(min)) {
            min = Math.min(valid ? min : Infinity, bucketRepresentative(mapping.scale, mapping.offset + grown.low));
          }
          if (!valid || max === 0 || grown.high > mapping.denseIndex(max)) {
            max = Math.max(valid ? max : -Infinity, bucketRepresentative(mapping.scale, mapping.offset + grown.high));
          }
        }
        if (grown.zeros > 0) {
          min = Math.min(min, 0);
          max = Math.max(max, 0);
        }
      } else if (!(min <= max)) {
        min = max = last;
      }
      if (min < mirror.min[o]) mirror.min[o] = min;
      if (max > mirror.max[o]) mirror.max[o] = max;
      mirror.last[o] = last;
    }
  }

  /**
   * Copies bucket increments over [index(min), index(max)]. When they do not account for every new record, one
   * raced the min / max reset and its bucket lies in a range copied before: the rest of those ranges is scanned
   * too. Returns the lowest and highest dense bucket that grew, and the new zero values.
   */
  private copyBuckets(held: HeldSeries, slot: number, min: number, max: number, fresh: number): BucketsCopied {
    const { mapping } = this.hub;
    const zero = slot * (mapping.size + 1) + mapping.size;
    const workerBuckets = held.workerBuckets as Uint32Array;
    const copied = held.copiedBuckets as Uint32Array;
    const zeros = (workerBuckets[zero] - copied[zero]) >>> 0;
    (held.location.buckets as Uint32Array)[zero] += zeros;
    copied[zero] = workerBuckets[zero];
    const grown: BucketsCopied = { low: Infinity, high: -Infinity, zeros, records: zeros };
    let low = Infinity;
    let high = -Infinity;
    if (min <= max && max > 0) {
      low = min > 0 ? mapping.denseIndex(min) : 0;
      high = mapping.denseIndex(max);
      this.copyRange(held, slot, low, high, grown);
    }
    if (grown.records < fresh && low > high) {
      this.copyRange(held, slot, held.hullLow, held.hullHigh, grown);
    } else if (grown.records < fresh) {
      this.copyRange(held, slot, held.hullLow, Math.min(held.hullHigh, low - 1), grown);
      this.copyRange(held, slot, Math.max(held.hullLow, high + 1), held.hullHigh, grown);
    }
    if (low < held.hullLow) held.hullLow = low;
    if (high > held.hullHigh) held.hullHigh = high;
    return grown;
  }

  private copyRange(held: HeldSeries, slot: number, low: number, high: number, grown: BucketsCopied): void {
    const base = slot * (this.hub.mapping.size + 1);
    const workerBuckets = held.workerBuckets as Uint32Array;
    const copied = held.copiedBuckets as Uint32Array;
    const mirror = held.location.buckets as Uint32Array;
    for (let i = low; i <= high; i++) {
      const now = workerBuckets[base + i];
      // >>> 0 keeps the difference right when a cumulative bucket wraps past 2^32.
      const added = (now - copied[base + i]) >>> 0;
      if (added !== 0) {
        mirror[base + i] += added;
        copied[base + i] = now;
        grown.records += added;
        if (i < grown.low) grown.low = i;
        if (i > grown.high) grown.high = i;
      }
    }
  }

  private receive(message: LaneMessage): void {
    if (this.detached || typeof message !== 'object' || message === null) return;
    if (message.type === 'page') {
      const { slots } = this.hub;
      const valid =
        message.page === this.pages.length &&
        message.buffer instanceof SharedArrayBuffer &&
        message.buffer.byteLength === pageByteLength(slots);
      if (valid) {
        this.pages.push({
          worker: viewPage(message.buffer, slots),
          mirror: allocatePage(slots, false),
          copiedCount: new Float64Array(slots * PAGE_SIZE),
          copiedSum: new Float64Array(slots * PAGE_SIZE),
        });
      } else {
        this.hub.warnOnce('page', 'scalesignal: a worker sent a lane page this registry cannot read; its records are ignored');
      }
    } else if (message.type === 'series') {
      this.attachSeries(message);
    } else if (message.type === 'sync') {
      const reply: SyncedMessage = { type: 'synced', id: message.id };
      this.port.postMessage(reply);
    }
  }

  private attachSeries(message: Extract<LaneMessage, { type: 'series' }>): void {
    const page = this.pages[message.page];
    const index = message.index;
    let workerBuckets: Uint32Array | null = null;
    if (message.kind === 'histogram') {
      const buffer = message.buckets;
      if (buffer instanceof SharedArrayBuffer && buffer.byteLength === this.hub.bucketsLength * 4) workerBuckets = new Uint32Array(buffer);
    }
    if (page === undefined || !Number.isInteger(index) || index < 0 || index >= PAGE_SIZE || (message.kind === 'histogram' && workerBuckets === null)) {
      this.hub.warnOnce('series', `scalesignal: a worker announced series "${message.name}" with a layout this registry cannot read; ignored`);
      return;
    }
    const series = this.hub.canonical(message);
    if (series === undefined) return;
    const { slots, mapping } = this.hub;
    const location: LaneLocation = {
      page: page.mirror,
      index,
      buckets: workerBuckets === null ? null : allocateBuckets(slots, mapping.size, false),
    };
    this.hub.port.attachLocation(series, location);
    this.held.push({
      series,
      location,
      page,
      index,
      gauge: message.kind === 'gauge',
      workerBuckets,
      copiedBuckets: workerBuckets === null ? null : new Uint32Array(workerBuckets.length),
      hullLow: Infinity,
      hullHigh: -Infinity,
    });
  }

  /** After the port closed: wait until every record of the lane has been copied and sealed, then detach. */
  private drain(): void {
    if (this.detached) return;
    const limit = this.hub.slots * MAX_DRAIN_CHECKS_PER_SLOT;
    if (this.pending() && this.drainChecks++ < limit) {
      setTimeout(() => this.drain(), this.hub.port.intervalMs).unref();
      return;
    }
    this.detached = true;
    for (const { series, location } of this.held) {
      this.hub.port.detachLocation(series, location);
    }
    this.held.length = 0;
    this.hub.lanes.delete(this);
  }

  /** The worker can no longer write: the lane is done once nothing is left to copy and the mirror is sealed. */
  private pending(): boolean {
    const { slots } = this.hub;
    for (const { page, index } of this.held) {
      for (let slot = 0; slot < slots; slot++) {
        const o = slot * PAGE_SIZE + index;
        if (page.worker.count[o] !== page.copiedCount[o] || page.mirror.count[o] !== 0) return true;
      }
    }
    return false;
  }
}
