/**
 * `sse.active_connections` on every supported stack: 1,000 real event streams on 127.0.0.1, ended in random ways
 * (client destroy, client abort signal, server end, server destroy with an error, server socket destroy). The
 * gauge must reach exactly 1,000, come back to exactly 0 and never go below it; stacks that also count requests
 * must count each stream once, `ok` when the server ended it and `aborted` otherwise.
 */
import { once } from 'node:events';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import express5 from 'express';
import { fastifySSE as FastifySse } from '@fastify/sse';
import Fastify5 from 'fastify';
import { createSession } from 'better-sse';
import { describe, expect, it } from 'vitest';
import type { Metrics } from '../../src/core/api.js';
import { expressMetrics } from '../../src/integrations/express.js';
import { fastifyMetrics } from '../../src/integrations/fastify.js';
import { instrumentHttpServer } from '../../src/integrations/http-server.js';
import { trackSse } from '../../src/integrations/sse.js';
import { FRAMEWORKS, opener, type App } from './frameworks.js';
import { close, collectingMetrics, counterTotals, flushUntil, gaugeLast, gaugeRange, histogramCounts, listen, rng } from './support.js';

const SSE = 'sse.active_connections';
const CONNECTIONS = 1000;

interface Stack {
  readonly name: string;
  /** Whether http.server.requests counts the streams too. */
  readonly countsRequests: boolean;
  start(metrics: Metrics): Promise<App>;
}

const nodeInstrumented: Stack = {
  name: 'node:http + instrumentHttpServer (writeHead with a headers object)',
  countsRequests: true,
  async start(metrics) {
    const { open, events, add } = opener();
    const server = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write('data: hello\n\n');
      add(req, res);
    });
    instrumentHttpServer(server, metrics, { route: () => '/events' });
    const url = await listen(server);
    return { url, open, events, close: () => close(server) };
  },
};

const nodeTracked: Stack = {
  name: 'node:http + trackSse (writeHead with a flat header array)',
  countsRequests: false,
  async start(metrics) {
    const { open, events, add } = opener();
    const track = trackSse(metrics);
    const server = http.createServer((req, res) => {
      track(res);
      res.writeHead(200, ['content-type', 'text/event-stream', 'cache-control', 'no-cache']);
      res.write('data: hello\n\n');
      add(req, res);
    });
    const url = await listen(server);
    return { url, open, events, close: () => close(server) };
  },
};

const betterSse: Stack = {
  name: 'better-sse on node:http + trackSse',
  countsRequests: false,
  async start(metrics) {
    const { open, events, add } = opener();
    const track = trackSse(metrics);
    const server = http.createServer(async (req, res) => {
      track(res);
      const session = await createSession(req, res, { keepAlive: null });
      session.push('hello');
      add(req, res);
    });
    const url = await listen(server);
    return { url, open, events, close: () => close(server) };
  },
};

const betterSseExpress: Stack = {
  name: 'better-sse on Express 5 + expressMetrics',
  countsRequests: true,
  async start(metrics) {
    const { open, events, add } = opener();
    const app = express5();
    app.use(expressMetrics(metrics));
    app.get('/events', async (req, res) => {
      const session = await createSession(req, res, { keepAlive: null });
      session.push('hello');
      add(req, res);
    });
    const server = http.createServer(app);
    const url = await listen(server);
    return { url, open, events, close: () => close(server) };
  },
};

const fastifySse: Stack = {
  name: '@fastify/sse on Fastify 5 + fastifyMetrics',
  countsRequests: true,
  async start(metrics) {
    const { open, events, add } = opener();
    const app = Fastify5({ logger: false });
    await app.register(fastifyMetrics, { metrics });
    await app.register(FastifySse, { heartbeatInterval: 0 });
    app.get('/events', { sse: 'only' }, async (request, reply) => {
      reply.sse.keepAlive();
      await reply.sse.send({ data: 'hello' });
      add(request.raw, reply.raw, () => reply.sse.close());
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    return {
      url: `http://127.0.0.1:${port}`,
      open,
      events,
      close: async () => {
        app.server.closeAllConnections?.();
        await app.close();
      },
    };
  },
};

const STACKS: readonly Stack[] = [
  nodeInstrumented,
  nodeTracked,
  ...FRAMEWORKS.map((f) => ({ name: `${f.name} (integration, hand-written SSE)`, countsRequests: true, start: (m: Metrics) => f.start(m) })),
  fastifySse,
  betterSse,
  betterSseExpress,
];

type Fate = 'client destroy' | 'client abort' | 'server end' | 'server destroy' | 'socket destroy';
const FATES: readonly Fate[] = ['client destroy', 'client abort', 'server end', 'server destroy', 'socket destroy'];

interface Client {
  readonly req: ClientRequest;
  readonly controller: AbortController;
  readonly response: Promise<IncomingMessage>;
}

function connect(base: string, n: number): Client {
  const controller = new AbortController();
  const req = http.request(`${base}/events?n=${n}`, { agent: false, signal: controller.signal, headers: { accept: 'text/event-stream' } });
  req.on('error', () => {});
  const response = new Promise<IncomingMessage>((resolve) =>
    req.on('response', (res) => {
      res.on('error', () => {});
      res.resume();
      resolve(res);
    }),
  );
  req.end();
  return { req, controller, response };
}

describe.each(STACKS)('SSE: $name', (stack) => {
  it(`counts ${CONNECTIONS} streams exactly, back to 0 after random endings`, async () => {
    const c = collectingMetrics();
    const app = await stack.start(c.metrics);
    try {
      const clients = Array.from({ length: CONNECTIONS }, (_, n) => connect(app.url, n));
      const responses = await Promise.all(clients.map((client) => client.response));
      expect(responses.every((r) => r.statusCode === 200 && /text\/event-stream/.test(String(r.headers['content-type'])))).toBe(true);
      while (app.open.length < CONNECTIONS) await once(app.events, 'open');
      await c.metrics.flush();
      expect(gaugeLast(c.windows, SSE)).toBe(CONNECTIONS);
      expect(gaugeRange(c.windows, SSE).max).toBe(CONNECTIONS);
      if (stack.countsRequests) expect(gaugeLast(c.windows, 'http.server.active_requests')).toBe(0);

      const random = rng(CONNECTIONS + stack.name.length);
      const count: Record<Fate, number> = { 'client destroy': 0, 'client abort': 0, 'server end': 0, 'server destroy': 0, 'socket destroy': 0 };
      const order = [...app.open].sort(() => random() - 0.5);
      for (const item of order) {
        const fate = FATES[Math.floor(random() * FATES.length)];
        count[fate]++;
        const client = clients[item.n];
        if (fate === 'client destroy') client.req.destroy();
        else if (fate === 'client abort') client.controller.abort();
        else if (fate === 'server end') item.end();
        else if (fate === 'server destroy') item.res.destroy(new Error('stream failed'));
        else item.res.socket?.destroy();
      }
      for (const fate of FATES) expect(count[fate]).toBeGreaterThan(0);

      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 0, () => gaugeLast(c.windows, SSE));
      // A late double release would show up after the gauge first reads 0.
      await new Promise((r) => setTimeout(r, 100));
      await c.metrics.flush();
      expect(gaugeLast(c.windows, SSE)).toBe(0);
      expect(gaugeRange(c.windows, SSE)).toEqual({ min: 0, max: CONNECTIONS });

      if (stack.countsRequests) {
        const requests = counterTotals(c.windows, 'http.server.requests', ['route', 'outcome']);
        expect(requests).toEqual({
          '/events ok': count['server end'],
          '/events aborted': CONNECTIONS - count['server end'],
        });
        // A stream's lifetime is not a request duration, and streams left the in-flight gauge.
        expect(histogramCounts(c.windows, 'http.server.request.duration', ['route'])).toEqual({});
        expect(gaugeLast(c.windows, 'http.server.active_requests')).toBe(0);
      } else {
        expect(counterTotals(c.windows, 'http.server.requests', ['route'])).toEqual({});
      }
    } finally {
      await app.close();
      await c.metrics.shutdown();
    }
  });
});

describe('SSE detection', () => {
  it('ignores non-2xx event streams and other content types, and counts a stream tracked after its head', async () => {
    const c = collectingMetrics();
    const track = trackSse(c.metrics);
    const server = http.createServer((req, res) => {
      if (req.url?.startsWith('/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        track(res); // after the head: decided from what was sent
        res.write('data: x\n\n');
        return;
      }
      track(res);
      if (req.url === '/json') res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      else if (req.url === '/refused') res.writeHead(503, 'Busy', { 'content-type': 'text/event-stream' }).end();
      else res.end('plain');
    });
    const url = await listen(server);
    try {
      for (const path of ['/json', '/refused', '/plain']) await (await fetch(url + path)).arrayBuffer();
      await c.metrics.flush();
      expect(gaugeRange(c.windows, SSE)).toEqual({ min: 0, max: 0 });
      const late = connect(url, 0);
      await late.response;
      await c.metrics.flush();
      expect(gaugeLast(c.windows, SSE)).toBe(1);
      late.req.destroy();
      await flushUntil(c, () => gaugeLast(c.windows, SSE) === 0, () => gaugeLast(c.windows, SSE));
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });
});
