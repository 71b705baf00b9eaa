/**
 * Shared shape of the queue-depth recipes: each returns an observe callback for an observed gauge,
 *   metrics.gauge('queue.depth', { unit: '{message}', observe: sqsQueueDepth({ client, queueUrl }) })
 * polled once per window, never overlapping, with the window's AbortSignal passed through to the backend call.
 * Values carry the label `queue` (and `state` with `byState: true`).
 */
import type { ObservedValue } from '../../core/api.js';

export type QueueDepthObserver = (signal: AbortSignal) => Promise<readonly ObservedValue[]>;

export interface QueueDepthOptions {
  /**
   * One value per queue and state (`state` label) instead of their sum per queue. Default false: the sum is what
   * a scaler compares with a target (messages per pod).
   */
  byState?: boolean;
  /**
   * Called for each queue whose read failed while others succeeded (those are still reported). When every read
   * fails the observation fails as a whole and scalesignal counts it in `scalesignal.observe.failures`.
   */
  onError?: (error: unknown, queue: string) => void;
}

/** Reads every queue concurrently; keeps the values of those that answered. */
export async function readAll<Q>(
  queues: readonly Q[],
  nameOf: (queue: Q) => string,
  read: (queue: Q) => Promise<Readonly<Record<string, number>>>,
  options: QueueDepthOptions,
): Promise<ObservedValue[]> {
  const results = await Promise.allSettled(queues.map(read));
  const values: ObservedValue[] = [];
  let failures = 0;
  let firstError: unknown;
  results.forEach((result, i) => {
    const queue = nameOf(queues[i]);
    if (result.status === 'rejected') {
      failures++;
      firstError ??= result.reason;
      options.onError?.(result.reason, queue);
      return;
    }
    const counts = result.value;
    if (options.byState) {
      for (const state of Object.keys(counts)) values.push({ value: counts[state], labels: { queue, state } });
    } else {
      let total = 0;
      for (const state of Object.keys(counts)) total += counts[state];
      values.push({ value: total, labels: { queue } });
    }
  });
  if (failures === queues.length && queues.length > 0) throw firstError;
  return values;
}

/** Rejects when the signal aborts, so a backend call without cancellation still ends at the window's timeout. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function list<T>(one: T | undefined, many: readonly T[] | undefined, what: string): readonly T[] {
  const all = [...(one === undefined ? [] : [one]), ...(many ?? [])];
  if (all.length === 0) throw new TypeError(`scalesignal: give ${what}`);
  return all;
}

/**
 * Several recipes behind one observed gauge (a metric name has one observe callback): their values are
 * concatenated; a recipe that fails is skipped (reported to onError) unless all fail.
 */
export function combineQueueDepths(
  observers: readonly QueueDepthObserver[],
  onError?: (error: unknown) => void,
): QueueDepthObserver {
  return async (signal) => {
    const results = await Promise.allSettled(observers.map((observe) => observe(signal)));
    const values: ObservedValue[] = [];
    let failed = 0;
    let firstError: unknown;
    for (const result of results) {
      if (result.status === 'fulfilled') values.push(...result.value);
      else {
        failed++;
        firstError ??= result.reason;
        onError?.(result.reason);
      }
    }
    if (failed === observers.length && observers.length > 0) throw firstError;
    return values;
  };
}
