/**
 * Pacing, retries and buffering of the CloudWatch sink, in fake time with the pluggable transport.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cloudWatchSink, type CloudWatchSinkOptions, type PutMetricDataInput } from '../../src/sinks/cloudwatch.js';
import { hash32, ordinalOf, phaseOf } from '../../src/sinks/cloudwatch/identity.js';
import { Pacer } from '../../src/sinks/cloudwatch/pacer.js';
import { systemClock, type Clock } from '../../src/sinks/cloudwatch/publisher.js';
import { classify } from '../../src/sinks/cloudwatch/transport.js';
import { SinkError } from '../../src/core/sink.js';
import { series, window } from '../helpers/windows.js';

/** A whole second, so epoch-second arithmetic in the assertions is exact. */
const T0 = Date.UTC(2026, 0, 1, 0, 0, 0);

interface Call {
  at: number;
  input: PutMetricDataInput;
}

function recorder(answer: (call: Call, n: number) => unknown = () => undefined) {
  const calls: Call[] = [];
  const transport = async (input: PutMetricDataInput): Promise<unknown> => {
    const call = { at: Date.now(), input };
    calls.push(call);
    const outcome = answer(call, calls.length);
    if (outcome instanceof Error) throw outcome;
    return {};
  };
  return { calls, transport };
}

function throttling(): Error {
  return Object.assign(new Error('Rate exceeded'), { name: 'Throttling', Code: 'Throttling', $metadata: { httpStatusCode: 400 } });
}

const silent = { warn: () => undefined, info: () => undefined };

/** The system clock under vi's fake timers; the sink's conversion yields as a microtask, so it stays in fake time. */
const fakeTimeClock: Clock = { ...systemClock, yield: () => Promise.resolve() };

function sinkWith(options: CloudWatchSinkOptions) {
  return cloudWatchSink({ logger: silent, identity: 'api-7d9f8c6b5-xk2p9', clock: fakeTimeClock, ...options });
}

/** `n` series, values encoding the second so each datum's timestamp can be checked against its content. */
function windowAt(start: number, n = 3) {
  const second = (start - T0) / 1000;
  return window(
    start,
    Array.from({ length: n }, (_, i) => series({ name: `m${i}`, kind: 'gauge', last: second + 1 })),
  );
}

/** Feeds one window per second as the core would (sealed a few ms after each second ends). */
async function run(sink: ReturnType<typeof sinkWith>, seconds: number, seriesCount = 3, from = 0): Promise<void> {
  for (let s = from; s < from + seconds; s++) {
    await vi.advanceTimersByTimeAsync(T0 + (s + 1) * 1000 + 5 - Date.now());
    sink.export([windowAt(T0 + s * 1000, seriesCount)]);
  }
}

function datapoints(calls: readonly Call[]): number {
  return calls.reduce((n, c) => n + c.input.MetricData.length, 0);
}

/** Every datum's timestamp is the second its value encodes. */
function expectOwnSeconds(calls: readonly Call[]): void {
  for (const c of calls) {
    for (const d of c.input.MetricData) expect((d.Timestamp.getTime() - T0) / 1000 + 1).toBe(d.Value);
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('cloudwatch pacing', () => {
  it('sends once every ceil(fleetSize / (quotaTps x headroom)) seconds, in its phase, at its offset', async () => {
    const { calls, transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: 15_000, quotaTps: 1000, headroom: 0.8 });
    const pacing = sink.pacing();
    expect(pacing.basePeriodSeconds).toBe(19);
    expect(pacing.periodSeconds).toBe(19);
    expect(pacing.phaseSecond).toBe(phaseOf('api-7d9f8c6b5-xk2p9', 19, 0));
    expect(pacing.offsetMs).toBeGreaterThanOrEqual(100);
    expect(pacing.offsetMs).toBeLessThan(500);
    await run(sink, 120);
    expect(calls.length).toBeGreaterThanOrEqual(6);
    for (const c of calls) {
      const second = Math.floor(c.at / 1000);
      expect(((second - pacing.phaseSecond) % 19 + 19) % 19).toBe(0);
      expect(c.at - second * 1000).toBe(pacing.offsetMs);
    }
    for (let i = 1; i < calls.length; i++) expect(calls[i].at - calls[i - 1].at).toBe(19_000);
    await sink.shutdown();
  });

  it('carries every pending second in one request, each datum with its own timestamp', async () => {
    const { calls, transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: 15_000, quotaTps: 1000, headroom: 0.8 });
    await run(sink, 100, 4);
    await sink.shutdown();
    // 100 seconds x 4 series, nothing lost or repeated, each request holding up to 19 seconds.
    expect(datapoints(calls)).toBe(400);
    expectOwnSeconds(calls);
    const seconds = new Set(calls.flatMap((c) => c.input.MetricData.map((d) => d.Timestamp.getTime())));
    expect(seconds.size).toBe(100);
    const steady = calls.slice(1, -1);
    for (const c of steady) expect(new Set(c.input.MetricData.map((d) => d.Timestamp.getTime())).size).toBe(19);
    expect(calls[0].input.MetricData[0]).toMatchObject({ StorageResolution: 1 });
  });

  it('sends every second when the fleet is small enough', async () => {
    const { calls, transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: 10, quotaTps: 500 });
    expect(sink.pacing().periodSeconds).toBe(1);
    await run(sink, 10);
    expect(calls.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < calls.length; i++) expect(calls[i].at - calls[i - 1].at).toBe(1000);
    // The newest second, sealed at +5 ms, leaves at the pod's offset within the next second.
    for (const c of calls) expect(c.at - (Math.max(...c.input.MetricData.map((d) => d.Timestamp.getTime())) + 1000)).toBeLessThan(500);
    await sink.shutdown();
  });

  it('spreads StatefulSet ordinals perfectly and hashed names binomially', () => {
    const phases = Array.from({ length: 19 }, (_, i) => phaseOf(`worker-${i}`, 19, 0));
    expect(new Set(phases).size).toBe(19);
    expect(ordinalOf('worker-12')).toBe(12);
    expect(ordinalOf('api-7d9f8c6b5-xk2p9')).toBeUndefined();

    // 15,000 Deployment-style pods under 1,000 TPS x 0.8: no second above the quota.
    const perPhase = new Array(19).fill(0);
    let seed = 42;
    const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
    const pick = (n: number): string => {
      let out = '';
      for (let i = 0; i < n; i++) {
        seed = hash32(String(seed), 1);
        out += alphabet[seed % alphabet.length];
      }
      return out;
    };
    for (let i = 0; i < 15_000; i++) perPhase[phaseOf(`checkout-${pick(10)}-${pick(5)}`, 19, 0)]++;
    expect(Math.max(...perPhase)).toBeLessThan(1000);
    expect(Math.min(...perPhase)).toBeGreaterThan(650);
  });

  it('halves the rate on throttling, retries the batch, loses nothing and recovers additively', async () => {
    let throttle = 2;
    const { calls, transport } = recorder(() => (throttle-- > 0 ? throttling() : undefined));
    const sink = sinkWith({ transport, fleetSize: 15_000, quotaTps: 1000, headroom: 0.8 });
    const periods: number[] = [];
    const original = sink.pacing().phaseSecond;
    for (let s = 0; s < 600; s += 10) {
      await run(sink, 10, 3, s);
      periods.push(sink.stats().period_seconds);
    }
    await sink.shutdown();
    const stats = sink.stats();
    expect(stats.requests_throttled).toBe(2);
    // 19 (18.75 rounded up) -> 38 -> 75 on two throttles, then back down step by step to 19.
    expect(Math.max(...periods)).toBe(75);
    expect(periods[periods.length - 1]).toBe(19);
    const distinct = [...new Set(periods)];
    expect(distinct.length).toBeGreaterThan(4);
    expect(stats.datapoints_dropped).toBe(0);
    const delivered = calls.filter((_, i) => i >= 2);
    expect(datapoints(delivered)).toBe(600 * 3);
    expectOwnSeconds(delivered);
    // After a throttle the pod sends in another, pseudo-random phase, so an over-subscribed second sheds it.
    expect(sink.pacing().phaseSecond).toBe(phaseOf('api-7d9f8c6b5-xk2p9', 19, 2));
    expect(original).toBe(phaseOf('api-7d9f8c6b5-xk2p9', 19, 0));
    // Gaps after the throttles are at least half the doubled period.
    expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(19_000);
    expect(calls[2].at - calls[1].at).toBeGreaterThanOrEqual(38_000);
  });

  it('retries transient failures with exponential backoff capped at one period, and loses nothing', async () => {
    let fail = 5;
    const { calls, transport } = recorder(() =>
      fail-- > 0 ? Object.assign(new Error('We encountered an internal error'), { name: 'InternalServiceFault', $metadata: { httpStatusCode: 500 } }) : undefined,
    );
    // 2,000 pods at 500 x 0.8: one request every 5 s per pod.
    const sink = sinkWith({ transport, fleetSize: 2000, quotaTps: 500, headroom: 0.8 });
    expect(sink.pacing().periodSeconds).toBe(5);
    await run(sink, 60);
    await sink.shutdown();
    const gaps = calls.slice(0, 6).map((c, i) => (i === 0 ? 0 : c.at - calls[i - 1].at));
    // Backoff 1, 2, 4, then capped at the 5 s period (x [0.5, 1] jitter), rounded up to the pod's next slot: a
    // failing pod never sends more often than a healthy one, nor waits more than two periods.
    for (const gap of gaps.slice(1)) {
      expect(gap).toBeGreaterThanOrEqual(5000);
      expect(gap).toBeLessThanOrEqual(10_000);
    }
    const stats = sink.stats();
    expect(stats.requests_failed).toBe(5);
    expect(stats.datapoints_dropped).toBe(0);
    expect(datapoints(calls.slice(5))).toBe(180);
    expectOwnSeconds(calls.slice(5));
    expect(stats.windows_sent).toBe(60);
    expect(stats.windows_failed + stats.windows_dropped + stats.windows_pending).toBe(0);
  });

  it('after a long outage the first request carries the newest second, within two periods of recovery', async () => {
    let down = true;
    const { calls, transport } = recorder(() => (down ? Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }) : undefined));
    const sink = sinkWith({ transport, fleetSize: 1, quotaTps: 500, headroom: 0.8, maxDatumsPerRequest: 30 });
    await run(sink, 70, 3);
    const failed = calls.length;
    // Every attempt during the outage: no more often than every 0.5 s (a healthy pod sends every second).
    for (let i = 1; i < failed; i++) expect(calls[i].at - calls[i - 1].at).toBeGreaterThanOrEqual(1000);
    down = false;
    const recovered = Date.now();
    await run(sink, 20, 3, 70);
    const first = calls[failed];
    expect(first.at - recovered).toBeLessThanOrEqual(2000);
    // 70 s x 3 series pending, 30 datums a request: newest first, so the present arrives at once.
    const newest = Math.max(...first.input.MetricData.map((d) => d.Timestamp.getTime()));
    expect(newest).toBeGreaterThanOrEqual(Math.floor(first.at / 1000) * 1000 - 2000);
    await sink.shutdown();
    const stats = sink.stats();
    expect(stats.windows_sent + stats.windows_failed + stats.windows_dropped).toBe(90);
    expect(stats.windows_pending).toBe(0);
  });

  it('drops a rejected batch, counts and reports it, and carries on', async () => {
    const warnings: string[] = [];
    const { calls, transport } = recorder((_, n) =>
      n === 2
        ? Object.assign(new Error('The value NaN for parameter MetricData.member.1.Value is invalid.'), {
            name: 'InvalidParameterValueException',
            Code: 'InvalidParameterValue',
            $metadata: { httpStatusCode: 400 },
          })
        : undefined,
    );
    const sink = cloudWatchSink({ transport, fleetSize: 1, identity: 'p', logger: { warn: (m) => warnings.push(m) } });
    await run(sink, 5);
    await sink.shutdown();
    const stats = sink.stats();
    expect(stats.batches_dropped).toBe(1);
    expect(stats.datapoints_dropped).toBe(calls[1].input.MetricData.length);
    expect(stats.datapoints_sent).toBe(15 - calls[1].input.MetricData.length);
    expect(warnings.some((w) => w.includes('InvalidParameterValue') && w.includes('dropped'))).toBe(true);
  });

  it('treats a custom transport SinkError by its retryable flag', async () => {
    let n = 0;
    const { calls, transport } = recorder(() => (++n === 1 ? new SinkError('proxy busy', { retryable: true }) : n === 2 ? new SinkError('bad', { retryable: false }) : undefined));
    const sink = sinkWith({ transport, fleetSize: 1 });
    await run(sink, 6);
    await sink.shutdown();
    expect(calls.length).toBeGreaterThanOrEqual(3);
    expect(sink.stats().batches_dropped).toBe(1);
  });

  it('halves the request size and resends when a request is too large', async () => {
    let first = true;
    const { calls, transport } = recorder(() => {
      if (!first) return undefined;
      first = false;
      return Object.assign(new Error('Request size 1100000 exceeded 1048576 bytes'), { name: 'RequestEntityTooLarge', $metadata: { httpStatusCode: 413 } });
    });
    const sink = sinkWith({ transport, fleetSize: 1, maxRequestBytes: 200_000 });
    await run(sink, 1, 1000);
    await run(sink, 3, 0, 1);
    await sink.shutdown();
    expect(sink.stats().datapoints_dropped).toBe(0);
    expect(datapoints(calls.slice(1))).toBe(1000);
    expect(calls.length).toBeGreaterThan(2);
  });

  it('drops seconds older than CloudWatch accepts instead of sending them', async () => {
    const { calls, transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: 1 });
    sink.export([windowAt(T0 - 15 * 24 * 3600_000), windowAt(T0 - 1000)]);
    await run(sink, 2);
    await sink.shutdown();
    expect(sink.stats().datapoints_dropped).toBe(3);
    expect(calls.flatMap((c) => c.input.MetricData).every((d) => d.Timestamp.getTime() >= T0 - 1000)).toBe(true);
  });

  it('bounds pending data, dropping the oldest seconds first', async () => {
    const { calls, transport } = recorder(() => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const sink = sinkWith({ transport, fleetSize: 1, maxPendingDatapoints: 30, shutdownTimeoutMs: 0 });
    await run(sink, 60);
    const stats = sink.stats();
    expect(stats.datapoints_pending).toBeLessThanOrEqual(30);
    expect(stats.datapoints_pending + stats.datapoints_dropped).toBe(180);
    calls.length = 0;
    // The endpoint comes back: what is left is the newest seconds.
    const ok = recorder();
    const sink2 = sinkWith({ transport: ok.transport, fleetSize: 1, maxPendingDatapoints: 30 });
    await run(sink2, 0);
    sink2.export(Array.from({ length: 20 }, (_, s) => windowAt(T0 + s * 1000)));
    await sink2.shutdown();
    const seconds = ok.calls.flatMap((c) => c.input.MetricData.map((d) => (d.Timestamp.getTime() - T0) / 1000));
    expect(Math.min(...seconds)).toBe(10);
    expect(sink2.stats().datapoints_dropped).toBe(30);
    await sink.shutdown();
  });

  it('splits what exceeds one request, several requests a second when the budget allows', async () => {
    const { calls, transport } = recorder();
    // 10 pods under 500 x 0.8: 40 requests/s each, capped at 10 a slot.
    const sink = sinkWith({ transport, fleetSize: 10, quotaTps: 500, headroom: 0.8 });
    await run(sink, 3, 2500);
    await sink.shutdown();
    expect(calls.every((c) => c.input.MetricData.length <= 1000)).toBe(true);
    expect(datapoints(calls)).toBe(7500);
    const perSecond = new Map<number, number>();
    for (const c of calls.slice(0, -3)) perSecond.set(Math.floor(c.at / 1000), (perSecond.get(Math.floor(c.at / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBe(3);
  });

  it('sends one request per slot when the budget is one request a period, newest seconds first', async () => {
    const { calls, transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: 15_000, quotaTps: 1000, headroom: 0.8, maxDatumsPerRequest: 50 });
    await run(sink, 40, 10);
    // 19 s x 10 series per period, 50 per request: the backlog grows while the newest go out first.
    for (let i = 1; i < calls.length; i++) expect(calls[i].at - calls[i - 1].at).toBe(19_000);
    const newest = Math.max(...calls[calls.length - 1].input.MetricData.map((d) => d.Timestamp.getTime()));
    expect(newest).toBe(Math.floor(calls[calls.length - 1].at / 1000) * 1000 - 1000);
    await sink.shutdown();
  });

  it('re-reads a fleet size function before each slot', async () => {
    let fleet = 100;
    const { transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: () => fleet, quotaTps: 10, headroom: 1, identity: 'worker-3' });
    expect(sink.pacing().periodSeconds).toBe(10);
    await run(sink, 12);
    fleet = 300;
    await run(sink, 12, 3, 12);
    expect(sink.pacing().basePeriodSeconds).toBe(30);
    await sink.shutdown();
  });

  it('flushes everything pending on shutdown', async () => {
    const { calls, transport } = recorder();
    const sink = sinkWith({ transport, fleetSize: 15_000, quotaTps: 1000, headroom: 0.8 });
    await run(sink, 7);
    const before = datapoints(calls);
    await sink.shutdown();
    expect(datapoints(calls) - before).toBe(sink.stats().datapoints_sent - before);
    expect(datapoints(calls)).toBe(21);
    expect(sink.stats().datapoints_pending).toBe(0);
  });

  it('export only buffers, returns at once and never throws', () => {
    const transport = () => {
      throw new Error('synchronous failure');
    };
    const sink = sinkWith({ transport, fleetSize: 1 });
    for (let s = 0; s < 1000; s++) expect(sink.export([windowAt(T0 + s * 1000, 10)])).toBeUndefined();
    expect(() => sink.export([{ start: NaN, end: NaN, timestamp: NaN, resource: { service: 's', attributes: {} }, series: [null as never] }])).not.toThrow();
    void sink.shutdown();
  });

  it('announces the freshness once and recommends EMF above 5 s', () => {
    const notices: string[] = [];
    const logger = { warn: (m: string) => notices.push(m), info: (m: string) => notices.push(m) };
    cloudWatchSink({ transport: async () => ({}), fleetSize: 15_000, quotaTps: 1000, logger, identity: 'a' }).shutdown();
    cloudWatchSink({ transport: async () => ({}), fleetSize: 20, quotaTps: 500, logger, identity: 'a' }).shutdown();
    expect(notices).toHaveLength(2);
    expect(notices[0]).toContain('once every 19 s');
    expect(notices[0]).toContain('EMF');
    expect(notices[1]).toContain('every second');
    expect(notices[1]).not.toContain('EMF');
  });

  it('rejects options that cannot work', () => {
    expect(() => cloudWatchSink({ namespace: 'AWS/EC2', transport: async () => ({}) })).toThrow(/reserved/);
    expect(() => cloudWatchSink({ headroom: 1.5, transport: async () => ({}) })).toThrow(/headroom/);
    expect(() => cloudWatchSink({ maxDatumsPerRequest: 2000, transport: async () => ({}) })).toThrow(/maxDatumsPerRequest/);
  });
});

describe('error classification', () => {
  it('reads the codes the SDK puts on its errors', () => {
    const sdk = (name: string, status: number, code = name) => Object.assign(new Error(name), { name, Code: code, $metadata: { httpStatusCode: status } });
    expect(classify(sdk('Throttling', 400)).kind).toBe('throttled');
    expect(classify(sdk('ThrottlingException', 400)).kind).toBe('throttled');
    expect(classify(sdk('CloudWatchServiceException', 429, 'TooManyRequests')).kind).toBe('throttled');
    expect(classify(sdk('InternalServiceFault', 500, 'InternalServiceError')).kind).toBe('transient');
    expect(classify(sdk('ServiceUnavailable', 503)).kind).toBe('transient');
    expect(classify(sdk('InvalidParameterValueException', 400, 'InvalidParameterValue'))).toMatchObject({ kind: 'fatal', code: 'InvalidParameterValue', status: 400 });
    expect(classify(sdk('AccessDeniedException', 403)).kind).toBe('fatal');
    expect(classify(sdk('RequestEntityTooLarge', 413)).kind).toBe('tooLarge');
    expect(classify(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })).kind).toBe('transient');
    // No answer in time or a connection lost mid-request: CloudWatch may have stored it, so it is never resent.
    expect(classify(Object.assign(new Error('timed out'), { name: 'TimeoutError' })).kind).toBe('unknown');
    expect(classify(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })).kind).toBe('unknown');
    expect(classify(Object.assign(new Error('aborted'), { name: 'AbortError' })).kind).toBe('unknown');
    // The server saying it timed out reading the request: nothing was stored.
    expect(classify(sdk('RequestTimeout', 400)).kind).toBe('transient');
    expect(classify(Object.assign(new SinkError('busy', { retryable: true }), { retryAfterMs: 5000 }))).toMatchObject({ kind: 'transient', retryAfterMs: 5000 });
    expect(classify(new TypeError('x is not a function')).kind).toBe('fatal');
  });
});

describe('pacer', () => {
  it('doubles the period on throttling up to the cap and returns additively', () => {
    const pacer = new Pacer({ quotaTps: 500, headroom: 0.8, fleetSize: 4000, identity: 'x' });
    expect(pacer.period).toBe(10);
    const random = () => 0.5;
    const seen = [pacer.period];
    for (let i = 0; i < 5; i++) {
      pacer.onThrottle(random);
      seen.push(pacer.period);
    }
    expect(seen).toEqual([10, 20, 40, 60, 60, 60]);
    const back: number[] = [];
    while (pacer.period > 10) {
      pacer.onSuccess();
      back.push(pacer.period);
    }
    expect(back.length).toBeGreaterThanOrEqual(7);
    expect(back[back.length - 1]).toBe(10);
  });

  it('lengthens the period where hashed phases would overload a second, not for ordinals or large quotas', () => {
    const hashed = new Pacer({ quotaTps: 20, headroom: 0.8, fleetSize: 200, identity: 'web-7d9f8c6b5-xk2p9' });
    const ordinal = new Pacer({ quotaTps: 20, headroom: 0.8, fleetSize: 200, identity: 'web-17' });
    expect(ordinal.basePeriod).toBe(13);
    expect(hashed.plainPeriod).toBe(13);
    expect(hashed.basePeriod).toBe(24);
    expect(new Pacer({ quotaTps: 1000, headroom: 0.8, fleetSize: 15_000, identity: 'web-7d9f8c6b5-xk2p9' }).basePeriod).toBe(19);
    // Small fleets keep several requests a second when they need them.
    expect(new Pacer({ quotaTps: 500, headroom: 0.8, fleetSize: 10, identity: 'web-7d9f8c6b5-xk2p9' }).perSlot).toBe(10);
    // Never more than twice the plain period.
    expect(new Pacer({ quotaTps: 1, headroom: 0.8, fleetSize: 10, identity: 'web-7d9f8c6b5-xk2p9' }).basePeriod).toBe(26);
  });

  it('never schedules two sends closer than half a period, even when the phase moves', () => {
    const pacer = new Pacer({ quotaTps: 100, headroom: 1, fleetSize: 2000, identity: 'pod-a-b' });
    const now = T0 + 123_456;
    pacer.sent(now);
    pacer.onThrottle(() => 0.9);
    const at = pacer.nextSendAt(now);
    expect(at - now).toBeGreaterThanOrEqual(Math.ceil(pacer.period / 2) * 1000 - 1000);
  });
});
