/**
 * The PutMetricData sink's requests through the real `@aws-sdk/client-cloudwatch` client, against the loopback
 * CloudWatch server (test/helpers/cloudwatch-server.ts: the real wire protocol, the API's limits and model; CloudWatch
 * itself cannot run here). What a user would notice:
 * - a request whose timeout passed while the event loop was blocked before the request was written is sent again,
 *   and each datum is stored exactly once; a request that was written and answered after the timeout is counted
 *   failed and never resent (a resend would double CloudWatch's Sum);
 * - a client with SDK retries on (maxAttempts: 3) still puts a request on the network once: stored and then reset,
 *   it is one copy, counted unknown and never resent; refused before storing (throttling, a 500), the sink resends
 *   it in its own slot, one copy, at once even when the SDK's retry backoff is longer than the sink's timeout;
 * - a 5xx answer is taken to mean nothing was stored (the SDK's own rule): pinned by a test;
 * - the sliced body (cloudwatch/sdk-body.ts) replaces the SDK's only when the client has no middleware of its own
 *   before serialization, the SDK's own body is the one expected and no middleware changed the input: with a
 *   user's middleware there (even one that leaves the first datum alone), an SDK whose serialization differs, or an
 *   SDK-named middleware that rewrites the input, what arrives is the SDK's own body (with the rewrite applied to
 *   every datum); every fallback (also a serializer that cannot be sliced with, a client-like object) is counted
 *   and logged once;
 * - under fake timers (every global timer frozen), the SDK path takes its turns through the sink clock's `yield`,
 *   as the rest of the sink does, so a request still goes out.
 */
import { CloudWatchClient, PutMetricDataCommand, PutMetricDataInput$ } from '@aws-sdk/client-cloudwatch';
// The SDK's first JSON codec (its serializer's flush() returns the JSON text), from the package the SDK is built on.
import { JsonCodec } from '@smithy/core/protocols';
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Window } from '../../src/core/window.js';
import { cloudWatchSink, type CloudWatchClock, type CloudWatchSinkOptions } from '../../src/sinks/cloudwatch.js';
import { turnsWaiting } from '../../src/core/turns.js';
import { SdkBodyMismatch, slicedBodyFor } from '../../src/sinks/cloudwatch/sdk-body.js';
import { loopbackSinkOptions, startCloudWatchServer, type CloudWatchServer, type CloudWatchServerOptions, type ReceivedDatum } from '../helpers/cloudwatch-server.js';
import { series, window } from '../helpers/windows.js';
import { receipt } from '../helpers/receipt.js';

// Captured before any test fakes the globals.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

const ROUTES = 20;
/** The timeout of the tests about timeouts; the others use 5 s, so a stall of a loaded machine never decides them. */
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
  const sink = cloudWatchSink({ fleetSize: 1, identity: 'api-0', requestTimeoutMs: 5000, ...options });
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

/** One window, 2 s old, exported and flushed. */
async function exportOneWindow(sink: ReturnType<typeof cloudWatchSink>, flushMs: number): Promise<{ r: ReturnType<typeof receipt>; w: Window }> {
  const r = receipt();
  const w = counterWindow(thisSecond() - 2000);
  sink.export([w], r);
  await sink.flush(flushMs);
  return { r, w };
}

/** A fault for the server's first request only (`inject` / `afterStore`). */
function firstTime<T>(answer: T): () => T | undefined {
  let first = true;
  return () => {
    if (!first) return undefined;
    first = false;
    return answer;
  };
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
    const sink = sinkTo({ client: c, logger, requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const { r, w } = await exportOneWindow(sink, 10_000);

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
    const sink = sinkTo({ ...loopbackSinkOptions(cw.url), logger, requestTimeoutMs: REQUEST_TIMEOUT_MS });
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
  const clients = [
    { what: 'the SDK client (sliced body)', wrap: (c: CloudWatchClient) => c, fallbacks: 0 },
    // No schema serializer to slice with: the SDK's own body, through the same write gate.
    {
      what: 'a client-like wrapper (the SDK body)',
      wrap: (c: CloudWatchClient) => ({ send: (command: unknown, options?: { abortSignal?: AbortSignal }) => c.send(command as never, options) }),
      fallbacks: 1,
    },
  ];

  it.each(clients)('$what: stored, then the connection reset: not retried, the window counted unknown, one copy stored', async ({ wrap, fallbacks }) => {
    const cw = await cloudWatch({ afterStore: firstTime('reset') });
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: wrap(client(cw.url, 3)), logger, requestTimeoutMs: 5000 });
    const { r, w } = await exportOneWindow(sink, 10_000);
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
    expect(s.sdk_body_fallbacks).toBe(fallbacks);
    // The reset, as the SDK reports it ("socket hang up"), decides.
    expect(warnings.filter((m) => /outcome unknown \(TimeoutError: socket hang up\)/.test(m))).toHaveLength(1);
  });

  it('a throttle with a retry backoff longer than the request timeout: sent again by the sink at once, not lost to the timeout', async () => {
    const cw = await cloudWatch({ inject: firstTime({ status: 400, code: 'Throttling' }) });
    const { endpoint, region, clientConfig } = loopbackSinkOptions(cw.url);
    // The SDK would sleep 3 s before its retry: longer than the sink's 2 s timeout.
    const c = new CloudWatchClient({ endpoint, region, ...clientConfig, retryStrategy: new ConfiguredRetryStrategy(3, () => 3000) });
    cleanups.push(() => c.destroy());
    const { logger } = logs();
    const sink = sinkTo({ client: c, logger, requestTimeoutMs: 2000 });
    const { r, w } = await exportOneWindow(sink, 15_000);

    // Before, the SDK slept 3 s in its retry, the sink's timeout passed during the sleep, and the window was counted
    // unknown and lost. The throttle now goes straight back to the sink, which sends it again in its next slot.
    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'sent']]);
    expect(cw.requests.map((q) => [q.status, q.error])).toEqual([
      [400, 'Throttling'],
      [200, undefined],
    ]);
    expectStoredOnce(cw, w);
    const s = sink.stats();
    expect(s.requests_throttled).toBe(1);
    expect(s.requests_unknown).toBe(0);
    expect(s.requests_sent).toBe(1);
  });

  // CloudWatch answers these before storing anything: the sink sends the datums again itself, in its own slot (as
  // with maxAttempts: 1), so the retry the SDK attempted is refused, and the sink's pacing owns the resend.
  it.each([
    { answer: 'Throttling', status: 400, counter: 'requests_throttled' },
    { answer: 'InternalServiceError', status: 500, counter: 'requests_failed' },
  ] as const)('refused without storing ($answer): the SDK retry is refused, the sink resends, one copy stored', async ({ answer, status, counter }) => {
    const cw = await cloudWatch({ inject: firstTime({ status, code: answer }) });
    const { logger } = logs();
    const sink = sinkTo({ client: client(cw.url, 3), logger, requestTimeoutMs: 5000 });
    const { r, w } = await exportOneWindow(sink, 15_000);
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

describe("a host clock off by an hour: the SDK corrects it from CloudWatch's answer", () => {
  it.each([1, 3])('maxAttempts %i: the first request is refused (signature expired), the sink resends it signed right, one copy stored', async (maxAttempts) => {
    // CloudWatch's clock (and so its Date header) an hour ahead of this host's: SigV4 refuses a request signed >5 min off.
    const cw = await cloudWatch({ clockOffsetMs: 3600_000 });
    const c = client(cw.url, maxAttempts);
    const { logger } = logs();
    const sink = sinkTo({ client: c, logger });
    const { r, w } = await exportOneWindow(sink, 15_000);

    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'sent']]);
    expect(cw.requests.map((q) => [q.status, q.error])).toEqual([
      [400, 'SignatureDoesNotMatch'],
      [200, undefined],
    ]);
    // The SDK read the server's time from the refusal, so every later request is signed in CloudWatch's time.
    expect(Math.abs((c.config.systemClockOffset ?? 0) - 3600_000)).toBeLessThan(60_000);
    expectStoredOnce(cw, w);
  });
});

describe('the 5xx rule: an answer with 5xx is taken to mean nothing was stored', () => {
  // CloudWatch is not known to store a request and answer it 5xx, and the AWS SDK's own retries assume it does not.
  // This pins what the sink does if a server breaks the rule, so that changing the rule is a decision, not an accident:
  // it resends, and that server holds the datums twice (documented in transport.ts's classification).
  it('a server that stores, then answers 500: the window is sent again and counted sent once; that server holds two copies', async () => {
    const cw = await cloudWatch({ afterStore: firstTime({ status: 500, code: 'InternalServiceError' }) });
    const { logger } = logs();
    const sink = sinkTo({ client: client(cw.url), logger, requestTimeoutMs: 5000 });
    const { r, w } = await exportOneWindow(sink, 15_000);

    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'sent']]);
    expect(cw.requests.map((q) => q.status)).toEqual([500, 200]);
    expect(cw.accepted).toHaveLength(2 * ROUTES);
    const s = sink.stats();
    expect(s.requests_failed).toBe(1);
    expect(s.requests_sent).toBe(1);
    expect(s.datapoints_sent).toBe(ROUTES);
  });
});

type Datum = { MetricName: string; Dimensions?: Array<{ Name: string; Value: string }>; Timestamp?: Date; Value?: number; StorageResolution?: number };
type Input = { Namespace: string; MetricData: Datum[] };
type Middleware = (next: (args: { input: Input }) => Promise<unknown>) => (args: { input: Input }) => Promise<unknown>;

/** Adds a middleware before serialization to the client, as a user would (`client.middlewareStack.add`). */
function beforeSerialization(c: CloudWatchClient, name: string, middleware: Middleware): void {
  c.middlewareStack.add(middleware as never, { step: 'initialize', name });
}

/**
 * Puts a middleware in place of the SDK's own logger middleware: one before serialization that the sink cannot tell
 * from the SDK's (as a future SDK middleware that fills in datums would be), so only the probe can show what it does.
 */
function asSdkMiddleware(c: CloudWatchClient, middleware: Middleware): void {
  c.middlewareStack.add(middleware as never, { step: 'initialize', name: 'loggerMiddleware', override: true });
}

/** The MetricData length of every command the client was handed (what its logger sees), read after serialization. */
function commandSizes(c: CloudWatchClient): number[] {
  const sizes: number[] = [];
  c.middlewareStack.add(
    ((next: (args: { input: Input }) => Promise<unknown>) => (args: { input: Input }) => {
      sizes.push(args.input.MetricData.length);
      return next(args);
    }) as never,
    { step: 'build', name: 'testCommandSizes' },
  );
  return sizes;
}

const CLUSTER = { Name: 'Cluster', Value: 'blue' };
const HEARTBEAT_NAME = 'client.heartbeat';

describe('the sliced body and the SDK body it replaces', () => {
  it("the installed SDK: its body for the one-datum probe is its serializer's, so the sliced body goes out (no fallback)", async () => {
    const cw = await cloudWatch();
    const { logger, warnings } = logs();
    const c = client(cw.url);
    const sizes = commandSizes(c);
    const sink = sinkTo({ client: c, logger });
    const { r, w } = await exportOneWindow(sink, 10_000);
    expect([...r.outcomes.values()]).toEqual(['sent']);
    expect(cw.requests[0].body?.startsWith(`{"Namespace":"test-service","MetricData":[{`)).toBe(true);
    // The client's middlewares (and logger) were handed the probe; the server got every datum.
    expect(sizes).toEqual([1]);
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

describe("a client middleware that rewrites the input: the rewrite applies to every recorded datum, never undone", () => {
  const rewrites = [
    {
      what: 'a dimension added to every datum (a new input)',
      probeReason: /a middleware of the client changed the PutMetricData input/,
      middleware: ((next) => (args) =>
        next({ ...args, input: { ...args.input, MetricData: args.input.MetricData.map((d) => ({ ...d, Dimensions: [...(d.Dimensions ?? []), CLUSTER] })) } })) as Middleware,
      namespace: 'test-service',
      check: (d: ReceivedDatum) => expect(d.Dimensions).toContainEqual(CLUSTER),
      extra: 0,
      dropped: 0,
    },
    {
      what: 'every datum changed in place (standard resolution)',
      probeReason: /AWS SDK wrote .* or a middleware of the client changed the datum/,
      middleware: ((next) => (args) => {
        for (const d of args.input.MetricData) d.StorageResolution = 60;
        return next(args);
      }) as Middleware,
      namespace: 'test-service',
      check: (d: ReceivedDatum) => expect(d.StorageResolution).toBe(60),
      extra: 0,
      dropped: 0,
    },
    {
      what: 'another namespace and one datum more',
      probeReason: /a middleware of the client changed the PutMetricData input/,
      middleware: ((next) => (args) =>
        next({ ...args, input: { Namespace: 'Rewritten', MetricData: [...args.input.MetricData, { MetricName: HEARTBEAT_NAME, Timestamp: new Date(), Value: 1 }] } })) as Middleware,
      namespace: 'Rewritten',
      check: () => undefined,
      extra: 1,
      dropped: 0,
    },
    {
      // A new MetricData array: the probe check would show this one too.
      what: 'datums filtered by their content, the first one kept',
      probeReason: undefined,
      middleware: ((next) => (args) =>
        next({ ...args, input: { ...args.input, MetricData: args.input.MetricData.filter((d) => d.Dimensions?.find((x) => x.Name === 'route')?.Value !== '/r7') } })) as Middleware,
      namespace: 'test-service',
      check: (d: ReceivedDatum) => expect(d.Dimensions.find((x) => x.Name === 'route')?.Value).not.toBe('/r7'),
      extra: 0,
      dropped: 1,
    },
    {
      // The probe (a copy of the first datum) and the array pass untouched: only the middleware check shows this one.
      what: 'one datum other than the first changed in place',
      probeReason: undefined,
      middleware: ((next) => (args) => {
        // As a user would write it: the array edited in place (the sink's series keep their own).
        for (const d of args.input.MetricData) if (d.Dimensions?.some((x) => x.Value === '/r7')) d.Dimensions.push(CLUSTER);
        return next(args);
      }) as Middleware,
      namespace: 'test-service',
      check: (d: ReceivedDatum) => expect(d.Dimensions.some((x) => x.Value === CLUSTER.Value)).toBe(d.Dimensions.some((x) => x.Value === '/r7')),
      extra: 0,
      dropped: 0,
    },
  ];

  async function rewritten(register: (c: CloudWatchClient) => void) {
    const cw = await cloudWatch();
    const c = client(cw.url);
    register(c);
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: c, logger });
    const r = receipt();
    const windows = await exportOneByOne(sink, r);
    return { cw, sink, r, windows, warnings };
  }

  function expectRewriteOfRecorded({ cw, r, windows }: Awaited<ReturnType<typeof rewritten>>, rewrite: (typeof rewrites)[number]): void {
    expect([...r.outcomes.values()]).toEqual(['sent', 'sent']);
    // One request per window, every one rewritten (the first too: the sliced attempt never left the process).
    expect(cw.requests.map((q) => [q.status, q.namespace])).toEqual([
      [200, rewrite.namespace],
      [200, rewrite.namespace],
    ]);
    const recorded = cw.accepted.filter((d) => d.MetricName !== HEARTBEAT_NAME);
    for (const d of recorded) rewrite.check(d);
    expect(cw.accepted.length - recorded.length).toBe(2 * rewrite.extra);
    const stored = storedOnce(recorded);
    expect(stored.size).toBe(2 * (ROUTES - rewrite.dropped));
    for (const w of windows) {
      for (let i = 0; i < ROUTES; i++) {
        if (rewrite.dropped === 0 || i !== 7) expect(stored.get(`/r${i}@${w.timestamp}`)).toBe((w.timestamp / 1000) % 1000);
      }
    }
  }

  it('one placed relative to a middleware the command adds (before endpointV2Middleware): never sliced, its rewrite on every datum', async () => {
    const rewrite = rewrites.find((r) => r.what === 'one datum other than the first changed in place')!;
    const run = await rewritten((c) =>
      c.middlewareStack.addRelativeTo(rewrite.middleware as never, { relation: 'before', toMiddleware: 'endpointV2Middleware', name: 'userRelative' }),
    );
    expectRewriteOfRecorded(run, rewrite);
    expect(run.cw.accepted.filter((d) => d.Dimensions.some((x) => x.Value === CLUSTER.Value))).toHaveLength(2);
    expect(run.sink.stats().sdk_body_fallbacks).toBe(1);
    expect(run.warnings.filter((m) => /before serialization \(userRelative - before endpointV2Middleware\)/.test(m))).toHaveLength(1);
  });

  it.each(rewrites)("$what (the user's middleware): what arrives is the rewrite of what was recorded; never sliced, said once", async (rewrite) => {
    const run = await rewritten((c) => beforeSerialization(c, 'userRewrite', rewrite.middleware));
    expectRewriteOfRecorded(run, rewrite);
    expect(run.sink.stats().sdk_body_fallbacks).toBe(1);
    const reported = run.warnings.filter((m) => /middleware that sees the PutMetricData input before serialization \(userRewrite - initialize\)/.test(m));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(/in one piece/);
  });

  it.each(rewrites.filter((r) => r.probeReason !== undefined))(
    '$what (under the name of an SDK middleware): the probe shows it; the rewrite applies to every datum, said once',
    async (rewrite) => {
      const run = await rewritten((c) => asSdkMiddleware(c, rewrite.middleware));
      expectRewriteOfRecorded(run, rewrite);
      expect(run.sink.stats().sdk_body_fallbacks).toBe(1);
      expect(run.warnings.filter((m) => rewrite.probeReason!.test(m))).toHaveLength(1);
      expect(run.warnings.filter((m) => /in one piece/.test(m))).toHaveLength(1);
    },
  );

  it("middleware the SDK places itself, and the user's after serialization, leave the body sliced", async () => {
    const cw = await cloudWatch();
    const c = client(cw.url);
    const sizes = commandSizes(c);
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: c, logger });
    await exportOneByOne(sink, receipt());
    expect(sizes).toEqual([1, 1]);
    expect(sink.stats().sdk_body_fallbacks).toBe(0);
    expect(warnings).toEqual([]);
    expect(storedOnce(cw.accepted).size).toBe(2 * ROUTES);
  });
});

describe('serializers the sliced path meets', () => {
  it("the SDK's first JSON codec (flush() returns text): sliced all the same, no fallback", async () => {
    const cw = await cloudWatch();
    const settings = new CloudWatchClient({ region: 'us-east-1' }).config.protocolSettings as Record<string, unknown>;
    const { endpoint, region, clientConfig } = loopbackSinkOptions(cw.url);
    const c = new CloudWatchClient({
      endpoint,
      region,
      maxAttempts: 1,
      ...clientConfig,
      protocolSettings: { ...settings, jsonCodec: new JsonCodec({ timestampFormat: { useTrait: true, default: 7 }, jsonName: false }) },
    });
    cleanups.push(() => c.destroy());
    // The codec really writes text.
    const serializer = (c.config.protocol as unknown as { serializer: { write(s: unknown, v: unknown): void; flush(): unknown } }).serializer;
    serializer.write(PutMetricDataInput$, { Namespace: 'n', MetricData: [] });
    expect(serializer.flush()).toBe('{"Namespace":"n","MetricData":[]}');
    const sizes = commandSizes(c);
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: c, logger });
    const r = receipt();
    const windows = await exportOneByOne(sink, r);

    expect([...r.outcomes.values()]).toEqual(['sent', 'sent']);
    // The client was handed the one-datum probe, and the server got every datum: the sliced body went out.
    expect(sizes).toEqual([1, 1]);
    for (const q of cw.requests) expect(q.body?.startsWith('{"Namespace":"test-service","MetricData":[{')).toBe(true);
    const stored = storedOnce(cw.accepted);
    expect(stored.size).toBe(2 * ROUTES);
    for (const w of windows) for (let i = 0; i < ROUTES; i++) expect(stored.get(`/r${i}@${w.timestamp}`)).toBe((w.timestamp / 1000) % 1000);
    expect(sink.stats().sdk_body_fallbacks).toBe(0);
    expect(warnings).toEqual([]);
  });

  /** A real client behind a client-like object whose serializer is `serializer` (the SDK path stays the real one). */
  function withSerializer(c: CloudWatchClient, serializer: unknown) {
    return { config: { protocol: { serializer } }, send: (command: unknown, options?: { abortSignal?: AbortSignal }) => c.send(command as never, options) };
  }

  const unusable = [
    {
      what: 'a serializer whose bodies cannot be joined (members in another order)',
      reason: /cannot be joined from slices/,
      client: (c: CloudWatchClient) => {
        const protocol = c.config.protocol as unknown as { serializer: { write(s: unknown, v: unknown): void; flush(): Uint8Array } };
        const inner = protocol.serializer;
        // The client's own serializer: its bodies are what arrives.
        protocol.serializer = {
          write: (schema, value) => inner.write(schema, value),
          flush: () => {
            const b = inner.flush();
            const json = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as { Namespace: string; MetricData: unknown[] };
            return Buffer.from(JSON.stringify({ MetricData: json.MetricData, Namespace: json.Namespace }));
          },
        };
        return c;
      },
      body: '{"MetricData":[{',
    },
    {
      what: 'a serializer that writes neither bytes nor text',
      reason: /serializer wrote a object, neither bytes nor text/,
      client: (c: CloudWatchClient) => withSerializer(c, { write: () => undefined, flush: () => ({ length: 0 }) }),
      body: '{"Namespace":"test-service","MetricData":[{',
    },
    {
      what: 'a serializer that throws',
      reason: /serializer failed on a PutMetricData input \(TypeError: unsupported schema\)/,
      client: (c: CloudWatchClient) =>
        withSerializer(c, {
          write: () => {
            throw new TypeError('unsupported schema');
          },
          flush: () => new Uint8Array(0),
        }),
      body: '{"Namespace":"test-service","MetricData":[{',
    },
    {
      what: 'a client-like object with no schema serializer',
      reason: /the client has no schema serializer/,
      client: (c: CloudWatchClient) => ({ send: (command: unknown, options?: { abortSignal?: AbortSignal }) => c.send(command as never, options) }),
      body: '{"Namespace":"test-service","MetricData":[{',
    },
  ];

  it.each(unusable)("$what: the SDK's own body goes out, the fallback counted and reported once", async ({ reason, client: make, body }) => {
    const cw = await cloudWatch();
    const { logger, warnings } = logs();
    const sink = sinkTo({ client: make(client(cw.url)), logger });
    const r = receipt();
    const windows = await exportOneByOne(sink, r);

    expect([...r.outcomes.values()]).toEqual(['sent', 'sent']);
    for (const q of cw.requests) expect(q.body?.startsWith(body)).toBe(true);
    const stored = storedOnce(cw.accepted);
    expect(stored.size).toBe(2 * ROUTES);
    for (const w of windows) for (let i = 0; i < ROUTES; i++) expect(stored.get(`/r${i}@${w.timestamp}`)).toBe((w.timestamp / 1000) % 1000);
    expect(sink.stats().sdk_body_fallbacks).toBe(1);
    // Through the sink's reporter: its prefix, once.
    const reported = warnings.filter((m) => reason.test(m));
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatch(/^scalesignal cloudwatch sink "cloudwatch": .*; sending the bodies the SDK serializes itself \(in one piece\) from now on$/);
  });

  it('slicedBodyFor says why it cannot slice, before anything is sent', async () => {
    const sdk = { PutMetricDataCommand: PutMetricDataCommand as never, PutMetricDataInput$ };
    const input = { Namespace: 'n', MetricData: [{ MetricName: 'm', Timestamp: new Date(), Value: 1 }] };
    expect(() => slicedBodyFor({ send: () => undefined }, sdk)).toThrow(SdkBodyMismatch);
    const text = slicedBodyFor({ config: { protocol: { serializer: { write: () => undefined, flush: () => 17 } } } }, sdk);
    await expect(text.body(input, Infinity)).rejects.toThrow(/serializer wrote a number, neither bytes nor text/);
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
