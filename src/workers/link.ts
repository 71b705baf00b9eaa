/**
 * Main-thread side of worker lanes. A worker records into its own SharedArrayBuffer lane (same layout as the
 * main lane); this module receives one message per new page and per new series over the worker's MessagePort and
 * adds the worker's location to the canonical Series of the main registry, so the sealer merges every lane into
 * the same Window. When the port closes (the worker exited, crashed, was terminated or called close()), the lane
 * stays until everything it wrote has been sealed, then its locations are dropped: counter totals stay in
 * `Series.total`, the worker's gauge contribution goes away.
 *
 * Before each seal every lane is copied into main-thread mirrors (src/workers/lane-copy.ts: whole records only,
 * lock-free): the slot being sealed into its own window, and every other slot that is not open into that same
 * window, so a record that straggled across a boundary lands in the window of its second when that window is
 * not sealed yet, else in the next one; flush() does the same with the open slot, so after flush() every record
 * a worker finished before it is delivered. shutdown() first closes the worker lanes' clock (records afterwards
 * write nothing), waits for records in flight to finish, then copies every slot: totals are exact.
 *
 * Grace: with a worker attached, the registry seals `sealGraceMs` (20 ms, at most a fifth of the interval) after
 * advancing the clock, so a record that read the old slot just before the boundary is finished when the slot is
 * read, and lands in its own window.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import type { Metrics } from '../core/api.js';
import { bucketMapping, type BucketMapping } from '../core/histogram/mapping.js';
import { allocateBuckets, allocatePage, PAGE_SIZE, pageByteLength, viewPage, type Page } from '../core/pages.js';
import { ConfigError, ConfigErrorCode } from '../core/errors.js';
import type { LaneLocation, Series } from '../core/series.js';
import { workerPortOf, type WorkerPort } from '../core/worker-port.js';
import { LaneCopier, type CopyProbe, type CopyStats, type HeldSeries, type MirroredPage } from './lane-copy.js';
import { LINK_TAG, type LaneMessage, type PortMessage, type SyncedMessage, type WorkerLink } from './protocol.js';

/** Delay between a boundary and its seal once a worker may write (never more than a fifth of the interval). */
export const WORKER_SEAL_GRACE_MS = 20;

/** A closed lane whose slots are still not all sealed after this many checks (one per interval) is dropped anyway: the registry is no longer sealing. */
const MAX_DRAIN_CHECKS_PER_SLOT = 4;

/** Seals after a lane's port closed before its records are copied without the in-flight check (the thread ended mid-record). */
const SEALS_BEFORE_TRUSTING_A_CLOSED_LANE = 2;

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

/** Diagnostics (tests, bench): records copied from worker lanes, stragglers among them, slots left for a later seal. */
export function workerLaneStats(metrics: Metrics): Readonly<CopyStats> {
  const port = workerPortOf(metrics);
  const hub = port === undefined ? undefined : hubs.get(port);
  return { ...(hub?.copier.stats ?? { records: 0, stragglers: 0, deferred: 0, retries: 0 }) };
}

/** Test hook: runs between the reads of every copy, so a test can interleave a writer's steps. */
export function setCopyProbe(metrics: Metrics, probe: CopyProbe | undefined): void {
  const port = workerPortOf(metrics);
  if (port !== undefined) hubOf(metrics, 'setCopyProbe').copier.probe = probe;
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
  readonly copier: LaneCopier;
  /** shutdown() is collecting the last records: closed lanes are copied without waiting. */
  closing = false;
  private readonly warned = new Set<string>();

  constructor(readonly port: WorkerPort) {
    this.slots = port.slots;
    this.mapping = bucketMapping(port.histogramScale);
    this.bucketsLength = port.slots * (this.mapping.size + 1);
    this.copier = new LaneCopier(this.mapping);
    port.requestSealGrace(WORKER_SEAL_GRACE_MS);
    port.onBeforeSeal((slot, ahead) => {
      if (slot >= 0) for (const lane of this.lanes) lane.collect(slot, ahead);
    });
    port.holdSealWhile((slot) => {
      for (const lane of this.lanes) if (lane.inFlight(slot)) return true;
      return false;
    });
    port.onFlush((final) => (final ? this.quiesce() : undefined));
  }

  /**
   * shutdown(): the worker clock is closed, so no record starts in a slot any more. Waits the seal grace (a record
   * that read the clock just before) and then until no record is half-written, at most one interval.
   */
  private async quiesce(): Promise<void> {
    this.closing = true;
    if (this.lanes.size === 0) return;
    const grace = Math.min(WORKER_SEAL_GRACE_MS, Math.floor(this.port.intervalMs / 5));
    await new Promise((resolve) => setTimeout(resolve, grace));
    const deadline = Date.now() + this.port.intervalMs;
    while (Date.now() < deadline && [...this.lanes].some((lane) => lane.inFlight())) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
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

/**
 * One worker's lane as the main thread sees it: its pages and series, each with a main-thread mirror that the
 * sealer reads and clears as it does the main lane. The worker's own slots are never cleared by this thread
 * (src/workers/lane-copy.ts copies them by difference).
 */
class Lane {
  private readonly pages: MirroredPage[] = [];
  private readonly held: HeldSeries[] = [];
  private drainChecks = 0;
  private detached = false;
  private closed = false;
  private sealsSinceClose = 0;

  constructor(
    private readonly hub: Hub,
    private readonly port: MessagePort,
  ) {
    port.on('message', (message: LaneMessage) => this.receive(message));
    port.once('close', () => {
      this.closed = true;
      this.drain();
    });
    // The lane must not keep the main process alive; the worker itself does, as long as it runs.
    port.unref();
  }

  /**
   * Before the seal of `slot`: copies every slot of a window already sealed (records that straggled into it:
   * they join this window), then `slot` itself (its min / max restart unless it is the open slot, cut by
   * flush()). The `ahead` slots after `slot` belong to windows not sealed yet and wait for their own seal.
   */
  collect(slot: number, ahead: number): void {
    const { slots } = this.hub;
    if (this.closed) this.sealsSinceClose++;
    for (const held of this.held) {
      for (let after = ahead + 1; after < slots; after++) this.copy(held, (slot + after) % slots, slot, true);
      this.copy(held, slot, slot, ahead > 0);
    }
  }

  private copy(held: HeldSeries, source: number, target: number, reset: boolean): void {
    const { copier } = this.hub;
    if (copier.copy(held, source, target, reset, false)) return;
    // Still half-written after the hold. A thread that ended mid-record leaves it so forever: once its port has
    // been closed for a few seals, or at shutdown's last copy (after waiting an interval), read the slot as it is
    // (the buckets are the count) rather than lose every record in it.
    const gone = this.closed && this.sealsSinceClose > SEALS_BEFORE_TRUSTING_A_CLOSED_LANE;
    if (gone || this.hub.closing) copier.copy(held, source, target, false, true);
  }

  /** True when a record of a running worker is half-written in `slot` (or in any slot). */
  inFlight(slot?: number): boolean {
    if (this.closed) return false;
    for (const held of this.held) if (this.hub.copier.inFlight(held, this.hub.slots, slot)) return true;
    return false;
  }

  private receive(message: LaneMessage): void {
    if (this.detached || typeof message !== 'object' || message === null) return;
    if (message.type === 'page') {
      const { slots } = this.hub;
      const valid =
        message.page === this.pages.length &&
        message.buffer instanceof SharedArrayBuffer &&
        message.buffer.byteLength === pageByteLength(slots) &&
        message.begun instanceof SharedArrayBuffer &&
        message.begun.byteLength === slots * PAGE_SIZE * Float64Array.BYTES_PER_ELEMENT;
      if (valid) {
        this.pages.push({
          worker: viewPage(message.buffer, slots),
          begun: new Float64Array(message.begun),
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
