import type { Sink } from '../../../src/index.js';
import type { Delivery } from '../arrivals.js';

/** One backend, as the conformance suite drives it. A new sink gets the suite by adding one adapter file. */
export interface SinkAdapter {
  readonly name: string;
  /** Pull backends (Prometheus) hold cumulative state read while the process runs. */
  readonly cumulative: boolean;
  /** A fresh sink for one process lifetime, speaking to this adapter's receiver. */
  sink(): Sink;
  /** Decodes what reached the backend so far. */
  delivered(): Promise<Delivery>;
  close(): Promise<void>;
}
