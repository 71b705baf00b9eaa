/**
 * The HTTP integrations' process-wide hooks belong to an owner and go away when their last user stops: the
 * `ServerResponse.prototype.writeHead` wrapper that detects SSE heads, and the `http.server.request.start`
 * subscription of the Express early start. A stopped integration counts nothing new; a wrapper that another
 * library wrapped again stays as a pass-through and comes back on the next use. Two copies of the module in one
 * process (the ESM and the CJS build) count a response once. Real servers on 127.0.0.1.
 */
import diagnostics from 'node:diagnostics_channel';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import http, { type ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import express from 'express';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { expressMetrics } from '../../src/integrations/express.js';
import { fastifyMetrics } from '../../src/integrations/fastify.js';
import { requestStarts } from '../../src/integrations/http/early-start.js';
import { watchingEventStreams, watchingResponseEnds } from '../../src/integrations/http/tracker.js';
import { instrumentHttpServer } from '../../src/integrations/http-server.js';
import { trackSse } from '../../src/integrations/sse.js';
import { close, collectingMetrics, counterTotals, flushUntil, gaugeLast, gaugeRange, listen, sum } from './support.js';

const REQUESTS = 'http.server.requests';
const SSE = 'sse.active_connections';
const LABELS = ['method', 'route', 'status_class', 'outcome'];
const proto = http.ServerResponse.prototype;

async function get(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

/** Opens an SSE stream and reads its first chunk; returns a function closing it from the client side. */
async function openStream(url: string): Promise<() => void> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const reader = res.body!.getReader();
  await reader.read();
  return () => controller.abort();
}

function sseHandler(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(': open\n\n');
}

describe('process-wide hooks', () => {
  it('installs the SSE head wrapper and the early start for their users and removes both after the last stops', async () => {
    const original = proto.writeHead;
    const c = collectingMetrics();
    expect(watchingEventStreams()).toBe(false);

    const app = express();
    const middleware = expressMetrics(c.metrics);
    app.use(middleware);
    app.get('/items/:id', (_req, res) => {
      res.send('item');
    });
    app.get('/events', (_req, res) => sseHandler(res));
    const expressServer = http.createServer(app);
    const fastify = Fastify({ logger: false });
    await fastify.register(fastifyMetrics, { metrics: c.metrics });
    fastify.get('/f', async () => 'f');
    await fastify.ready();
    const plain = http.createServer((_req, res) => res.end('plain'));
    const stopPlain = instrumentHttpServer(plain, c.metrics);
    const track = trackSse(c.metrics);

    expect(proto.writeHead).not.toBe(original);
    expect(watchingEventStreams()).toBe(true);
    const url = await listen(expressServer);
    try {
      // Two requests: the first teaches the middleware its server, the second starts early.
      expect(await get(`${url}/items/1`)).toBe(200);
      expect(await get(`${url}/items/2`)).toBe(200);
      expect(requestStarts.subscribed).toBe(true);
      expect(diagnostics.hasSubscribers('http.server.request.start')).toBe(true);
      const closeStream = await openStream(`${url}/events`);
      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 1, () => gaugeLast(c.windows, SSE));
      closeStream();
      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 0, () => gaugeLast(c.windows, SSE));

      middleware.stop();
      expect(requestStarts.subscribed).toBe(false);
      expect(diagnostics.hasSubscribers('http.server.request.start')).toBe(false);
      expect(watchingEventStreams()).toBe(true); // others still use it
      await fastify.close();
      stopPlain();
      expect(proto.writeHead).not.toBe(original);
      track.stop();
      expect(watchingEventStreams()).toBe(false);
      expect(proto.writeHead).toBe(original);
      expect(watchingResponseEnds()).toBe(false);
      expect(diagnostics.hasSubscribers('http.server.response.finish')).toBe(false);

      // Stopped: nothing new is counted, no stream is watched.
      expect(await get(`${url}/items/3`)).toBe(200);
      const closeLate = await openStream(`${url}/events`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      await c.metrics.flush();
      expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual({ 'GET /items/:id 2xx ok': 2, 'GET /events 2xx aborted': 1 });
      expect(gaugeRange(c.windows, SSE).max).toBe(1);
      expect(gaugeLast(c.windows, SSE)).toBe(0);
      closeLate();
    } finally {
      middleware.stop();
      stopPlain();
      track.stop();
      await close(expressServer);
      await c.metrics.shutdown();
    }
  });

  it('still ends and counts a request in flight when its integration stops, then lets go of the finish channel', async () => {
    const c = collectingMetrics();
    const held: ServerResponse[] = [];
    const server = http.createServer((_req, res) => held.push(res));
    const stop = instrumentHttpServer(server, c.metrics, { route: () => '/held' });
    const url = await listen(server);
    try {
      const pending = get(`${url}/x`);
      while (held.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      stop();
      expect(watchingResponseEnds()).toBe(true); // the held response still needs it
      held[0].end('late');
      expect(await pending).toBe(200);
      await flushUntil(c, () => sum(counterTotals(c.windows, REQUESTS, LABELS)) === 1, () => counterTotals(c.windows, REQUESTS, LABELS));
      expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual({ 'GET /held 2xx ok': 1 });
      expect(gaugeLast(c.windows, 'http.server.active_requests')).toBe(0);
      expect(watchingResponseEnds()).toBe(false);
    } finally {
      stop();
      await close(server);
      await c.metrics.shutdown();
    }
  });

  it('leaves a wrapper another library wrapped as a pass-through, and revives it on the next use', async () => {
    const original = proto.writeHead;
    const c = collectingMetrics();
    const first = trackSse(c.metrics);
    const ours = proto.writeHead;
    // Another library wraps writeHead on top of ours.
    let seen = 0;
    const theirs = function (this: ServerResponse, ...args: unknown[]) {
      seen++;
      return (ours as (...a: unknown[]) => ServerResponse).apply(this, args);
    };
    proto.writeHead = theirs as typeof proto.writeHead;
    first.stop();
    expect(proto.writeHead).toBe(theirs);
    expect(watchingEventStreams()).toBe(false);

    const server = http.createServer((_req, res) => {
      track(res);
      sseHandler(res);
    });
    let track: (res: ServerResponse) => void = () => {};
    const url = await listen(server);
    try {
      // Inert: a stream is not counted.
      const closeA = await openStream(`${url}/a`);
      await c.metrics.flush();
      expect(gaugeRange(c.windows, SSE).max).toBe(0);
      closeA();
      // Next user: the same wrapper comes back to life, no second layer.
      const second = trackSse(c.metrics);
      track = second;
      expect(proto.writeHead).toBe(theirs);
      const closeB = await openStream(`${url}/b`);
      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 1, () => gaugeLast(c.windows, SSE));
      closeB();
      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 0, () => gaugeLast(c.windows, SSE));
      second.stop();
      expect(seen).toBeGreaterThanOrEqual(2);
      expect(sum(counterTotals(c.windows, REQUESTS, LABELS))).toBe(0);
    } finally {
      proto.writeHead = original;
      await close(server);
      await c.metrics.shutdown();
    }
  });

  it('counts a response once when a second copy of the module (another build) tracks it too', async () => {
    // A second copy of every module, as when one dependency loads the CJS build and the app the ESM one.
    const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
    await mkdir(join(root, '.tmp'), { recursive: true });
    const dir = await mkdtemp(join(root, '.tmp/copy-'));
    const outfile = join(dir, 'scalesignal.mjs');
    await esbuild.build({ entryPoints: [join(root, 'src/index.ts')], bundle: true, platform: 'node', format: 'esm', packages: 'external', outfile, logLevel: 'warning' });
    const copy = (await import(pathToFileURL(outfile).href)) as typeof import('../../src/index.js');
    const c = collectingMetrics();
    const app = express();
    const middleware = expressMetrics(c.metrics);
    const track = copy.trackSse(c.metrics);
    app.use(middleware);
    app.get('/events', (_req, res) => {
      track(res);
      sseHandler(res);
    });
    app.get('/plain', (_req, res) => {
      track(res);
      res.send('plain');
    });
    const server = http.createServer(app);
    const url = await listen(server);
    try {
      const closeStream = await openStream(`${url}/events`);
      expect(await get(`${url}/plain`)).toBe(200);
      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 1, () => gaugeLast(c.windows, SSE));
      closeStream();
      await flushUntil(
        c,
        () => gaugeLast(c.windows, SSE) === 0 && sum(counterTotals(c.windows, REQUESTS, LABELS)) === 2,
        () => [gaugeLast(c.windows, SSE), counterTotals(c.windows, REQUESTS, LABELS)],
      );
      expect(gaugeRange(c.windows, SSE).max).toBe(1);
      expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual({ 'GET /plain 2xx ok': 1, 'GET /events 2xx aborted': 1 });
    } finally {
      middleware.stop();
      track.stop();
      await close(server);
      await c.metrics.shutdown();
      await rm(dir, { recursive: true, force: true });
    }
    expect(watchingResponseEnds()).toBe(false);
  });

  it('lets go of the finish channel when a response is tracked for SSE after it ended', async () => {
    const c = collectingMetrics();
    const track = trackSse(c.metrics);
    const ended: ServerResponse[] = [];
    const server = http.createServer((_req, res) => {
      res.end('done', () => ended.push(res));
    });
    const url = await listen(server);
    try {
      expect(await get(url)).toBe(200);
      while (ended.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
      track(ended[0]);
      track.stop();
      expect(watchingResponseEnds()).toBe(false);
    } finally {
      track.stop();
      await close(server);
      await c.metrics.shutdown();
    }
  });
});
