/**
 * Worker-thread side: connectMetrics(link) gives a worker the same counter / gauge / histogram API as the main
 * thread, recording into this thread's own lane in SharedArrayBuffers. The instruments and bound handles are the
 * core's own classes over a worker-side SeriesTable, so a record is the same plain typed-array stores as on the
 * main thread, with the slot read from the main thread's shared clock. The worker never seals: the main thread's
 * sealer reads this lane, so windows close on time however busy the worker is.
 *
 * Series are never evicted in a worker (there is no sealer here to see them idle); unbound label sets beyond
 * `maxSeriesPerMetric` go to the overflow series, as on the main thread.
 */
import { isMainThread, MessageChannel, parentPort, type MessagePort } from 'node:worker_threads';
import type { Counter, Gauge, Histogram, InstrumentOptions } from '../core/api.js';
import { bucketMapping } from '../core/histogram/mapping.js';
import type { DropRecorder } from '../core/handles.js';
import { InstrumentRegistry } from '../core/instrument-registry.js';
import { allocateBuckets, PageAllocator, PAGE_SIZE } from '../core/pages.js';
import { ConfigError, ConfigErrorCode } from '../core/errors.js';
import { OVERFLOW_LABELS, Series, SeriesTable, type Handle, type MetricDefinition, type TableOptions } from '../core/series.js';
import type { Labels, MetricKind } from '../core/window.js';
import { LINK_TAG, type LaneMessage, type PortMessage, type SyncedMessage, type WorkerLink } from './protocol.js';
import { SequencedCounterHandle, SequencedGaugeHandle, SequencedHistogramHandle } from './sequenced-handles.js';

export interface WorkerMetrics {
  readonly intervalMs: number;
  counter(name: string, options?: InstrumentOptions): Counter;
  /** Gauges add up across threads: each thread holds its part (e.g. its own in-flight tasks). */
  gauge(name: string, options?: InstrumentOptions): Gauge;
  histogram(name: string, options?: InstrumentOptions): Histogram;
  /**
   * Resolves once the main thread has attached every series declared so far. Records need no flushing (the
   * sealer reads them from shared memory); await this before recording when a series' very first records must
   * land in the window they were made in.
   */
  flush(): Promise<void>;
  /** Detaches this thread's lane: the main thread seals what it holds, then drops it. Records afterwards are not seen. */
  close(): void;
}

let connection: WorkerConnection | undefined;
/** Ports of links whose lane was closed: the main thread has dropped that lane, so the link cannot serve again. */
const closedPorts = new WeakSet<MessagePort>();

/** Connects this worker thread to the main thread's registry; call it once per thread (later calls return the same object). */
export function connectMetrics(link: WorkerLink): WorkerMetrics {
  if (isMainThread) {
    throw new ConfigError('connectMetrics() runs in a worker thread; the main thread records through createMetrics()');
  }
  assertLink(link);
  if (connection !== undefined) {
    if (connection.registry === link.registry) return connection;
    throw new ConfigError('this worker is already connected to another registry; close() that connection first');
  }
  if (link.port !== undefined && closedPorts.has(link.port)) {
    throw new ConfigError('connectMetrics(link): this link\'s lane was closed; a new lane needs a new createWorkerLink() from the main thread');
  }
  connection = new WorkerConnection(link);
  return connection;
}

function assertLink(link: unknown): asserts link is WorkerLink {
  const candidate = link as Partial<WorkerLink> | null | undefined;
  if (typeof candidate !== 'object' || candidate === null || candidate.scalesignal !== LINK_TAG) {
    throw new ConfigError(
      'connectMetrics(link): link must be the object made by createWorkerLink() or createPoolLink() on the main thread (passed through workerData), from the same scalesignal version',
    );
  }
  if (!(candidate.clock instanceof SharedArrayBuffer)) throw new ConfigError('connectMetrics(link): link.clock must be a SharedArrayBuffer');
}

/**
 * A SeriesTable whose series record through sequenced handles (src/workers/sequenced-handles.ts) and that tells
 * the main thread about every series it creates (once each).
 */
class AnnouncingTable extends SeriesTable {
  constructor(
    options: TableOptions,
    /** Per page: the `begun` words of its slots and series. */
    private readonly begun: readonly Float64Array[],
    private readonly post: (message: LaneMessage) => void,
  ) {
    super(options);
  }

  override create(definition: MetricDefinition, labels: Labels, labelKey: string): Series {
    const { allocator, clock, mapping, drops } = this.options;
    const { page, index, pageNumber } = allocator.allocate();
    const begun = this.begun[pageNumber];
    let buckets: Uint32Array | null = null;
    let handle: SequencedCounterHandle | SequencedGaugeHandle | SequencedHistogramHandle;
    if (definition.kind === 'counter') {
      handle = new SequencedCounterHandle(clock, page, begun, index, definition.name, drops);
    } else if (definition.kind === 'gauge') {
      handle = new SequencedGaugeHandle(clock, page, begun, index, definition.name, drops);
    } else {
      buckets = allocateBuckets(allocator.slots, mapping.size, true);
      handle = new SequencedHistogramHandle(clock, page, begun, index, buckets, mapping.tables, mapping.size, definition.name, drops);
    }
    // The instruments only call add / set / record / startTimer, which the sequenced handles implement.
    const series = new Series(definition, labels, labelKey, { page, index, buckets }, pageNumber, handle as unknown as Handle, this.options.now());
    this.all.add(series);
    this.post({
      type: 'series',
      page: pageNumber,
      index,
      buckets: buckets === null ? null : (buckets.buffer as SharedArrayBuffer),
      name: definition.name,
      kind: definition.kind,
      unit: definition.unit,
      description: definition.description,
      labels: series.labels,
      overflow: series.labels === OVERFLOW_LABELS,
    });
    return series;
  }
}

class WorkerConnection implements WorkerMetrics {
  readonly intervalMs: number;
  readonly registry: number;
  private readonly port: MessagePort;
  private readonly table: SeriesTable;
  private readonly instruments: InstrumentRegistry;
  private readonly dropped: Counter;
  private readonly syncs = new Map<number, () => void>();
  private nextSync = 1;
  private closed = false;

  constructor(link: WorkerLink) {
    this.intervalMs = link.intervalMs;
    this.registry = link.registry;
    this.port = link.port ?? handOverPort(link.registry);
    const post = (message: LaneMessage) => {
      if (!this.closed) this.port.postMessage(message);
    };
    const begun: Float64Array[] = [];
    const allocator = new PageAllocator(link.slots, true, (page, pageNumber) => {
      const words = new Float64Array(new SharedArrayBuffer(link.slots * PAGE_SIZE * Float64Array.BYTES_PER_ELEMENT));
      begun[pageNumber] = words;
      post({ type: 'page', page: pageNumber, buffer: page.buffer as SharedArrayBuffer, begun: words.buffer as SharedArrayBuffer });
    });
    const drops: DropRecorder = { drop: (metric, reason) => this.dropped.add(1, { metric, reason }) };
    this.table = new AnnouncingTable(
      {
        // Element 1 of the main thread's clock: the slot worker lanes write (-1 once shutdown closed them).
        clock: new Int32Array(link.clock, Int32Array.BYTES_PER_ELEMENT, 1),
        allocator,
        mapping: bucketMapping(link.histogramScale),
        maxSeriesPerMetric: link.maxSeriesPerMetric,
        drops,
        // Only read for idle eviction, which never happens in a worker.
        now: () => 0,
        shared: true,
      },
      begun,
      post,
    );
    this.instruments = new InstrumentRegistry(this.table);
    // Same name, unit and description as the main thread's, so drops in workers merge into one series.
    this.dropped = this.counter('scalesignal.recordings.dropped', {
      unit: '{recording}',
      description: 'Recordings dropped: NaN, infinite, negative (counters, histograms) or not a number',
    });
    this.port.on('message', (message: SyncedMessage) => this.synced(message));
    this.port.once('close', () => this.detach());
    // The lane must not keep the worker alive; flush() refs the port while it waits.
    this.port.unref();
  }

  counter(name: string, options: InstrumentOptions = {}): Counter {
    return this.instruments.counter(name, options);
  }

  histogram(name: string, options: InstrumentOptions = {}): Histogram {
    return this.instruments.histogram(name, options);
  }

  gauge(name: string, options: InstrumentOptions = {}): Gauge {
    if (typeof options === 'object' && options !== null && 'observe' in options) {
      throw new ConfigError(`gauge "${name}": observed gauges are polled by the main thread; declare them there`);
    }
    return this.instruments.gauge(name, options);
  }

  flush(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const id = this.nextSync++;
    return new Promise((resolve) => {
      this.syncs.set(id, resolve);
      this.port.ref();
      this.port.postMessage({ type: 'sync', id } satisfies LaneMessage);
    });
  }

  close(): void {
    if (this.closed) return;
    this.port.close();
    this.detach();
  }

  private detach(): void {
    this.closed = true;
    closedPorts.add(this.port);
    for (const resolve of this.syncs.values()) resolve();
    this.syncs.clear();
    if (connection === this) connection = undefined;
  }

  private synced(message: SyncedMessage): void {
    if (typeof message !== 'object' || message === null || message.type !== 'synced') return;
    const resolve = this.syncs.get(message.id);
    if (resolve === undefined) return;
    this.syncs.delete(message.id);
    resolve();
    if (this.syncs.size === 0) this.port.unref();
  }
}

/** Pool links carry no port: make one and send its other end to the main thread (acceptMetricsPort picks it up). */
function handOverPort(registry: number): MessagePort {
  if (parentPort === null) throw new ConfigError('connectMetrics(link): a pool link needs a worker with a parentPort');
  const { port1, port2 } = new MessageChannel();
  const message: PortMessage = { scalesignal: LINK_TAG, registry, port: port2 };
  parentPort.postMessage(message, [port2]);
  return port1;
}
