/**
 * The CloudWatch sink through the real `@aws-sdk/client-cloudwatch` against the loopback PutMetricData server
 * (test/helpers/cloudwatch-server.ts), in real time.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/create-metrics.js';
import { cloudWatchSink, type CloudWatchSinkOptions } from '../../src/sinks/cloudwatch.js';
import { startCloudWatchServer, type CloudWatchServer } from '../helpers/cloudwatch-server.js';
import { series, window } from '../helpers/windows.js';

const servers: CloudWatchServer[] = [];
const sinks: Array<{ shutdown?: () => void | Promise<void> }> = [];

afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown?.()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
  vi.doUnmock('@aws-sdk/client-cloudwatch');
  vi.resetModules();
});

async function server(options: Parameters<typeof startCloudWatchServer>[0] = {}): Promise<CloudWatchServer> {
  const s = await startCloudWatchServer(options);
  servers.push(s);
  return s;
}

function sinkFor(s: CloudWatchServer | string, options: CloudWatchSinkOptions = {}) {
  const sink = cloudWatchSink({
    endpoint: typeof s === 'string' ? s : s.url,
    region: 'us-east-1',
    clientConfig: { credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
    fleetSize: 1,
    identity: 'api-0',
    logger: { warn: () => undefined, info: () => undefined },
    ...options,
  });
  sinks.push(sink);
  return sink;
}

/** The start of the current second: timestamps the server accepts. */
function thisSecond(): number {
  return Math.floor(Date.now() / 1000) * 1000;
}

function gauges(start: number, n: number, value = (start / 1000) % 100_000) {
  return window(
    start,
    Array.from({ length: n }, (_, i) => series({ name: `gauge.${i}`, kind: 'gauge', unit: '{item}', last: value, labels: { shard: String(i % 7) } })),
  );
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('cloudwatch sink over the AWS SDK', () => {
  it('speaks AWS JSON 1.0 PutMetricData with SigV4, one datum per series and second', async () => {
    const cw = await server();
    const sink = sinkFor(cw, { namespace: 'Checkout' });
    const t = thisSecond() - 2000;
    sink.export([gauges(t, 3), gauges(t + 1000, 3)]);
    await until(() => cw.accepted.length === 6);
    const request = cw.requests[0];
    expect(request.status).toBe(200);
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricData');
    expect(request.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=x\/\d{8}\/us-east-1\/monitoring\/aws4_request/);
    expect(request.gzip).toBe(false);
    expect(request.namespace).toBe('Checkout');
    expect(cw.requests).toHaveLength(1);
    // Without a namespace option: the service name, as the EMF sink does.
    const plain = sinkFor(cw, { identity: 'api-1' });
    plain.export([gauges(t, 1)]);
    await until(() => cw.requests.length === 2);
    expect(cw.requests[1].namespace).toBe('test-service');
    const d = cw.accepted.find((x) => x.MetricName === 'gauge.1' && x.Timestamp === t + 1000);
    expect(d).toMatchObject({
      Dimensions: [
        { Name: 'ServiceName', Value: 'test-service' },
        { Name: 'shard', Value: '1' },
      ],
      Unit: 'Count',
      StorageResolution: 1,
      Value: ((t + 1000) / 1000) % 100_000,
    });
  });

  it('gzips large bodies (>= 10240 bytes) and keeps every request within 1000 datums', async () => {
    const cw = await server();
    const sink = sinkFor(cw);
    sink.export([gauges(thisSecond() - 1000, 2500)]);
    await until(() => cw.accepted.length === 2500);
    expect(cw.requests.length).toBe(3);
    for (const r of cw.requests) {
      expect(r.status).toBe(200);
      expect(r.datums.length).toBeLessThanOrEqual(1000);
      expect(r.gzip).toBe(true);
      expect(r.headers['content-encoding']).toBe('gzip');
      expect(r.wireBytes).toBeLessThan(r.bodyBytes / 4);
    }
    const small = await server();
    const sink2 = sinkFor(small);
    sink2.export([gauges(thisSecond() - 1000, 5)]);
    await until(() => small.accepted.length === 5);
    expect(small.requests[0].gzip).toBe(false);
  });

  it('splits by size: 1000 wide histograms never exceed 1 MB of JSON per request', async () => {
    const cw = await server();
    const sink = sinkFor(cw);
    const start = thisSecond() - 1000;
    const hist = Array.from({ length: 1000 }, (_, i) =>
      series({
        name: 'http.server.request.duration',
        kind: 'histogram',
        unit: 'ms',
        labels: { route: `/route/${i}/${'x'.repeat(40)}` },
        count: 300 * 7,
        sum: 1e5,
        min: 0.123456789,
        max: 98765.4321,
        buckets: { scale: 6, offset: 100, counts: Array.from({ length: 300 }, (_, k) => 7 + (k % 5)), zeroCount: 0 },
      }),
    );
    sink.export([window(start, hist)]);
    await until(() => cw.accepted.length === 1000, 20_000);
    expect(cw.requests.length).toBeGreaterThan(3);
    for (const r of cw.requests) {
      expect(r.status).toBe(200);
      expect(r.bodyBytes).toBeLessThanOrEqual(1_000_000);
    }
    for (const d of cw.accepted) {
      expect(d.Values?.length).toBeLessThanOrEqual(150);
      expect(d.Counts?.length).toBe(d.Values?.length);
    }
  });

  it('backs off when throttled and delivers every datapoint with its own second', async () => {
    // Four pods that think they are alone (fleetSize 1) against a quota of 2 requests a second.
    const cw = await server({ quotaTps: 2 });
    const pods = Array.from({ length: 4 }, (_, i) => sinkFor(cw, { identity: `pod-${i}`, quotaTps: 2, headroom: 1, shutdownTimeoutMs: 20_000 }));
    const first = thisSecond();
    let produced = 0;
    for (let s = 0; s < 6; s++) {
      await new Promise((r) => setTimeout(r, first + (s + 1) * 1000 + 5 - Date.now()));
      for (const [i, pod] of pods.entries()) {
        pod.export([gauges(first + s * 1000, 2, s * 10 + i)]);
        produced += 2;
      }
    }
    await Promise.all(pods.map((p) => p.shutdown()));
    sinks.length = 0;
    const throttled = cw.requests.filter((r) => r.error === 'Throttling');
    expect(throttled.length).toBeGreaterThan(0);
    expect(pods.some((p) => p.stats().requests_throttled > 0)).toBe(true);
    expect(pods.reduce((n, p) => n + p.stats().datapoints_dropped, 0)).toBe(0);
    expect(cw.accepted.length).toBe(produced);
    expect(cw.maxTpsAccepted()).toBeLessThanOrEqual(2);
    // Values encode second and pod: each datum arrived under its own second.
    for (const d of cw.accepted) expect(Math.floor((d.Value as number) / 10)).toBe((d.Timestamp - first) / 1000);
    const keys = new Set(cw.accepted.map((d) => `${d.MetricName}@${d.Timestamp}#${d.Value}`));
    expect(keys.size).toBe(produced);
  }, 60_000);

  it('drops and reports a batch CloudWatch rejects as InvalidParameterValue, then carries on', async () => {
    let rejectNext = true;
    const cw = await server({
      inject: () => {
        if (!rejectNext) return undefined;
        rejectNext = false;
        return { status: 400, code: 'InvalidParameterValue', message: 'The value for parameter MetricData.member.1.Value is invalid.' };
      },
    });
    const warnings: string[] = [];
    const sink = sinkFor(cw, { logger: { warn: (m) => warnings.push(m) } });
    sink.export([gauges(thisSecond() - 1000, 4)]);
    await until(() => sink.stats().batches_dropped === 1);
    sink.export([gauges(thisSecond(), 4)]);
    await until(() => cw.accepted.length === 4);
    expect(sink.stats().datapoints_dropped).toBe(4);
    expect(warnings.some((w) => w.includes('InvalidParameterValue (HTTP 400)') && w.includes('dropped its 4 datapoint(s)'))).toBe(true);
  });

  it('retries a 5xx answer and loses nothing', async () => {
    let fail = 1;
    const cw = await server({ inject: () => (fail-- > 0 ? { status: 500, code: 'InternalServiceError', message: 'internal' } : undefined) });
    const sink = sinkFor(cw);
    sink.export([gauges(thisSecond() - 1000, 3)]);
    await until(() => cw.accepted.length === 3);
    expect(sink.stats().requests_failed).toBe(1);
    expect(sink.stats().datapoints_dropped).toBe(0);
  });

  it('fails soft when the endpoint is down: export returns, shutdown ends in time, losses are counted', async () => {
    const cw = await server();
    const url = cw.url;
    await cw.close();
    servers.length = 0;
    const warnings: string[] = [];
    const sink = sinkFor(url, { logger: { warn: (m) => warnings.push(m) }, shutdownTimeoutMs: 1500, requestTimeoutMs: 500 });
    for (let s = 0; s < 3; s++) expect(sink.export([gauges(thisSecond() - 1000 * (3 - s), 5)])).toBeUndefined();
    await until(() => sink.stats().requests_failed >= 1);
    await sink.shutdown();
    sinks.length = 0;
    // Connection refused: nothing reached CloudWatch, so the three windows never left the process.
    expect(sink.stats()).toMatchObject({ datapoints_dropped: 15, windows_dropped: 3, windows_sent: 0, windows_failed: 0, windows_pending: 0 });
    expect(warnings.some((w) => /ECONNREFUSED|retry/.test(w))).toBe(true);
  });

  it('flushes what is pending on shutdown, even mid-period', async () => {
    const cw = await server();
    const sink = sinkFor(cw, { fleetSize: 10_000, quotaTps: 500 });
    expect(sink.pacing().periodSeconds).toBe(25);
    const t = thisSecond();
    sink.export([gauges(t - 3000, 2), gauges(t - 2000, 2), gauges(t - 1000, 2)]);
    await sink.shutdown();
    sinks.length = 0;
    expect(cw.accepted.length).toBe(6);
    expect(new Set(cw.accepted.map((d) => d.Timestamp)).size).toBe(3);
  });

  it('tells the user to install the SDK when it is missing, and drops instead of crashing', async () => {
    vi.resetModules();
    vi.doMock('@aws-sdk/client-cloudwatch', () => {
      throw Object.assign(new Error("Cannot find package '@aws-sdk/client-cloudwatch'"), { code: 'ERR_MODULE_NOT_FOUND' });
    });
    const { cloudWatchSink: fresh } = await import('../../src/sinks/cloudwatch.js');
    const warnings: string[] = [];
    const sink = fresh({ region: 'us-east-1', fleetSize: 1, logger: { warn: (m) => warnings.push(m), info: () => undefined } });
    sinks.push(sink);
    await until(() => warnings.length > 0);
    expect(warnings[0]).toContain('npm install @aws-sdk/client-cloudwatch');
    sink.export([gauges(thisSecond() - 1000, 3)]);
    expect(sink.stats().datapoints_dropped).toBe(3);
  });

  it('a counter recorded through createMetrics arrives as a StatisticSet in its own second', async () => {
    const cw = await server();
    const sink = sinkFor(cw, { filter: (s) => s.name === 'orders.received' });
    const metrics = createMetrics({ service: 'latency-probe', sinks: [sink], eventLoop: false });
    const orders = metrics.counter('orders.received', { unit: '{order}' });
    const latencies: number[] = [];
    for (let i = 0; i < 5; i++) {
      // Record at a random point inside a second, as traffic does.
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + Math.floor(Math.random() * 900)));
      const recordedAt = Date.now();
      orders.add(1);
      const second = Math.floor(recordedAt / 1000) * 1000;
      const one = (d: (typeof cw.accepted)[number]) => d.Timestamp === second && d.StatisticValues?.Sum === 1;
      await until(() => cw.accepted.some(one), 5000);
      expect(cw.accepted.find(one)?.StatisticValues).toEqual({ SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 });
      latencies.push((cw.accepted.find(one)?.receivedAt as number) - recordedAt);
    }
    await metrics.shutdown();
    sinks.length = 0;
    // Timing targets live in bench/latency.ts; this only shows the figures.
    process.stdout.write(`record-to-endpoint latency ms (fleetSize 1): ${latencies.sort((a, b) => a - b).join(', ')}\n`);
    // Every other second of the counter went as Value 0: one datum per series and second.
    const seconds = cw.accepted.filter((d) => d.MetricName === 'orders.received').map((d) => d.Timestamp);
    expect(new Set(seconds).size).toBe(seconds.length);
  }, 30_000);
});
