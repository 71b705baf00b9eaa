/**
 * Queue-depth recipes that need no external server: SQS against a loopback endpoint speaking the SDK's real wire
 * protocol (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.GetQueueAttributes`), the in-process recipe and
 * combineQueueDepths. Values are read from sealed windows: observed gauges are polled at window boundaries.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { combineQueueDepths, inProcessQueueDepth, sqsQueueDepth, type QueueDepthObserver } from '../../src/integrations/queues/index.js';
import { close, collectingMetrics, counterTotals, listen, seriesOf, type Collected } from './support.js';

/** Windows until one carries every expected `queue.depth` series; returns their values keyed by labels. */
async function depthsWhen(c: Collected, expected: number, timeoutMs = 10_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = c.windows.at(-1);
    if (last !== undefined) {
      const depth = last.series.filter((s) => s.name === 'queue.depth' && s.count > 0);
      if (depth.length >= expected) {
        return Object.fromEntries(depth.map((s) => [Object.values(s.labels).join(' '), s.last]));
      }
    }
    if (Date.now() > deadline) throw new Error(`no window with ${expected} queue.depth series: ${JSON.stringify(lastSeries(c.windows))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const lastSeries = (windows: Window[]) => windows.at(-1)?.series.map((s) => `${s.key}=${s.last}`);

function gauge(metrics: Metrics, observe: QueueDepthObserver): void {
  metrics.gauge('queue.depth', { unit: '{message}', observe });
}

describe('sqsQueueDepth against a loopback SQS endpoint', () => {
  const queues: Record<string, Record<string, string>> = {
    jobs: { ApproximateNumberOfMessages: '42', ApproximateNumberOfMessagesNotVisible: '7', ApproximateNumberOfMessagesDelayed: '3' },
    emails: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1', ApproximateNumberOfMessagesDelayed: '0' },
  };
  const seen: Array<{ target: string; contentType: string; body: { QueueUrl: string; AttributeNames: string[] } }> = [];
  let stallMs = 0;
  let aborted = 0;
  let server: http.Server;
  let base: string;
  let client: SQSClient;

  beforeAll(async () => {
    server = http.createServer(async (req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const body = JSON.parse(raw) as { QueueUrl: string; AttributeNames: string[] };
      seen.push({ target: String(req.headers['x-amz-target']), contentType: String(req.headers['content-type']), body });
      if (stallMs > 0) {
        res.on('close', () => {
          if (!res.writableFinished) aborted++;
        });
        return; // never answers: the window's AbortSignal must end the request
      }
      const name = body.QueueUrl.slice(body.QueueUrl.lastIndexOf('/') + 1);
      const attributes = queues[name];
      res.setHeader('content-type', 'application/x-amz-json-1.0');
      if (attributes === undefined) {
        res.statusCode = 400;
        res.setHeader('x-amzn-query-error', 'AWS.SimpleQueueService.NonExistentQueue;Sender');
        res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' }));
        return;
      }
      const wanted = Object.fromEntries(body.AttributeNames.map((n) => [n, attributes[n]]));
      res.end(JSON.stringify({ Attributes: wanted }));
    });
    base = await listen(server);
    client = new SQSClient({
      endpoint: base,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await close(server);
  });

  it('reports visible + in-flight per queue, over the real protocol', async () => {
    const c = collectingMetrics({ intervalMs: 100 });
    try {
      gauge(c.metrics, sqsQueueDepth({ client, queueUrls: [`${base}/000000000000/jobs`, `${base}/000000000000/emails`] }));
      expect(await depthsWhen(c, 2)).toEqual({ jobs: 49, emails: 1 });
      const request = seen.at(-1)!;
      expect(request.target).toBe('AmazonSQS.GetQueueAttributes');
      expect(request.contentType).toMatch(/^application\/x-amz-json-1\.0/);
      expect(request.body.AttributeNames).toEqual(['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']);
    } finally {
      await c.metrics.shutdown();
    }
  });

  it('splits by state, counts delayed on request, and keeps answering queues when one is missing', async () => {
    const c = collectingMetrics({ intervalMs: 100 });
    const errors: string[] = [];
    try {
      gauge(
        c.metrics,
        sqsQueueDepth({
          client,
          queueUrls: [`${base}/000000000000/jobs`, `${base}/000000000000/missing`],
          byState: true,
          includeDelayed: true,
          onError: (error, queue) => errors.push(`${queue}: ${(error as Error).name}`),
        }),
      );
      expect(await depthsWhen(c, 3)).toEqual({ 'jobs visible': 42, 'jobs in_flight': 7, 'jobs delayed': 3 });
      // A loaded machine may also time a call out now and then (AbortError); the missing queue must be reported.
      expect(errors).toContain('missing: QueueDoesNotExist');
    } finally {
      await c.metrics.shutdown();
    }
  });

  it('passes the window AbortSignal: a stalled SQS call is cancelled and counted as a timeout', async () => {
    const c = collectingMetrics({ intervalMs: 100 });
    stallMs = 1;
    try {
      gauge(c.metrics, sqsQueueDepth({ client, queueUrl: `${base}/000000000000/jobs` }));
      const deadline = Date.now() + 10_000;
      while (aborted < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      expect(aborted).toBeGreaterThanOrEqual(2);
      await c.metrics.flush();
      const failures = counterTotals(c.windows, 'scalesignal.observe.failures', ['metric', 'reason']);
      expect(failures['queue.depth timeout']).toBeGreaterThanOrEqual(2);
      expect(seriesOf(c.windows, 'queue.depth').filter((s) => s.count > 0)).toEqual([]);
    } finally {
      stallMs = 0;
      await c.metrics.shutdown();
    }
  });
});

describe('inProcessQueueDepth and combineQueueDepths', () => {
  it('reads arrays, sizes and functions, and merges recipes behind one gauge', async () => {
    const c = collectingMetrics({ intervalMs: 100 });
    const jobs = [1, 2, 3];
    const pending = new Set(['a', 'b']);
    let retries = 5;
    const failing: QueueDepthObserver = async () => {
      throw new Error('backend down');
    };
    const reported: unknown[] = [];
    try {
      gauge(
        c.metrics,
        combineQueueDepths([inProcessQueueDepth({ queues: { jobs, pending, retries: () => retries } }), failing], (e) => reported.push(e)),
      );
      expect(await depthsWhen(c, 3)).toEqual({ jobs: 3, pending: 2, retries: 5 });
      jobs.push(4, 5);
      retries = 0;
      const until = c.windows.length + 2;
      while (c.windows.length < until) await new Promise((r) => setTimeout(r, 25));
      expect(await depthsWhen(c, 3)).toEqual({ jobs: 5, pending: 2, retries: 0 });
      expect(reported.length).toBeGreaterThan(0);
    } finally {
      await c.metrics.shutdown();
    }
  });

  it('fails the observation (counted, not thrown) when every recipe fails', async () => {
    const c = collectingMetrics({ intervalMs: 100 });
    try {
      gauge(c.metrics, combineQueueDepths([async () => Promise.reject(new Error('a')), async () => Promise.reject(new Error('b'))]));
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        await c.metrics.flush();
        if ((counterTotals(c.windows, 'scalesignal.observe.failures', ['metric', 'reason'])['queue.depth error'] ?? 0) >= 2) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(counterTotals(c.windows, 'scalesignal.observe.failures', ['metric', 'reason'])['queue.depth error']).toBeGreaterThanOrEqual(2);
    } finally {
      await c.metrics.shutdown();
    }
  });

  it('rejects sources it cannot read', () => {
    expect(() => inProcessQueueDepth({ queues: { bad: 5 as never } })).toThrow(/must be an array/);
    expect(() => inProcessQueueDepth({ queues: {} })).toThrow(/needs/);
    expect(() => sqsQueueDepth({ client: {} as never, queueUrl: 'x' })).toThrow(/SQSClient/);
  });
});

