/**
 * A worker lane played on the main thread, one store at a time: the lane's page, begun words and buckets are
 * announced over a real link's port exactly as connectMetrics() does, and StepWriter performs a histogram record
 * in the same order as SequencedHistogramHandle.record (every load, then the stores) (src/workers/sequenced-handles.ts), so a test can
 * stop a record half-way, let the main thread seal or flush, and finish it later.
 */
import type { MessagePort } from 'node:worker_threads';
import { vi } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { bucketMapping } from '../../src/core/histogram/mapping.js';
import { allocateBuckets, allocatePage, PAGE_SIZE, type Page } from '../../src/core/pages.js';
import type { MetricsRegistry } from '../../src/core/registry.js';
import { createWorkerLink } from '../../src/workers/index.js';
import type { LaneMessage } from '../../src/workers/protocol.js';
import { collectSink } from '../helpers/collect.js';

export const SLOTS = 4;
export const mapping = bucketMapping(6);

/** Round trip over the port: every message sent before it has been handled by the main thread. */
function sync(port: MessagePort): Promise<void> {
  return new Promise((resolve) => {
    port.once('message', () => resolve());
    port.postMessage({ type: 'sync', id: 1 } satisfies LaneMessage);
  });
}

/** Steps of one record, as SequencedHistogramHandle.record stores them. */
const STEPS = ['clock', 'load', 'begun', 'sum', 'min', 'max', 'bucket', 'count'] as const;

export class StepWriter {
  /** Next step of the record in progress (0: none in progress). */
  step = 0;
  private slot = 0;
  private o = 0;
  private n = 0;
  private value = 0;
  private bucketAt = 0;
  private loaded = { sum: 0, min: 0, max: 0, bucket: 0 };
  /** Every record started: value, the slot the clock showed and the time it started. */
  readonly started: Array<{ value: number; slot: number; at: number; done: boolean }> = [];

  constructor(
    private readonly clock: Int32Array,
    private readonly page: Page,
    private readonly begun: Float64Array,
    private readonly buckets: Uint32Array,
    private readonly nextValue: (i: number) => number,
  ) {}

  get idle(): boolean {
    return this.step === 0;
  }

  /** Performs one store (or the clock read) of the current record, starting a new one when idle. */
  advance(): void {
    const { page } = this;
    switch (STEPS[this.step]) {
      case 'clock':
        this.value = this.nextValue(this.started.length);
        this.slot = this.clock[0];
        this.o = this.slot * PAGE_SIZE;
        this.started.push({ value: this.value, slot: this.slot, at: Date.now(), done: false });
        break;
      case 'load':
        // The handle loads every field before its first store.
        this.bucketAt = this.slot * (mapping.size + 1) + (this.value > 0 ? mapping.denseIndex(this.value) : mapping.size);
        this.n = page.count[this.o] + 1;
        this.loaded = { sum: page.sum[this.o], min: page.min[this.o], max: page.max[this.o], bucket: this.buckets[this.bucketAt] };
        break;
      case 'begun':
        this.begun[this.o] = this.n;
        break;
      case 'sum':
        page.sum[this.o] = this.loaded.sum + this.value;
        break;
      case 'min':
        if (this.value < this.loaded.min) page.min[this.o] = this.value;
        break;
      case 'max':
        if (this.value > this.loaded.max) page.max[this.o] = this.value;
        break;
      case 'bucket':
        this.buckets[this.bucketAt] = this.loaded.bucket + 1;
        break;
      case 'count':
        page.count[this.o] = this.n;
        (this.started.at(-1) as { done: boolean }).done = true;
        break;
    }
    this.step = (this.step + 1) % STEPS.length;
  }

  /** Runs steps up to and including `name` of the current (or next) record. */
  until(name: (typeof STEPS)[number]): void {
    do this.advance();
    while (STEPS[(this.step + STEPS.length - 1) % STEPS.length] !== name);
  }

  finish(): void {
    while (!this.idle) this.advance();
  }

  record(value?: number): void {
    if (value !== undefined) {
      const next = this.nextValue;
      (this as unknown as { nextValue: (i: number) => number }).nextValue = () => value;
      this.until('count');
      (this as unknown as { nextValue: (i: number) => number }).nextValue = next;
    } else {
      this.until('count');
    }
  }
}

/** A registry (fake timers must be installed) with one fake worker lane holding histogram "lat". */
export async function fakeLane(nextValue: (i: number) => number = () => 1) {
  const sink = collectSink();
  const metrics = createMetrics({ service: 'test', eventLoop: false, slots: SLOTS, sinks: [sink] }) as MetricsRegistry;
  const link = createWorkerLink(metrics);
  const page = allocatePage(SLOTS, true);
  const begun = new Float64Array(new SharedArrayBuffer(SLOTS * PAGE_SIZE * 8));
  const buckets = allocateBuckets(SLOTS, mapping.size, true);
  link.port.postMessage({ type: 'page', page: 0, buffer: page.buffer as SharedArrayBuffer, begun: begun.buffer as SharedArrayBuffer } satisfies LaneMessage);
  link.port.postMessage({
    type: 'series',
    page: 0,
    index: 0,
    buckets: buckets.buffer as SharedArrayBuffer,
    name: 'lat',
    kind: 'histogram',
    unit: 'ms',
    description: '',
    labels: {},
    overflow: false,
  } satisfies LaneMessage);
  await sync(link.port);
  const clock = new Int32Array(link.clock, 4, 1);
  const writer = new StepWriter(clock, page, begun, buckets, nextValue);
  /** Settles a promise that waits on (fake) timers. */
  const settle = async <T>(promise: Promise<T>, ms = 3000): Promise<T> => {
    await vi.advanceTimersByTimeAsync(ms);
    return promise;
  };
  return { metrics, sink, link, page, begun, buckets, writer, settle };
}
