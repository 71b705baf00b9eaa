/**
 * The port the worker_threads side uses to reach a registry: what it may read and the few things it may do.
 * Nothing else of the registry is visible to it. A registry is recognised by a `Symbol.for` brand rather than
 * `instanceof`, so an app that mixes the ESM and CJS builds (two copies of the classes) still links workers.
 */
import type { Logger } from './api.js';
import type { LaneLocation, MetricDefinition, Series } from './series.js';

/** Registry-wide brand: `metrics[METRICS_PORT]()` returns the WorkerPort. */
export const METRICS_PORT: unique symbol = Symbol.for('scalesignal.metrics.port') as never;

export interface WorkerPort {
  /** The shared clock: element 0 is the slot being written. Workers read it on every record. */
  readonly clock: SharedArrayBuffer;
  readonly intervalMs: number;
  readonly slots: number;
  readonly histogramScale: number;
  readonly maxSeriesPerMetric: number;
  readonly logger: Logger;
  /**
   * The registry's series for a worker's series, declared with the same rules as the main thread's instruments
   * (a kind or unit conflict throws a ConfigError). Pinned: it is never evicted while a worker may write to it.
   */
  series(definition: MetricDefinition, labels: Readonly<Record<string, string>> | 'overflow'): Series;
  /** Adds a worker lane's mirror location to a series, so the sealer reads it with the main lane's. */
  attachLocation(series: Series, location: LaneLocation): void;
  detachLocation(series: Series, location: LaneLocation): void;
  /**
   * Runs `hook(slot)` just before a slot is sealed (slot -1: an interval no lane could write). Returns a
   * function that removes the hook.
   */
  onBeforeSeal(hook: (slot: number) => void): () => void;
  /** Delays each seal by at least `ms` after the boundary, so a worker's record racing it lands first. */
  requestSealGrace(ms: number): void;
}

export interface HasWorkerPort {
  [METRICS_PORT](): WorkerPort;
}

/** The registry's port, or undefined for anything that is not a scalesignal registry. */
export function workerPortOf(metrics: unknown): WorkerPort | undefined {
  if (typeof metrics !== 'object' || metrics === null) return undefined;
  const open = (metrics as Partial<HasWorkerPort>)[METRICS_PORT];
  return typeof open === 'function' ? open.call(metrics) : undefined;
}
