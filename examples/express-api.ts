/**
 * An Express 5 API with the built-in indicators: in-flight requests, requests by route template / status class /
 * outcome, P50..P99 latency per route, event-loop delay and utilisation, printed every second. A small load
 * generator calls it so there is something to see; open the printed URL yourself too.
 *
 *   npx tsx examples/express-api.ts               # until Ctrl-C
 *   npx tsx examples/express-api.ts --seconds 10
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import express from 'express';
import { consoleSink, createMetrics, expressMetrics } from '../src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, port: { type: 'string', default: '0' } } });
const metrics = createMetrics({
  service: 'example-express',
  sinks: [consoleSink({ filter: (s) => /^(http\.server|nodejs\.eventloop\.(delay\.p99|utilization))/.test(s.name) })],
});

const app = express();
const tracking = expressMetrics(metrics); // first, before any route
app.use(tracking);
app.use(express.json());

app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id });
});
const orders = express.Router();
orders.post('/', (req, res) => {
  res.status(201).json({ created: true, items: Array.isArray(req.body?.items) ? req.body.items.length : 0 });
});
orders.get('/:orderId', async (req, res) => {
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 40)); // a slow dependency
  res.json({ order: req.params.orderId });
});
app.use('/orders', orders);
// Mounted on a parameterised path: labelled by its template, /orgs/:org/members/:memberId, never /orgs/acme/...
const members = express.Router({ mergeParams: true });
members.get('/members/:memberId', (req, res) => {
  res.json({ org: (req.params as Record<string, string>).org, member: req.params.memberId });
});
app.use('/orgs/:org', members);
app.get('/boom', () => {
  throw new Error('boom');
});

app.use(tracking.errorHandler); // classifies errors as outcome "thrown"; before your own error handlers
app.use((_err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
  res.status(500).json({ error: 'internal' });
});

const server = http.createServer(app);
await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
console.log(`listening on ${base} (try ${base}/users/1, ${base}/orders/7, ${base}/orgs/acme/members/3, ${base}/boom)`);

// Light traffic: about 50 requests a second over a few routes, a few failing, a few abandoned by the client.
const traffic = setInterval(() => {
  const roll = Math.random();
  const org = ['acme', 'globex', 'initech'][Math.floor(Math.random() * 3)];
  const path =
    roll < 0.4
      ? `/users/${Math.floor(Math.random() * 1000)}`
      : roll < 0.6
        ? `/orgs/${org}/members/${Math.floor(Math.random() * 50)}`
        : roll < 0.9
          ? `/orders/${Math.floor(Math.random() * 100)}`
          : roll < 0.95
            ? '/boom'
            : '/nope';
  const signal = Math.random() < 0.02 ? AbortSignal.timeout(3) : undefined;
  fetch(base + path, { signal })
    .then((r) => r.arrayBuffer())
    .catch(() => {});
  if (Math.random() < 0.2) fetch(`${base}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"items":[1,2]}' }).then((r) => r.arrayBuffer(), () => {});
}, 20);

async function stop(): Promise<void> {
  clearInterval(traffic);
  tracking.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await metrics.shutdown();
  process.exit(0);
}
process.once('SIGINT', () => void stop());
if (values.seconds !== undefined) setTimeout(() => void stop(), Number(values.seconds) * 1000);
