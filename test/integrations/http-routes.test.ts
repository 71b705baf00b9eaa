/**
 * Route labels are templates however routers are nested or mounted, over real sockets on 127.0.0.1: Express 4 and
 * 5 routers mounted on parameterised paths at two levels (plus a router mounted twice, mount-path arrays, a
 * mounted sub-app and case variants of the URL), and Fastify 4 and 5 plugins with parameterised prefixes at two
 * levels. Many distinct raw values go through every mount: the labels must not grow with them.
 */
import http from 'node:http';
import express5 from 'express';
import express4 from 'express4';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import { describe, expect, it } from 'vitest';
import { expressMetrics } from '../../src/integrations/express.js';
import { fastifyMetrics } from '../../src/integrations/fastify.js';
import { close, collectingMetrics, counterTotals, flushUntil, gaugeLast, histogramCounts, listen, sum, type Collected } from './support.js';

const REQUESTS = 'http.server.requests';
const LABELS = ['method', 'route', 'status_class', 'outcome'];

async function get(url: string): Promise<number> {
  const res = await fetch(url);
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

/** Raw values sent through the parameterised mounts; none may appear in a label. */
const ORGS = ['acme', 'globex', 'initech', 'umbrella', 'hooli', 'x%20y'];
const TEAMS = ['red', 'blue', 'green'];

describe.each([
  ['express 4', express4 as unknown as typeof express5],
  ['express 5', express5],
] as const)('%s route templates', (_name, express) => {
  it('rebuilds the template from every mount, at two parameterised levels, never from req.baseUrl', async () => {
    const c = collectingMetrics();
    const app = express();
    app.use(expressMetrics(c.metrics));

    const members = express.Router({ mergeParams: true });
    members.get('/members/:id', (_req, res) => {
      res.send('member');
    });
    const orgs = express.Router({ mergeParams: true });
    orgs.use('/teams/:team', members);
    orgs.get('/users/:id', (_req, res) => {
      res.send('user');
    });
    orgs.get('/', (_req, res) => {
      res.send('org');
    });
    app.use('/orgs/:org', orgs);

    // One router mounted at two places: each mount keeps its own template.
    const shared = express.Router();
    shared.get('/items/:itemId', (_req, res) => {
      res.send('item');
    });
    app.use('/a/:area', shared);
    app.use('/b', shared);

    // An array of mount paths, and a mounted sub-app on a parameterised path.
    const versions = express.Router();
    versions.get('/ping', (_req, res) => {
      res.send('pong');
    });
    app.use(['/v1', '/v2'], versions);
    const tenant = express();
    tenant.get('/things/:thingId', (_req, res) => {
      res.send('thing');
    });
    app.use('/tenants/:tenant', tenant);

    const server = http.createServer(app);
    const url = await listen(server);
    const expected: Record<string, number> = {};
    const add = (key: string, n = 1) => (expected[key] = (expected[key] ?? 0) + n);
    try {
      let n = 0;
      for (const org of ORGS) {
        for (const team of TEAMS) {
          expect(await get(`${url}/orgs/${org}/teams/${team}/members/${n++}`)).toBe(200);
          add('GET /orgs/:org/teams/:team/members/:id 2xx ok');
        }
        expect(await get(`${url}/orgs/${org}/users/${n++}`)).toBe(200);
        add('GET /orgs/:org/users/:id 2xx ok');
        expect(await get(`${url}/orgs/${org}`)).toBe(200);
        add('GET /orgs/:org 2xx ok');
        expect(await get(`${url}/a/${org}/items/${n++}`)).toBe(200);
        add('GET /a/:area/items/:itemId 2xx ok');
        expect(await get(`${url}/tenants/${org}/things/${n++}`)).toBe(200);
        add('GET /tenants/:tenant/things/:thingId 2xx ok');
      }
      // Case variants of the literal parts (routing ignores case by default) share the template.
      expect(await get(`${url}/ORGS/acme/Users/1`)).toBe(200);
      add('GET /orgs/:org/users/:id 2xx ok');
      expect(await get(`${url}/Orgs/acme/TEAMS/red/members/2`)).toBe(200);
      add('GET /orgs/:org/teams/:team/members/:id 2xx ok');
      expect(await get(`${url}/b/items/1`)).toBe(200);
      add('GET /b/items/:itemId 2xx ok');
      expect(await get(`${url}/v1/ping`)).toBe(200);
      add('GET /v1/ping 2xx ok');
      expect(await get(`${url}/v2/ping`)).toBe(200);
      add('GET /v2/ping 2xx ok');
      expect(await get(`${url}/orgs/acme/nothing`)).toBe(404);
      add('GET unmatched 4xx ok');

      const totals = await totalsWhen(c, sum(expected));
      expect(totals).toEqual(expected);
      for (const key of Object.keys(totals)) for (const raw of [...ORGS, ...TEAMS, 'x y']) expect(key).not.toContain(`/${raw}`);
      expect(Object.keys(histogramCounts(c.windows, 'http.server.request.duration', ['route'])).sort()).toEqual(
        [...new Set(Object.keys(expected).map((key) => key.split(' ')[1]))].sort(),
      );
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });
});

describe.each([
  ['fastify 4', Fastify4 as unknown as typeof Fastify5],
  ['fastify 5', Fastify5],
] as const)('%s route templates', (_name, Fastify) => {
  it('labels routes of plugins with parameterised prefixes at two levels by their full template', async () => {
    const c = collectingMetrics();
    const app = Fastify({ logger: false });
    await app.register(fastifyMetrics, { metrics: c.metrics });
    await app.register(
      async (orgs) => {
        await orgs.register(
          async (teams) => {
            teams.get('/members/:id', async () => 'member');
          },
          { prefix: '/teams/:team' },
        );
        orgs.get('/users/:id', async () => 'user');
      },
      { prefix: '/orgs/:org' },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    const expected: Record<string, number> = {};
    const add = (key: string) => (expected[key] = (expected[key] ?? 0) + 1);
    try {
      let n = 0;
      for (const org of ORGS) {
        for (const team of TEAMS) {
          expect(await get(`${url}/orgs/${org}/teams/${team}/members/${n++}`)).toBe(200);
          add('GET /orgs/:org/teams/:team/members/:id 2xx ok');
        }
        expect(await get(`${url}/orgs/${org}/users/${n++}`)).toBe(200);
        add('GET /orgs/:org/users/:id 2xx ok');
      }
      expect(await get(`${url}/orgs/acme/nothing`)).toBe(404);
      add('GET unmatched 4xx ok');
      expect(await totalsWhen(c, sum(expected))).toEqual(expected);
    } finally {
      await app.close();
      await c.metrics.shutdown();
    }
  });
});

describe('express 5 with a router that keeps no mount pattern (router < 2.3)', () => {
  it('replaces whole-segment parameters, and never lets a raw value through when it cannot', async () => {
    const c = collectingMetrics();
    const app = express5();
    app.use(expressMetrics(c.metrics));
    const users = express5.Router();
    users.get('/users/:id', (_req, res) => {
      res.send('user');
    });
    app.use('/orgs/:org', users);
    const files = express5.Router();
    files.get('/raw', (_req, res) => {
      res.send('file');
    });
    app.use('/files/:name.:ext', files);
    // What router 2.0-2.2 layers look like: no rawPath.
    for (const layer of (app as unknown as { router: { stack: Array<{ rawPath?: unknown }> } }).router.stack) delete layer.rawPath;
    const server = http.createServer(app);
    const url = await listen(server);
    try {
      for (const org of ORGS) expect(await get(`${url}/orgs/${org}/users/7`)).toBe(200);
      expect(await get(`${url}/files/report.pdf/raw`)).toBe(200);
      expect(await get(`${url}/files/notes.txt/raw`)).toBe(200);
      // Parameters inside a segment cannot be told from literal text: the mount is dropped, the route's own path stays.
      expect(await totalsWhen(c, ORGS.length + 2)).toEqual({ 'GET /orgs/:org/users/:id 2xx ok': ORGS.length, 'GET /raw 2xx ok': 2 });
    } finally {
      await close(server);
      await c.metrics.shutdown();
    }
  });
});
