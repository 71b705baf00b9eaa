import { Worker, type WorkerOptions } from 'node:worker_threads';

const boot = new URL('./fixtures/boot.mjs', import.meta.url);

/** Starts a TypeScript worker from source (see fixtures/boot.mjs). */
export function tsWorker(entry: URL, options: WorkerOptions & { workerData?: Record<string, unknown> } = {}): Worker {
  return new Worker(boot, { ...options, workerData: { ...options.workerData, entry: entry.href } });
}

/** Resolves with the first message matching `type`. */
export function nextMessage<T extends { type: string }>(worker: Worker, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message?.type !== type) return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve(message);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

export function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

/** Polls `condition` every 10 ms; the test's own timeout bounds the wait. */
export async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
