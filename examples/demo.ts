/**
 * The scalesignal demo: a small node:http service with a bounded worker pool, instrumented by hand, and an
 * internal load generator that makes a traffic surge. Watch in-flight requests, request rate, P99 latency and
 * the queue depth rise within a second or two of the surge, in the console table printed every second
 * (and on the Prometheus endpoint, if the sink is available).
 *
 *   npm run demo                  # 20 s
 *   npm run demo -- --seconds 40
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { consoleSink, createMetrics, type Sink } from '../src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '20' } } });
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds < 3) {
  console.error('--seconds must be a number >= 3');
  process.exit(2);
}

const interesting = new Set([
  'http.server.active_requests',
  'http.server.requests',
  'http.server.request.duration',
  'queue.depth',
  'nodejs.eventloop.delay.p99',
]);
const sinks: Sink[] = [consoleSink({ filter: (s) => interesting.has(s.name) })];
const prometheus = await optionalPrometheusSink();
if (prometheus) sinks.push(prometheus);

const metrics = createMetrics({ service: 'demo-checkout', sinks });

// --- the service -------------------------------------------------------------------------------
const activeRequests = metrics.gauge('http.server.active_requests', { unit: '{request}' }).bind();
const requests = metrics.counter('http.server.requests', { unit: '{request}' });
const duration = metrics.histogram('http.server.request.duration', { unit: 'ms' });
const payOk = requests.bind({ route: '/pay', status: '2xx' });
const payLatency = duration.bind({ route: '/pay' });

// A pool of 16 "workers", each job ~20 ms: about 800 jobs/s of capacity; beyond that, jobs queue.
const POOL = 16;
let busy = 0;
const waiting: Array<() => void> = [];
metrics.gauge('queue.depth', { unit: '{job}', observe: () => waiting.length });

function runJob(): Promise<void> {
  return new Promise((resolve) => {
    const start = () => {
      busy++;
      setTimeout(() => {
        busy--;
        waiting.shift()?.();
        resolve();
      }, 15 + Math.random() * 10);
    };
    if (busy < POOL) start();
    else waiting.push(start);
  });
}

const server = http.createServer(async (req, res) => {
  activeRequests.add(1);
  const stop = payLatency.startTimer();
  await runJob();
  res.end('ok');
  stop();
  payOk.add(1);
  activeRequests.add(-1);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };

// --- the load generator: 200 req/s, then a surge to 1,200 req/s, then back ------------------------
const agent = new http.Agent({ keepAlive: true, maxSockets: 2000 });
const surgeAt = Math.min(8, Math.floor(seconds / 3));
const surgeFor = Math.min(6, Math.max(2, Math.floor(seconds / 3)));
const startedAt = Date.now();
let stopping = false;
const rateAt = (t: number) => (t >= surgeAt && t < surgeAt + surgeFor ? 1200 : 200);

function fire(): void {
  const req = http.get({ host: '127.0.0.1', port, path: '/pay', agent }, (res) => res.resume());
  req.on('error', () => {});
}
let announced = false;
const load = setInterval(() => {
  const t = (Date.now() - startedAt) / 1000;
  if (!announced && t >= surgeAt) {
    announced = true;
    console.log(`\n▲ surge: ${rateAt(t)} req/s from ${new Date().toISOString().slice(11, 19)} for ${surgeFor} s\n`);
  }
  for (let i = 0; i < rateAt(t) / 100; i++) fire();
}, 10);

if (prometheus && 'url' in prometheus) console.log(`Prometheus endpoint: ${(prometheus as { url?: string }).url}`);
console.log(`demo service on http://127.0.0.1:${port}/pay for ${seconds} s; surge at +${surgeAt} s\n`);

setTimeout(async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(load);
  agent.destroy();
  server.closeAllConnections();
  server.close();
  await metrics.shutdown();
  process.exit(0);
}, seconds * 1000);

/** The Prometheus sink, when this build has it; the demo works on the console alone otherwise. */
async function optionalPrometheusSink(): Promise<Sink | undefined> {
  try {
    const module = (await import('../src/index.js')) as Record<string, unknown>;
    const factory = module.prometheusSink as ((options: object) => Sink & { ready?: Promise<void> }) | undefined;
    if (!factory) return undefined;
    const sink = factory({ port: Number(process.env.PROMETHEUS_PORT ?? 9464) });
    await sink.ready?.catch(() => undefined);
    return sink;
  } catch {
    return undefined;
  }
}
