/**
 * A piscina pool whose workers record into the main thread's one-second windows: task duration (P99), tasks
 * completed and tasks running, recorded inside the workers without a message per record, next to the queue
 * depth observed on the main thread. Halfway through, the load triples: the queue and P99 rise within a window.
 *
 *   npx tsx examples/piscina-worker.ts --seconds 5
 */
import { parseArgs } from 'node:util';
import { Piscina } from 'piscina';
import { acceptMetricsPort, consoleSink, createMetrics, createPoolLink } from '../src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' } } });
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 2) {
  console.error('--seconds must be a number >= 2');
  process.exit(2);
}

const shown = new Set(['pool.task.duration', 'pool.tasks.completed', 'pool.tasks.active', 'pool.queue.depth']);
const metrics = createMetrics({ service: 'piscina-demo', eventLoop: false, sinks: [consoleSink({ filter: (s) => shown.has(s.name) })] });

// One link for the whole pool: piscina hands the same workerData to every worker it starts.
const pool = new Piscina({
  filename: new URL('./piscina-task.mjs', import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
  workerData: { scalesignal: createPoolLink(metrics) },
});
// Each worker sends its lane's port once, as a pool message; attach this before the first worker starts.
pool.on('message', acceptMetricsPort);
metrics.gauge('pool.queue.depth', { unit: '{task}', description: 'Tasks waiting for a worker', observe: () => pool.queueSize });

// Load: tasks of 2-6 ms at ~150/s (well within two workers' capacity), then ~600/s for the second half.
const started = Date.now();
const stop = new AbortController();
const pending = new Set<Promise<unknown>>();
const timer = setInterval(() => {
  const elapsed = (Date.now() - started) / 1000;
  const perTick = elapsed < seconds / 2 ? 3 : 12;
  for (let i = 0; i < perTick; i++) {
    const task = pool.run({ cost: 2 + Math.random() * 4 }, { signal: stop.signal });
    pending.add(task);
    void task.catch(() => {}).finally(() => pending.delete(task));
  }
}, 20);

await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
clearInterval(timer);
// Drop what is still queued: the point was the surge, not draining it.
stop.abort();
await Promise.allSettled([...pending]);
await pool.destroy();
await metrics.shutdown();
