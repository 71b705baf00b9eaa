/**
 * Cuts the sink's long synchronous work (applying a window, building a scrape's families, formatting them) into
 * pieces of about `budgetMs` with a turn of the event loop between them, so the host's requests run in between.
 * In one piece, at 2,000 series, applying a window was ~6 ms and rendering a scrape 20-40 ms of pause
 * (bench/prometheus-slices.ts).
 *
 * The budget is time, not a count of series as in the OTLP sink: here a histogram series costs 100x a counter
 * (hundreds of buckets against one number), so no one count keeps every piece short.
 */
import { performance } from 'node:perf_hooks';
import { nextTurn } from '../../core/turns.js';

/** Default piece length: well under the 5 ms the sinks together may add to the host's event-loop p99. */
export const SLICE_MS = 1;

export class Slicer {
  private started = performance.now();

  /** `budgetMs` Infinity never yields (one piece); 0 yields after every unit of work. */
  constructor(private readonly budgetMs: number = SLICE_MS) {}

  /** Call after each unit of work; when true, `await pause()` before the next. */
  due(): boolean {
    return performance.now() - this.started >= this.budgetMs;
  }

  /** A turn of the event loop of its own (the shared queue: pending I/O, timers and other sinks' slices run first). */
  async pause(): Promise<void> {
    await nextTurn();
    this.started = performance.now();
  }
}
