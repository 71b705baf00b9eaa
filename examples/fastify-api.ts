/**
 * A Fastify 5 API with the built-in indicators (the plugin works on Fastify 4 too), printed every second, with a
 * small load generator. Register the plugin before your routes.
 *
 *   npx tsx examples/fastify-api.ts               # until Ctrl-C
 *   npx tsx examples/fastify-api.ts --seconds 10
 */
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { consoleSink, createMetrics, fastifyMetrics } from '../src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, port: { type: 'string', default: '0' } } });
const metrics = createMetrics({
  service: 'example-fastify',
  sinks: [consoleSink({ filter: (s) => /^(http\.server|nodejs\.eventloop\.(delay\.p99|utilization))/.test(s.name) })],
});

const app = Fastify({ logger: false });
await app.register(fastifyMetrics, { metrics });

app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
await app.register(
  async (orders) => {
    orders.post('/', async (_request, reply) => {
      reply.code(201);
      return { created: true };
    });
    orders.get('/:orderId', async (request) => {
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 40)); // a slow dependency
      return { order: (request.params as { orderId: string }).orderId };
    });
  },
  { prefix: '/orders' },
);
app.get('/boom', async () => {
  throw new Error('boom'); // outcome "thrown" (the plugin's onError hook)
});

await app.listen({ port: Number(values.port), host: '127.0.0.1' });
const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
console.log(`listening on ${base} (try ${base}/users/1, ${base}/orders/7, ${base}/boom)`);

const traffic = setInterval(() => {
  const roll = Math.random();
  const path = roll < 0.5 ? `/users/${Math.floor(Math.random() * 1000)}` : roll < 0.9 ? `/orders/${Math.floor(Math.random() * 100)}` : roll < 0.95 ? '/boom' : '/nope';
  const signal = Math.random() < 0.02 ? AbortSignal.timeout(3) : undefined;
  fetch(base + path, { signal })
    .then((r) => r.arrayBuffer())
    .catch(() => {});
  if (Math.random() < 0.2) fetch(`${base}/orders`, { method: 'POST' }).then((r) => r.arrayBuffer(), () => {});
}, 20);

async function stop(): Promise<void> {
  clearInterval(traffic);
  app.server.closeAllConnections();
  await app.close();
  await metrics.shutdown();
  process.exit(0);
}
process.once('SIGINT', () => void stop());
if (values.seconds !== undefined) setTimeout(() => void stop(), Number(values.seconds) * 1000);
