/**
 * The PutMetricData sink against a failing CloudWatch. Two receivers, both enforcing the API (the botocore model
 * and the documented limits, test/helpers/cloudwatch-server.ts):
 * - in fake time, a transport that hands each request to the server's validator and stores what CloudWatch would
 *   store (the 70 s outage at 1,000 series runs in virtual time: pacing, backoff and request timeouts are the
 *   sink's own timers, faked; conversion, memory and accounting are real);
 * - in real time, the real AWS SDK against the loopback server (throttling, 500s, answers after the timeout,
 *   refused connections).
 * For each fault: every window accounted exactly once, no datapoint stored twice, the backlog within
 * `maxBacklogBytes`, fresh data within two send periods of recovery (newest seconds first when the backlog is
 * larger than a request: PutMetricData datums carry their own timestamps, so arrival order does not matter to
 * CloudWatch, freshness does).
 */
import fc from 'fast-check';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SeriesWindow, Window } from '../../src/core/window.js';
import { cloudWatchSink, type CloudWatchSink, type CloudWatchSinkOptions, type PutMetricDataInput } from '../../src/sinks/cloudwatch.js';
import { SinkError } from '../../src/core/sink.js';
import { Rejection, startCloudWatchServer, validatePutMetricData, type CloudWatchServer, type ReceivedDatum } from '../helpers/cloudwatch-server.js';
import { systemClock, type Clock } from '../../src/sinks/cloudwatch/publisher.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const quiet = { warn: () => undefined, info: () => undefined };
const servers: CloudWatchServer[] = [];
const sinks: CloudWatchSink[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(sinks.splice(0).map((s) => s.shutdown()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Window at `start` with `n` gauges whose value encodes the second, so a datum shows which window it came from. */
function gaugeWindow(start: number, n: number): Window {
  const series: SeriesWindow[] = [];
  for (let k = 0; k < n; k++) {
    const name = `queue.depth.${k % 50}`;
    const labels = { queue: `q${Math.floor(k / 50)}` };
    series.push({
      name,
      unit: '{message}',
      description: '',
      kind: 'gauge',
      labels,
      key: `${name}{queue=${labels.queue}}`,
      count: 1,
      sum: 1,
      min: NaN,
      max: NaN,
      last: (start / 1000) % 100_000,
      rate: 1,
      total: 0,
      p50: NaN,
      p90: NaN,
      p95: NaN,
      p99: NaN,
    });
  }
  return { start, end: start + 1000, timestamp: start, resource: { service: 'faults', attributes: {} }, series };
}

type Answer = 'ok' | 'throttle' | 'error500' | 'reject400' | 'refused' | 'hang' | 'late';

/** What CloudWatch stores, validated as the server validates; `answer` decides the fault for each request. */
function fakeCloudWatch(answer: (n: number) => Answer) {
  const stored: Array<ReceivedDatum & { at: number }> = [];
  const calls: Array<{ at: number; answer: Answer; datums: number; newest: number }> = [];
  const transport = async (input: PutMetricDataInput): Promise<unknown> => {
    const now = Date.now();
    const a = answer(calls.length);
    const newest = Math.max(...input.MetricData.map((d) => d.Timestamp.getTime()));
    calls.push({ at: now, answer: a, datums: input.MetricData.length, newest });
    const store = () => {
      for (const d of validatePutMetricData(input, now).datums) stored.push({ ...d, at: now });
    };
    switch (a) {
      case 'ok':
        store();
        return {};
      case 'throttle':
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', Code: 'Throttling', $metadata: { httpStatusCode: 400 } });
      case 'error500':
        throw Object.assign(new Error('internal error'), { name: 'InternalServiceFault', Code: 'InternalServiceError', $metadata: { httpStatusCode: 500 } });
      case 'reject400':
        throw Object.assign(new Error('bad value'), { name: 'InvalidParameterValueException', Code: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
      case 'refused':
        throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      case 'late':
        // Stored, but the answer comes after the sink's request timeout.
        store();
        return new Promise(() => undefined);
      case 'hang':
        return new Promise(() => undefined);
    }
  };
  return { stored, calls, transport };
}

function duplicates(stored: ReadonlyArray<{ MetricName: string; Dimensions: ReadonlyArray<{ Name: string; Value: string }>; Timestamp: number }>): number {
  const seen = new Set<string>();
  let dup = 0;
  for (const d of stored) {
    const id = `${d.MetricName}|${d.Dimensions.map((x) => `${x.Name}=${x.Value}`).join(',')}|${d.Timestamp}`;
    if (seen.has(id)) dup++;
    seen.add(id);
  }
  return dup;
}

function accounted(sink: CloudWatchSink, produced: number): void {
  const s = sink.stats();
  expect(s.windows_pending).toBe(0);
  expect(s.windows_sent + s.windows_failed + s.windows_dropped).toBe(produced);
}

/** The system clock under vi's fake timers; the sink's conversion yields as a microtask, so it stays in fake time. */
const fakeTimeClock: Clock = { ...systemClock, yield: () => Promise.resolve() };

function fakeSink(options: CloudWatchSinkOptions): CloudWatchSink {
  const sink = cloudWatchSink({ logger: quiet, identity: 'api-7d9f8c6b5-xk2p9', clock: fakeTimeClock, ...options });
  sinks.push(sink);
  return sink;
}

/** One window a second, sealed 5 ms after the second ends, in fake time. */
async function runSeconds(sink: CloudWatchSink, from: number, seconds: number, n: number, t0: number, each?: () => void): Promise<void> {
  for (let s = from; s < from + seconds; s++) {
    await vi.advanceTimersByTimeAsync(t0 + (s + 1) * 1000 + 5 - Date.now());
    sink.export([gaugeWindow(t0 + s * 1000, n)]);
    each?.();
  }
}

const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

describe('PutMetricData sink under CloudWatch faults (fake time)', () => {
  it('70 s of 500s at 1,000 series, then recovery: accounted once, no duplicate, fresh within two periods, bytes bounded', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(T0);
    let down = true;
    const cw = fakeCloudWatch(() => (down ? 'error500' : 'ok'));
    const maxBacklogBytes = 8 * 1024 * 1024;
    // 2,000 pods at 500 x 0.8: one request every 5 s.
    const sink = fakeSink({ transport: cw.transport, fleetSize: 2000, quotaTps: 500, headroom: 0.8, maxBacklogBytes });
    const period = sink.pacing().periodSeconds;
    expect(period).toBe(5);
    const before = heap();
    let maxBacklog = 0;
    await runSeconds(sink, 0, 70, 1000, T0, () => (maxBacklog = Math.max(maxBacklog, sink.stats().backlog_bytes)));
    const peak = heap() - before;
    expect(maxBacklog).toBeLessThanOrEqual(maxBacklogBytes);
    expect(peak).toBeLessThan(maxBacklogBytes + 4 * 1024 * 1024);
    const failedCalls = cw.calls.length;
    for (let i = 1; i < failedCalls; i++) expect(cw.calls[i].at - cw.calls[i - 1].at).toBeGreaterThanOrEqual(period * 1000 - 1000);
    down = false;
    const recovered = Date.now();
    await runSeconds(sink, 70, 30, 1000, T0);
    await sink.shutdown();
    accounted(sink, 100);
    const first = cw.calls[failedCalls];
    expect(first.answer).toBe('ok');
    expect(first.at - recovered).toBeLessThanOrEqual(2 * period * 1000);
    // Newest first: the first request after recovery carries the last sealed second.
    expect(first.newest).toBe(Math.floor(first.at / 1000) * 1000 - 1000);
    expect(duplicates(cw.stored)).toBe(0);
    const s = sink.stats();
    // Every window counted sent is stored whole; dropped ones not at all.
    const perSecond = new Map<number, number>();
    for (const d of cw.stored) perSecond.set(d.Timestamp, (perSecond.get(d.Timestamp) ?? 0) + 1);
    expect([...perSecond.values()].every((n) => n === 1000)).toBe(true);
    expect(perSecond.size).toBe(s.windows_sent);
    expect(s.windows_dropped).toBeGreaterThan(0);
    process.stdout.write(
      `cloudwatch 70 s outage: produced 100, sent ${s.windows_sent}, dropped ${s.windows_dropped}, failed ${s.windows_failed}; ` +
        `heap +${(peak / 1048576).toFixed(1)} MB (bound ${maxBacklogBytes / 1048576} MB); first fresh datum ${first.at - recovered} ms after recovery\n`,
    );
  }, 60_000);

  it('an answer after the request timeout is never resent: the window is failed, stored once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(T0);
    const cw = fakeCloudWatch((n) => (n < 3 ? 'late' : 'ok'));
    const sink = fakeSink({ transport: cw.transport, fleetSize: 1, requestTimeoutMs: 800 });
    await runSeconds(sink, 0, 10, 5, T0);
    await sink.shutdown();
    accounted(sink, 10);
    expect(duplicates(cw.stored)).toBe(0);
    expect(sink.stats().windows_failed).toBe(3);
    expect(sink.stats().requests_unknown).toBe(3);
    expect(cw.stored).toHaveLength(50);
  });

  it('honours Retry-After from a custom transport (at most 60 s)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    vi.setSystemTime(T0);
    const calls: number[] = [];
    const transport = async (): Promise<unknown> => {
      calls.push(Date.now());
      if (calls.length === 1) throw Object.assign(new SinkError('busy', { retryable: true }), { retryAfterMs: 5000 });
      return {};
    };
    const sink = fakeSink({ transport, fleetSize: 1 });
    await runSeconds(sink, 0, 12, 2, T0);
    await sink.shutdown();
    expect(calls[1] - calls[0]).toBeGreaterThanOrEqual(5000);
    accounted(sink, 12);
    expect(sink.stats().windows_sent).toBe(12);
  });

  it('property: under any schedule of faults every window is accounted once and nothing is stored twice', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const answers = fc.constantFrom<Answer>('ok', 'ok', 'ok', 'throttle', 'error500', 'reject400', 'refused', 'hang', 'late');
    await fc.assert(
      fc.asyncProperty(
        fc.array(answers, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 2500 }),
        fc.integer({ min: 1, max: 300 }),
        fc.constantFrom(1, 500, 5000),
        async (schedule, seconds, series, maxDatums, fleetSize) => {
          vi.setSystemTime(T0);
          const cw = fakeCloudWatch((n) => schedule[n % schedule.length]);
          const sink = cloudWatchSink({
            transport: cw.transport,
            logger: quiet,
            identity: 'p-1',
            fleetSize,
            quotaTps: 500,
            maxDatumsPerRequest: maxDatums,
            maxPendingDatapoints: 20_000,
            maxBacklogBytes: 4 * 1024 * 1024,
            requestTimeoutMs: 500,
            shutdownTimeoutMs: 3000,
          });
          await runSeconds(sink, 0, seconds, series, T0);
          await vi.advanceTimersByTimeAsync(10_000);
          const shutdown = sink.shutdown();
          await vi.advanceTimersByTimeAsync(5000);
          await shutdown;
          const s = sink.stats();
          expect(s.windows_pending).toBe(0);
          expect(s.windows_sent + s.windows_failed + s.windows_dropped).toBe(seconds);
          expect(duplicates(cw.stored)).toBe(0);
          const perSecond = new Map<number, number>();
          for (const d of cw.stored) perSecond.set(d.Timestamp, (perSecond.get(d.Timestamp) ?? 0) + 1);
          // Sent: stored whole. Not sent: never stored whole (dropped: not at all).
          const whole = [...perSecond.values()].filter((n) => n === series).length;
          expect(whole).toBeGreaterThanOrEqual(s.windows_sent);
          expect(perSecond.size).toBeLessThanOrEqual(s.windows_sent + s.windows_failed);
        },
      ),
      { numRuns: 40, seed: 11 },
    );
  }, 120_000);
});

describe('PutMetricData sink under CloudWatch faults (real SDK, loopback endpoint)', () => {
  function sdkSink(url: string, options: CloudWatchSinkOptions = {}): CloudWatchSink {
    const sink = cloudWatchSink({
      endpoint: url,
      region: 'us-east-1',
      clientConfig: { credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
      fleetSize: 1,
      identity: 'api-0',
      logger: quiet,
      ...options,
    });
    sinks.push(sink);
    return sink;
  }
  const thisSecond = () => Math.floor(Date.now() / 1000) * 1000;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('500s, throttling and refused connections, then recovery: every window once at the receiver', async () => {
    let fail = true;
    const cw = await startCloudWatchServer({ inject: () => (fail ? { status: 500, code: 'InternalServiceError' } : undefined), quotaTps: 2 });
    servers.push(cw);
    const sink = sdkSink(cw.url);
    const t = thisSecond() - 10_000;
    for (let i = 0; i < 4; i++) sink.export([gaugeWindow(t + i * 1000, 20)]);
    await sleep(2500);
    fail = false;
    // Refused: the endpoint goes away and comes back on the same port.
    const port = Number(new URL(cw.url).port);
    await cw.close();
    servers.length = 0;
    for (let i = 4; i < 8; i++) sink.export([gaugeWindow(t + i * 1000, 20)]);
    await sleep(1500);
    const back = await startCloudWatchServer({ port, quotaTps: 1 });
    servers.push(back);
    for (let i = 8; i < 12; i++) sink.export([gaugeWindow(t + i * 1000, 20)]);
    await sink.flush(15_000);
    accounted(sink, 12);
    const stored = [...cw.accepted, ...back.accepted];
    expect(duplicates(stored)).toBe(0);
    expect(sink.stats().windows_sent).toBe(12);
    expect(stored).toHaveLength(12 * 20);
    expect(sink.stats().requests_failed).toBeGreaterThan(0);
  }, 30_000);

  it('answers after the request timeout: stored once at the receiver, counted failed, never resent', async () => {
    const cw = await startCloudWatchServer({ latencyMs: 1500 });
    servers.push(cw);
    const sink = sdkSink(cw.url, { requestTimeoutMs: 300 });
    const t = thisSecond() - 5000;
    sink.export([gaugeWindow(t, 10), gaugeWindow(t + 1000, 10)]);
    await sleep(3000);
    const requests = cw.requests.length;
    await sleep(2500);
    expect(cw.requests.length).toBe(requests);
    accounted(sink, 2);
    expect(sink.stats()).toMatchObject({ windows_failed: 2, windows_sent: 0, requests_unknown: 1 });
    expect(duplicates(cw.accepted)).toBe(0);
    expect(cw.accepted).toHaveLength(20);
  }, 20_000);
});

// The validator the fake receiver uses must itself reject what CloudWatch rejects, or the tests above prove little.
describe('fake receiver', () => {
  it('rejects a body the API would', () => {
    expect(() => validatePutMetricData({ Namespace: 'n', MetricData: [{ MetricName: 'm', Timestamp: new Date(), Value: Number.NaN }] }, Date.now())).toThrow(Rejection);
    expect(() => validatePutMetricData({ Namespace: 'n', MetricData: [{ MetricName: 'm', Timestamp: new Date(), Value: 1, Dimensions: [{ Name: 'd', Value: 'ü' }] }] }, Date.now())).toThrow(
      Rejection,
    );
  });
});
