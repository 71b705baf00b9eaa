/**
 * BullMQ backlog: `queue.getJobCounts(...states)` (one Redis round trip per queue), by default the jobs waiting,
 * prioritized and active. Delayed jobs are scheduled for later, not backlog; add `'delayed'` to count them.
 *
 *   const jobs = new Queue('jobs', { connection });
 *   metrics.gauge('queue.depth', { unit: '{job}', observe: bullmqQueueDepth({ queue: jobs }) });
 *
 * BullMQ calls cannot be cancelled, so the window's AbortSignal ends the wait instead.
 */
import { abortable, list, readAll, type QueueDepthObserver, type QueueDepthOptions } from './common.js';

/** What is used of a BullMQ Queue. */
export interface BullQueueLike {
  readonly name: string;
  getJobCounts(...types: never[]): Promise<Record<string, number>>;
}

export interface BullmqQueueDepthOptions extends QueueDepthOptions {
  queue?: BullQueueLike;
  queues?: readonly BullQueueLike[];
  /** Job states counted. Default ['waiting', 'prioritized', 'active']. */
  states?: readonly string[];
}

export const DEFAULT_BULLMQ_STATES: readonly string[] = ['waiting', 'prioritized', 'active'];

export function bullmqQueueDepth(options: BullmqQueueDepthOptions): QueueDepthObserver {
  const queues = list(options.queue, options.queues, '{ queue } or { queues }');
  for (const queue of queues) {
    if (queue === null || typeof queue !== 'object' || typeof queue.getJobCounts !== 'function') {
      throw new TypeError('scalesignal: bullmqQueueDepth needs BullMQ Queue objects');
    }
  }
  const states = options.states ?? DEFAULT_BULLMQ_STATES;
  return (signal) =>
    readAll(queues, (q) => q.name, async (queue) => {
      const counts = await abortable(queue.getJobCounts(...(states as never[])), signal);
      const picked: Record<string, number> = {};
      for (const state of states) picked[state] = Number(counts[state] ?? 0);
      return picked;
    }, options);
}
