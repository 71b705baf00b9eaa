/**
 * What travels between the main thread and a worker. Records never do: they are plain stores into the worker's
 * own SharedArrayBuffer lane. Only the lane's layout does, once per page and once per series, so the main
 * thread's sealer can read the lane.
 */
import type { MessagePort } from 'node:worker_threads';
import type { Labels, MetricKind } from '../core/window.js';

/** Tag and protocol version of a link; a link from another version of the package is refused, not misread. */
export const LINK_TAG = 'scalesignal.worker-link/2';

/**
 * Everything a worker needs to record into the main thread's windows. Structured-cloneable: put it in
 * `workerData`. A link made by createWorkerLink() carries a MessagePort and serves exactly one worker (list the
 * port in `transferList`); a link made by createPoolLink() has no port and can be shared by every worker of a pool.
 */
export interface WorkerLink {
  readonly scalesignal: typeof LINK_TAG;
  /** Identifies the main thread's registry, so a pool worker's port reaches the right one. */
  readonly registry: number;
  /** The main thread's clock: element 1 is the slot worker lanes write to now (-1 once shutdown closed them). */
  readonly clock: SharedArrayBuffer;
  readonly intervalMs: number;
  readonly slots: number;
  readonly histogramScale: number;
  readonly maxSeriesPerMetric: number;
  readonly port?: MessagePort;
}

/** Worker -> main, over the lane's port. */
export type LaneMessage =
  | {
      readonly type: 'page';
      readonly page: number;
      readonly buffer: SharedArrayBuffer;
      /** Per slot and series: the count a record in flight will reach (see src/workers/sequenced-handles.ts). */
      readonly begun: SharedArrayBuffer;
    }
  | {
      readonly type: 'series';
      readonly page: number;
      readonly index: number;
      /** Histograms only: the series' bucket array. */
      readonly buckets: SharedArrayBuffer | null;
      readonly name: string;
      readonly kind: MetricKind;
      readonly unit: string;
      readonly description: string;
      /** Canonical (sorted, stringified) labels, so the main thread finds the same series as its own. */
      readonly labels: Labels;
      /** The worker's overflow series: joins the main thread's overflow series of the metric. */
      readonly overflow: boolean;
    }
  | { readonly type: 'sync'; readonly id: number };

/** Main -> worker, over the lane's port. */
export interface SyncedMessage {
  readonly type: 'synced';
  readonly id: number;
}

/** Worker -> main over `parentPort`, for pool links: hands the main thread this worker's lane port. */
export interface PortMessage {
  readonly scalesignal: typeof LINK_TAG;
  readonly registry: number;
  readonly port: MessagePort;
}
