/**
 * The task of examples/piscina-worker.ts, run in each worker of the pool. Every worker connects once, when
 * piscina loads this module, through the pool link in workerData; its records then go straight into its own
 * shared lane and appear in the main thread's one-second windows, merged with the other workers'.
 */
import { workerData } from 'node:worker_threads';
import { connectMetrics, type WorkerLink } from '../src/index.js';

const metrics = connectMetrics((workerData as { scalesignal: WorkerLink }).scalesignal);
const duration = metrics.histogram('pool.task.duration', { unit: 'ms', description: 'Time a worker spent on a task' }).bind();
const completed = metrics.counter('pool.tasks.completed', { unit: '{task}' }).bind();
// Each worker holds its part of the gauge; the main thread's window shows their sum.
const active = metrics.gauge('pool.tasks.active', { unit: '{task}', description: 'Tasks running in the workers' }).bind();

/** Simulated CPU work of about `ms` milliseconds. */
function work(ms: number): number {
  const until = performance.now() + ms;
  let x = 0;
  while (performance.now() < until) x += Math.sqrt(x + 1);
  return x;
}

export default function task({ cost }: { cost: number }): number {
  active.add(1);
  const stop = duration.startTimer();
  const result = work(cost);
  stop();
  completed.add(1);
  active.add(-1);
  return result;
}
