import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request as httpRequest, createServer, type IncomingHttpHeaders } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { SeriesWindow } from '../../src/core/window.js';
import { prometheusSink, powerOfTwoBuckets, type PrometheusSink, type PrometheusSinkOptions } from '../../src/sinks/prometheus.js';
import { familyNames, sanitizeLabelName, quantileSuffix } from '../../src/sinks/prometheus/naming.js';
import fc from 'fast-check';
import { exactQuantile, histogramOf, latencies } from '../helpers/exp-histogram.js';
import { findSamples, parseExposition, sampleValue, type ParsedExposition } from '../helpers/exposition.js';
import { series, window } from '../helpers/windows.js';
import { startPrometheusSink } from '../helpers/prometheus-sink.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OPENMETRICS = 'application/openmetrics-text; version=1.0.0; charset=utf-8';
const TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const PROMETHEUS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

const open: PrometheusSink[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.shutdown()));
});

/** A sink on an ephemeral loopback port, closed after the test; errors collected instead of warned. */
const start = (options: PrometheusSinkOptions = {}) => startPrometheusSink(open, options);

interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(sink: PrometheusSink, accept = 'text/plain'): Promise<ParsedExposition> {
  const res = await get(sink.url as string, { accept });
  expect(res.status).toBe(200);
  return parseExposition(res.body);
}

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0);
const at = (second: number) => T0 + second * 1000;

describe('naming', () => {
  it.each([
    ['http.server.request.duration', 'ms', 'histogram', 'http_server_request_duration_milliseconds'],
    ['http.server.request.duration', 's', 'histogram', 'http_server_request_duration_seconds'],
    ['http.server.requests', '{request}', 'counter', 'http_server_requests_total'],
    ['http.server.requests.total', '{request}', 'counter', 'http_server_requests_total'],
    ['http.server.response.size', 'By', 'counter', 'http_server_response_size_bytes_total'],
    ['bytes.sent', 'By', 'counter', 'bytes_sent_total'],
    ['cpu.utilization', '1', 'gauge', 'cpu_utilization_ratio'],
    ['retries', '1', 'counter', 'retries_total'],
    ['queue.depth', '{message}', 'gauge', 'queue_depth'],
    ['queue.depth', '', 'gauge', 'queue_depth'],
    ['throughput', 'By/s', 'gauge', 'throughput_bytes_per_second'],
    ['requests.rate', '{request}/s', 'gauge', 'requests_rate_per_second'],
    ['my-app/latency..p', 'ms', 'gauge', 'my_app_latency_p_milliseconds'],
    ['9lives', '', 'gauge', '_9lives'],
    ['disk:io', 'KiBy', 'counter', 'disk_io_kibibytes_total'],
  ] as const)('%s [%s] %s -> %s', (name, unit, kind, expected) => {
    expect(familyNames(name, unit, kind, { prefix: '', baseUnits: false }).family).toBe(expected);
  });

  it('prefix goes first and base units rescale', () => {
    expect(familyNames('http.latency', 'ms', 'histogram', { prefix: 'shop', baseUnits: false }).family).toBe(
      'shop_http_latency_milliseconds',
    );
    const base = familyNames('http.latency', 'ms', 'histogram', { prefix: '', baseUnits: true });
    expect(base.family).toBe('http_latency_seconds');
    expect((250 * base.conversion.mul) / base.conversion.div).toBe(0.25);
    const kib = familyNames('heap', 'KiBy', 'gauge', { prefix: '', baseUnits: true });
    expect(kib.family).toBe('heap_bytes');
    expect((2 * kib.conversion.mul) / kib.conversion.div).toBe(2048);
  });

  it('label names are sanitized', () => {
    expect(sanitizeLabelName('http.route')).toBe('http_route');
    expect(sanitizeLabelName('0day')).toBe('key_0day');
    expect(sanitizeLabelName('__name__')).toBe('key__name__');
    expect(sanitizeLabelName('ok_Name9')).toBe('ok_Name9');
  });

  it('quantile suffixes', () => {
    expect([0.5, 0.9, 0.95, 0.99, 0.999, 0.75].map(quantileSuffix)).toEqual(['p50', 'p90', 'p95', 'p99', 'p999', 'p75']);
  });

  it('exposes sanitized labels and escaped values; resource attributes are not labels; service label on request', async () => {
    const sink = await start({ serviceLabel: true, prefix: 'shop' });
    const tricky = 'a "quoted" \\ back\nslash';
    sink.export([
      window(at(0), [
        series({ name: 'jobs.done', kind: 'counter', total: 3, labels: { 'queue.name': tricky, le: 'x', '1st': 'y' } }),
      ]),
    ]);
    const parsed = await scrape(sink);
    expect(sampleValue(parsed, 'shop_jobs_done_total', { queue_name: tricky, exported_le: 'x', key_1st: 'y', service: 'test-service' })).toBe(3);
    expect(parsed.samples.every((s) => !('service_name' in s.labels))).toBe(true);
    const plain = await start();
    plain.export([window(at(0), [series({ name: 'jobs.done', kind: 'counter', total: 3 })])]);
    expect(sampleValue(await scrape(plain), 'jobs_done_total')).toBe(3);
  });

  it('two label keys that sanitize to one name join their values instead of emitting a duplicate label', async () => {
    const sink = await start();
    sink.export([window(at(0), [series({ name: 'x', kind: 'gauge', last: 1, labels: { 'a.b': '1', a_b: '2' } })])]);
    expect(sampleValue(await scrape(sink), 'x', { a_b: '1;2' })).toBe(1); // sorted by original key: a.b, then a_b
  });

  it('a metric whose Prometheus name is taken by another is left out, reported once, and counted', async () => {
    const sink = await start();
    const list = [
      series({ name: 'queue.depth', kind: 'gauge', last: 4, max: 6 }),
      series({ name: 'queue.depth.max', kind: 'gauge', last: 99, max: 99 }), // would also be queue_depth_max
    ];
    sink.export([window(at(0), list)]);
    sink.export([window(at(1), list)]);
    const parsed = await scrape(sink);
    expect(sampleValue(parsed, 'queue_depth')).toBe(4);
    expect(findSamples(parsed, 'queue_depth_max')).toHaveLength(1);
    expect(sampleValue(parsed, 'queue_depth_max')).toBe(6);
    await scrape(sink); // cached: no second warning
    sink.export([window(at(2), list)]);
    await scrape(sink);
    expect(sink.errors.filter((e) => e.message.includes('queue.depth.max'))).toHaveLength(1);
    expect(sink.stats().series_dropped).toBe(1);
  });
});

describe('values', () => {
  it('counters are cumulative totals across windows, gauges show the last value and the window max', async () => {
    const sink = await start();
    const totals = [5, 5, 12, 40];
    const gauges = [
      { last: 3, max: 3 },
      { last: 1, max: 17 },
      { last: 8, max: 8 },
      { last: 0, max: 9 },
    ];
    for (let i = 0; i < totals.length; i++) {
      sink.export([
        window(at(i), [
          series({ name: 'http.server.requests', unit: '{request}', kind: 'counter', total: totals[i], labels: { route: '/pay' } }),
          series({ name: 'http.server.active_requests', kind: 'gauge', ...gauges[i] }),
        ]),
      ]);
      const parsed = await scrape(sink);
      expect(sampleValue(parsed, 'http_server_requests_total', { route: '/pay' })).toBe(totals[i]);
      expect(sampleValue(parsed, 'http_server_active_requests')).toBe(gauges[i].last);
      expect(sampleValue(parsed, 'http_server_active_requests_max')).toBe(gauges[i].max);
      expect(parsed.type.get('http_server_requests_total')).toBe('counter');
      expect(parsed.type.get('http_server_active_requests_max')).toBe('gauge');
    }
  });

  it('after a stall, several windows in one export: last total, last gauge value, max over all of them', async () => {
    const sink = await start();
    sink.export([
      window(at(0), [series({ name: 'c', kind: 'counter', total: 1 }), series({ name: 'g', kind: 'gauge', last: 1, max: 50 })]),
      window(at(1), [series({ name: 'c', kind: 'counter', total: 7 }), series({ name: 'g', kind: 'gauge', last: 2, max: 2 })]),
    ]);
    const parsed = await scrape(sink);
    expect(sampleValue(parsed, 'c_total')).toBe(7);
    expect(sampleValue(parsed, 'g')).toBe(2);
    expect(sampleValue(parsed, 'g_max')).toBe(50);
    // A re-delivered (older) window would double-count histograms: it is ignored.
    sink.export([window(at(1), [series({ name: 'c', kind: 'counter', total: 999 }), series({ name: 'g', kind: 'gauge', last: 2, max: 2 })])]);
    expect(sampleValue(await scrape(sink), 'c_total')).toBe(7);
    expect(sink.stats().windows_skipped).toBe(1);
  });

  it('histograms: le counts equal the exact number of samples <= le, _sum/_count cumulative across windows', async () => {
    const sink = await start();
    const all: number[] = [];
    for (let w = 0; w < 4; w++) {
      const values = latencies(2000, 20 + w * 10, 100 + w).concat(w === 2 ? [0, 0, 0] : []);
      all.push(...values);
      const h = histogramOf(values);
      sink.export([
        window(at(w), [
          series({ name: 'http.server.request.duration', unit: 'ms', kind: 'histogram', labels: { route: '/a' }, ...h }),
        ]),
      ]);
      const parsed = await scrape(sink);
      const buckets = findSamples(parsed, 'http_server_request_duration_milliseconds_bucket', { route: '/a' });
      expect(buckets.length).toBeGreaterThan(10);
      for (const b of buckets) {
        const le = Number(b.labels.le === '+Inf' ? Infinity : b.labels.le);
        expect(b.value, `le=${b.labels.le}`).toBe(all.filter((v) => v <= le).length);
      }
      expect(sampleValue(parsed, 'http_server_request_duration_milliseconds_count', { route: '/a' })).toBe(all.length);
      expect(sampleValue(parsed, 'http_server_request_duration_milliseconds_sum', { route: '/a' })).toBeCloseTo(
        all.reduce((a, b) => a + b, 0),
        6,
      );
    }
  });

  it('le sets are monotone, end in +Inf == _count, and are identical for every series, scrape and pod', async () => {
    const podA = await start();
    const podB = await start();
    const leSets: string[] = [];
    for (const [pod, median, seed] of [
      [podA, 0.3, 1],
      [podB, 3000, 2],
    ] as const) {
      for (let w = 0; w < 2; w++) {
        pod.export([
          window(at(w), [
            series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: 'x' }, ...histogramOf(latencies(500, median, seed + w)) }),
            series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: 'y' }, ...histogramOf([]) }),
          ]),
        ]);
        const parsed = await scrape(pod);
        for (const route of ['x', 'y']) {
          const buckets = findSamples(parsed, 'lat_milliseconds_bucket', { route });
          const les = buckets.map((b) => b.labels.le);
          leSets.push(les.join(','));
          expect(les.at(-1)).toBe('+Inf');
          const bounds = les.slice(0, -1).map(Number);
          expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
          for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).toBeGreaterThanOrEqual(buckets[i - 1].value);
          expect(buckets.at(-1)?.value).toBe(sampleValue(parsed, 'lat_milliseconds_count', { route }));
        }
      }
    }
    expect(new Set(leSets).size).toBe(1);
    // Powers of two covering 62.5 us .. 131 s for milliseconds.
    expect(leSets[0].split(',').slice(0, -1).map(Number)).toEqual(powerOfTwoBuckets(-4, 17));
  });

  it('custom buckets and base units: le in seconds, counts off by at most one exponential bucket', async () => {
    const bounds = [5, 10, 25, 50, 100, 250];
    const sink = await start({ buckets: bounds, baseUnits: true });
    const values = latencies(5000, 40, 7);
    sink.export([window(at(0), [series({ name: 'lat', unit: 'ms', kind: 'histogram', ...histogramOf(values) })])]);
    const parsed = await scrape(sink);
    const buckets = findSamples(parsed, 'lat_seconds_bucket');
    expect(buckets.map((b) => b.labels.le)).toEqual(['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '+Inf']);
    const base = 2 ** (1 / 64);
    bounds.forEach((b, i) => {
      expect(buckets[i].value).toBeGreaterThanOrEqual(values.filter((v) => v <= b / base).length);
      expect(buckets[i].value).toBeLessThanOrEqual(values.filter((v) => v <= b * base).length);
    });
    expect(sampleValue(parsed, 'lat_seconds_sum')).toBeCloseTo(values.reduce((a, b) => a + b, 0) / 1000, 9);
    const p99 = sampleValue(parsed, 'lat_seconds_p99');
    expect(Math.abs(p99 - exactQuantile(values, 0.99) / 1000) / (exactQuantile(values, 0.99) / 1000)).toBeLessThan(0.0055);
  });

  it('buckets per metric from a function; an invalid list falls back to the default and is reported', async () => {
    const sink = await start({ buckets: ({ name }) => (name === 'a' ? [1, 2, 3] : name === 'b' ? [3, 2] : undefined) });
    const h = histogramOf([1.5]);
    sink.export([
      window(at(0), [
        series({ name: 'a', kind: 'histogram', ...h }),
        series({ name: 'b', kind: 'histogram', ...h }),
        series({ name: 'c', kind: 'histogram', ...h }),
      ]),
    ]);
    const parsed = await scrape(sink);
    expect(findSamples(parsed, 'a_bucket').map((s) => s.labels.le)).toEqual(['1', '2', '3', '+Inf']);
    expect(findSamples(parsed, 'b_bucket').map((s) => s.labels.le)).toEqual(findSamples(parsed, 'c_bucket').map((s) => s.labels.le));
    expect(sink.errors.some((e) => e.message.includes('invalid buckets for b'))).toBe(true);
  });

  it('rejects bad options at creation, where the mistake is made', () => {
    expect(() => prometheusSink({ server: false, port: 70000 })).toThrow(RangeError);
    expect(() => prometheusSink({ server: false, quantiles: [0.99, 1.5] })).toThrow(RangeError);
    expect(() => prometheusSink({ server: false, buckets: [2, 1] })).toThrow(RangeError);
    expect(() => prometheusSink({ server: false, path: 'metrics' })).toThrow(RangeError);
    expect(() => prometheusSink({ server: false, quantileWindowSeconds: 0 })).toThrow(RangeError);
  });
});

describe('quantile gauges', () => {
  it('merge the last quantileWindowSeconds of windows exactly and match an exact sort within 0.54 %', async () => {
    const sink = await start({ quantileWindowSeconds: 3, quantiles: [0.5, 0.99, 0.999] });
    const perWindow: number[][] = [];
    for (let w = 0; w < 6; w++) {
      // Medians that move a lot, so a window too many or too few would show.
      const values = latencies(3000, w < 3 ? 10 : 200, 40 + w);
      perWindow.push(values);
      sink.export([window(at(w), [series({ name: 'lat', unit: 'ms', kind: 'histogram', ...histogramOf(values) })])]);
      const parsed = await scrape(sink);
      const inWindow = perWindow.slice(Math.max(0, w - 2)).flat();
      for (const [suffix, q] of [
        ['p50', 0.5],
        ['p99', 0.99],
        ['p999', 0.999],
      ] as const) {
        const truth = exactQuantile(inWindow, q);
        const got = sampleValue(parsed, `lat_milliseconds_${suffix}`);
        expect(Math.abs(got - truth) / truth, `window ${w} ${suffix}: ${got} vs ${truth}`).toBeLessThanOrEqual(0.0055);
      }
    }
  });

  it('clamp to the observed range and disappear when the sliding window holds no recordings', async () => {
    const sink = await start({ quantileWindowSeconds: 2 });
    sink.export([window(at(0), [series({ name: 'lat', kind: 'histogram', ...histogramOf([7, 7, 7]) })])]);
    let parsed = await scrape(sink);
    expect(sampleValue(parsed, 'lat_p99')).toBe(7);
    expect(sampleValue(parsed, 'lat_p50')).toBe(7);
    const empty = histogramOf([]);
    sink.export([window(at(1), [series({ name: 'lat', kind: 'histogram', ...empty })])]);
    expect(sampleValue(await scrape(sink), 'lat_p99')).toBe(7);
    sink.export([window(at(2), [series({ name: 'lat', kind: 'histogram', ...empty })])]);
    parsed = await scrape(sink);
    expect(findSamples(parsed, 'lat_p99')).toHaveLength(0);
    // The cumulative histogram stays.
    expect(sampleValue(parsed, 'lat_count')).toBe(3);
  });

  it("report 0 for an idle histogram with idleQuantiles 'zero' (or the environment), so a metrics-api P99 trigger reads an idle pod", async () => {
    const saved = process.env.SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES;
    try {
      for (const options of [{ idleQuantiles: 'zero' as const }, 'env'] as const) {
        if (options === 'env') process.env.SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES = ' Zero ';
        const sink = await start({ quantileWindowSeconds: 1, ...(options === 'env' ? {} : options) });
        const empty = histogramOf([]);
        sink.export([window(at(0), [series({ name: 'lat', kind: 'histogram', ...histogramOf([40, 50, 60]) })])]);
        expect(sampleValue(await scrape(sink), 'lat_p99')).toBe(60);
        sink.export([window(at(1), [series({ name: 'lat', kind: 'histogram', ...empty })])]);
        const parsed = await scrape(sink);
        for (const suffix of ['p50', 'p90', 'p95', 'p99']) expect(sampleValue(parsed, `lat_${suffix}`), suffix).toBe(0);
        expect(sampleValue(parsed, 'lat_count')).toBe(3);
      }
      process.env.SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES = 'never';
      expect(() => prometheusSink({ server: false })).toThrow(/SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES="never" must be absent or zero/);
      expect(() => prometheusSink({ server: false, idleQuantiles: 'none' as never })).toThrow(RangeError);
    } finally {
      if (saved === undefined) delete process.env.SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES;
      else process.env.SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES = saved;
    }
  });

});

describe('eviction', () => {
  it('a series missing from a window leaves the exposition; if it returns, it starts from zero', async () => {
    const sink = await start();
    const keep = series({ name: 'jobs', kind: 'counter', total: 10, labels: { q: 'a' } });
    const gone = (total: number) => series({ name: 'jobs', kind: 'counter', total, labels: { q: 'b' } });
    const hist = (values: number[]) => series({ name: 'lat', kind: 'histogram', labels: { q: 'b' }, ...histogramOf(values) });
    sink.export([window(at(0), [keep, gone(4), hist([1, 2, 3])])]);
    let parsed = await scrape(sink);
    expect(sampleValue(parsed, 'jobs_total', { q: 'b' })).toBe(4);
    expect(sampleValue(parsed, 'lat_count', { q: 'b' })).toBe(3);
    sink.export([window(at(1), [keep])]);
    parsed = await scrape(sink);
    expect(findSamples(parsed, 'jobs_total', { q: 'b' })).toHaveLength(0);
    expect(findSamples(parsed, 'lat_count')).toHaveLength(0);
    expect(findSamples(parsed, 'lat_p99')).toHaveLength(0);
    expect(parsed.type.has('lat')).toBe(false);
    expect(sampleValue(parsed, 'jobs_total', { q: 'a' })).toBe(10);
    expect(sink.stats().series).toBe(1);
    sink.export([window(at(2), [keep, gone(1), hist([5])])]);
    parsed = await scrape(sink);
    expect(sampleValue(parsed, 'jobs_total', { q: 'b' })).toBe(1);
    expect(sampleValue(parsed, 'lat_count', { q: 'b' })).toBe(1);
  });
});

describe('HTTP endpoint', () => {
  it('negotiates text 0.0.4 by default and OpenMetrics 1.0.0 when asked; both carry the same values', async () => {
    const sink = await start();
    sink.export([
      window(at(0), [
        series({ name: 'reqs', kind: 'counter', total: 5 }),
        series({ name: 'lat', unit: 's', kind: 'histogram', ...histogramOf([0.1, 0.2]) }),
      ]),
    ]);
    for (const [accept, type] of [
      [undefined, TEXT],
      ['*/*', TEXT],
      ['text/plain;version=0.0.4', TEXT],
      [PROMETHEUS_ACCEPT, OPENMETRICS],
      ['application/openmetrics-text', OPENMETRICS],
      ['application/openmetrics-text;q=0.2, text/plain', TEXT],
    ] as const) {
      const res = await get(sink.url as string, accept === undefined ? {} : { accept });
      expect(res.status, String(accept)).toBe(200);
      expect(res.headers['content-type'], String(accept)).toBe(type);
      const parsed = parseExposition(res.body);
      expect(sampleValue(parsed, 'reqs_total')).toBe(5);
      expect(sampleValue(parsed, 'lat_seconds_count')).toBe(2);
      if (type === OPENMETRICS) {
        expect(parsed.eof).toBe(true);
        expect(parsed.type.get('reqs')).toBe('counter'); // OpenMetrics: family without _total, sample with it
        expect(res.body.endsWith('# EOF\n')).toBe(true);
      } else {
        expect(parsed.eof).toBe(false);
        expect(parsed.type.get('reqs_total')).toBe('counter');
      }
    }
  });

  it('an empty exposition is valid in both formats', async () => {
    const sink = await start();
    expect((await get(sink.url as string)).body).toBe('');
    expect((await get(sink.url as string, { accept: 'application/openmetrics-text' })).body).toBe('# EOF\n');
  });

  it('gzip when accepted; HEAD has headers and no body; 404 elsewhere; 405 for other methods', async () => {
    const sink = await start();
    sink.export([window(at(0), [series({ name: 'reqs', kind: 'counter', total: 5 })])]);
    const zipped = await get(sink.url as string, { 'accept-encoding': 'gzip, deflate' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(sampleValue(parseExposition(zipped.body), 'reqs_total')).toBe(5);
    const plain = await get(sink.url as string, { 'accept-encoding': 'identity' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBe(Buffer.byteLength(plain.body));
    const head = await get(sink.url as string, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBe(Buffer.byteLength(plain.body));
    expect((await get(sink.url as string, {}, 'POST')).status).toBe(405);
    expect((await get(sink.url as string, {}, 'DELETE')).headers.allow).toBe('GET, HEAD');
    expect((await get(sink.url!.replace('/metrics', '/other'))).status).toBe(404);
    expect((await get(`${sink.url}?debug=1`)).status).toBe(200);
    expect(sink.stats().rejected_requests).toBe(3);
  });

  it('a custom path, and url/port reflect the bound ephemeral port', async () => {
    const sink = await start({ path: '/internal/metrics' });
    expect(sink.port).toBeGreaterThan(0);
    expect(sink.url).toBe(`http://127.0.0.1:${sink.port}/internal/metrics`);
    expect((await get(sink.url as string)).status).toBe(200);
    expect((await get(`http://127.0.0.1:${sink.port}/metrics`)).status).toBe(404);
  });

  it('garbage on the socket gets a 400 and the endpoint keeps serving', async () => {
    const sink = await start();
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(sink.port as number, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    expect((await get(sink.url as string)).status).toBe(200);
  });

  it('handler mounts on a host server (server: false) and serves whatever path the host routes', async () => {
    const sink = prometheusSink({ server: false });
    open.push(sink);
    await sink.ready;
    expect(sink.url).toBeUndefined();
    sink.export([window(at(0), [series({ name: 'reqs', kind: 'counter', total: 9 })])]);
    const host = createServer((req, res) => (req.url === '/ops/metrics' ? sink.handler(req, res) : res.writeHead(418).end()));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    try {
      const { port } = host.address() as AddressInfo;
      const res = await get(`http://127.0.0.1:${port}/ops/metrics`);
      expect(sampleValue(parseExposition(res.body), 'reqs_total')).toBe(9);
    } finally {
      await new Promise((r) => host.close(r));
    }
  });

  it('mounts on Express and on Fastify as documented', async () => {
    const sink = prometheusSink({ server: false });
    open.push(sink);
    await sink.ready;
    sink.export([window(at(0), [series({ name: 'reqs', kind: 'counter', total: 4 })])]);
    const { default: express } = await import('express');
    const app = express();
    app.get('/metrics', sink.handler);
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const { default: Fastify } = await import('fastify');
    const fastify = Fastify();
    fastify.get('/metrics', (req, reply) => {
      reply.hijack();
      sink.handler(req.raw, reply.raw);
    });
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    try {
      const viaExpress = await get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, { accept: PROMETHEUS_ACCEPT });
      expect(viaExpress.headers['content-type']).toBe(OPENMETRICS);
      expect(sampleValue(parseExposition(viaExpress.body), 'reqs_total')).toBe(4);
      const viaFastify = await get(`http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}/metrics`, { 'accept-encoding': 'gzip' });
      expect(viaFastify.headers['content-type']).toBe(TEXT);
      expect(viaFastify.headers['content-encoding']).toBe('gzip');
      expect(sampleValue(parseExposition(viaFastify.body), 'reqs_total')).toBe(4);
    } finally {
      await new Promise((r) => server.close(r));
      await fastify.close();
    }
  });

  it('reads OTEL_EXPORTER_PROMETHEUS_HOST / _PORT when the options do not say', async () => {
    const saved = { host: process.env.OTEL_EXPORTER_PROMETHEUS_HOST, port: process.env.OTEL_EXPORTER_PROMETHEUS_PORT };
    process.env.OTEL_EXPORTER_PROMETHEUS_HOST = '127.0.0.1';
    process.env.OTEL_EXPORTER_PROMETHEUS_PORT = '0';
    try {
      const sink = prometheusSink();
      open.push(sink);
      await sink.ready;
      expect(sink.url).toBe(`http://127.0.0.1:${sink.port}/metrics`);
      expect(sink.port).not.toBe(9464);
    } finally {
      for (const [key, value] of [
        ['OTEL_EXPORTER_PROMETHEUS_HOST', saved.host],
        ['OTEL_EXPORTER_PROMETHEUS_PORT', saved.port],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('a port already in use is reported through onError, never thrown; ready still resolves', async () => {
    const first = await start();
    const errors: Error[] = [];
    const second = prometheusSink({ port: first.port, host: '127.0.0.1', onError: (e) => errors.push(e) });
    open.push(second);
    await second.ready;
    expect(second.url).toBeUndefined();
    expect(second.stats().listening).toBe(0);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/EADDRINUSE|in use/);
    // The sink still works as a handler and as a sink.
    second.export([window(at(0), [series({ name: 'c', kind: 'counter', total: 1 })])]);
    await second.shutdown();
  });

  it('the default reporter is process.emitWarning, and a throwing onError is swallowed', async () => {
    const first = await start();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const viaWarning = prometheusSink({ port: first.port, host: '127.0.0.1' });
      open.push(viaWarning);
      await viaWarning.ready;
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((m) => m.includes('cannot listen'))).toBe(true);
    } finally {
      process.off('warning', onWarning);
    }
    const throwing = prometheusSink({
      port: first.port,
      host: '127.0.0.1',
      onError: () => {
        throw new Error('logger broke');
      },
    });
    open.push(throwing);
    await expect(throwing.ready).resolves.toBeUndefined();
  });

  it('shutdown closes the server, including kept-alive connections', async () => {
    const sink = prometheusSink({ port: 0, host: '127.0.0.1' });
    await sink.ready;
    const url = sink.url as string;
    const res = await fetch(url); // undici keeps the connection alive
    expect(res.status).toBe(200);
    await res.text();
    await sink.shutdown();
    expect(sink.url).toBeUndefined();
    await expect(fetch(url)).rejects.toThrow();
  });
});

describe('render caching', () => {
  it('100 concurrent scrapes render once per window and content type', async () => {
    const sink = await start();
    const list: SeriesWindow[] = [];
    for (let i = 0; i < 200; i++) {
      list.push(series({ name: 'lat', unit: 'ms', kind: 'histogram', labels: { route: `/r${i}` }, ...histogramOf(latencies(50, 10, i)) }));
    }
    sink.export([window(at(0), list)]);
    const before = sink.stats().renders;
    const bodies = await Promise.all(
      Array.from({ length: 100 }, (_, i) => get(sink.url as string, i % 2 === 0 ? {} : { 'accept-encoding': 'gzip' })),
    );
    expect(new Set(bodies.map((b) => b.body)).size).toBe(1);
    expect(sink.stats().renders - before).toBe(1);
    expect(sink.stats().scrapes).toBe(100);
    await get(sink.url as string, { accept: 'application/openmetrics-text' });
    expect(sink.stats().renders - before).toBe(2);
    await Promise.all(Array.from({ length: 20 }, () => get(sink.url as string)));
    expect(sink.stats().renders - before).toBe(2);
    // A new window: the next scrape renders again, and shows the new data.
    sink.export([window(at(1), list.slice(0, 10))]);
    const after = await scrape(sink);
    expect(sink.stats().renders - before).toBe(3);
    expect(findSamples(after, 'lat_milliseconds_count')).toHaveLength(10);
    // No scrape, no render: windows alone never render.
    for (let w = 2; w < 10; w++) sink.export([window(at(w), list.slice(0, 10))]);
    expect(sink.stats().renders - before).toBe(3);
    expect(sink.stats().render_ms).toBeGreaterThan(0);
  });
});

describe('process hygiene', () => {
  const tsx = `${ROOT}node_modules/.bin/tsx`;

  it('loads prom-client only when a sink is created, and its server never keeps the process alive', () => {
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(ROOT + 'package.json')});
      const loaded = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/prom-client/'));
      const { prometheusSink } = await import(${JSON.stringify(ROOT + 'src/sinks/prometheus.ts')});
      const before = loaded();
      const sink = prometheusSink({ port: 0, host: '127.0.0.1' });
      await sink.ready;
      const res = await fetch(sink.url);
      await res.text();
      console.log(JSON.stringify({ before, after: loaded(), status: res.status }));
    `;
    const started = Date.now();
    const run = spawnSync(tsx, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(run.error, run.stderr).toBeUndefined();
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout.trim().split('\n').at(-1) as string)).toEqual({ before: false, after: true, status: 200 });
    // Exited by itself (no shutdown call) well before the spawn timeout.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

const promtool = '/usr/bin/promtool';
const required = process.env.SCALESIGNAL_E2E_REQUIRED === '1';
const hasPromtool = existsSync(promtool);

function richWindow(start: number): ReturnType<typeof window> {
  return window(start, [
    series({ name: 'http.server.requests', unit: '{request}', kind: 'counter', total: 12, labels: { 'http.route': '/a"b\\c\nd', method: 'GET' } }),
    series({ name: 'http.server.requests', unit: '{request}', kind: 'counter', total: 3, labels: { 'http.route': '/x', method: 'POST' } }),
    series({ name: 'http.server.response.size', unit: 'By', kind: 'counter', total: 4096, description: 'Bytes sent.\nTwo lines \\ slash' }),
    series({ name: 'http.server.active_requests', unit: '{request}', kind: 'gauge', last: 4, max: 11 }),
    series({ name: 'process.cpu.utilization', unit: '1', kind: 'gauge', last: 0.25, max: 0.5 }),
    series({ name: 'http.server.request.duration', unit: 'ms', kind: 'histogram', labels: { route: '/a' }, ...histogramOf(latencies(1000, 12, 1)) }),
    series({ name: 'queue.message.size', unit: 'By', kind: 'histogram', ...histogramOf(latencies(100, 2000, 2)) }),
    series({ name: 'batch.size', kind: 'histogram', ...histogramOf([0, 1, 5, 9]) }),
    series({ name: 'idle.wait', unit: 's', kind: 'histogram', ...histogramOf([]) }),
  ]);
}

async function exposition(options: PrometheusSinkOptions): Promise<string> {
  const sink = await start(options);
  sink.export([richWindow(at(0))]);
  sink.export([richWindow(at(1))]);
  return (await get(sink.url as string)).body;
}

function check(text: string): { status: number | null; out: string } {
  const run = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: run.status, out: `${run.stdout}${run.stderr}`.trim() };
}

describe.skipIf(!hasPromtool && !required)(
  `promtool check metrics${hasPromtool ? '' : ` (skipped: ${promtool} missing; apt-get install -y --no-install-recommends prometheus)`}`,
  () => {
    it('promtool is installed', () => {
      expect(hasPromtool, `${promtool} missing: apt-get install -y --no-install-recommends prometheus`).toBe(true);
    });

    it('accepts the exposition with base units without a single lint', async () => {
      const text = await exposition({ baseUnits: true, serviceLabel: true, prefix: 'shop' });
      expect(text).toContain('shop_http_server_request_duration_seconds_bucket');
      expect(check(text)).toEqual({ status: 0, out: '' });
    });

    it('with the default OTel-style units, the only lint is the advice to use base units', async () => {
      const text = await exposition({});
      const { status, out } = check(text);
      const lines = out.split('\n').filter((l) => l !== '');
      expect(status).not.toBe(1); // 1 would be a parse error
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(line).toMatch(/use base unit "seconds" instead of "milliseconds"$/);
    });

    it('a promtool run on a broken exposition fails, so the checks above can fail', () => {
      expect(check('foo{ 1\n').status).toBe(1);
    });
  },
);

