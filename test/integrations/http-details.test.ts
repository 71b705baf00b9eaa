/**
 * Edges of the HTTP integrations: node:http with and without a route function, pipelined requests stranded by
 * a dead socket, two integrations on one server, Express route templates (nested routers, `/` of a mounted
 * router, overrides, the route cap), Fastify early replies, 404s and plugin metadata on both majors.
 */
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import express5 from 'express';
import express4 from 'express4';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import fp4 from 'fastify-plugin4';
import { describe, expect, it } from 'vitest';
import { expressMetrics } from '../../src/integrations/express.js';
import { fastifyMetrics } from '../../src/integrations/fastify.js';
import { instrumentHttpServer } from '../../src/integrations/http-server.js';
import { close, collectingMetrics, counterTotals, flushUntil, gaugeLast, listen, sum, type Collected } from './support.js';

const REQUESTS = 'http.server.requests';
const LABELS = ['method', 'route', 'status_class', 'outcome'];

async function get(url: string, init?: RequestInit): Promise<number> {
  const res = await fetch(url, init);
  await res.arrayBuffer();
  return res.status;
}

async function totalsWhen(c: Collected, count: number): Promise<Record<string, number>> {
  await flushUntil(
    c,
    () => sum(counterTotals(c.windows, REQUESTS, LABELS)) >= count && gaugeLast(c.windows, 'http.server.active_requests') === 0,
    () => counterTotals(c.windows, REQUESTS, LABELS),
  );
  return counterTotals(c.windows, REQUESTS, LABELS);
}

describe('instrumentHttpServer', () => {
  it('labels every request unmatched without a route function, and by it with one', async () => {
    const c = collectingMetrics();
    const plain = http.createServer((_req, res) => res.end('ok'));
    const routed = http.createServer((req, res) => {
      res.statusCode = req.url?.startsWith('/orders/') ? 200 : 404;
      res.end();
    });
    instrumentHttpServer(plain, c.metrics);
    instrumentHttpServer(routed, c.metrics, { route: (req) => (req.url?.startsWith('/orders/') ? '/orders/:id' : undefined) });
    const [a, b] = [await listen(plain), await listen(routed)];
    try {
      await get(`${a}/x/1`);
      await get(`${a}/x/2`, { method: 'PUT' });
      await get(`${b}/orders/17`);
      await get(`${b}/elsewhere`);
      await get(`${b}/orders/18`, { method: 'PROPFIND' });
      expect(await totalsWhen(c, 5)).toEqual({
        'GET unmatched 2xx ok': 1,
        'PUT unmatched 2xx ok': 1,
        'GET /orders/:id 2xx ok': 1,
        'GET unmatched 4xx ok': 1,
        // Methods outside the standard set share one label value.
        '_OTHER /orders/:id 2xx ok': 1,
      });
    } finally {
      await close(plain);
      await close(routed);
      await c.metrics.shutdown();
    }
  });

  it('finishes pipelined requests whose socket died while their responses waited', async () => {
    const c = collectingMetrics();
    const server = http.createServer((req, res) => {
      // The first response never comes; the two behind it are complete but queued behind it.
      if (req.url !== '/1') res.end('queued');
    });
    const stop = instrumentHttpServer(server, c.metrics);
    const url = new URL(await listen(server));
    try {
      const socket = net.connect(Number(url.port), '127.0.0.1');
      await once(socket, 'connect');
      let seen = 0;
      server.on('request', () => seen++);
      socket.write(['/1', '/2', '/3'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
      while (seen < 3) await once(server, 'request');
      socket.destroy();
      expect(await totalsWhen(c, 3)).toEqual({ 'GET unmatched none aborted': 1, 'GET unmatched 2xx aborted': 2 });
      stop();
      await get(`${url.origin}/after-stop`);
      await c.metrics.flush();
      expect(sum(counterTotals(c.windows, REQUESTS, LABELS))).toBe(3);
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });

  it('finishes pipelined Express requests begun early whose socket died while their responses waited', async () => {
    const c = collectingMetrics();
    const app = express5();
    app.use(expressMetrics(c.metrics));
    app.get('/p/:n', (req, res) => {
      // The first response never comes; the two behind it are complete but queued behind it.
      if (req.params.n !== '1') res.send('queued');
    });
    const server = http.createServer(app);
    const url = new URL(await listen(server));
    try {
      // The first request teaches the early start this server: the pipelined ones are begun as they start.
      await get(`${url.origin}/p/0`);
      const socket = net.connect(Number(url.port), '127.0.0.1');
      await once(socket, 'connect');
      let seen = 0;
      server.on('request', () => seen++);
      socket.write(['/p/1', '/p/2', '/p/3'].map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
      while (seen < 3) await once(server, 'request');
      socket.destroy();
      expect(await totalsWhen(c, 4)).toEqual({ 'GET /p/:n 2xx ok': 1, 'GET /p/:n none aborted': 1, 'GET /p/:n 2xx aborted': 2 });
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });

  it('counts a request once when the server hook and Express both track it', async () => {
    const c = collectingMetrics();
    const app = express5();
    app.use(expressMetrics(c.metrics));
    app.get('/a/:id', (_req, res) => {
      res.send('a');
    });
    const server = http.createServer(app);
    instrumentHttpServer(server, c.metrics);
    const url = await listen(server);
    try {
      await get(`${url}/a/1`);
      await get(`${url}/a/2`);
      // The first tracker (the server hook, before Express runs) owns the response.
      expect(await totalsWhen(c, 2)).toEqual({ 'GET unmatched 2xx ok': 2 });
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });
});

describe.each([
  ['express 4', express4],
  ['express 5', express5],
] as const)('%s route templates', (_name, expressLib) => {
  const express = expressLib as typeof express5;

  it('counts once when the middleware runs after asynchronous ones, on two servers sharing the app', async () => {
    const c = collectingMetrics();
    const app = express();
    // Later requests of a server are begun as they start; the middleware must recognise them in a later tick too.
    app.use((_req, _res, next) => setImmediate(next));
    app.use(expressMetrics(c.metrics));
    app.get('/items/:id', (_req, res) => {
      res.send('item');
    });
    const servers = [http.createServer(app), http.createServer(app)];
    const urls = [await listen(servers[0]), await listen(servers[1])];
    try {
      for (let i = 0; i < 10; i++) await get(`${urls[i % 2]}/items/${i}`);
      await Promise.all(Array.from({ length: 20 }, (_, i) => get(`${urls[i % 2]}/items/${i}`)));
      expect(await totalsWhen(c, 30)).toEqual({ 'GET /items/:id 2xx ok': 30 });
    } finally {
      await close(servers[0]);
      await close(servers[1]);
      await c.metrics.shutdown();
    }
  });

  it('joins nested routers, names a mounted router root by its mount path, keeps static mounts unmatched', async () => {
    const c = collectingMetrics();
    const app = express();
    app.use(expressMetrics(c.metrics));
    const v1 = express.Router();
    const users = express.Router({ mergeParams: true });
    users.get('/', (_req, res) => {
      res.send('list');
    });
    users.get('/:userId/posts/:postId', (_req, res) => {
      res.send('post');
    });
    v1.use('/users', users);
    app.use('/v1', v1);
    app.route('/things/:id').get((_req, res) => {
      res.send('get');
    }).put((_req, res) => {
      res.send('put');
    });
    app.use('/static', (_req, res) => {
      res.send('file');
    });
    const server = http.createServer(app);
    const url = await listen(server);
    try {
      await get(`${url}/v1/users`);
      await get(`${url}/v1/users/`);
      await get(`${url}/v1/users/7/posts/9`);
      await get(`${url}/things/3`);
      await get(`${url}/things/4`, { method: 'PUT' });
      await get(`${url}/static/app.js`);
      expect(await totalsWhen(c, 6)).toEqual({
        'GET /v1/users 2xx ok': 2,
        'GET /v1/users/:userId/posts/:postId 2xx ok': 1,
        'GET /things/:id 2xx ok': 1,
        'PUT /things/:id 2xx ok': 1,
        'GET unmatched 2xx ok': 1,
      });
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });

  it('takes a route function and caps distinct route labels', async () => {
    const c = collectingMetrics();
    const app = express();
    // A template that (wrongly) embeds a raw value: the cap keeps the series bounded.
    app.use(expressMetrics(c.metrics, { maxRoutes: 3, route: (req) => (req.url?.startsWith('/raw/') ? req.url : undefined) }));
    app.get('/raw/:n', (_req, res) => {
      res.send('raw');
    });
    const server = http.createServer(app);
    const url = await listen(server);
    try {
      for (let i = 0; i < 6; i++) await get(`${url}/raw/${i}`);
      await get(`${url}/missing`);
      expect(await totalsWhen(c, 7)).toEqual({
        'GET /raw/0 2xx ok': 1,
        'GET /raw/1 2xx ok': 1,
        'GET /raw/2 2xx ok': 1,
        'GET other 2xx ok': 3,
        'GET unmatched 4xx ok': 1,
      });
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });
});

describe.each([
  ['fastify 4', Fastify4 as unknown as typeof Fastify5],
  ['fastify 5', Fastify5],
] as const)('%s plugin', (_name, Fastify) => {
  it('labels requests answered by a later hook, 404s, prefixed and encapsulated routes; marks thrown errors', async () => {
    const c = collectingMetrics();
    const app = Fastify({ logger: false });
    await app.register(fastifyMetrics, { metrics: c.metrics });
    // Registered after the metrics plugin: a rate limiter answering from onRequest, before the route hook.
    app.addHook('onRequest', (request, reply, done) => {
      if (request.headers['x-limit'] === '1') reply.code(429).send('slow down');
      else done();
    });
    app.get('/orders/:id', async () => 'order');
    await app.register(
      async (child) => {
        child.addHook('preHandler', async (request) => {
          if (request.headers['x-fail'] === '1') throw Object.assign(new Error('forbidden'), { statusCode: 403 });
        });
        child.get('/reports/:year', async () => 'report');
      },
      { prefix: '/admin' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    try {
      await get(`${url}/orders/1`);
      await get(`${url}/orders/2`, { headers: { 'x-limit': '1' } });
      await get(`${url}/admin/reports/2025`);
      await get(`${url}/admin/reports/2026`, { headers: { 'x-fail': '1' } });
      await get(`${url}/nothing/here`);
      await get(`${url}/orders/3`, { method: 'HEAD' });
      expect(await totalsWhen(c, 6)).toEqual({
        'GET /orders/:id 2xx ok': 1,
        'GET /orders/:id 4xx ok': 1,
        'GET /admin/reports/:year 2xx ok': 1,
        'GET /admin/reports/:year 4xx thrown': 1,
        'GET unmatched 4xx ok': 1,
        'HEAD /orders/:id 2xx ok': 1,
      });
    } finally {
      await app.close();
      await c.metrics.shutdown();
    }
  });

  it('declares fastify 4.x || 5.x and skips encapsulation like fastify-plugin', async () => {
    const c = collectingMetrics();
    const meta = (fastifyMetrics as unknown as Record<symbol, unknown>)[Symbol.for('plugin-meta')];
    expect(meta).toEqual({ fastify: '4.x || 5.x', name: 'scalesignal' });
    expect((fastifyMetrics as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')]).toBe(true);
    // Without skip-override the hooks would stay inside the plugin's own context and miss this child's routes.
    const app = Fastify({ logger: false });
    await app.register(fastifyMetrics, { metrics: c.metrics });
    await app.register(async (child) => {
      child.get('/child/:id', async () => 'child');
    });
    await app.ready();
    try {
      const res = await app.inject({ method: 'GET', url: '/child/5' });
      expect(res.statusCode).toBe(200);
      expect(await totalsWhen(c, 1)).toEqual({ 'GET /child/:id 2xx ok': 1 });
    } finally {
      await app.close();
      await c.metrics.shutdown();
    }
  });

  it('refuses to register without metrics', async () => {
    const app = Fastify({ logger: false });
    await expect(app.register(fastifyMetrics, {} as never).ready()).rejects.toThrow(/needs \{ metrics \}/);
    await app.close();
  });
});

describe('fastify-plugin compatibility', () => {
  it('a version range fastify-plugin 4 would check is accepted by Fastify 4 and 5 alike', async () => {
    // The same metadata through fastify-plugin 4's wrapper: Fastify 4 and 5 both run the version check on it.
    for (const Fastify of [Fastify4 as unknown as typeof Fastify5, Fastify5]) {
      const app = Fastify({ logger: false });
      await app.register(fp4((_instance: unknown, _opts: unknown, done: () => void) => done(), { fastify: '4.x || 5.x', name: 'probe' }) as never);
      await app.register(fastifyMetrics, { metrics: collectingMetrics().metrics });
      await expect(app.ready()).resolves.toBeDefined();
      await app.close();
    }
  });
});
