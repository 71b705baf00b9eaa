/** `scalesignal/workers`: worker_threads record into their own lanes, sealed into the main thread's windows. */
export * from '../workers/index.js';
