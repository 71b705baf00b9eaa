/**
 * CPU per request measured inside one server process, where process-to-process luck cancels. On the shared
 * 2-core microVMs this project runs on, two fresh processes of the same bare server differ by up to 30 % in CPU
 * per request, so `bench:http` (fresh servers, one per setup and round) resolves no better than ±5-10 %. Here one
 * process serves both sides of the comparison and a paced load (paced-load.ts) alternates between them in 1 s
 * blocks, order swapped every pair; the result is the median of the per-pair ratios with a 95 % bootstrap interval.
 *
 *   --compare apps     two Fastify (or Express) apps on two ports, one with scalesignal's middleware or plugin and
 *                      the event-loop sampler, one bare; the same handler. Node's shared HTTP code sees both
 *                      apps' objects, so what the middleware does to node's own code paths is charged to both
 *                      sides: this measures our per-request work, not the whole process's cost (bench:http).
 *   --compare sampler  one instrumented app; the event-loop sampler (a second createMetrics with its defaults)
 *                      started before "on" blocks and shut down before "off" blocks.
 *
 *   npm run bench:http:inprocess
 *   npm run bench:http:inprocess -- --compare sampler --rate 5000 --pairs 30
 *   npm run bench:http:inprocess -- --framework express --handler hello --rate 1500
 *
 * Writes bench/results/http-inprocess.json (--out).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleScalesignal } from './bundle.js';
import { pacedLoad } from './paced-load.js';
import { added, median, pct } from './stats.js';
import { document } from './realistic-document.js';

const here = dirname(fileURLToPath(import.meta.url));
type Framework = 'fastify' | 'express';
type Handler = 'hello' | 'realistic';
type Compare = 'apps' | 'sampler';
const PATH = '/users/42';

async function serve(framework: Framework, handler: Handler, compare: Compare): Promise<void> {
  const lib = (await import(pathToFileURL(process.env.SCALESIGNAL_BUNDLE!).href)) as typeof import('../src/index.js');
  const metrics = lib.createMetrics({ service: 'bench', sinks: [lib.prometheusSink({ port: 0, host: '127.0.0.1' })], eventLoop: compare === 'apps' });
  const answer = (id: string) => (handler === 'hello' ? 'hello world' : document(id));
  const start = async (instrumented: boolean): Promise<number> => {
    if (framework === 'fastify') {
      const { default: Fastify } = await import('fastify');
      const app = Fastify();
      if (instrumented) await app.register(lib.fastifyMetrics, { metrics });
      app.get('/users/:id', async (request) => answer((request.params as { id: string }).id));
      await app.listen({ port: 0, host: '127.0.0.1' });
      return (app.server.address() as { port: number }).port;
    }
    const { default: express } = await import('express');
    const app = express();
    if (instrumented) app.use(lib.expressMetrics(metrics));
    app.get('/users/:id', (req, res) => void (handler === 'hello' ? res.send('hello world') : res.json(answer(req.params.id))));
    return new Promise((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
  };
  const ports = compare === 'apps' ? { on: await start(true), off: await start(false) } : { on: await start(true), off: 0 };
  ports.off ||= ports.on;
  let sampler: import('../src/index.js').Metrics | undefined;
  let mark = process.cpuUsage();
  process.on('message', async (message: string) => {
    if (message === 'sampler-on') sampler ??= lib.createMetrics({ service: 'sampler', sinks: [] });
    if (message === 'sampler-off') {
      await sampler?.shutdown();
      sampler = undefined;
    }
    if (message === 'mark') mark = process.cpuUsage();
    const used = process.cpuUsage(mark);
    process.send!({ cpuMicros: used.user + used.system });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ports });
}

function ask(child: ChildProcess, message: string): Promise<{ cpuMicros: number }> {
  return new Promise((resolve) => {
    child.once('message', resolve as (m: unknown) => void);
    child.send(message);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      compare: { type: 'string', default: 'apps' },
      framework: { type: 'string', default: 'fastify' },
      handler: { type: 'string', default: 'realistic' },
      rate: { type: 'string', default: '5000' },
      pairs: { type: 'string', default: '30' },
      connections: { type: 'string', default: '50' },
      out: { type: 'string', default: join(here, 'results/http-inprocess.json') },
    },
  });
  const compare = values.compare as Compare;
  if (compare !== 'apps' && compare !== 'sampler') throw new Error(`--compare: apps or sampler, not "${values.compare}"`);
  const framework = values.framework as Framework;
  const handler = values.handler as Handler;
  const rate = Number(values.rate);
  const pairs = Number(values.pairs);
  const connections = Number(values.connections);
  // The server on CPU 1, the load generator (this process) on CPU 0.
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  const child = fork(fileURLToPath(import.meta.url), ['--serve', framework, handler, compare], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NODE_ENV: 'production', SCALESIGNAL_SINKS: '', SCALESIGNAL_BUNDLE: await bundleScalesignal() },
  });
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(child.pid)], { stdio: 'ignore' });
  const { ports } = await new Promise<{ ports: { on: number; off: number } }>((resolve) => child.once('message', resolve as (m: unknown) => void));

  const block = async (side: 'on' | 'off', seconds = 1): Promise<number> => {
    if (compare === 'sampler') await ask(child, side === 'on' ? 'sampler-on' : 'sampler-off');
    await ask(child, 'mark');
    let responses = 0;
    await pacedLoad({ url: `http://127.0.0.1:${ports[side]}${PATH}`, rate, seconds, connections, onResponse: () => void responses++ });
    return (await ask(child, 'sample')).cpuMicros / responses;
  };
  // Warm-up: both sides JIT-compiled before any block counts.
  await block('on', 3);
  await block('off', 3);
  const ratios: number[] = [];
  const perRequest = { on: [] as number[], off: [] as number[] };
  for (let p = 0; p < pairs; p++) {
    const order: Array<'on' | 'off'> = p % 2 === 0 ? ['on', 'off'] : ['off', 'on'];
    const cpu = { on: 0, off: 0 };
    for (const side of order) cpu[side] = await block(side);
    perRequest.on.push(cpu.on);
    perRequest.off.push(cpu.off);
    ratios.push(cpu.on / cpu.off - 1);
  }
  child.kill();
  const cpuAdded = added(ratios);
  const [low, high] = cpuAdded.ci95;
  const what = compare === 'apps' ? 'instrumented app vs bare app' : 'event-loop sampler on vs off';
  console.log(
    `${framework} ${handler} at ${rate} req/s, ${what}: ${pct(cpuAdded.median)} [${pct(low)}, ${pct(high)}] (${pct(cpuAdded.min)}..${pct(cpuAdded.max)}); ` +
      `CPU/request ${median(perRequest.on).toFixed(1)} vs ${median(perRequest.off).toFixed(1)} us`,
  );
  const result = {
    bench: 'http-inprocess',
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: os.loadavg(),
    config: { compare, framework, handler, rate, pairs, connections },
    cpuAdded,
    cpuMicrosPerRequest: { on: median(perRequest.on), off: median(perRequest.off) },
    ratios,
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[2] === '--serve') await serve(process.argv[3] as Framework, process.argv[4] as Handler, process.argv[5] as Compare);
else await main();
