/**
 * An in-process queue's length, read once per window: an array, anything with `length` or `size` (Map, Set,
 * p-queue's `size`), or a function returning a number.
 *
 *   const jobs: Job[] = [];
 *   metrics.gauge('queue.depth', { unit: '{job}', observe: inProcessQueueDepth({ queues: { jobs } }) });
 *
 * A value read once per window misses what happens in between; when the queue is yours, a bound gauge updated on
 * every push and shift (`gauge.bind({ queue: 'jobs' }).add(±1)`) gives each window's exact max instead.
 */
import type { ObservedValue } from '../../core/api.js';
import type { QueueDepthObserver } from './common.js';

export type QueueSource = { readonly length: number } | { readonly size: number } | (() => number);

export interface InProcessQueueDepthOptions {
  /** Queue name -> source. */
  queues: Readonly<Record<string, QueueSource>>;
}

export function inProcessQueueDepth(options: InProcessQueueDepthOptions): QueueDepthObserver {
  const entries = Object.entries(options?.queues ?? {});
  if (entries.length === 0) throw new TypeError('scalesignal: inProcessQueueDepth needs { queues: { name: source } }');
  for (const [name, source] of entries) {
    if (typeof source !== 'function' && (source === null || typeof source !== 'object' || !('length' in source || 'size' in source))) {
      throw new TypeError(`scalesignal: queue "${name}" must be an array, have length or size, or be a function`);
    }
  }
  return async () => {
    const values: ObservedValue[] = [];
    for (const [queue, source] of entries) {
      const value = typeof source === 'function' ? source() : 'length' in source ? source.length : source.size;
      values.push({ value, labels: { queue } });
    }
    return values;
  };
}
