/**
 * OTLP stamps each point at its window's end, so two windows ending in the same millisecond reach the collector
 * as the same point twice: for delta data, a window's sums counted twice. The OTLP fault suite once saw exactly
 * that (100 duplicate points = one window of 100 series) when shutdown() ran in the very millisecond an interval
 * opened: the boundary seal ended at that millisecond, and shutdown's cut of the just-opened interval, zero
 * milliseconds long, ended there too. Real timers, real sockets, the loopback receiver decoding what arrived.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { otlpSink } from '../../src/sinks/otlp.js';
import { collectSink } from '../helpers/collect.js';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

const INTERVAL_MS = 100;
const SERIES = 20;

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // Compile the OTel modules once (a one-time cost a running service has paid by its first window).
  const warm = otlpSink({ url: receiver.url, temporality: 'delta' });
  await warm.export([]);
  await warm.shutdown?.();
});
afterAll(async () => {
  await receiver.close();
});

/** Point times (ms) per series that reached the receiver more than once, with the request indexes carrying them. */
function duplicatesAtReceiver(): string[] {
  const seen = new Map<string, number>();
  const duplicates: string[] = [];
  receiver.requests.forEach((request, index) => {
    for (const p of decodePoints(request.body)) {
      if (p.name !== 'work.done') continue;
      const key = `${p.timeNs / 1_000_000n}ms ${String(p.attributes.shard)}`;
      if (seen.has(key)) duplicates.push(`${key} in requests #${seen.get(key)} and #${index}`);
      else seen.set(key, index);
    }
  });
  return duplicates;
}

/** Spins (blocking, like a busy host) until a new interval has just opened; returns its first millisecond. */
function spinToBoundary(): number {
  const boundary = (Math.floor(Date.now() / INTERVAL_MS) + 1) * INTERVAL_MS;
  while (Date.now() < boundary);
  return boundary;
}

/**
 * Runs a few windows of load, then `act` in the first millisecond of an interval. Retries (up to 5 times) when
 * the machine preempted us past that millisecond, so the interleaving under test really happened.
 */
async function runAtBoundary(act: (metrics: ReturnType<typeof createMetrics>) => Promise<void>) {
  for (let attempt = 0; attempt < 5; attempt++) {
    receiver.requests.length = 0;
    const tap = collectSink('tap');
    const metrics = createMetrics({
      service: 'point-times',
      intervalMs: INTERVAL_MS,
      eventLoop: false,
      sinks: [otlpSink({ url: receiver.url, temporality: 'delta', timeoutMs: 2000 }), tap],
    });
    const counter = metrics.counter('work.done');
    for (let window = 0; window < 3; window++) {
      for (let s = 0; s < SERIES; s++) counter.add(1, { shard: `s${s}` });
      await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS));
    }
    for (let s = 0; s < SERIES; s++) counter.add(1, { shard: `s${s}` });
    const boundary = spinToBoundary();
    const done = act(metrics);
    const inTime = Date.now() === boundary;
    await done;
    await metrics.shutdown();
    if (inTime) return { tap, boundary };
  }
  throw new Error('never reached the interval boundary within one millisecond (machine too loaded?)');
}

describe('OTLP point times: one point per series and window end', () => {
  it('shutdown() in the millisecond an interval opened: no point twice at the collector', async () => {
    const { tap, boundary } = await runAtBoundary((metrics) => metrics.shutdown());
    // The interleaving happened: a window ended at the boundary and another started there.
    expect(tap.windows.some((w) => w.end === boundary)).toBe(true);
    expect(tap.windows.at(-1)!.start).toBe(boundary);
    expect(duplicatesAtReceiver()).toEqual([]);
    // Everything recorded arrived, once.
    let total = 0;
    for (const request of receiver.requests) for (const p of decodePoints(request.body)) if (p.name === 'work.done') total += p.value as number;
    expect(total).toBe(4 * SERIES);
  });

  it('two flush() calls in one millisecond: no point twice at the collector', async () => {
    const { tap } = await runAtBoundary(async (metrics) => {
      const first = metrics.flush();
      const second = metrics.flush();
      await Promise.all([first, second]);
    });
    const ends = tap.windows.map((w) => w.end);
    expect(new Set(ends).size).toBe(ends.length);
    expect(duplicatesAtReceiver()).toEqual([]);
  });
});
