/** worker_threads support: workers record into their own shared lanes, sealed into the main thread's windows. */
export { acceptMetricsPort, createPoolLink, createWorkerLink, WORKER_SEAL_GRACE_MS } from './link.js';
export { connectMetrics, type WorkerMetrics } from './connect.js';
export type { WorkerLink } from './protocol.js';
