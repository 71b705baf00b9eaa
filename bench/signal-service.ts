/**
 * One "pod" of bench/signal.ts, in its own process (its own CPU counter and event loop): an HTTP service
 * instrumented with `instrumentHttpServer`, doing real CPU work per request and waiting on a small connection
 * pool (an I/O-bound service: in-flight and P99 rise with load long before CPU does), an SSE endpoint, and an
 * in-process job queue read the way a remote backlog is (an async observed gauge answering after ~20 ms, like an
 * SQS GetQueueAttributes call). Every sink of the SDK is attached, each to its loopback receiver; prom-client's
 * default process metrics are served at /process-metrics for the CPU signal.
 *
 * Parent -> child IPC: { queue: true | false } starts / stops the producer. Child -> parent: { ready: {...ports} }.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import promClient from 'prom-client';
import { cloudWatchSink, createMetrics, emfSink, instrumentHttpServer, otlpSink, prometheusSink } from '../src/index.js';

const env = process.env;
const service = env.SERVICE!;
/** CPU burnt per request, ms. */
const WORK_MS = Number(env.WORK_MS ?? 2);
/** A pool of this many "connections", each held this long: capacity = POOL / HOLD_MS requests per ms. */
const POOL = Number(env.POOL ?? 8);
const HOLD_MS = Number(env.HOLD_MS ?? 50);
const CONSUME_PER_S = 100;
const PRODUCE_PER_S = 400;

const prom = prometheusSink({ port: 0, host: '127.0.0.1' });
const quiet = { warn: () => undefined, info: () => undefined };
const metrics = createMetrics({
  service,
  logger: quiet,
  sinks: [
    prom,
    otlpSink({ url: env.OTLP_URL!, temporality: 'delta' }),
    emfSink({ agentEndpoint: env.EMF_ENDPOINT! }),
    cloudWatchSink({ name: 'cloudwatch', endpoint: env.CW1_URL!, fleetSize: 1, region: 'eu-west-1', logger: quiet }),
    cloudWatchSink({ name: 'cloudwatch-1000', endpoint: env.CW1000_URL!, fleetSize: 1000, region: 'eu-west-1', logger: quiet }),
  ],
});

// CPU work: sha256 iterations per CPU-millisecond, measured after a warm-up (process CPU time, not wall time:
// the machine is shared, and a wall-clock calibration under contention would undercount the work).
const block = Buffer.alloc(1024, 7);
function burn(iterations: number): void {
  let h = block;
  for (let i = 0; i < iterations; i++) h = createHash('sha256').update(h).digest();
}
burn(20_000);
const before = process.cpuUsage();
burn(20_000);
const used = process.cpuUsage(before);
const perCpuMs = 20_000 / ((used.user + used.system) / 1000);
const WORK_ITERATIONS = Math.max(1, Math.round(perCpuMs * WORK_MS));

let free = POOL;
const waiting: Array<() => void> = [];
const acquire = () => (free > 0 ? (free--, Promise.resolve()) : new Promise<void>((r) => waiting.push(r)));
const release = () => {
  const next = waiting.shift();
  if (next) next();
  else free++;
};

const queue: number[] = [];
let producing = false;
/** Reported once per filling: when the backlog first reached the target (the ground truth for detection). */
const QUEUE_TARGET = Number(env.QUEUE_TARGET ?? 100);
let crossedReported = false;
setInterval(() => {
  for (let i = 0; i < CONSUME_PER_S / 100 && queue.length > 0; i++) queue.shift();
  if (producing) for (let i = 0; i < PRODUCE_PER_S / 100; i++) queue.push(i);
  if (producing && !crossedReported && queue.length >= QUEUE_TARGET) {
    crossedReported = true;
    process.send!({ queueCrossed: Date.now() });
  }
}, 10).unref();
metrics.gauge('queue.depth', {
  unit: '{message}',
  observe: async () => {
    await new Promise((r) => setTimeout(r, 20));
    return [{ value: queue.length, labels: { queue: 'jobs' } }];
  },
});

const registry = new promClient.Registry();
promClient.collectDefaultMetrics({ register: registry });

/** Requests this server is working on, counted as the SDK counts them (arrival to response end). */
let inFlight = 0;
const INFLIGHT_TARGET = Number(env.INFLIGHT_TARGET ?? 20);
let inflightReported = true;

const server = http.createServer(async (req, res) => {
  if (req.url === '/events') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write(': open\n\n');
    return;
  }
  if (req.url === '/process-metrics') {
    res.setHeader('Content-Type', registry.contentType);
    res.end(await registry.metrics());
    return;
  }
  // Ground truth for the in-flight signal, as this server sees it (a busy event loop admits requests late).
  if (++inFlight >= INFLIGHT_TARGET && !inflightReported) {
    inflightReported = true;
    process.send!({ inflightCrossed: Date.now() });
  }
  res.on('close', () => inFlight--);
  burn(WORK_ITERATIONS);
  await acquire();
  setTimeout(() => {
    release();
    res.end('ok');
  }, HOLD_MS);
});
server.keepAliveTimeout = 60_000;
instrumentHttpServer(server, metrics, { route: (req) => (req.url === '/work' ? '/work' : req.url === '/events' ? '/events' : undefined) });
server.listen(0, '127.0.0.1', async () => {
  await prom.ready;
  process.send!({ ready: { http: (server.address() as AddressInfo).port, metrics: prom.port, workIterations: WORK_ITERATIONS } });
});

process.on('message', (m: { queue?: boolean; exit?: boolean }) => {
  if (m.queue === true) {
    producing = true;
    crossedReported = false;
    inflightReported = false;
  }
  if (m.queue === false) {
    producing = false;
    queue.length = 0; // the backlog is worked off by the new pods: start the next trial from empty
  }
  if (m.exit) {
    server.closeAllConnections();
    server.close();
    void metrics.shutdown().then(() => process.exit(0));
  }
});
