/**
 * Render cost per scrape of the Prometheus sink, side by side in one run: the text format 0.0.4 and OpenMetrics
 * (prom-client's Registry) against the protobuf exposition with native histograms (hand-written encoder), and the
 * same protobuf messages encoded by protobufjs from prebuilt objects, as a reference for the encoder alone.
 * State: 300 counters, 100 gauges, 50 histograms (lognormal latencies, ~300-700 non-empty buckets each, classic
 * `le` buckets + quantile gauges), i.e. a busy service. Each round invalidates (as a new window does) and renders
 * once: the snapshot of the state plus the format, what the first scrape after a window pays, in one piece
 * (`sliceMs` Infinity: bench/prometheus-slices.ts measures the sliced path). Median and p90 of 200
 * rounds after 50 warm-up rounds (and the fastest, steadier on a shared machine); bytes raw and gzipped. Writes bench/results/prometheus-render.json.
 *
 *   npm run bench:prometheus-render
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import * as prom from 'prom-client';
import { Exposition } from '../src/sinks/prometheus/exposition.js';
import { encodeFamilies } from '../src/sinks/prometheus/protobuf-exposition.js';
import type { Family } from '../src/sinks/prometheus/families.js';
import { PrometheusState } from '../src/sinks/prometheus/state.js';
import { Slicer } from '../src/sinks/prometheus/slicer.js';
import type { ContentKind } from '../src/sinks/prometheus/render.js';
import { histogramOf, sample } from '../test/helpers/exp-histogram.js';
import { series, window } from '../test/helpers/windows.js';
import type { SeriesWindow } from '../src/core/window.js';

const here = dirname(fileURLToPath(import.meta.url));
const WARMUP = 50;
const ROUNDS = 200;

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
const list: SeriesWindow[] = [];
for (let i = 0; i < 300; i++) list.push(series({ name: `requests.${i % 10}`, kind: 'counter', unit: '{request}', total: 1000 + i, sum: 10, count: 10, labels: { route: `/api/v1/items/${i}`, method: 'GET' } }));
for (let i = 0; i < 100; i++) list.push(series({ name: `inflight.${i % 5}`, kind: 'gauge', last: i, min: 0, max: i + 3, count: 5, labels: { route: `/api/v1/items/${i}` } }));
for (let i = 0; i < 50; i++) {
  const h = histogramOf(sample('lognormal sigma 1.2', 5000, i + 1));
  list.push(series({ name: `http.server.request.duration.${i % 5}`, kind: 'histogram', unit: 'ms', ...h, labels: { route: `/api/v1/items/${i}`, method: 'GET', status: '200' } }));
}
const onePiece = () => new Slicer(Infinity);
await state.apply([window(Date.UTC(2026, 0, 1), list)], onePiece());

const exposition = new Exposition(Promise.resolve(prom), (native, slicer) => state.snapshot(native, slicer), Infinity);

/** The three formats interleaved round by round, so the machine's noise falls on all of them alike. */
async function measureAll(kinds: readonly ContentKind[]): Promise<Record<string, { minMs: number; medianMs: number; p90Ms: number; bytes: number; gzipBytes: number }>> {
  const times = new Map<ContentKind, number[]>(kinds.map((k) => [k, []]));
  const bytes = new Map<ContentKind, Buffer>();
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    for (const kind of kinds) {
      // As a new window does, without changing the state: an apply of no window makes the next scrape snapshot again.
      exposition.invalidate();
      await state.apply([], onePiece());
      const t0 = performance.now();
      bytes.set(kind, (await exposition.body(kind, false)).bytes);
      if (round >= WARMUP) times.get(kind)!.push(performance.now() - t0);
    }
  }
  const out: Record<string, { minMs: number; medianMs: number; p90Ms: number; bytes: number; gzipBytes: number }> = {};
  for (const kind of kinds) {
    const t = times.get(kind)!.sort((a, b) => a - b);
    const b = bytes.get(kind)!;
    out[kind] = { minMs: round(t[0]), medianMs: round(t[ROUNDS / 2]), p90Ms: round(t[Math.floor(ROUNDS * 0.9)]), bytes: b.length, gzipBytes: gzipSync(b).length };
  }
  return out;
}

/** Our encoder alone on one snapshot (native buckets included), for the same comparison. */
async function encodeOnly(families: readonly Family[]): Promise<{ minMs: number; medianMs: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const t0 = performance.now();
    bytes = (await encodeFamilies(families, onePiece())).length;
    if (round >= WARMUP) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { minMs: round(times[0]), medianMs: round(times[ROUNDS / 2]), bytes };
}

/** The same MetricFamily messages through protobufjs (objects built once, outside the timing). */
function protobufjsReference(families: readonly Family[]): { minMs: number; medianMs: number; bytes: number } {
  const root = protobuf.loadSync(fileURLToPath(new URL('../test/fixtures/prometheus-client-metrics.proto', import.meta.url)));
  const MetricFamily = root.lookupType('io.prometheus.client.MetricFamily');
  const types = { counter: 0, gauge: 1, histogram: 4 } as const;
  const messages = families.map((f) =>
    MetricFamily.fromObject({
      name: f.name,
      help: f.help,
      type: types[f.type],
      metric:
        f.type === 'histogram'
          ? f.series.map((h) => {
              const native = h.native!;
              return {
                label: Object.entries(h.labels).map(([name, value]) => ({ name, value })),
                histogram: {
                  sampleCount: h.count,
                  sampleSum: h.sum,
                  bucket: h.bounds.map((upperBound, i) => ({ upperBound, cumulativeCount: h.cumulative[i] })),
                  schema: native.schema,
                  zeroThreshold: native.zeroThreshold,
                  zeroCount: native.zeroCount,
                  positiveSpan: native.spans,
                  positiveDelta: native.deltas,
                },
              };
            })
          : f.samples.map((s) => ({
              label: Object.entries({ ...s.sharedLabels, ...s.labels }).map(([name, value]) => ({ name, value })),
              [f.type]: { value: s.value },
            })),
    }),
  );
  const times: number[] = [];
  let bytes = 0;
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const t0 = performance.now();
    const writer = protobuf.Writer.create();
    for (const m of messages) MetricFamily.encodeDelimited(m, writer);
    bytes = writer.finish().length;
    if (round >= WARMUP) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { minMs: round(times[0]), medianMs: round(times[ROUNDS / 2]), bytes };
}

const results = await measureAll(['text', 'openmetrics', 'protobuf']);
const snapshot = await state.snapshot(true, onePiece());
const reference = protobufjsReference(snapshot);
const ours = await encodeOnly(snapshot);
// On a shared machine other processes only add time: the fastest round is the steadiest comparison.
const summary = {
  protobufVsTextFastest: round(results.protobuf.minMs / results.text.minMs),
  protobufVsTextMedian: round(results.protobuf.medianMs / results.text.medianMs),
  protobufVsOpenMetricsFastest: round(results.protobuf.minMs / results.openmetrics.minMs),
  protobufjsVsOurEncoderFastest: round(reference.minMs / ours.minMs),
  protobufBytesVsText: round(results.protobuf.bytes / results.text.bytes),
};
console.table(results);
console.log('encode only, one snapshot: ours', ours, 'protobufjs (objects prebuilt)', reference);
console.log(summary);

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results', 'prometheus-render.json'),
  `${JSON.stringify(
    {
      node: process.version,
      date: new Date().toISOString(),
      loadAverage: round(loadavg()[0]),
      method: `render per scrape after a new window (snapshot + format), formats interleaved, fastest/median/p90 of ${ROUNDS} rounds after ${WARMUP} warm-up; 300 counters, 100 gauges, 50 histograms of 5,000 lognormal values (sigma 1.2) each`,
      results,
      encodeOnly: { ours, protobufjsObjectsPrebuilt: reference },
      summary,
    },
    null,
    2,
  )}\n`,
);

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
