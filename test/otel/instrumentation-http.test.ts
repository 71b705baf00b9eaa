/**
 * `metrics.setGlobalMeterProvider(createMeterProvider(metrics))` with @opentelemetry/instrumentation-http and a
 * library using the API directly (fixtures/http-server-metrics.ts), over real sockets on 127.0.0.1. Requests are
 * counted where they are sent and where the server handles them; what arrives in the windows must match exactly:
 * `http.server.request.duration` and `http.client.request.duration` counts per attribute set, and
 * `http.server.active_requests` at its peak and back at zero. The global provider is a tee, so the official SDK
 * aggregates the very same measurements and the histograms' count, min, max and sum are compared with it.
 *
 * instrumentation-http (0.223) itself emits only the duration histograms; `http.server.active_requests` comes from
 * the fixture library.
 */
import { once } from 'node:events';
import type * as HttpModule from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { metrics as otel } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Metrics } from '../../src/core/api.js';
import type { Window } from '../../src/core/window.js';
import { createMeterProvider } from '../../src/otel/index.js';
import { instrumentServer } from './fixtures/http-server-metrics.js';
import { expectedLabels, sdkReference, sleep, teeMeterProvider, totals } from './support.js';

const HELD = 8;
const CONCURRENCY = 4;

let metrics: Metrics;
let windows: Window[];
let sdk: ReturnType<typeof sdkReference>;
let instrumentation: HttpInstrumentation;
let http: typeof HttpModule;
let server: HttpModule.Server;
let base: string;
let port: number;
let handled = 0;
const held: HttpModule.ServerResponse[] = [];
const heldArrived: Array<() => void> = [];

beforeAll(async () => {
  windows = [];
  metrics = createMetrics({ sinks: [{ name: 'collect', export: (b) => void windows.push(...b) }], eventLoop: false, logger: { warn() {} } });
  sdk = sdkReference();
  // The provider must be global before instrumentations and libraries take their meters.
  expect(otel.setGlobalMeterProvider(teeMeterProvider(createMeterProvider(metrics), sdk.provider))).toBe(true);
  instrumentation = new HttpInstrumentation();
  // require() goes through the hook instrumentation-http installed: this is the patched module.
  http = createRequire(import.meta.url)('node:http') as typeof HttpModule;
  expect((http.Server.prototype.emit as { __wrapped?: boolean }).__wrapped).toBe(true);

  server = http.createServer((req, res) => {
    handled++;
    req.resume();
    req.on('end', () => {
      if (req.url === '/hold') {
        held.push(res);
        heldArrived.shift()?.();
        return;
      }
      res.statusCode = req.url === '/missing' ? 404 : req.url === '/fail' ? 500 : 200;
      res.end('ok');
    });
  });
  instrumentServer(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  instrumentation?.disable();
  otel.disable();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await metrics?.shutdown();
});

/** One request on its own connection; resolves with the status once the body is read. */
function send(method: string, path: string, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('instrumentation-http and an API-direct library through the global provider', () => {
  it('deliver every request to the windows exactly, as the SDK aggregates the same measurements', async () => {
    const plan: Array<[string, string, string]> = [];
    for (let i = 0; i < 60; i++) {
      const path = i % 5 === 0 ? '/missing' : i % 7 === 0 ? '/fail' : '/ok';
      plan.push([i % 3 === 0 ? 'POST' : 'GET', path, i % 3 === 0 ? 'x'.repeat(i) : '']);
    }
    const sent = new Map<string, number>();
    for (let i = 0; i < plan.length; i += CONCURRENCY) {
      const statuses = await Promise.all(plan.slice(i, i + CONCURRENCY).map(([m, p, b]) => send(m, p, b)));
      plan.slice(i, i + CONCURRENCY).forEach(([method], j) => {
        const key = `${method} ${statuses[j]}`;
        sent.set(key, (sent.get(key) ?? 0) + 1);
      });
      if (i % 20 === 0) await sleep(400); // spread over several windows
    }

    // Requests held open: the in-flight gauge must show all of them in a sealed window.
    const arrived = Promise.all(Array.from({ length: HELD }, () => new Promise<void>((r) => heldArrived.push(r))));
    const pendingHeld = Array.from({ length: HELD }, () => send('GET', '/hold'));
    await arrived;
    const sealedWhileHeld = windows.length;
    while (windows.length < sealedWhileHeld + 2) await sleep(20);
    for (const res of held.splice(0)) res.end('late');
    await Promise.all(pendingHeld);
    for (let i = 0; i < HELD; i++) sent.set('GET 200', (sent.get('GET 200') ?? 0) + 1);
    await sleep(50);
    await metrics.flush();

    const requests = plan.length + HELD;
    expect(handled).toBe(requests);
    const reference = await sdk.collect();

    for (const [name, side] of [
      ['http.server.request.duration', 'server'],
      ['http.client.request.duration', 'client'],
    ] as const) {
      const ours = totals(windows, name);
      const theirs = reference.get(name)!;
      const counts = new Map<string, number>();
      for (const [key, t] of ours) if (t.count > 0) counts.set(key, t.count);
      // Exact per attribute set, against what was sent.
      const expected = new Map<string, number>();
      for (const [key, n] of sent) {
        const [method, status] = key.split(' ');
        const attributes =
          side === 'server'
            ? { 'http.request.method': method, 'http.response.status_code': Number(status), 'network.protocol.version': '1.1', 'url.scheme': 'http' }
            : { 'http.request.method': method, 'http.response.status_code': Number(status), 'network.protocol.version': '1.1', 'server.address': '127.0.0.1', 'server.port': port };
        // Semantic conventions: error.type is the status code for a server's 5xx and a client's 4xx and 5xx.
        const error = Number(status) >= (side === 'server' ? 500 : 400) ? { 'error.type': status } : {};
        expected.set(expectedLabels({ ...attributes, ...error }), n);
      }
      expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(expected));
      // And against the SDK: count, min, max exactly; the sum up to float addition order (windows are summed separately).
      for (const [labels, point] of theirs) {
        const t = ours.get(labels)!;
        expect({ labels, count: t.count, min: t.min, max: t.max }).toEqual({ labels, count: point.count, min: point.min, max: point.max });
        expect(Math.abs(t.sum - point.sum!)).toBeLessThanOrEqual(1e-12 * point.sum!);
      }
      expect([...theirs.values()].reduce((a, p) => a + p.count!, 0)).toBe(requests);
    }

    // The API-direct library: the in-flight UpDownCounter peaks at the held requests in a sealed window, ends at 0.
    const get = expectedLabels({ 'http.request.method': 'GET', 'url.scheme': 'http' });
    const post = expectedLabels({ 'http.request.method': 'POST', 'url.scheme': 'http' });
    const active = totals(windows, 'http.server.active_requests');
    expect(active.get(get)).toMatchObject({ max: HELD, last: 0, count: 2 * (sent.get('GET 200')! + sent.get('GET 404')! + (sent.get('GET 500') ?? 0)) });
    expect(active.get(post)?.last).toBe(0);
    const heldWindow = windows
      .slice(sealedWhileHeld)
      .flatMap((w) => w.series)
      .find((s) => s.name === 'http.server.active_requests' && s.labels['http.request.method'] === 'GET' && s.count === 0);
    expect(heldWindow?.last).toBe(HELD); // a whole window with all of them in flight and nothing changing
    expect(reference.get('http.server.active_requests')!.get(get)?.value).toBe(0);
    // Its body-size histogram: bytes exactly as sent.
    const bodies = totals(windows, 'http.server.request.body.size');
    const postBytes = plan.filter(([m]) => m === 'POST').reduce((a, [, , b]) => a + b.length, 0);
    const postSum = [...bodies].filter(([k]) => k.includes('"POST"')).reduce((a, [, t]) => a + t.sum, 0);
    expect(postSum).toBe(postBytes);
  });
});
