/**
 * Request indicators on Express 4 and 5 and Fastify 4 and 5, against real servers on 127.0.0.1: every request that
 * starts is counted exactly once whichever way it ends, labels carry route templates (never raw URLs), and
 * errors, 5xx answers and client aborts are told apart.
 */
import { once } from 'node:events';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expressFramework, FRAMEWORKS, ROUTES, type App } from './frameworks.js';
import express5 from 'express';
import express4 from 'express4';
import {
  collectingMetrics,
  counterTotals,
  flushUntil,
  gaugeLast,
  gaugeRange,
  histogramCounts,
  rng,
  seriesOf,
  sum,
  type Collected,
} from './support.js';

const REQUESTS = 'http.server.requests';
const DURATION = 'http.server.request.duration';
const ACTIVE = 'http.server.active_requests';
const LABELS = ['method', 'route', 'status_class', 'outcome'];

async function call(base: string, method: string, path: string): Promise<number> {
  const res = await fetch(base + path, { method });
  await res.arrayBuffer();
  return res.status;
}

/** A request on its own socket, so destroying it aborts exactly this request. */
function openRequest(base: string, path: string): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const req = http.request(base + path, { agent: false });
  req.on('error', () => {});
  const response = new Promise<IncomingMessage>((resolve) => req.on('response', resolve));
  req.end();
  return { req, response };
}

async function untilOpen(app: App, count: number): Promise<void> {
  while (app.open.length < count) await once(app.events, 'open');
}

describe.each(FRAMEWORKS)('$name', (framework) => {
  let c: Collected;
  let app: App;

  beforeEach(async () => {
    c = collectingMetrics();
    app = await framework.start(c.metrics);
  });
  afterEach(async () => {
    await app.close();
    await c.metrics.shutdown();
  });

  it('counts every request once, by route template, status class and outcome', async () => {
    const random = rng(7);
    const id = () => String(Math.floor(random() * 1e6));
    const calls: Array<[string, string]> = [];
    for (let i = 0; i < 20; i++) calls.push(['GET', `/users/${id()}`]);
    for (let i = 0; i < 5; i++) calls.push(['POST', '/users']);
    for (let i = 0; i < 10; i++) calls.push(['GET', `/api/items/${id()}?q=${id()}`]);
    for (let i = 0; i < 3; i++) calls.push(['GET', '/boom']);
    for (let i = 0; i < 4; i++) calls.push(['GET', '/unavailable']);
    for (let i = 0; i < 6; i++) calls.push(['GET', `/nope/${id()}`]);
    for (let i = 0; i < 2; i++) calls.push(['DELETE', `/users/${id()}`]);
    const statuses = await Promise.all(calls.map(([method, path]) => call(app.url, method, path)));
    expect(statuses.filter((s) => s === 500)).toHaveLength(3);

    // Aborted by the client: 5 before any byte of the response, 3 after the head and part of the body.
    const before = Array.from({ length: 5 }, () => openRequest(app.url, '/hold'));
    await untilOpen(app, 5);
    for (const { req } of before) req.destroy();
    const after = Array.from({ length: 3 }, () => openRequest(app.url, '/hold?head=1'));
    await Promise.all(after.map(({ response }) => response));
    for (const { req } of after) req.destroy();

    const expected = {
      'GET /users/:id 2xx ok': 20,
      'POST /users 2xx ok': 5,
      'GET /api/items/:itemId 2xx ok': 10,
      'GET /boom 5xx thrown': 3,
      'GET /unavailable 5xx 5xx': 4,
      'GET unmatched 4xx ok': 6,
      'DELETE unmatched 4xx ok': 2,
      'GET /hold none aborted': 5,
      'GET /hold 2xx aborted': 3,
    };
    const total = sum(expected);
    await flushUntil(
      c,
      () => sum(counterTotals(c.windows, REQUESTS, LABELS)) >= total && gaugeLast(c.windows, ACTIVE) === 0,
      () => counterTotals(c.windows, REQUESTS, LABELS),
    );
    await new Promise((r) => setTimeout(r, 50));
    await c.metrics.flush();
    expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual(expected);
    // One duration per finished request, by method and route only.
    expect(histogramCounts(c.windows, DURATION, ['method', 'route'])).toEqual({
      'GET /users/:id': 20,
      'POST /users': 5,
      'GET /api/items/:itemId': 10,
      'GET /boom': 3,
      'GET /unavailable': 4,
      'GET unmatched': 6,
      'DELETE unmatched': 2,
      'GET /hold': 8,
    });
    for (const s of seriesOf(c.windows, REQUESTS)) {
      expect(ROUTES.includes(s.labels.route) || s.labels.route === 'unmatched').toBe(true);
    }
    const active = gaugeRange(c.windows, ACTIVE);
    expect(active.min).toBeGreaterThanOrEqual(0);
    expect(gaugeLast(c.windows, ACTIVE)).toBe(0);
  });

  it('holds the exact number of in-flight requests as the window max and last', async () => {
    const k = 37;
    const clients = Array.from({ length: k }, () => openRequest(app.url, '/hold'));
    await untilOpen(app, k);
    await c.metrics.flush();
    const held = seriesOf(c.windows, ACTIVE).at(-1);
    expect(held?.last).toBe(k);
    expect(gaugeRange(c.windows, ACTIVE).max).toBe(k);
    for (const { res } of app.open) res.end('done');
    await Promise.all(clients.map(({ response }) => response));
    await flushUntil(c, () => gaugeLast(c.windows, ACTIVE) === 0, () => gaugeLast(c.windows, ACTIVE));
    expect(gaugeRange(c.windows, ACTIVE)).toEqual({ min: 0, max: k });
    expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual({ 'GET /hold 2xx ok': k });
  });

  it('finishes every request exactly once under random endings', async () => {
    const random = rng(2024);
    const n = 300;
    // 0 completes, 1 client abort before the head, 2 client abort after the head, 3 server end, 4 server destroy.
    const fates = Array.from({ length: n }, () => Math.floor(random() * 5));
    const expected: Record<string, number> = {};
    const add = (key: string) => (expected[key] = (expected[key] ?? 0) + 1);
    const clients: Array<{ req: ClientRequest; response: Promise<IncomingMessage> } | undefined> = [];
    const finished: Array<Promise<unknown>> = [];
    for (let i = 0; i < n; i++) {
      const fate = fates[i];
      if (fate === 0) {
        finished.push(call(app.url, 'GET', `/users/${i}`));
        add('GET /users/:id 2xx ok');
        clients.push(undefined);
      } else {
        const client = openRequest(app.url, `/hold?n=${i}${fate === 2 ? '&head=1' : ''}`);
        clients.push(client);
        add(fate === 3 ? 'GET /hold 2xx ok' : fate === 2 ? 'GET /hold 2xx aborted' : 'GET /hold none aborted');
      }
    }
    const holds = fates.filter((f) => f !== 0).length;
    await untilOpen(app, holds);
    for (const { res, n: i } of app.open) {
      const fate = fates[i];
      const client = clients[i]!;
      if (fate === 1) client.req.destroy();
      else if (fate === 2) void client.response.then(() => client.req.destroy());
      else if (fate === 3) res.end('bye');
      else res.destroy(new Error('server gave up'));
    }
    await Promise.all(finished);
    await flushUntil(
      c,
      () => sum(counterTotals(c.windows, REQUESTS, LABELS)) >= n && gaugeLast(c.windows, ACTIVE) === 0,
      () => counterTotals(c.windows, REQUESTS, LABELS),
    );
    await new Promise((r) => setTimeout(r, 50));
    await c.metrics.flush();
    expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual(expected);
    expect(sum(histogramCounts(c.windows, DURATION, ['method', 'route']))).toBe(n);
    expect(gaugeRange(c.windows, ACTIVE).min).toBeGreaterThanOrEqual(0);
  });
});

describe.each([
  ['express 4', express4],
  ['express 5', express5],
] as const)('%s without the error hook', (name, express) => {
  it('counts an error Express answers with 500 as outcome 5xx', async () => {
    const c = collectingMetrics();
    const app = await expressFramework(name, express as typeof express5).start(c.metrics, { errorHook: false });
    try {
      expect(await call(app.url, 'GET', '/boom')).toBe(500);
      expect(await call(app.url, 'GET', '/users/1')).toBe(200);
      await flushUntil(c, () => sum(counterTotals(c.windows, REQUESTS, LABELS)) >= 2, () => counterTotals(c.windows, REQUESTS, LABELS));
      expect(counterTotals(c.windows, REQUESTS, LABELS)).toEqual({ 'GET /boom 5xx 5xx': 1, 'GET /users/:id 2xx ok': 1 });
    } finally {
      await app.close();
      await c.metrics.shutdown();
    }
  });
});
