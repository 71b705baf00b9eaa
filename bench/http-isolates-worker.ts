/**
 * One app of bench/http-isolates.ts, in a worker thread of its own (its own V8 isolate). Bundled by esbuild before
 * it runs (tsx does not load TypeScript in Node 20's workers). Reports its own thread's CPU time, read from
 * /proc/thread-self/schedstat (ns on the CPU, user and system), so the other app's thread is never charged.
 *
 * Setups:
 *   bare          the app alone
 *   scalesignal   createMetrics (defaults, a Prometheus sink on port 0) and the middleware or plugin
 *   noop-hook     createMetrics as above, but only a no-op hook (Fastify onRequest, Express middleware): what an
 *                 isolate that loaded and started scalesignal costs with none of its code on the request path
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { document } from './realistic-document.js';

export type IsolateSetup = 'bare' | 'scalesignal' | 'noop-hook';
export interface IsolateWorkerData {
  readonly setup: IsolateSetup;
  readonly framework: 'fastify' | 'express';
  readonly handler: 'hello' | 'realistic';
  readonly bundle: string;
}

const threadCpuNs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const { setup, framework, handler, bundle } = workerData as IsolateWorkerData;
const port = parentPort!;

let lib: typeof import('../src/index.js') | undefined;
let metrics: import('../src/index.js').Metrics | undefined;
if (setup !== 'bare') {
  lib = (await import(pathToFileURL(bundle).href)) as typeof import('../src/index.js');
  metrics = lib.createMetrics({ service: 'bench', sinks: [lib.prometheusSink({ port: 0, host: '127.0.0.1' })] });
}
const answer = (id: string) => (handler === 'hello' ? 'hello world' : document(id));

let listening: number;
if (framework === 'fastify') {
  const { default: Fastify } = await import('fastify');
  const app = Fastify();
  if (setup === 'scalesignal') await app.register(lib!.fastifyMetrics, { metrics: metrics! });
  if (setup === 'noop-hook') app.addHook('onRequest', (_request, _reply, done) => done());
  app.get<{ Params: { id: string } }>('/users/:id', async (request) => answer(request.params.id));
  await app.listen({ port: 0, host: '127.0.0.1' });
  listening = (app.server.address() as { port: number }).port;
} else {
  const { default: express } = await import('express');
  const app = express();
  if (setup === 'scalesignal') app.use(lib!.expressMetrics(metrics!));
  if (setup === 'noop-hook') app.use((_req, _res, next) => next());
  app.get('/users/:id', (req, res) => void (handler === 'hello' ? res.send('hello world') : res.json(answer(req.params.id))));
  listening = await new Promise<number>((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

let mark = threadCpuNs();
port.on('message', (message: string) => {
  if (message === 'mark') mark = threadCpuNs();
  port.postMessage(threadCpuNs() - mark);
});
port.postMessage(listening);
