import type { Metrics } from '../core/api.js';

/** What a provider records into: a main-thread Metrics, or a worker thread's (synchronous instruments only). */
export type RecordingTarget = Pick<Metrics, 'intervalMs' | 'counter' | 'gauge' | 'histogram' | 'flush'>;
