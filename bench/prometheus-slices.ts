/**
 * The Prometheus sink's longest synchronous piece of work, what the host's event loop feels as one pause, at
 * 2,000 series (1,000 counters + 1,000 histograms of ~100 values a window over 500 distinct values, label `route`,
 * as in bench/sinks.ts), sliced (the default `sliceMs`) and in one piece (`sliceMs` Infinity, the path before
 * slicing), side by side in one run, repetitions interleaved:
 *   apply      one window applied to the state (what export() does)
 *   text, openmetrics, protobuf
 *              the first scrape after a window: snapshot of the state + format (protobuf with native histograms)
 *   gzip       the OpenMetrics body (~2 MB): zlib.gzipSync vs zlib.gzip (threadpool)
 *
 * How a piece is measured: a setImmediate probe runs beside the work and records the longest gap between two of
 * its turns (the work's own turns alternate with it), so whatever runs synchronously is counted, not only the
 * code between the slicer's checks. zlib.gzip is timed instead by its callbacks on the main thread (async_hooks,
 * resource type ZLIB) plus the call itself: a spinning probe would compete with the threadpool for the 2 cores.
 * Min (and median) of REPS repetitions: on a shared machine other processes only add time. Garbage collection
 * pauses (V8's `gc` performance entries) inside the longest piece are reported beside it: a scavenge runs in
 * whatever piece allocates when the young generation is full, and its length depends on what is live, not on
 * the slice.
 *
 *   npm run bench:prometheus-slices        (REPS=15)
 *
 * Writes bench/results/prometheus-slices.json.
 */
import { createHook } from 'node:async_hooks';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import * as prom from 'prom-client';
import type { SeriesWindow, Window } from '../src/core/window.js';
import { Exposition } from '../src/sinks/prometheus/exposition.js';
import { SLICE_MS, Slicer } from '../src/sinks/prometheus/slicer.js';
import { PrometheusState } from '../src/sinks/prometheus/state.js';
import { histogramOf } from '../test/helpers/exp-histogram.js';
import { series, window } from '../test/helpers/windows.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPS = Number(process.env.REPS ?? 15);
const SERIES = 2000;
const WARMUP_WINDOWS = 12;
const KINDS = ['text', 'openmetrics', 'protobuf'] as const;
const MODES = { sliced: SLICE_MS, onePiece: Infinity } as const;
type Mode = keyof typeof MODES;
const gzipAsync = promisify(gzip);

// Windows: counters count 100 a window; each histogram cycles through PATTERNS windows of 100 values
// (1 + ((i * 7 + tick * 13) % 500) * 0.37 ms, one value per 10 ms tick), shared between windows (immutable).
const T0 = Date.UTC(2026, 0, 1);
const PATTERNS = 5;
const half = SERIES / 2;
const routes = Array.from({ length: half }, (_, i) => ({ route: `/api/r${i}` }));
const histograms: SeriesWindow[][] = [];
for (let p = 0; p < PATTERNS; p++) {
  histograms.push(
    routes.map((labels, i) => {
      const values: number[] = [];
      for (let tick = p * 100; tick < p * 100 + 100; tick++) values.push(1 + ((i * 7 + tick * 13) % 500) * 0.37);
      return series({ name: 'bench.latency', kind: 'histogram', unit: 'ms', labels, ...histogramOf(values) });
    }),
  );
}
function windowAt(second: number): Window {
  const counters = routes.map((labels) =>
    series({ name: 'bench.requests', kind: 'counter', unit: '{request}', labels, total: (second + 1) * 100, sum: 100, count: 100 }),
  );
  return window(T0 + second * 1000, [...counters, ...histograms[second % PATTERNS]]);
}

/** One sink's worth of state and body cache, as prometheusSink builds them (its defaults). */
function sinkParts(sliceMs: number) {
  const state = new PrometheusState({
    prefix: '',
    baseUnits: false,
    serviceLabel: undefined,
    quantiles: [0.5, 0.9, 0.95, 0.99],
    quantileWindowMs: 10_000,
    buckets: () => undefined,
    bucketsPerOctave: 1,
    warnOnce: () => {},
  });
  const exposition = new Exposition(Promise.resolve(prom), (native, slicer) => state.snapshot(native, slicer), sliceMs);
  let second = 0;
  return {
    state,
    exposition,
    /** The next window, built outside the measurement, and what export() does with it. */
    apply: (): (() => Promise<void>) => {
      const next = [windowAt(second++)];
      return () => {
        exposition.invalidate();
        return state.apply(next, new Slicer(sliceMs));
      };
    },
  };
}

interface Piece {
  longestMs: number;
  totalMs: number;
  /** Turns of the event loop the work took (probe gaps). */
  turns: number;
  /** Garbage collection inside the longest piece, and during the whole work. */
  gcInLongestMs: number;
  gcMs: number;
}

const gcs: { start: number; end: number }[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration });
}).observe({ entryTypes: ['gc'] });

/** GC time within [from, to] (entries are delivered a little later: call after a turn). */
function gcWithin(from: number, to: number): number {
  let ms = 0;
  for (const g of gcs) if (g.end > from && g.start < to) ms += Math.min(g.end, to) - Math.max(g.start, from);
  return ms;
}

/** The longest stretch the event loop did not turn while `work` ran. */
async function longestPiece(work: () => unknown): Promise<Piece> {
  let longest = 0;
  let longestFrom = 0;
  let turns = 0;
  let running = true;
  const t0 = performance.now();
  let last = t0;
  const probe = (): void => {
    const now = performance.now();
    if (now - last > longest) {
      longest = now - last;
      longestFrom = last;
    }
    last = now;
    turns++;
    if (running) setImmediate(probe);
  };
  setImmediate(probe);
  await work();
  const totalMs = performance.now() - t0;
  running = false;
  // The probe's last gap (the work's final piece) is recorded on its next turn.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return { longestMs: longest, totalMs, turns, gcInLongestMs: gcWithin(longestFrom, longestFrom + longest), gcMs: gcWithin(t0, t0 + totalMs) };
}

/** zlib.gzip's main-thread pieces: the call, then each ZLIB callback (the deflate itself runs on the threadpool). */
async function gzipAsyncPieces(bytes: Buffer): Promise<Piece> {
  const zlibIds = new Set<number>();
  let longest = 0;
  let started = 0;
  let turns = 0;
  const hook = createHook({
    init: (id, type) => void (type === 'ZLIB' && zlibIds.add(id)),
    before: (id) => void (zlibIds.has(id) && (started = performance.now())),
    after: (id) => {
      if (!zlibIds.has(id)) return;
      longest = Math.max(longest, performance.now() - started);
      turns++;
    },
  });
  hook.enable();
  const t0 = performance.now();
  const done = gzipAsync(bytes);
  longest = Math.max(longest, performance.now() - t0);
  await done;
  const totalMs = performance.now() - t0;
  hook.disable();
  return { longestMs: longest, totalMs, turns: turns + 1, gcInLongestMs: 0, gcMs: gcWithin(t0, t0 + totalMs) };
}

const parts = { sliced: sinkParts(MODES.sliced), onePiece: sinkParts(MODES.onePiece) };
for (const mode of Object.keys(parts) as Mode[]) for (let i = 0; i < WARMUP_WINDOWS; i++) await parts[mode].apply()();

const samples = new Map<string, Piece[]>();
const record = (key: string, piece: Piece) => samples.set(key, [...(samples.get(key) ?? []), piece]);
let openMetricsBytes: Buffer = Buffer.alloc(0);
for (let rep = 0; rep < REPS; rep++) {
  // Alternate which mode goes first, so drift in machine load does not favour one.
  const order: Mode[] = rep % 2 === 0 ? ['sliced', 'onePiece'] : ['onePiece', 'sliced'];
  for (const mode of order) {
    const { apply, exposition } = parts[mode];
    for (const kind of KINDS) {
      // A window before each format, so each render pays the snapshot, as the first scrape after a window does.
      record(`${mode}.apply`, await longestPiece(apply()));
      record(
        `${mode}.${kind}`,
        await longestPiece(async () => {
          const body = await exposition.body(kind, false);
          if (kind === 'openmetrics') openMetricsBytes = body.bytes;
        }),
      );
    }
  }
  record('gzipSync', await longestPiece(() => gzipSync(openMetricsBytes)));
  record('gzipAsync', await gzipAsyncPieces(openMetricsBytes));
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, Record<string, number>> = {};
for (const [key, pieces] of samples) {
  results[key] = {
    longestPieceMinMs: r3(Math.min(...pieces.map((p) => p.longestMs))),
    longestPieceMedianMs: r3(median(pieces.map((p) => p.longestMs))),
    /** The longest piece less the GC pause inside it: the sink's own code. */
    longestPieceWithoutGcMinMs: r3(Math.min(...pieces.map((p) => p.longestMs - p.gcInLongestMs))),
    gcInLongestPieceMedianMs: r3(median(pieces.map((p) => p.gcInLongestMs))),
    totalMedianMs: r3(median(pieces.map((p) => p.totalMs))),
    gcDuringMedianMs: r3(median(pieces.map((p) => p.gcMs))),
    turnsMedian: median(pieces.map((p) => p.turns)),
  };
}
const ratio = (a: string, b: string) => r3(results[a].longestPieceMinMs / results[b].longestPieceMinMs);
const summary = {
  longestSlicedPieceMinMs: r3(Math.max(...Object.entries(results).filter(([k]) => k.startsWith('sliced.')).map(([, v]) => v.longestPieceMinMs), results.gzipAsync.longestPieceMinMs)),
  applyOnePieceOverSliced: ratio('onePiece.apply', 'sliced.apply'),
  textOnePieceOverSliced: ratio('onePiece.text', 'sliced.text'),
  openmetricsOnePieceOverSliced: ratio('onePiece.openmetrics', 'sliced.openmetrics'),
  protobufOnePieceOverSliced: ratio('onePiece.protobuf', 'sliced.protobuf'),
  gzipSyncOverAsync: ratio('gzipSync', 'gzipAsync'),
};
console.table(results);
console.log(summary);

mkdirSync(join(HERE, 'results'), { recursive: true });
writeFileSync(
  join(HERE, 'results', 'prometheus-slices.json'),
  `${JSON.stringify(
    {
      node: process.version,
      date: new Date().toISOString(),
      loadAverage: r3(loadavg()[0]),
      method:
        `longest synchronous piece (setImmediate probe; zlib.gzip: its main-thread callbacks), min and median of ${REPS} interleaved repetitions; ` +
        `${SERIES} series (${half} counters, ${half} histograms of 100 values a window over 500 distinct values, label route), ` +
        `${WARMUP_WINDOWS} windows applied before; sliced = sliceMs ${SLICE_MS}, onePiece = sliceMs Infinity (the path before slicing); ` +
        `each render follows a new window (snapshot + format); gzip of the OpenMetrics body (${openMetricsBytes.length} bytes)`,
      results,
      summary,
    },
    null,
    2,
  )}\n`,
);
