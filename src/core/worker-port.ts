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
  /**
   * The shared clock (two Int32 elements): element 0 is the main lane's open slot, element 1 the slot worker
   * lanes write (the same slot; -1 after shutdown closed the worker lanes). Workers read element 1 on every record.
   */
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
   * Runs `hook(slot, ahead)` just before a slot is sealed (slot -1: an interval no lane could write). `ahead`:
   * how many intervals after the one sealed are open or waiting for their seal (0 for flush()'s cut), so the
   * slots from `slot` to `slot + ahead` (mod slots) still belong to unsealed windows and every other slot to
   * sealed ones. Returns a function that removes the hook.
   */
  onBeforeSeal(hook: (slot: number, ahead: number) => void): () => void;
  /**
   * Runs `hook(final)` in flush() just before it cuts the open interval; `final` is true for shutdown()'s last
   * flush, which has closed the worker lanes' clock first. A returned promise is awaited (within shutdown's
   * deadline) before the cut. Returns a function that removes the hook.
   */
  onFlush(hook: (final: boolean) => void | Promise<void>): () => void;
  /**
   * After the grace, a seal waits 1 ms more while `held(slot)` is true (a worker's record in that slot is still
   * half-written), up to half an interval after the boundary. Returns a function that removes the check.
   */
  holdSealWhile(held: (slot: number) => boolean): () => void;
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
