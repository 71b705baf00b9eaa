/**
 * Server-Sent Events on plain node:http: `instrumentHttpServer` counts requests and every open
 * `text/event-stream` response in `sse.active_connections`, released exactly once however the stream ends. A
 * crowd of simulated clients connects and leaves (some abruptly) so the gauge moves; its window max shows peaks.
 * Hand-written code without the server hook can call `trackSse(metrics)(res)` per response instead.
 *
 *   npx tsx examples/sse-server.ts               # until Ctrl-C; curl -N <url>/events to join
 *   npx tsx examples/sse-server.ts --seconds 10
 */
import http, { type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { consoleSink, createMetrics, instrumentHttpServer } from '../src/index.js';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, port: { type: 'string', default: '0' } } });
const metrics = createMetrics({
  service: 'example-sse',
  sinks: [consoleSink({ filter: (s) => s.name === 'sse.active_connections' || s.name === 'http.server.requests' })],
});

const streams = new Set<ServerResponse>();
const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/events')) {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    res.write('retry: 1000\n\n');
    streams.add(res);
    res.on('close', () => streams.delete(res));
    // Some streams the server ends itself after a while.
    if (Math.random() < 0.3) setTimeout(() => res.end('event: bye\ndata: {}\n\n'), 2000 + Math.random() * 4000).unref();
    return;
  }
  res.writeHead(404).end();
});
instrumentHttpServer(server, metrics, { route: (req) => (req.url?.startsWith('/events') ? '/events' : undefined) });

// One broadcast a second to every open stream.
const ticker = setInterval(() => {
  const data = `data: ${JSON.stringify({ at: new Date().toISOString(), open: streams.size })}\n\n`;
  for (const res of streams) res.write(data);
}, 1000);

await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
console.log(`SSE on ${base}/events`);

// Simulated clients: about 20 join a second, each stays 1-8 s, a third of them drop the connection abruptly.
const clients = new Set<http.ClientRequest>();
const joiner = setInterval(() => {
  const req = http.get(`${base}/events`, { agent: false }, (res) => res.resume());
  req.on('error', () => {});
  clients.add(req);
  req.on('close', () => clients.delete(req));
  setTimeout(() => req.destroy(), 1000 + Math.random() * 7000).unref();
}, 50);

async function stop(): Promise<void> {
  clearInterval(joiner);
  clearInterval(ticker);
  for (const req of clients) req.destroy();
  for (const res of streams) res.end();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await metrics.shutdown();
  process.exit(0);
}
process.once('SIGINT', () => void stop());
if (values.seconds !== undefined) setTimeout(() => void stop(), Number(values.seconds) * 1000);
