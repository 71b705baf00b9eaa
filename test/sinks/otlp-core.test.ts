/** The OTLP sink behind the real recording core: what a user records is what the collector receives. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { otlpSink } from '../../src/sinks/otlp.js';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});

describe('createMetrics + otlpSink', () => {
  it('recorded counters and histogram values arrive exactly; every value lies in its exported bucket', async () => {
    receiver.requests.length = 0;
    const metrics = createMetrics({ service: 'orders', sinks: [otlpSink({ url: receiver.url, temporality: 'delta' })], eventLoop: false });
    const requests = metrics.counter('http.server.requests', { unit: '{request}' });
    const duration = metrics.histogram('http.server.request.duration', { unit: 'ms' });
    const values = [0, 0.8, 3.2, 3.3, 12.5, 12.5, 99, 250.75, 1024, 4000.1];
    for (const v of values) {
      requests.add(1, { route: '/pay' });
      duration.record(v, { route: '/pay' });
    }
    await metrics.shutdown();

    const points = receiver.requests.flatMap((r) => decodePoints(r.body));
    const sums = points.filter((p) => p.name === 'http.server.requests');
    expect(sums.reduce((a, p) => a + (p.value ?? 0), 0)).toBe(values.length);
    expect(sums[0].resource['service.name']).toBe('orders');

    const hs = points.filter((p) => p.name === 'http.server.request.duration' && p.histogram!.count > 0);
    expect(hs).toHaveLength(1); // recorded within one window (shutdown seals it)
    const h = hs[0].histogram!;
    expect(h.count).toBe(values.length);
    expect(h.sum).toBeCloseTo(values.reduce((a, v) => a + v, 0), 9);
    expect([h.min, h.max]).toEqual([Math.min(...values), Math.max(...values)]);
    expect(h.zeroCount).toBe(values.filter((v) => v === 0).length);
    // Each positive value v belongs to bucket i with base^i < v <= base^(i+1), base = 2^(2^-scale).
    const expected = new Map<number, number>();
    for (const v of values.filter((x) => x > 0)) {
      const i = Math.ceil(Math.log2(v) * 2 ** h.scale) - 1;
      expected.set(i, (expected.get(i) ?? 0) + 1);
    }
    const got = new Map<number, number>();
    h.positive.bucketCounts.forEach((c, k) => c > 0 && got.set(h.positive.offset + k, c));
    expect(got).toEqual(expected);
  });

  it('on the timer: a window reaches the collector well within a second of its end', async () => {
    receiver.requests.length = 0;
    const metrics = createMetrics({ service: 'orders', sinks: [otlpSink({ url: receiver.url })], eventLoop: false });
    const depth = metrics.gauge('queue.depth', { unit: '{message}' });
    depth.set(42);
    // Wait for two natural window ends (the first window may be partial).
    await receiver.waitForRequests(2, 5000);
    await metrics.shutdown();
    const lags = receiver.requests.slice(0, 2).map((r) => {
      const p = decodePoints(r.body).find((x) => x.name === 'queue.depth')!;
      expect(p.value).toBe(42);
      return r.receivedAt - Number(p.timeNs / 1_000_000n);
    });
    for (const lag of lags) expect(lag).toBeLessThan(500);
  });
});
