/**
 * The dashboard's points, computed from real windows of a real Metrics fed by scalesignal's own integrations (so a
 * renamed metric breaks this test, not the page in silence) and by OpenTelemetry instruments through
 * scalesignal/otel: in-flight, request and error rates, P50/P99 merged over every route, SSE, queue depth and
 * event-loop delay. Plus the sink's bounded history and its configuration errors.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics, instrumentHttpServer } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { ACTIVE_REQUESTS, REQUEST_DURATION, REQUESTS, SSE_CONNECTIONS } from '../../src/integrations/index.js';
import { createMeterProvider } from '../../src/otel/index.js';
import { DASHBOARD_DEFAULT_NAMES, dashboardSink } from '../../src/sinks/dashboard/index.js';
import { FIELDS, Indicators, type Point } from '../../src/sinks/dashboard/indicators.js';
import { rng } from '../integrations/support.js';

const field = (point: Point, name: (typeof FIELDS)[number]) => point[1 + FIELDS.indexOf(name)];

let open: Metrics | undefined;
afterEach(async () => {
  await open?.shutdown();
  open = undefined;
});

function collecting(eventLoop = false): { metrics: Metrics; windows: Window[] } {
  const windows: Window[] = [];
  const metrics = createMetrics({ service: 'svc', sinks: [{ name: 'c', export: (b) => void windows.push(...b) }], eventLoop, logger: { warn() {} } });
  open = metrics;
  return { metrics, windows };
}

describe('dashboard indicators', () => {
  it('use the names scalesignal\'s integrations emit', () => {
    expect(DASHBOARD_DEFAULT_NAMES).toMatchObject({ inflight: ACTIVE_REQUESTS, requests: REQUESTS, duration: REQUEST_DURATION, sse: SSE_CONNECTIONS });
  });

  it('read a real instrumented server, queue and event loop', async () => {
    const { metrics, windows } = collecting(true);
    metrics.gauge('queue.depth', { observe: () => [{ value: 4, labels: { queue: 'a' } }, { value: 3, labels: { queue: 'b' } }] });
    const held: http.ServerResponse[] = [];
    const server = http.createServer((req, res) => {
      if (req.url === '/hold') return void held.push(res);
      if (req.url === '/events') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('data: hi\n\n');
        return;
      }
      res.statusCode = req.url === '/fail' ? 500 : 200;
      res.end();
    });
    instrumentHttpServer(server, metrics, { route: (req) => req.url });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const get = (path: string) => new Promise<void>((resolve) => http.get(base + path, { agent: false }, (res) => { res.resume(); res.on('end', resolve); }).on('error', () => resolve()));
    for (let i = 0; i < 12; i++) await get(i % 4 === 0 ? '/fail' : '/ok');
    const streams = [0, 1].map(() => http.get(base + '/events', { agent: false }, (res) => res.resume()).on('error', () => {}));
    const holds = [0, 1, 2].map(() => http.get(base + '/hold', { agent: false }, (res) => res.resume()).on('error', () => {}));
    while (held.length < 3) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 20));
    // A whole window with the state in place, so the queue's observed gauge and the event-loop gauges are polled.
    const before = windows.length;
    while (windows.length < before + 2) await new Promise((r) => setTimeout(r, 20));
    const point = new Indicators().point(windows.at(-1)!);
    expect(field(point, 'inflight')).toBe(3);
    expect(field(point, 'inflightPeak')).toBe(3);
    expect(field(point, 'sse')).toBe(2);
    expect(field(point, 'queueDepth')).toBe(7);
    expect(field(point, 'loopP99')).toBeGreaterThanOrEqual(0);
    expect(field(point, 'loopMax')).toBeGreaterThanOrEqual(0);
    // Rates: the requests were counted in earlier windows; the sum of the points' rates x seconds is the requests.
    const points = windows.map((w) => ({ w, p: new Indicators().point(w) }));
    const seconds = ({ w }: { w: Window }) => (w.end - w.start) / 1000;
    const total = points.reduce((a, x) => a + (field(x.p, 'requestRate') ?? 0) * seconds(x), 0);
    const errors = points.reduce((a, x) => a + (field(x.p, 'errorRate') ?? 0) * seconds(x), 0);
    expect(total).toBeCloseTo(12 + 0, 6); // held and SSE requests have not finished
    expect(errors).toBeCloseTo(3, 6);
    expect(point[0]).toBe(windows.at(-1)!.timestamp / 1000);
    for (const res of held) res.end();
    streams.forEach((s) => s.destroy());
    holds.forEach((h) => h.destroy());
    server.closeAllConnections();
    server.close();
  });

  it('merge the latency of every route into one P50 and P99, converting OpenTelemetry seconds to ms', async () => {
    const { metrics, windows } = collecting();
    const histogram = createMeterProvider(metrics).getMeter('m').createHistogram('http.server.request.duration', { unit: 's' });
    const random = rng(9);
    const values: number[] = [];
    for (let i = 0; i < 4000; i++) {
      const route = ['/a', '/b', '/c'][i % 3];
      const seconds = (route === '/c' ? 200 : 10) * Math.exp(random() * 2) / 1000;
      values.push(seconds * 1000);
      histogram.record(seconds, { 'http.route': route, 'http.response.status_code': i % 10 === 0 ? 503 : 200 });
    }
    await metrics.flush();
    const window = windows.find((w) => w.series.some((s) => s.name === 'http.server.request.duration' && s.count > 0))!;
    const point = new Indicators().point(window);
    values.sort((a, b) => a - b);
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1];
    expect(Math.abs((field(point, 'p99') as number) / exact(0.99) - 1)).toBeLessThan(0.01);
    expect(Math.abs((field(point, 'p50') as number) / exact(0.5) - 1)).toBeLessThan(0.01);
    // No request counter: the rate comes from the histograms, errors from the status code.
    const seconds = (window.end - window.start) / 1000;
    expect((field(point, 'requestRate') as number) * seconds).toBeCloseTo(4000, 6);
    expect((field(point, 'errorRate') as number) * seconds).toBeCloseTo(400, 6);
  });

  it('leave a gap (null), never a made-up zero, for indicators the window does not have', () => {
    const point = new Indicators().point({ start: 5000, end: 6000, timestamp: 5000, resource: { service: 's', attributes: {} }, series: [] });
    expect(point).toEqual([5, ...FIELDS.map(() => null)]);
  });
});

describe('dashboardSink', () => {
  it('keeps only the last historySeconds points however many windows arrive', async () => {
    const sink = dashboardSink({ port: 0, historySeconds: 10 });
    await sink.ready;
    for (let i = 0; i < 1000; i++) sink.export([{ start: i * 1000, end: i * 1000 + 1000, timestamp: i * 1000, resource: { service: 's', attributes: {} }, series: [] }]);
    const snapshot = (await (await fetch(`${sink.url}data.json`)).json()) as { points: Point[]; service: string };
    expect(snapshot.points.map((p) => p[0])).toEqual(Array.from({ length: 10 }, (_, i) => 990 + i));
    expect(snapshot.service).toBe('s');
    expect(sink.stats()).toMatchObject({ points: 1000, listening: 1 });
    await sink.shutdown();
    expect(sink.url).toBeUndefined();
  });

  it('binds loopback by default, serves its page and assets, and refuses other methods', async () => {
    const sink = dashboardSink({ port: 0, path: '/dash/' });
    await sink.ready;
    expect(sink.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/dash\/$/);
    const page = await fetch(sink.url!);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('assets/uplot.min.js');
    const uplot = await fetch(`${sink.url}assets/uplot.min.js`);
    expect(uplot.status).toBe(200);
    expect(await uplot.text()).toContain('uPlot');
    expect((await fetch(`${sink.url}assets/uplot.min.css`)).status).toBe(200);
    expect((await fetch(sink.url!, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${sink.url}nope`)).status).toBe(404);
    await sink.shutdown();
  });

  it('limits SSE clients', async () => {
    const sink = dashboardSink({ port: 0, maxClients: 2 });
    await sink.ready;
    const controllers = [0, 1, 2].map(() => new AbortController());
    const responses = await Promise.all(controllers.map((c) => fetch(`${sink.url}events`, { signal: c.signal })));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 503]);
    expect(sink.stats().clients).toBe(2);
    controllers.forEach((c) => c.abort());
    await sink.shutdown();
  });

  it('reports a port in use instead of throwing, and still accepts windows', async () => {
    const first = dashboardSink({ port: 0 });
    await first.ready;
    const errors: Error[] = [];
    const second = dashboardSink({ port: first.port, onError: (e) => errors.push(e) });
    await second.ready;
    expect(second.url).toBeUndefined();
    expect(errors[0]?.message).toMatch(/cannot listen/);
    expect(() => second.export([{ start: 0, end: 1000, timestamp: 0, resource: { service: 's', attributes: {} }, series: [] }])).not.toThrow();
    await Promise.all([first.shutdown(), second.shutdown()]);
  });

  it('rejects bad options at configuration time', () => {
    expect(() => dashboardSink({ port: 70000 })).toThrow(/port/);
    expect(() => dashboardSink({ path: 'dash' })).toThrow(/path/);
    expect(() => dashboardSink({ historySeconds: 5 })).toThrow(/historySeconds/);
    expect(() => dashboardSink({ thresholds: { p99: 100 } as never })).toThrow(/unknown threshold "p99"/);
    expect(() => dashboardSink({ thresholds: { inflight: -1 } })).toThrow(/positive/);
    expect(() => dashboardSink({ names: { inflight: '' } })).toThrow(/metric name/);
    expect(() => dashboardSink({ colour: 'red' } as never)).toThrow(/unknown option "colour"/);
  });
});
