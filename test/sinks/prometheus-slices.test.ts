/**
 * The Prometheus sink applies windows and renders scrapes in slices, giving the event loop a turn every ~1 ms
 * (src/sinks/prometheus/slicer.ts). What a scraper must never notice:
 * - half a window: scrapers hammer the endpoint (text and protobuf, gzip or not) while 2,000-series windows are
 *   applied, and every body they read is byte for byte the exposition of the state after some window, as an
 *   unsliced sink (`sliceMs: Infinity`) fed the same windows serves it; parsed with Prometheus' own expfmt (text)
 *   and client_model's metrics.proto (protobuf), every counter is its cumulative total at one window boundary,
 *   the same for every series, and every histogram's _count equals its +Inf bucket, the sum of its native buckets
 *   and the count recorded up to that window;
 * - a different exposition: sliced and one-piece renders are the same bytes in every format.
 * The bench (bench/prometheus-slices.ts) measures the pieces; nothing here depends on timing.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import { prometheusSink, type PrometheusSink, type PrometheusSinkOptions } from '../../src/sinks/prometheus.js';
import { histogramOf, latencies } from '../helpers/exp-histogram.js';
import { buildExpfmt, parseWithExpfmt, toNumber, type ExpfmtFamily } from '../helpers/expfmt.js';
import { decodeExposition, labelsOf, nativeBuckets } from '../helpers/prometheus-protobuf.js';
import { series, window } from '../helpers/windows.js';
import { startPrometheusSink } from '../helpers/prometheus-sink.js';

const PROTOBUF_ACCEPT = 'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited';
const OPENMETRICS_ACCEPT = 'application/openmetrics-text;version=1.0.0';
type Format = 'text' | 'openmetrics' | 'protobuf';
const ACCEPT: Record<Format, string> = { text: 'text/plain;version=0.0.4', openmetrics: OPENMETRICS_ACCEPT, protobuf: PROTOBUF_ACCEPT };

const open: PrometheusSink[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.shutdown()));
});

beforeAll(() => buildExpfmt(), 120_000);

const start = (options: PrometheusSinkOptions = {}) => startPrometheusSink(open, options);

/** The decoded body (gunzipped when the sink compressed it). */
function get(url: string, format: Format, gzip: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: ACCEPT[format] };
    if (gzip) headers['accept-encoding'] = 'gzip';
    const req = httpRequest(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
        if (gzip !== (res.headers['content-encoding'] === 'gzip')) return reject(new Error('gzip not honoured'));
        const raw = Buffer.concat(chunks);
        resolve(gzip ? gunzipSync(raw) : raw);
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const sha = (body: Buffer) => createHash('sha256').update(body).digest('hex');
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);

// 2,000 series: 1,000 counters and 1,000 histograms (label `route`), as in bench/sinks.ts.
const SERIES = 1000;
const routes = Array.from({ length: SERIES }, (_, i) => ({ route: `/r${i}` }));
/** Histogram windows cycle through these (integer values from 300 distinct ones, so sums are exact). */
const PATTERNS = Array.from({ length: 5 }, (_, p) =>
  histogramOf(Array.from({ length: 20 + 5 * p }, (_, j) => 1 + ((j * 37 + p * 11) % 300))),
);
/** A counter's total encodes its window and series: window k, series i -> k * 2000 + i. */
const counterTotal = (k: number, i: number) => k * 2000 + i;

function windowAt(k: number): Window {
  const list: SeriesWindow[] = [];
  for (let i = 0; i < SERIES; i++) {
    list.push(series({ name: 'hammer.requests', kind: 'counter', unit: '{request}', labels: routes[i], total: counterTotal(k, i), count: 1, sum: 2000 }));
  }
  const h = PATTERNS[k % PATTERNS.length];
  for (let i = 0; i < SERIES; i++) list.push(series({ name: 'hammer.latency', kind: 'histogram', unit: 'ms', labels: routes[i], ...h }));
  return window(T0 + k * 1000, list);
}

/** What a histogram series holds after windows 0..k. */
function recordedUpTo(k: number): { count: number; sum: number } {
  let count = 0;
  let sum = 0;
  for (let j = 0; j <= k; j++) {
    count += PATTERNS[j % PATTERNS.length].count;
    sum += PATTERNS[j % PATTERNS.length].sum;
  }
  return { count, sum };
}

/** The window a text body shows, checked the way a user would: one window boundary for every series. */
function checkText(families: readonly ExpfmtFamily[]): number {
  const counters = families.find((f) => f.name === 'hammer_requests_total');
  const histograms = families.find((f) => f.name === 'hammer_latency_milliseconds');
  expect(counters?.metric).toHaveLength(SERIES);
  expect(histograms?.metric).toHaveLength(SERIES);
  const windows = new Set<number>();
  for (const m of counters!.metric) {
    const value = toNumber(m.counter?.value);
    const i = Number(m.label?.find((l) => l.name === 'route')?.value.slice(2));
    expect(value % 2000, 'a counter total that is no window boundary').toBe(i);
    windows.add(Math.floor(value / 2000));
  }
  expect([...windows], 'counters from different windows in one scrape').toHaveLength(1);
  const [k] = windows;
  const expected = recordedUpTo(k);
  for (const m of histograms!.metric) {
    const h = m.histogram!;
    const buckets = h.bucket ?? [];
    const inf = buckets.find((b) => b.upper_bound === '+Inf');
    expect(h.sample_count).toBe(expected.count);
    expect(inf?.cumulative_count).toBe(h.sample_count);
    expect(toNumber(h.sample_sum)).toBe(expected.sum);
    for (let b = 1; b < buckets.length; b++) expect(buckets[b].cumulative_count).toBeGreaterThanOrEqual(buckets[b - 1].cumulative_count);
  }
  for (const suffix of ['p50', 'p90', 'p95', 'p99']) {
    expect(families.find((f) => f.name === `hammer_latency_milliseconds_${suffix}`)?.metric).toHaveLength(SERIES);
  }
  return k;
}

/** The same for a protobuf body: counters at one boundary, _count = zero bucket + native buckets = recorded. */
function checkProtobuf(body: Buffer): number {
  const families = decodeExposition(body);
  const counters = families.find((f) => f.name === 'hammer_requests_total')!;
  const histograms = families.find((f) => f.name === 'hammer_latency_milliseconds')!;
  const windows = new Set(counters.metric.map((m) => Math.floor(m.counter!.value / 2000)));
  expect([...windows], 'counters from different windows in one scrape').toHaveLength(1);
  for (const m of counters.metric) expect(m.counter!.value % 2000).toBe(Number(labelsOf(m).route.slice(2)));
  const [k] = windows;
  const expected = recordedUpTo(k);
  expect(histograms.metric).toHaveLength(SERIES);
  for (const m of histograms.metric) {
    const h = m.histogram!;
    let native = h.zeroCount ?? 0;
    for (const count of nativeBuckets(h).values()) native += count;
    expect(h.sampleCount).toBe(expected.count);
    expect(native).toBe(h.sampleCount);
    expect(h.sampleSum).toBe(expected.sum);
    expect(h.bucket.at(-1)!.cumulativeCount).toBeLessThanOrEqual(h.sampleCount);
  }
  return k;
}

describe('sliced apply and render', () => {
  it('scrapes hammering the endpoint while 2,000-series windows are applied always read one complete window', async () => {
    const WINDOWS = 20;
    const windows = Array.from({ length: WINDOWS }, (_, k) => windowAt(k));

    // What each window's state looks like, from a sink that does everything in one piece.
    const reference = await start({ sliceMs: Infinity });
    const known = { text: new Map<string, number>(), protobuf: new Map<string, number>() };
    for (let k = 0; k < WINDOWS; k++) {
      await reference.export([windows[k]]);
      for (const format of ['text', 'protobuf'] as const) known[format].set(sha(await get(reference.url!, format, false)), k);
    }
    await reference.shutdown();

    const sink = await start();
    await sink.export([windows[0]]);
    let pending = 0;
    let done = false;
    /** Exports resolved so far, and who waits for a scrape sent after the latest. */
    let settled = 0;
    let onFreshRead: (() => void) | undefined;
    interface Read {
      readonly format: 'text' | 'protobuf';
      readonly hash: string;
      readonly body: Buffer;
      /** An export was in progress when the scrape was sent. */
      readonly duringApply: boolean;
    }
    const scraper = async (format: 'text' | 'protobuf', gzip: boolean): Promise<Read[]> => {
      const reads: Read[] = [];
      while (!done) {
        const duringApply = pending > 0;
        const sentAfter = settled;
        const body = await get(sink.url!, format, gzip);
        reads.push({ format, hash: sha(body), body, duringApply });
        if (!duringApply && sentAfter === settled) onFreshRead?.();
      }
      return reads;
    };
    const scrapers = [scraper('text', false), scraper('text', true), scraper('protobuf', true), scraper('protobuf', false)];
    const exported = (promise: Promise<void>) => {
      pending++;
      return promise.finally(() => pending--);
    };
    let steps = 0;
    for (let k = 1; k < WINDOWS; k++) {
      if (k % 4 === 1 && k + 1 < WINDOWS) {
        // Two exports in flight at once (a runner that timed out an export starts the next one): applied in order.
        await Promise.all([exported(sink.export([windows[k]])), exported(sink.export([windows[k + 1]]))]);
        k++;
      } else {
        await exported(sink.export([windows[k]]));
      }
      steps++;
      // Every window is read at least once (a scrape sent after its export), then for a varying while longer.
      const fresh = new Promise<void>((resolve) => (onFreshRead = resolve));
      settled++;
      await fresh;
      await new Promise((resolve) => setTimeout(resolve, (k * 7) % 30));
    }
    done = true;
    const perScraper = await Promise.all(scrapers);
    const reads = perScraper.flat();

    // Every body is the complete state after some window, and a scraper never goes back in time.
    const unknown = reads.filter((r) => !known[r.format].has(r.hash));
    expect(unknown.length, `${unknown.length} of ${reads.length} scrapes read a state that no window boundary has`).toBe(0);
    for (const list of perScraper) {
      const seen = list.map((r) => known[r.format].get(r.hash)!);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    }
    // The run did what it claims: scrapes raced applies and saw many windows, up to the last one.
    expect(reads.filter((r) => r.duringApply).length).toBeGreaterThanOrEqual(3);
    const windowsSeen = new Set(reads.map((r) => known[r.format].get(r.hash)));
    expect(windowsSeen.size).toBeGreaterThanOrEqual(steps);
    expect(windowsSeen.has(WINDOWS - 1)).toBe(true);

    // And read by Prometheus' own parsers, each distinct body holds one window boundary for every series.
    const distinct = new Map(reads.map((r) => [r.hash, r]));
    for (const read of distinct.values()) {
      const k = read.format === 'text' ? checkText(parseWithExpfmt(read.body.toString('utf8'))) : checkProtobuf(read.body);
      expect(k).toBe(known[read.format].get(read.hash));
    }
    expect(sink.errors).toEqual([]);
    expect(sink.stats().series).toBe(2 * SERIES);
  }, 120_000);

  it('serves the same bytes sliced as in one piece, in every format, across chunk boundaries and escapes', async () => {
    const sliced = await start({ sliceMs: 0, baseUnits: true, serviceLabel: true });
    const whole = await start({ sliceMs: Infinity, baseUnits: true, serviceLabel: true });
    const build = (k: number): Window => {
      const list: SeriesWindow[] = [];
      // 300 counters (two text chunks), 25 histograms of ~22 bounds (three chunks), gauges, hostile text.
      for (let i = 0; i < 300; i++) list.push(series({ name: 'svc.requests', kind: 'counter', unit: '{request}', labels: { route: `/r${i}`, quote: 'a"b\\c\nd' }, total: k * 10 + i }));
      for (let i = 0; i < 25; i++) {
        list.push(series({ name: 'svc.latency', kind: 'histogram', unit: 'ms', description: 'Latency\nwith a "newline" \\ here', labels: { route: `/r${i}` }, ...histogramOf(latencies(200, 5 + i, k * 100 + i)) }));
      }
      for (let i = 0; i < 7; i++) list.push(series({ name: 'svc.inflight', kind: 'gauge', labels: { pod: `p${i}` }, last: k + i, min: 0, max: k + i + 1, count: 1 }));
      return window(T0 + k * 1000, list);
    };
    for (let k = 0; k < 12; k++) {
      const w = build(k);
      await Promise.all([sliced.export([w]), whole.export([w])]);
      if (k % 4 !== 3) continue;
      for (const format of ['text', 'openmetrics', 'protobuf'] as const) {
        const [a, b] = await Promise.all([get(sliced.url!, format, true), get(whole.url!, format, false)]);
        expect(a.equals(b), `${format} after window ${k}`).toBe(true);
      }
    }
    // The sliced text is valid for Prometheus' parser and carries every series.
    const families = parseWithExpfmt((await get(sliced.url!, 'text', false)).toString('utf8'));
    expect(families.find((f) => f.name === 'svc_requests_total')?.metric).toHaveLength(300);
    expect(families.find((f) => f.name === 'svc_latency_seconds')?.metric).toHaveLength(25);
    expect(families.find((f) => f.name === 'svc_latency_seconds')?.help).toBe('Latency\nwith a "newline" \\ here');
    expect(families.find((f) => f.name === 'svc_requests_total')?.metric[0].label?.find((l) => l.name === 'quote')?.value).toBe('a"b\\c\nd');
    expect(sliced.errors).toEqual([]);
  });

  it('rejects a sliceMs that is not a number >= 0 at creation', () => {
    for (const sliceMs of [-1, Number.NaN, '1' as unknown as number]) {
      expect(() => prometheusSink({ server: false, sliceMs })).toThrow(/sliceMs must be a number >= 0/);
    }
  });
});
