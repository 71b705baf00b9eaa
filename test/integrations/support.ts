/** Helpers for the integration tests: windows collected by a custom sink, summed per series, and waiting. */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import type { Sink } from '../../src/core/sink.js';

export interface Collected {
  readonly metrics: Metrics;
  readonly windows: Window[];
}

/** Metrics with only a collecting sink and no event-loop gauges (their noise does not matter here). */
export function collectingMetrics(extra: { eventLoop?: boolean; intervalMs?: number } = {}): Collected {
  const windows: Window[] = [];
  const sink: Sink = {
    name: 'collect',
    export(batch) {
      windows.push(...batch);
    },
  };
  const metrics = createMetrics({ sinks: [sink], eventLoop: extra.eventLoop ?? false, intervalMs: extra.intervalMs, logger: { warn() {} } });
  return { metrics, windows };
}

export function seriesOf(windows: readonly Window[], name: string): SeriesWindow[] {
  const out: SeriesWindow[] = [];
  for (const window of windows) for (const series of window.series) if (series.name === name) out.push(series);
  return out;
}

const labelKey = (labels: Readonly<Record<string, string>>, names: readonly string[]) =>
  names.map((n) => labels[n] ?? '-').join(' ');

/** Counter increases summed over every window, keyed by the given label values joined with spaces. */
export function counterTotals(windows: readonly Window[], name: string, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of seriesOf(windows, name)) {
    if (s.sum === 0) continue;
    const key = labelKey(s.labels, names);
    out[key] = (out[key] ?? 0) + s.sum;
  }
  return out;
}

/** Histogram record counts summed over every window, keyed like counterTotals. */
export function histogramCounts(windows: readonly Window[], name: string, names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of seriesOf(windows, name)) {
    if (s.count === 0) continue;
    const key = labelKey(s.labels, names);
    out[key] = (out[key] ?? 0) + s.count;
  }
  return out;
}

export const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

/** The unlabelled gauge's value at the end of the latest window. */
export function gaugeLast(windows: readonly Window[], name: string): number {
  const all = seriesOf(windows, name);
  return all.length === 0 ? NaN : all[all.length - 1].last;
}

/** Largest and smallest value the gauge held in any window. */
export function gaugeRange(windows: readonly Window[], name: string): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const s of seriesOf(windows, name)) {
    if (s.min < min) min = s.min;
    if (s.max > max) max = s.max;
  }
  return { min, max };
}

/** Flushes until `done` holds for the collected windows; throws with `describe()` after the deadline. */
export async function flushUntil(c: Collected, done: () => boolean, describe: () => unknown, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await c.metrics.flush();
    if (done()) return;
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms: ${JSON.stringify(describe())}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function close(server: Server): Promise<void> {
  server.closeAllConnections?.();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** Small deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
