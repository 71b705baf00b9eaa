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
// One AbortController per task: piscina adds an 'abort' listener to the signal of every queued task, so one
// signal shared by hundreds of queued tasks would pass Node's 10-listener warning (MaxListenersExceededWarning).
const started = Date.now();
const pending = new Map<Promise<unknown>, AbortController>();
const timer = setInterval(() => {
  const elapsed = (Date.now() - started) / 1000;
  const perTick = elapsed < seconds / 2 ? 3 : 12;
  for (let i = 0; i < perTick; i++) {
    const controller = new AbortController();
    const task = pool.run({ cost: 2 + Math.random() * 4 }, { signal: controller.signal });
    pending.set(task, controller);
    void task.catch(() => {}).finally(() => pending.delete(task));
  }
}, 20);

await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
clearInterval(timer);
// Drop what is still queued: the point was the surge, not draining it.
for (const controller of pending.values()) controller.abort();
await Promise.allSettled([...pending.keys()]);
await pool.destroy();
// The workers are gone; shutdown() still delivers every record they made (their lanes are read one last time).
await metrics.shutdown();
