/**
 * Only requests that pass through the Express middleware are counted, whatever the order of requests: with the
 * middleware on an `/api` router only, `/health` (and anything outside `/api`) is never counted nor held in
 * `http.server.active_requests`, before or after the first `/api` request, on fresh and reused keep-alive
 * connections, sequentially and concurrently. Real sockets on 127.0.0.1, Express 4 and 5. Fastify 4 and 5: the
 * plugin covers the instance's routes wherever they were declared, but not what an earlier hook answers.
 */
import http, { type ServerResponse } from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import { describe, expect, it } from 'vitest';
import { expressMetrics } from '../../src/integrations/express.js';
import { fastifyMetrics } from '../../src/integrations/fastify.js';
import { close, collectingMetrics, counterTotals, flushUntil, gaugeLast, gaugeRange, listen, rng, seriesOf, sum } from './support.js';

const REQUESTS = 'http.server.requests';
const ACTIVE = 'http.server.active_requests';
const LABELS = ['method', 'route', 'status_class', 'outcome'];

/** GET on a keep-alive agent (one socket when `agent` has maxSockets 1), body drained. */
function get(url: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe.each([
  ['express 4', express4 as unknown as typeof express5],
  ['express 5', express5],
] as const)('%s middleware on an /api router only', (_name, express) => {
  async function start() {
    const c = collectingMetrics();
    const app = express();
    const held: ServerResponse[] = [];
    app.get('/health', (_req, res) => {
      res.send('ok');
    });
    app.get('/health/hold', (_req, res) => {
      held.push(res);
    });
    const api = express.Router();
    api.use(expressMetrics(c.metrics));
    api.get('/items/:id', (_req, res) => {
      res.send('item');
    });
    app.use('/api', api);
    const server = http.createServer(app);
    const url = await listen(server);
    return { c, server, url, held };
  }

  for (const order of ['health first', 'api first', 'interleaved on one keep-alive socket', 'random and concurrent'] as const) {
    it(`counts /api requests only (${order})`, async () => {
      const { c, server, url } = await start();
      const one = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const many = new http.Agent({ keepAlive: true, maxSockets: 8 });
      const paths: string[] = [];
      if (order === 'health first') paths.push(...Array(6).fill('/health'), ...Array(6).fill('/api/items/1'), ...Array(6).fill('/health'));
      else if (order === 'api first') paths.push(...Array(6).fill('/api/items/1'), ...Array(12).fill('/health'));
      else if (order === 'interleaved on one keep-alive socket') for (let i = 0; i < 12; i++) paths.push(i % 2 ? '/health' : '/api/items/2');
      else {
        const random = rng(13);
        for (let i = 0; i < 120; i++) paths.push(random() < 0.5 ? '/health' : random() < 0.8 ? `/api/items/${i}` : random() < 0.5 ? '/nope' : '/api/nope');
      }
      try {
        if (order === 'random and concurrent') await Promise.all(paths.map((p) => get(url + p, many)));
        else for (const p of paths) await get(url + p, one);
        const items = paths.filter((p) => p.startsWith('/api/items/')).length;
        const apiMisses = paths.filter((p) => p === '/api/nope').length;
        const expected: Record<string, number> = { 'GET /api/items/:id 2xx ok': items };
        if (apiMisses > 0) expected['GET unmatched 4xx ok'] = apiMisses;
        await flushUntil(c, () => sum(counterTotals(c.windows, REQUESTS, LABELS)) >= items + apiMisses, () => counterTotals(c.windows, REQUESTS, LABELS));
        // Time for a wrongly counted /health to land too.
        await new Promise((resolve) => setTimeout(resolve, 50));
        await c.metrics.flush();
        expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual(expected);
        expect(gaugeLast(c.windows, ACTIVE)).toBe(0);
      } finally {
        one.destroy();
        many.destroy();
        await close(server);
        await c.metrics.shutdown();
      }
    });
  }

  it('never holds an uncovered request in active_requests', async () => {
    const { c, server, url, held } = await start();
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    try {
      await get(`${url}/api/items/1`, agent);
      await get(`${url}/api/items/2`, agent);
      const pending = [get(`${url}/health/hold`, agent), get(`${url}/health/hold`, agent)];
      while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      await c.metrics.flush();
      expect(seriesOf(c.windows, ACTIVE).at(-1)?.last).toBe(0);
      expect(gaugeRange(c.windows, ACTIVE).max).toBeLessThanOrEqual(1);
      for (const res of held) res.end('done');
      await Promise.all(pending);
      await c.metrics.flush();
      expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual({ 'GET /api/items/:id 2xx ok': 2 });
    } finally {
      agent.destroy();
      await close(server);
      await c.metrics.shutdown();
    }
  });
});

describe.each([
  ['fastify 4', Fastify4 as unknown as typeof Fastify5],
  ['fastify 5', Fastify5],
] as const)('%s plugin placement', (_name, Fastify) => {
  it('covers routes declared before and after it, in child plugins too; misses what an earlier hook answers', async () => {
    const c = collectingMetrics();
    const app = Fastify({ logger: false });
    // An earlier hook that answers: the plugin's hook never runs for those requests.
    app.addHook('onRequest', (request, reply, done) => {
      if (request.headers['x-deny'] === '1') reply.code(401).send('no');
      else done();
    });
    app.get('/early/:id', async () => 'early');
    await app.register(async (child) => {
      child.get('/child/:id', async () => 'child');
    });
    await app.register(fastifyMetrics, { metrics: c.metrics });
    app.get('/late/:id', async () => 'late');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const agent = new http.Agent({ keepAlive: true });
    try {
      for (const path of ['/early/1', '/child/2', '/late/3', '/nope']) expect(await get(url + path, agent)).toBeGreaterThan(0);
      const denied = await new Promise<number>((resolve, reject) => {
        http.get(`${url}/late/4`, { agent, headers: { 'x-deny': '1' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
      expect(denied).toBe(401);
      const expected = { 'GET /early/:id 2xx ok': 1, 'GET /child/:id 2xx ok': 1, 'GET /late/:id 2xx ok': 1, 'GET unmatched 4xx ok': 1 };
      await flushUntil(c, () => sum(counterTotals(c.windows, REQUESTS, LABELS)) >= 4, () => counterTotals(c.windows, REQUESTS, LABELS));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await c.metrics.flush();
      expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual(expected);
    } finally {
      agent.destroy();
      await app.close();
      await c.metrics.shutdown();
    }
  });
});
