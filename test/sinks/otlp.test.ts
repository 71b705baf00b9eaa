import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HistogramBuckets, SeriesWindow, Window } from '../../src/core/window.js';
import type { Sink } from '../../src/core/sink.js';
import { otlpSink } from '../../src/sinks/otlp.js';
import { decodePoints, msToNs, startOtlpReceiver, type OtlpReceiver, type ReceivedPoint } from '../helpers/otlp-receiver.js';
import { series, window } from '../helpers/windows.js';

let receiver: OtlpReceiver;
const sinks: Sink[] = [];
const T0 = Math.floor(Date.now() / 1000) * 1000 - 60_000;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown?.()));
  receiver.requests.length = 0;
  receiver.script.length = 0;
  receiver.bodyBytes.length = 0;
  receiver.mode = { kind: 'ok' };
});

function sink(options: Parameters<typeof otlpSink>[0] = {}): Sink {
  const s = otlpSink({ url: receiver.url, ...options });
  sinks.push(s);
  return s;
}

function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  return fn().finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

function allPoints(from = 0): ReceivedPoint[] {
  return receiver.requests.slice(from).flatMap((r) => decodePoints(r.body));
}

const nonZero = (offset: number, counts: readonly number[]): Map<number, number> =>
  new Map(counts.flatMap((c, i) => (c === 0 ? [] : [[offset + i, c] as [number, number]])));

/** Three one-second windows of a counter, a gauge and a histogram with different values each second. */
function threeWindows(): Window[] {
  const buckets: HistogramBuckets[] = [
    { scale: 6, offset: 400, counts: [2, 0, 1], zeroCount: 0 },
    { scale: 6, offset: 398, counts: [1, 0, 0, 0, 0, 0, 3], zeroCount: 1 },
    { scale: 6, offset: 405, counts: [4], zeroCount: 0 },
  ];
  const sums = [3, 5, 2];
  let total = 0;
  return [0, 1, 2].map((i) => {
    total += sums[i];
    const b = buckets[i];
    const count = b.counts.reduce((a, c) => a + c, b.zeroCount);
    return window(T0 + i * 1000, [
      series({ name: 'http.server.requests', kind: 'counter', unit: '{request}', labels: { route: '/a' }, count: sums[i], sum: sums[i], total }),
      series({ name: 'queue.depth', kind: 'gauge', unit: '{message}', labels: { queue: 'jobs' }, count: 1, last: 10 * (i + 1), min: 0, max: 10 * (i + 1) }),
      series({
        name: 'http.server.request.duration',
        kind: 'histogram',
        unit: 'ms',
        description: 'Server request duration',
        labels: { route: '/a' },
        count,
        sum: 100 + i,
        min: i === 1 ? 0 : 80,
        max: 120 + i,
        buckets: b,
      }),
    ]);
  });
}

describe('otlpSink data model', () => {
  it('delta: exact values, one point per window, timestamps one second apart, UCUM units and names as-is', async () => {
    const s = sink({ temporality: 'delta' });
    const windows = threeWindows();
    for (const w of windows) await s.export([w]);
    expect(receiver.requests).toHaveLength(3); // one request per window

    for (let i = 0; i < 3; i++) {
      const w = windows[i];
      const points = decodePoints(receiver.requests[i].body);
      const counter = points.find((p) => p.name === 'http.server.requests')!;
      expect(counter).toMatchObject({ type: 'sum', temporality: 'delta', isMonotonic: true, unit: '{request}', value: w.series[0].sum });
      expect(counter.attributes).toEqual({ route: '/a' });
      expect(counter.startNs).toBe(msToNs(w.start));
      expect(counter.timeNs).toBe(msToNs(w.end));

      const gauge = points.find((p) => p.name === 'queue.depth')!;
      expect(gauge).toMatchObject({ type: 'gauge', unit: '{message}', value: w.series[1].last });
      expect(gauge.timeNs).toBe(msToNs(w.end));

      const h = points.find((p) => p.name === 'http.server.request.duration')!;
      const src = w.series[2];
      expect(h).toMatchObject({ type: 'exponentialHistogram', temporality: 'delta', unit: 'ms', description: 'Server request duration' });
      expect(h.histogram).toEqual({
        count: src.count,
        sum: src.sum,
        min: src.min,
        max: src.max,
        scale: src.buckets!.scale,
        zeroCount: src.buckets!.zeroCount,
        positive: { offset: src.buckets!.offset, bucketCounts: [...src.buckets!.counts] },
        negative: { offset: 0, bucketCounts: [] },
      });
      expect(h.startNs).toBe(msToNs(w.start));
    }
    const times = receiver.requests.map((r) => decodePoints(r.body)[0].timeNs);
    expect(times[1] - times[0]).toBe(1_000_000_000n);
    expect(times[2] - times[1]).toBe(1_000_000_000n);
  });

  it('cumulative (the default): counters carry the running total and histograms accumulated buckets, from a fixed start', async () => {
    const s = sink();
    const windows = threeWindows();
    for (const w of windows) await s.export([w]);
    const points = allPoints();

    const counters = points.filter((p) => p.name === 'http.server.requests');
    expect(counters.map((p) => p.value)).toEqual(windows.map((w) => w.series[0].total));
    expect(counters.every((p) => p.temporality === 'cumulative' && p.isMonotonic)).toBe(true);
    expect(new Set(counters.map((p) => p.startNs))).toEqual(new Set([msToNs(T0)]));
    expect(counters.map((p) => p.timeNs)).toEqual(windows.map((w) => msToNs(w.end)));

    const hs = points.filter((p) => p.name === 'http.server.request.duration');
    expect(hs.every((p) => p.temporality === 'cumulative' && p.startNs === msToNs(T0))).toBe(true);
    for (let i = 0; i < 3; i++) {
      const upTo = windows.slice(0, i + 1).map((w) => w.series[2]);
      const expected = new Map<number, number>();
      for (const sw of upTo) for (const [k, v] of nonZero(sw.buckets!.offset, sw.buckets!.counts)) expected.set(k, (expected.get(k) ?? 0) + v);
      const got = hs[i].histogram!;
      expect(nonZero(got.positive.offset, got.positive.bucketCounts)).toEqual(expected);
      expect(got.count).toBe(upTo.reduce((a, sw) => a + sw.count, 0));
      expect(got.sum).toBe(upTo.reduce((a, sw) => a + sw.sum, 0));
      expect(got.zeroCount).toBe(upTo.reduce((a, sw) => a + sw.buckets!.zeroCount, 0));
      expect(got.min).toBe(Math.min(...upTo.map((sw) => sw.min)));
      expect(got.max).toBe(Math.max(...upTo.map((sw) => sw.max)));
    }
    // Gauges have no temporality: the last value, whatever the preference.
    expect(points.filter((p) => p.name === 'queue.depth').map((p) => p.value)).toEqual([10, 20, 30]);
  });

  it('a counter whose series was evicted starts a new cumulative stream when it returns', async () => {
    const s = sink({ temporality: 'cumulative' });
    const c = (total: number) => series({ name: 'jobs.done', kind: 'counter', count: 1, sum: 1, total });
    const g = series({ name: 'other', kind: 'gauge', last: 1 });
    await s.export([window(T0, [c(7)])]);
    await s.export([window(T0 + 1000, [g])]); // jobs.done evicted
    await s.export([window(T0 + 2000, [c(2)])]);
    const points = allPoints().filter((p) => p.name === 'jobs.done');
    expect(points.map((p) => [p.value, p.startNs])).toEqual([
      [7, msToNs(T0)],
      [2, msToNs(T0 + 2000)],
    ]);
  });

  it.each([
    ['delta', 'delta', 'delta'],
    ['lowmemory', 'delta', 'delta'],
    ['cumulative', 'cumulative', 'cumulative'],
  ])('OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=%s gives %s counters and %s histograms', async (pref, counter, histogram) => {
    await withEnv({ OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: pref }, async () => {
      const s = sink();
      await s.export([threeWindows()[0]]);
    });
    const points = allPoints();
    expect(points.find((p) => p.name === 'http.server.requests')?.temporality).toBe(counter);
    expect(points.find((p) => p.name === 'http.server.request.duration')?.temporality).toBe(histogram);
  });

  it('the temporality option wins over the environment', async () => {
    await withEnv({ OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'cumulative' }, async () => {
      await sink({ temporality: 'delta' }).export([threeWindows()[1]]);
    });
    expect(allPoints().find((p) => p.name === 'http.server.requests')).toMatchObject({ temporality: 'delta', value: 5 });
  });

  it('several windows in one call: one request, one point per series and window, each at its own timestamp', async () => {
    const s = sink({ temporality: 'delta' });
    const windows = threeWindows();
    await s.export(windows);
    expect(receiver.requests).toHaveLength(1);
    const counters = allPoints().filter((p) => p.name === 'http.server.requests');
    expect(counters.map((p) => p.value)).toEqual([3, 5, 2]);
    expect(counters.map((p) => p.startNs)).toEqual(windows.map((w) => msToNs(w.start)));
    // All points of one metric share one Metric entry in the request.
    const body = receiver.requests[0].body as { resourceMetrics: { scopeMetrics: { metrics: { name: string }[] }[] }[] };
    const names = body.resourceMetrics[0].scopeMetrics[0].metrics.map((m) => m.name);
    expect(names.sort()).toEqual(['http.server.request.duration', 'http.server.requests', 'queue.depth']);
  });

  it('exponential histogram buckets round-trip exactly (random scales, offsets, counts)', async () => {
    const bucketsArb = fc.record({
      scale: fc.integer({ min: 0, max: 8 }),
      offset: fc.integer({ min: -3000, max: 3000 }),
      counts: fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 400 }),
      zeroCount: fc.integer({ min: 0, max: 1000 }),
    });
    const list = fc.sample(bucketsArb, { numRuns: 60, seed: 20240611 });
    const all: SeriesWindow[] = list.map((b, i) => {
      const count = b.counts.reduce((a, c) => a + c, b.zeroCount);
      return series({ name: 'h', kind: 'histogram', unit: 's', labels: { i: String(i) }, count, sum: count * 1.5, min: count ? 0.25 : NaN, max: count ? 9.75 : NaN, buckets: b });
    });
    await sink({ temporality: 'delta' }).export([window(T0, all)]);
    const got = allPoints();
    expect(got).toHaveLength(all.length);
    for (const p of got) {
      const src = all[Number(p.attributes.i)];
      const b = src.buckets!;
      expect(p.histogram!.scale).toBe(b.scale);
      expect(p.histogram!.zeroCount).toBe(b.zeroCount);
      expect(p.histogram!.count).toBe(src.count);
      if (b.counts.length > 0) {
        expect(p.histogram!.positive).toEqual({ offset: b.offset, bucketCounts: b.counts });
      } else {
        expect(p.histogram!.positive.bucketCounts).toEqual([]);
      }
      if (src.count > 0) expect([p.histogram!.min, p.histogram!.max]).toEqual([src.min, src.max]);
      else expect([p.histogram!.min, p.histogram!.max]).toEqual([undefined, undefined]);
    }
  });

  it('resource: service.name and the resource attributes; scope scalesignal', async () => {
    const w: Window = {
      ...window(T0, [series({ name: 'x', kind: 'gauge', last: 1 })]),
      resource: { service: 'checkout', attributes: { 'k8s.pod.name': 'checkout-7d9f', 'k8s.namespace.name': 'shop', 'service.name': 'stale' } },
    };
    await sink().export([w]);
    const [p] = allPoints();
    expect(p.resource).toEqual({ 'service.name': 'checkout', 'k8s.pod.name': 'checkout-7d9f', 'k8s.namespace.name': 'shop' });
    expect(p.scope).toBe('scalesignal');
  });

  it('endpoint and headers from OTEL_EXPORTER_OTLP_ENDPOINT (+/v1/metrics) and OTEL_EXPORTER_OTLP_HEADERS; options override', async () => {
    await withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.baseUrl, OTEL_EXPORTER_OTLP_HEADERS: 'x-team=payments,x-env=test' }, async () => {
      const s = otlpSink({ headers: { 'x-env': 'override' } });
      sinks.push(s);
      await s.export([threeWindows()[0]]);
    });
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0].path).toBe('/v1/metrics');
    expect(receiver.requests[0].headers['x-team']).toBe('payments');
    expect(receiver.requests[0].headers['x-env']).toBe('override');
  });

  it('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT is used as is', async () => {
    await withEnv({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }, async () => {
      const s = otlpSink();
      sinks.push(s);
      await s.export([threeWindows()[0]]);
    });
    expect(receiver.requests).toHaveLength(1);
  });

  it('a retried window is resent identically: cumulative state does not advance twice', async () => {
    const s = sink({ temporality: 'cumulative' });
    const windows = threeWindows();
    await s.export([windows[0]]);
    receiver.mode = { kind: 'status', status: 503 };
    await expect(s.export([windows[1]])).rejects.toMatchObject({ name: 'SinkError', retryable: true });
    receiver.mode = { kind: 'ok' };
    await s.export([windows[1]]); // the dispatcher's retry
    await s.export([windows[2]]);
    const hs = allPoints().filter((p) => p.name === 'http.server.request.duration');
    const counts = windows.map((w) => w.series[2].count);
    expect(hs.map((p) => p.histogram!.count)).toEqual([counts[0], counts[0] + counts[1], counts[0] + counts[1] + counts[2]]);
  });

  it('a large backlog is split between whole windows into requests far below the collector body limit, none lost', async () => {
    const s = sink({ temporality: 'delta', timeoutMs: 20_000 });
    const counts = Array.from({ length: 400 }, (_, k) => 10_000 + k);
    const perWindow = 300;
    const windows = Array.from({ length: 60 }, (_, i) =>
      window(
        T0 + i * 1000,
        Array.from({ length: perWindow }, (_, k) =>
          series({ name: 'lat', kind: 'histogram', unit: 'ms', labels: { route: `/r${k}` }, count: 800, sum: i, min: 1, max: 9, buckets: { scale: 6, offset: k, counts, zeroCount: 0 } }),
        ),
      ),
    );
    await s.export(windows);
    expect(receiver.requests.length).toBeGreaterThan(1);
    expect(Math.max(...receiver.bodyBytes)).toBeLessThan(20 * 1024 * 1024);
    expect(receiver.bodyBytes.reduce((a, b) => a + b, 0)).toBeGreaterThan(20 * 1024 * 1024); // as one request it would be refused
    const points = allPoints();
    expect(points).toHaveLength(windows.length * perWindow);
    const perStart = new Map<bigint, number>();
    for (const p of points) perStart.set(p.startNs, (perStart.get(p.startNs) ?? 0) + 1);
    expect([...perStart.values()].every((n) => n === perWindow)).toBe(true);
    expect(perStart.size).toBe(windows.length);
  });

  // The body goes out as its slices, one write each (sliced-body.ts says why): the declared length must be the sum,
  // and gzip must compress the slices as one body.
  it.each(['none', 'gzip'])('a window of many slices arrives whole with compression %s, Content-Length exact', async (compression) => {
    await withEnv({ OTEL_EXPORTER_OTLP_COMPRESSION: compression }, async () => {
      const s = sink({ temporality: 'delta' });
      const perWindow = 700; // three slices of 250 points
      const w = window(
        T0,
        Array.from({ length: perWindow }, (_, k) => series({ name: 'done', kind: 'counter', labels: { route: `/r${k}` }, count: 1, sum: k + 1, total: 0 })),
      );
      await s.export([w]);
      expect(receiver.requests).toHaveLength(1);
      const { headers } = receiver.requests[0];
      expect(headers['content-encoding']).toBe(compression === 'gzip' ? 'gzip' : undefined);
      expect(Number(headers['content-length'])).toBe(receiver.bodyBytes[0]);
      const points = allPoints();
      expect(points).toHaveLength(perWindow);
      expect(points.reduce((a, p) => a + Number(p.value), 0)).toBe((perWindow * (perWindow + 1)) / 2);
    });
  });

  it('a call that fails after some of its requests succeeded is retried without resending what arrived', async () => {
    const s = sink({ temporality: 'delta', timeoutMs: 2000 });
    const counts = Array.from({ length: 400 }, () => 1);
    const windows = Array.from({ length: 40 }, (_, i) =>
      window(T0 + i * 1000, [
        series({ name: 'done', kind: 'counter', count: 1, sum: i + 1, total: 0 }),
        ...Array.from({ length: 300 }, (_, k) =>
          series({ name: 'lat', kind: 'histogram', labels: { k: String(k) }, count: 400, sum: 1, min: 1, max: 2, buckets: { scale: 6, offset: 0, counts, zeroCount: 0 } }),
        ),
      ]),
    );
    // The second request is throttled (a collector shedding load mid-backlog): provably not taken, so retryable.
    receiver.script.push({ kind: 'ok' }, { kind: 'status', status: 503 });
    await expect(s.export(windows)).rejects.toMatchObject({ retryable: true });
    expect(receiver.requests).toHaveLength(1);
    await s.export(windows); // the dispatcher's retry: same windows
    const sums = allPoints().filter((p) => p.name === 'done');
    // Every window's counter exactly once: the delta total is the true total.
    expect(sums.map((p) => p.value).sort((a, b) => a! - b!)).toEqual(windows.map((_, i) => i + 1));
  });

  it('gauges without a value (NaN) are left out instead of sending null', async () => {
    await sink().export([window(T0, [series({ name: 'g', kind: 'gauge', last: NaN }), series({ name: 'k', kind: 'gauge', last: 0 })])]);
    expect(allPoints().map((p) => [p.name, p.value])).toEqual([['k', 0]]);
  });
});
