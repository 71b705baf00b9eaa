/**
 * The PutMetricData sink's requests through the real `@aws-sdk/client-cloudwatch` client, against the loopback
 * CloudWatch server (test/helpers/cloudwatch-server.ts: the real wire protocol, the API's limits and model; CloudWatch
 * itself cannot run here). What a user would notice:
 * - a request whose timeout passed while the event loop was blocked before the request was written is sent again,
 *   and each datum is stored exactly once; a request that was written and answered after the timeout is counted
 *   failed and never resent (a resend would double CloudWatch's Sum);
 * - the sliced body (cloudwatch/sdk-body.ts) replaces the SDK's only when the SDK's own body is the one expected:
 *   with an SDK whose serialization differs, what arrives is the SDK's own body, and the fallback is counted and
 *   logged once;
 * - under fake timers (every global timer frozen), the SDK path takes its turns through the sink clock's `yield`,
 *   as the rest of the sink does, so a request still goes out.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Window } from '../../src/core/window.js';
import { cloudWatchSink, type CloudWatchClock, type CloudWatchSinkOptions } from '../../src/sinks/cloudwatch.js';
import { turnsWaiting } from '../../src/core/turns.js';
import { loopbackSinkOptions, startCloudWatchServer, type CloudWatchServer, type CloudWatchServerOptions, type ReceivedDatum } from '../helpers/cloudwatch-server.js';
import { series, window } from '../helpers/windows.js';
import { receipt } from '../helpers/receipt.js';

// Captured before any test fakes the globals.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

const ROUTES = 20;
const REQUEST_TIMEOUT_MS = 200;

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function cloudWatch(options: CloudWatchServerOptions = {}): Promise<CloudWatchServer> {
  const s = await startCloudWatchServer({ keepBodies: true, ...options });
  cleanups.push(() => s.close());
  return s;
}

function client(url: string, maxAttempts = 1): CloudWatchClient {
  const { endpoint, region, clientConfig } = loopbackSinkOptions(url);
  const c = new CloudWatchClient({ endpoint, region, maxAttempts, ...clientConfig });
  cleanups.push(() => c.destroy());
  return c;
}

function logs() {
  const warnings: string[] = [];
  return { warnings, logger: { warn: (m: string) => void warnings.push(m), info: () => undefined } };
}

function sinkTo(options: CloudWatchSinkOptions) {
  const sink = cloudWatchSink({ fleetSize: 1, identity: 'api-0', requestTimeoutMs: REQUEST_TIMEOUT_MS, ...options });
  cleanups.push(() => sink.shutdown());
  return sink;
}

/** ROUTES counters, each with a value that names its window: a datum shows which window it came from. */
function counterWindow(start: number): Window {
  const v = (start / 1000) % 1000;
  return window(
    start,
    Array.from({ length: ROUTES }, (_, i) => series({ name: 'orders.received', kind: 'counter', labels: { route: `/r${i}` }, count: 1, sum: v, total: v })),
  );
}

const thisSecond = () => Math.floor(Date.now() / 1000) * 1000;

/** Two windows, 3 s and 2 s old, each exported and flushed before the next. */
async function exportOneByOne(sink: ReturnType<typeof cloudWatchSink>, r: ReturnType<typeof receipt>): Promise<Window[]> {
  const sent: Window[] = [];
  for (const age of [3000, 2000]) {
    const w = counterWindow(thisSecond() - age);
    sent.push(w);
    sink.export([w], r);
    await sink.flush(10_000);
  }
  return sent;
}

/** Each stored datum once: route and timestamp identify it. */
function storedOnce(accepted: readonly ReceivedDatum[]): Map<string, number> {
  const values = new Map<string, number>();
  for (const d of accepted) {
    const id = `${d.Dimensions.find((x) => x.Name === 'route')?.Value}@${d.Timestamp}`;
    expect(values.has(id), `${id} stored twice`).toBe(false);
    values.set(id, d.StatisticValues?.Sum ?? (d.Value as number));
  }
  return values;
}

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

/** Polls with the real setTimeout (the test may have faked the global one). */
async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => realSetTimeout(r, 10));
  }
}

describe('PutMetricData timeouts through the SDK', () => {
  it('the loop blocked past the timeout before the request was written: sent again, every datum stored once', async () => {
    const cw = await cloudWatch();
    const c = client(cw.url);
    let blocks = 1;
    // The host's event loop held for longer than the request timeout, once, inside client.send and before the
    // request reaches the HTTP handler (a build-step middleware runs before signing and the write).
    c.middlewareStack.add(
      (next) => async (args) => {
        if (blocks-- > 0) spin(REQUEST_TIMEOUT_MS * 1.5 + 50);
        return next(args);
      },
      { step: 'build', name: 'testBlocksTheLoop' },
    );
    const { logger } = logs();
    const sink = sinkTo({ client: c, logger });
    const r = receipt();
    const w = counterWindow(thisSecond() - 2000);
    sink.export([w], r);
    await sink.flush(10_000);

    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'sent']]);
    // The block happened, and a second attempt passed the same middleware.
    expect(blocks).toBe(-1);
    // The blocked attempt never reached the server; the retry did, once.
    expect(cw.requests.map((q) => q.status)).toEqual([200]);
    const stored = storedOnce(cw.accepted);
    expect(stored.size).toBe(ROUTES);
    for (let i = 0; i < ROUTES; i++) expect(stored.get(`/r${i}@${w.timestamp}`)).toBe((w.timestamp / 1000) % 1000);
    const s = sink.stats();
    expect(s.requests_unknown).toBe(0);
    expect(s.requests_failed).toBe(1);
    expect(s.requests_sent).toBe(1);
  });

  it('a request written and answered after the timeout: counted failed, never resent', async () => {
    // The server stores on arrival and answers after the sink's timeout.
    const cw = await cloudWatch({ latencyMs: REQUEST_TIMEOUT_MS * 3 });
    const { logger } = logs();
    const sink = sinkTo({ ...loopbackSinkOptions(cw.url), logger });
    const r = receipt();
    const [first, second] = await exportOneByOne(sink, r);
    // Time for a resend, were there one: the pacing period is 1 s for a pod of one.
    await new Promise((res) => setTimeout(res, 2500));

    expect([...r.outcomes.entries()]).toEqual([
      [first.timestamp, 'failed'],
      [second.timestamp, 'failed'],
    ]);
    // One request per window, each carrying only its own window's datums.
    expect(cw.requests).toHaveLength(2);
    expect(cw.requests.map((q) => [...new Set(q.datums.map((d) => d.Timestamp))])).toEqual([[first.timestamp], [second.timestamp]]);
    expect(storedOnce(cw.accepted).size).toBe(2 * ROUTES);
    const s = sink.stats();
    expect(s.requests_unknown).toBe(2);
    expect(s.datapoints_unknown).toBe(2 * ROUTES);
    expect(s.requests_failed).toBe(0);
  });
});

/** The attempt header the SDK writes on each attempt (`attempt=N; max=M`) of every request that arrived. */
const attempts = (cw: CloudWatchServer) => cw.requests.map((q) => q.headers['amz-sdk-request']);

/** Every datum of `w` stored once, with the value recorded for its window. */
function expectStoredOnce(cw: CloudWatchServer, w: Window): void {
  const stored = storedOnce(cw.accepted);
  expect(stored.size).toBe(ROUTES);
  for (let i = 0; i < ROUTES; i++) expect(stored.get(`/r${i}@${w.timestamp}`)).toBe((w.timestamp / 1000) % 1000);
}

describe('a client with SDK retries on (maxAttempts: 3): a request reaches the network once', () => {
  it('stored, then the connection reset: the SDK retry is refused, the window counted unknown, one copy stored', async () => {
    let first = true;
    const cw = await cloudWatch({
      afterStore: () => {
        if (!first) return undefined;
        first = false;
        return 'reset';
      },
    });
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: client(cw.url, 3), logger, requestTimeoutMs: 5000 });
    const r = receipt();
    const w = counterWindow(thisSecond() - 2000);
    sink.export([w], r);
    await sink.flush(10_000);
    // Longer than the SDK's retry backoff (at most 50 ms, then 100 ms) and the sink's next slots (1 s apart).
    await new Promise((res) => setTimeout(res, 2500));

    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'failed']]);
    // One attempt on the wire, from a client that would have made three.
    expect(cw.requests.map((q) => q.status)).toEqual([0]);
    expect(attempts(cw)).toEqual(['attempt=1; max=3']);
    expectStoredOnce(cw, w);
    const s = sink.stats();
    expect(s.requests_unknown).toBe(1);
    expect(s.datapoints_unknown).toBe(ROUTES);
    expect(s.requests_sent).toBe(0);
    expect(s.datapoints_sent).toBe(0);
    expect(s.requests_failed).toBe(0);
    // The reset, as the SDK reports it ("socket hang up"), decides; the SDK's retry is named as not sent.
    expect(warnings.filter((m) => /outcome unknown \(TimeoutError: socket hang up \(the client's retry of it was not sent\)\)/.test(m))).toHaveLength(1);
  });

  // CloudWatch answers these before storing anything: the sink sends the datums again itself, in its own slot (as
  // with maxAttempts: 1), so the retry the SDK attempted is refused, and the sink's pacing owns the resend.
  it.each([
    { answer: 'Throttling', status: 400, counter: 'requests_throttled' },
    { answer: 'InternalServiceError', status: 500, counter: 'requests_failed' },
  ] as const)('refused without storing ($answer): the SDK retry is refused, the sink resends, one copy stored', async ({ answer, status, counter }) => {
    let first = true;
    const cw = await cloudWatch({
      inject: () => {
        if (!first) return undefined;
        first = false;
        return { status, code: answer };
      },
    });
    const { logger } = logs();
    const sink = sinkTo({ client: client(cw.url, 3), logger, requestTimeoutMs: 5000 });
    const r = receipt();
    const w = counterWindow(thisSecond() - 2000);
    sink.export([w], r);
    await sink.flush(15_000);
    await new Promise((res) => setTimeout(res, 1500));

    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'sent']]);
    // Two requests, each its own first attempt: the refusal, then the sink's resend. The SDK's retry never left.
    expect(cw.requests.map((q) => [q.status, q.error])).toEqual([
      [status, answer],
      [200, undefined],
    ]);
    expect(attempts(cw)).toEqual(['attempt=1; max=3', 'attempt=1; max=3']);
    expectStoredOnce(cw, w);
    const s = sink.stats();
    expect(s[counter]).toBe(1);
    expect(s.requests_sent).toBe(1);
    expect(s.requests_unknown).toBe(0);
    expect(s.datapoints_sent).toBe(ROUTES);
  });
});

describe('the sliced body and the SDK body it replaces', () => {
  it('the installed SDK: its empty body is the expected one, so the sliced body goes out (no fallback)', async () => {
    const cw = await cloudWatch();
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: client(cw.url), logger });
    const r = receipt();
    const w = counterWindow(thisSecond() - 2000);
    sink.export([w], r);
    await sink.flush(10_000);
    expect([...r.outcomes.values()]).toEqual(['sent']);
    expect(cw.requests[0].body?.startsWith(`{"Namespace":"test-service","MetricData":[{`)).toBe(true);
    expect(storedOnce(cw.accepted).size).toBe(ROUTES);
    expect(sink.stats().sdk_body_fallbacks).toBe(0);
    expect(warnings.filter((m) => /AWS SDK wrote/.test(m))).toEqual([]);
  });

  it('an SDK whose body differs from the expected one: its own body goes out, the fallback counted and logged once', async () => {
    const cw = await cloudWatch();
    const c = client(cw.url);
    // A future SDK whose protocol writes the members in another order than its shape serializer.
    const protocol = c.config.protocol as unknown as { serializeRequest(...args: unknown[]): Promise<{ body: unknown }> };
    const serializeRequest = protocol.serializeRequest.bind(protocol);
    protocol.serializeRequest = async (...args) => {
      const request = await serializeRequest(...args);
      const body = request.body as Uint8Array;
      const json = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8')) as { Namespace: string; MetricData: unknown[] };
      request.body = JSON.stringify({ MetricData: json.MetricData, Namespace: json.Namespace });
      return request;
    };
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: c, logger });
    const r = receipt();
    await exportOneByOne(sink, r);

    expect([...r.outcomes.values()]).toEqual(['sent', 'sent']);
    expect(cw.requests).toHaveLength(2);
    // What arrived is the SDK's serialization of the whole input, not the sliced body.
    for (const q of cw.requests) expect(q.body?.startsWith('{"MetricData":[{')).toBe(true);
    expect(storedOnce(cw.accepted).size).toBe(2 * ROUTES);
    expect(sink.stats().sdk_body_fallbacks).toBe(1);
    expect(warnings.filter((m) => /AWS SDK wrote/.test(m))).toHaveLength(1);
  });
});

describe('the SDK path under fake timers', () => {
  it('takes its turns through the sink clock: with every global timer frozen, the request still goes out', async () => {
    const cw = await cloudWatch();
    let yields = 0;
    // The sink's own timers stay real; its turns are the clock's microtask. Nothing may wait on a global timer.
    const clock: CloudWatchClock = {
      now: () => Date.now(),
      setTimeout: (fn, ms, keepAlive = false) => {
        const t = realSetTimeout(fn, ms);
        if (!keepAlive) t.unref();
        return t;
      },
      clearTimeout: (handle) => realClearTimeout(handle as NodeJS.Timeout),
      yield: () => {
        yields++;
        return Promise.resolve();
      },
    };
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval'] });
    const { logger } = logs();
    const sink = sinkTo({ ...loopbackSinkOptions(cw.url), logger, clock });
    const r = receipt();
    const w = counterWindow(thisSecond() - 2000);
    sink.export([w], r);
    await until(() => r.outcomes.size === 1, 5000);
    expect([...r.outcomes.values()]).toEqual(['sent']);
    expect(storedOnce(cw.accepted).size).toBe(ROUTES);
    // The sliced body and the SDK's steps took the clock's turns; none is left on the shared (frozen) queue.
    expect(yields).toBeGreaterThanOrEqual(4);
    expect(turnsWaiting()).toBe(0);
  });
});
