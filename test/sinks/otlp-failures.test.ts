import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Sink } from '../../src/core/sink.js';
import { SinkError } from '../../src/core/sink.js';
import { otlpSink } from '../../src/sinks/otlp.js';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { series, window } from '../helpers/windows.js';

let receiver: OtlpReceiver;
const sinks: Sink[] = [];
const T0 = Math.floor(Date.now() / 1000) * 1000;
const aWindow = () => window(T0, [series({ name: 'jobs.done', kind: 'counter', count: 2, sum: 2, total: 2 })]);

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // Load the OTel modules once, as a long-running service has by its first window: compiling them is a one-time
  // synchronous cost at sink creation (~150 ms here) that would otherwise show up as a blocked loop below.
  const warm = otlpSink({ url: receiver.url });
  await warm.export([aWindow()]);
  await warm.shutdown?.();
  receiver.requests.length = 0;
});
afterAll(async () => {
  await receiver.close();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.shutdown?.()));
  receiver.mode = { kind: 'ok' };
  receiver.requests.length = 0;
});

function sink(url: string, options: Parameters<typeof otlpSink>[0] = {}): Sink {
  const s = otlpSink({ url, ...options });
  sinks.push(s);
  return s;
}

/** Runs `fn` while a 5 ms interval measures the longest gap between its ticks: a blocked loop shows as a long gap. */
async function measure<T>(fn: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; elapsedMs: number; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  const [result] = await Promise.allSettled([fn()]);
  const elapsedMs = performance.now() - started;
  clearInterval(timer);
  return { result, elapsedMs, maxGapMs };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function rejection(result: PromiseSettledResult<unknown>): SinkError {
  expect(result.status).toBe('rejected');
  const reason = (result as PromiseRejectedResult).reason;
  expect(reason).toBeInstanceOf(SinkError);
  return reason as SinkError;
}

describe('otlpSink when the collector misbehaves', () => {
  it('collector down (connection refused): fails fast with a retryable SinkError, loop never blocked', async () => {
    const s = sink(`http://127.0.0.1:${await closedPort()}/v1/metrics`);
    await s.export([]); // nothing to send, nothing to fail
    const run = await measure(() => Promise.resolve(s.export([aWindow()])));
    const error = rejection(run.result);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(run.elapsedMs).toBeLessThan(500);
    expect(run.maxGapMs).toBeLessThan(100);
  });

  it('collector hangs (never answers): gives up after the default timeout, shorter than the 1 s interval, and does not resend (outcome unknown)', async () => {
    receiver.mode = { kind: 'hang' };
    const s = sink(receiver.url);
    expect(s.timeoutMs).toBeLessThanOrEqual(1000);
    const run = await measure(() => Promise.resolve(s.export([aWindow()])));
    const error = rejection(run.result);
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/may have received it/);
    expect(run.elapsedMs).toBeGreaterThan(700);
    expect(run.elapsedMs).toBeLessThan(s.timeoutMs!);
    expect(run.maxGapMs).toBeLessThan(100);
  });

  it('honours a custom timeout', async () => {
    receiver.mode = { kind: 'hang' };
    const s = sink(receiver.url, { timeoutMs: 200 });
    const run = await measure(() => Promise.resolve(s.export([aWindow()])));
    expect(rejection(run.result).retryable).toBe(false);
    expect(run.elapsedMs).toBeGreaterThan(150);
    expect(run.elapsedMs).toBeLessThan(600);
  });

  it.each([
    // Only "throttled" and "unavailable" prove the collector did not take the data; a gateway's 502/504 may
    // follow an upstream that did, so they are not resent.
    [429, true],
    [502, false],
    [503, true],
    [504, false],
    [400, false],
    [500, false],
  ])('HTTP %i maps to a SinkError with retryable=%s', async (status, retryable) => {
    receiver.mode = { kind: 'status', status };
    const s = sink(receiver.url);
    const run = await measure(() => Promise.resolve(s.export([aWindow()])));
    expect(rejection(run.result).retryable).toBe(retryable);
    expect(run.elapsedMs).toBeLessThan(s.timeoutMs!);
  });

  it('recovers once the collector is back: the same sink exports again', async () => {
    receiver.mode = { kind: 'status', status: 503 };
    const s = sink(receiver.url);
    await expect(s.export([aWindow()])).rejects.toBeInstanceOf(SinkError);
    receiver.mode = { kind: 'ok' };
    await s.export([aWindow()]);
    expect(receiver.requests).toHaveLength(1);
  });

  it('configuration errors surface when the sink is created, not once per window', () => {
    expect(() => otlpSink({ url: 'not a url' })).toThrow(RangeError);
    expect(() => otlpSink({ timeoutMs: 0 })).toThrow(RangeError);
    expect(() => otlpSink({ temporality: 'sometimes' as never })).toThrow(RangeError);
  });

  it('importing the sink module does not load the OTel exporter; the sink loads it when used', async () => {
    const script = `
      const { createRequire } = await import('node:module');
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('exporter-metrics-otlp-http'));
      const { otlpSink } = await import('./src/sinks/otlp.ts');
      const before = loaded();
      const sink = otlpSink({ url: 'http://127.0.0.1:9/v1/metrics' });
      const w = { start: 0, end: 1000, resource: { service: 's', attributes: {} }, series: [] };
      await sink.export([w]); // awaits the import; no series, so no request
      console.log(JSON.stringify({ before, after: loaded() }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
    });
    expect(JSON.parse(stdout.trim())).toEqual({ before: false, after: true });
  });
});

describe('otlpSink: Retry-After and the export signal', () => {
  it.each([
    ['5', 5000],
    ['0', 0],
  ])('429 with Retry-After: %s (seconds) becomes retryAfterMs %i', async (header, ms) => {
    receiver.mode = { kind: 'status', status: 429, retryAfter: header };
    const error = await Promise.resolve(sink(receiver.url).export([aWindow()])).then(() => undefined, (e: unknown) => e as SinkError);
    expect(error).toMatchObject({ retryable: true, retryAfterMs: ms });
  });

  it('503 with Retry-After as an HTTP-date becomes the time until that date', async () => {
    const at = new Date(Date.now() + 7000);
    receiver.mode = { kind: 'status', status: 503, retryAfter: at.toUTCString() };
    const error = (await Promise.resolve(sink(receiver.url).export([aWindow()])).then(() => undefined, (e: unknown) => e)) as SinkError;
    expect(error.retryable).toBe(true);
    // toUTCString drops the milliseconds: up to 1 s early, and the request took a little time.
    expect(error.retryAfterMs).toBeGreaterThan(5000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(7000);
  });

  it('a collector that takes the data and closes without answering: failed, not retryable (no duplicate)', async () => {
    receiver.mode = { kind: 'close' };
    const error = (await Promise.resolve(sink(receiver.url).export([aWindow()])).then(() => undefined, (e: unknown) => e)) as SinkError;
    expect(error).toBeInstanceOf(SinkError);
    expect(error.retryable).toBe(false);
    expect(receiver.requests).toHaveLength(1);
  });

  it('the export signal aborts the request in flight', async () => {
    receiver.mode = { kind: 'hang' };
    const controller = new AbortController();
    const pending = sink(receiver.url, { timeoutMs: 10_000 }).export([aWindow()], { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 50));
    controller.abort(new Error('dispatcher gave up'));
    const error = (await Promise.resolve(pending).then(() => undefined, (e: unknown) => e)) as SinkError;
    expect(error.message).toMatch(/aborted/);
    expect(error.retryable).toBe(false);
  });
});
