/**
 * The live page: a small node:http service (a pool of 16 workers, so bursts queue) with an internal load generator
 * that surges every 30 s, and the dashboard sink with the scaling thresholds drawn in. Open the printed URL.
 *
 *   npx tsx examples/dashboard.ts                  # http://127.0.0.1:9465/ until Ctrl-C
 *   npx tsx examples/dashboard.ts --port 0 --seconds 60
 *
 * In a pod, keep the default loopback host and reach it with `kubectl port-forward pod/<name> 9465`.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { createMetrics, instrumentHttpServer } from '../src/index.js';
import { dashboardSink } from '../src/sinks/dashboard/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, port: { type: 'string', default: '9465' } } });

const dashboard = dashboardSink({
  port: Number(values.port),
  // The same numbers as the KEDA triggers (examples/k8s): where the service should scale out.
  thresholds: { inflight: 60, p99Ms: 250, sse: 40, queueDepth: 50 },
});
const metrics = createMetrics({ service: 'example-checkout', sinks: [dashboard] });

const POOL = 16;
let busy = 0;
const waiting: Array<() => void> = [];
metrics.gauge('queue.depth', { unit: '{job}', observe: () => waiting.length });
const job = (ms: number) =>
  new Promise<void>((resolve) => {
    const run = () => {
      busy++;
      setTimeout(() => {
        busy--;
        waiting.shift()?.();
        resolve();
      }, ms);
    };
    if (busy < POOL) run();
    else waiting.push(run);
  });

const server = http.createServer((req, res) => {
  if (req.url === '/events') {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const ticker = setInterval(() => res.write(`data: ${Date.now()}\n\n`), 1000);
    res.on('close', () => clearInterval(ticker));
    return;
  }
  void job(10 + Math.random() * 30).then(() => res.end('ok'));
});
instrumentHttpServer(server, metrics, { route: (req) => (req.url === '/events' ? '/events' : '/pay') });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as { port: number };

// Load: 150 req/s, 800 req/s for 6 s every 30 s; SSE viewers come and go.
const agent = new http.Agent({ keepAlive: true, maxSockets: 2000 });
const started = Date.now();
const viewers: http.ClientRequest[] = [];
const load = setInterval(() => {
  const t = ((Date.now() - started) / 1000) % 30;
  const rate = t >= 20 && t < 26 ? 800 : 150;
  for (let i = 0; i < rate / 50; i++) http.get({ host: '127.0.0.1', port, path: '/pay', agent }, (r) => r.resume()).on('error', () => {});
}, 20);
const audience = setInterval(() => {
  if (Math.random() < 0.6) viewers.push(http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (r) => r.resume()).on('error', () => {}));
  else viewers.splice(Math.floor(Math.random() * viewers.length), 1)[0]?.destroy();
}, 400);

await dashboard.ready;
console.log(`dashboard: ${dashboard.url ?? '(not listening, see the warning above)'}`);

const stop = async () => {
  clearInterval(load);
  clearInterval(audience);
  viewers.forEach((v) => v.destroy());
  agent.destroy();
  server.closeAllConnections();
  server.close();
  await metrics.shutdown();
  process.exit(0);
};
process.once('SIGINT', stop);
if (values.seconds !== undefined) setTimeout(stop, Number(values.seconds) * 1000);
