/**
 * HTTP overhead of the built-in indicators: autocannon against hello-world Express 5 and Fastify 5 servers, each
 * run on a fresh child process (warmed, then measured), setups alternated within every round, the order rotating
 * from round to round:
 *
 *   bare            no metrics
 *   scalesignal     expressMetrics / fastifyMetrics, event-loop gauges, Prometheus sink (console sink writing
 *                   nowhere if src/sinks/prometheus.ts is absent)
 *   prom-bundle     express-prom-bundle (method + path labels)            [Express]
 *   fastify-metrics fastify-metrics with its defaults                     [Fastify]
 *   otel            @opentelemetry/instrumentation-http, metrics only (no tracer provider), sdk-metrics
 *                   MeterProvider with a 1 s periodic reader and a no-op exporter
 *   noop            (only with --setups noop) a middleware / onRequest hook doing nothing: what the framework
 *                   itself charges for one more layer
 *
 * Latency is taken from every response's own duration (float ms; autocannon's histogram keeps whole ms only),
 * p99 over the run. Per framework and setup the medians over rounds are reported, and the losses vs bare, each
 * the median over rounds of the setup's run against the same round's bare run. More short rounds rather than a
 * few long ones: on a shared machine run-to-run noise is ~10-15 %, and it is the number of runs that tames it.
 * After each run the child reports how many requests its instrumentation recorded, to prove it was active, and
 * its CPU time per request over the measured run: on a small machine one autocannon process may not saturate
 * Fastify, and then the CPU per request shows the overhead that req/s cannot.
 *
 *   npm run bench:http                       # 5 rounds x 2 s (+1 s warm-up), 50 connections, about 4 minutes
 *   npm run bench:http -- --rounds 1 --duration 2
 *   BENCH_CPU_PROF=/tmp/prof npm run bench:http -- --setups scalesignal   # children run with --cpu-prof
 *   npm run bench:http -- --no-pin            # by default the server runs on CPU 1, autocannon on CPU 0 (taskset)
 *
 * Writes bench/results/http-overhead.json; the last line printed is the summary as JSON.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

type Framework = 'express' | 'fastify';
type Setup = 'bare' | 'scalesignal' | 'prom-bundle' | 'fastify-metrics' | 'otel' | 'noop';

const SETUPS: Record<Framework, readonly Setup[]> = {
  express: ['bare', 'scalesignal', 'prom-bundle', 'otel'],
  fastify: ['bare', 'scalesignal', 'fastify-metrics', 'otel'],
};
const PATH = '/users/42';
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

// ------------------------------------------------------------------------------------------------------------
// Child: one server, one setup.
// ------------------------------------------------------------------------------------------------------------

async function serve(framework: Framework, setup: Setup): Promise<void> {
  let report: () => Promise<number | null> = async () => null;
  let instrumentExpress: ((app: import('express').Express) => void) | undefined;
  let instrumentFastify: ((app: import('fastify').FastifyInstance) => Promise<void>) | undefined;

  if (setup === 'otel') {
    // Registered before any framework loads http, so the instrumentation patches it.
    const { MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics');
    const { registerInstrumentations } = await import('@opentelemetry/instrumentation');
    const { HttpInstrumentation } = await import('@opentelemetry/instrumentation-http');
    const reader = new PeriodicExportingMetricReader({
      exporter: { export: (_m, done) => done({ code: 0 }), forceFlush: async () => {}, shutdown: async () => {} },
      exportIntervalMillis: 1000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    registerInstrumentations({ instrumentations: [new HttpInstrumentation()], meterProvider });
    require('node:http');
    report = async () => {
      const { resourceMetrics } = await reader.collect();
      let count = 0;
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (!/^http\.server\.(request\.)?duration$/.test(metric.descriptor.name)) continue;
          for (const point of metric.dataPoints) count += (point.value as { count: number }).count;
        }
      }
      return count;
    };
  } else if (setup === 'scalesignal') {
    const { createMetrics } = await import('../src/index.js');
    const { expressMetrics, fastifyMetrics } = await import('../src/integrations/index.js');
    let sink: import('../src/core/sink.js').Sink;
    let scrape: (() => Promise<string>) | undefined;
    if (existsSync(join(here, '../src/sinks/prometheus.ts'))) {
      const { prometheusSink } = await import('../src/sinks/prometheus.js');
      const prometheus = prometheusSink({ port: 0, host: '127.0.0.1' });
      sink = prometheus;
      scrape = async () => (prometheus.url === undefined ? '' : (await fetch(prometheus.url)).text());
    } else {
      const { consoleSink } = await import('../src/index.js');
      sink = consoleSink({ write: () => {} });
    }
    const metrics = createMetrics({ service: 'bench', sinks: [sink] });
    instrumentExpress = (app) => {
      app.use(expressMetrics(metrics));
    };
    instrumentFastify = async (app) => {
      await app.register(fastifyMetrics, { metrics });
    };
    report = async () => {
      await metrics.flush();
      if (scrape === undefined) return null;
      return sumSamples(await scrape(), /^http_server_requests_total\{/);
    };
  } else if (setup === 'noop') {
    // What any middleware / hook costs the framework, with no work in it (not run by default).
    instrumentExpress = (app) => {
      app.use((_req, _res, next) => next());
    };
    instrumentFastify = async (app) => {
      app.addHook('onRequest', (_request, _reply, done) => done());
    };
  } else if (setup === 'prom-bundle') {
    const promBundle = (await import('express-prom-bundle')).default;
    const bundle = promBundle({ includeMethod: true, includePath: true });
    instrumentExpress = (app) => {
      app.use(bundle);
    };
    const registry = (bundle as unknown as { promClient: { register: { metrics(): Promise<string> } } }).promClient.register;
    report = async () => sumSamples(await registry.metrics(), /^http_request_duration_seconds_count\{/);
  } else if (setup === 'fastify-metrics') {
    // CommonJS with `exports.default`: the plugin is one level down when imported from ESM.
    const mod = (await import('fastify-metrics')) as unknown as { default: { default?: unknown } };
    const fastifyMetricsPlugin = (mod.default.default ?? mod.default) as import('fastify').FastifyPluginCallback<{ endpoint: string }>;
    let registry: { metrics(): Promise<string> } | undefined;
    instrumentFastify = async (app) => {
      await app.register(fastifyMetricsPlugin, { endpoint: '/metrics' });
      registry = (app as unknown as { metrics: { client: { register: { metrics(): Promise<string> } } } }).metrics.client.register;
    };
    report = async () => (registry === undefined ? null : sumSamples(await registry.metrics(), /^http_request_duration_seconds_count\{/));
  }

  let port: number;
  if (framework === 'express') {
    const express = (await import('express')).default;
    const app = express();
    instrumentExpress?.(app);
    app.get('/users/:id', (_req, res) => {
      res.send('hello world');
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  } else {
    const Fastify = (await import('fastify')).default;
    const app = Fastify({ logger: false });
    await instrumentFastify?.(app);
    app.get('/users/:id', async () => 'hello world');
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  }

  // Priming, the same for every setup: lazy module loads and first-time work (prom-client on the first window,
  // source maps under tsx, the exporters' first collection) must not land in a measured run.
  for (let i = 0; i < 200; i++) await (await fetch(`http://127.0.0.1:${port}${PATH}`)).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await report();

  // 'mark' starts a CPU measurement, 'sample' returns the CPU used since; 'report' answers and exits.
  let mark = process.cpuUsage();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'mark') {
      mark = process.cpuUsage();
      process.send?.({ type: 'marked' });
    } else if (message.type === 'sample') {
      const used = process.cpuUsage(mark);
      process.send?.({ type: 'sampled', cpuMicros: used.user + used.system });
    } else if (message.type === 'report') {
      void report().then(
        (recorded) => process.send?.({ type: 'reported', recorded }, () => process.exit(0)),
        (error) => process.send?.({ type: 'reported', recorded: null, error: String(error) }, () => process.exit(0)),
      );
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port });
}

/** Sum of the sample values of exposition lines matching `line`. */
function sumSamples(exposition: string, line: RegExp): number {
  let total = 0;
  for (const text of exposition.split('\n')) if (line.test(text)) total += Number(text.slice(text.lastIndexOf(' ') + 1));
  return total;
}

// ------------------------------------------------------------------------------------------------------------
// Parent: runs, rounds, medians.
// ------------------------------------------------------------------------------------------------------------

interface Run {
  framework: Framework;
  setup: Setup;
  round: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  responses: number;
  errors: number;
  non2xx: number;
  /** Requests the setup's own metrics counted (warm-up included); null for bare. */
  recorded: number | null;
  /** Server CPU time (user + system) per response of the measured run, in microseconds. */
  cpuMicrosPerRequest: number;
}

let pin = false;

interface Server {
  readonly setup: Setup;
  readonly child: ChildProcess;
  readonly url: string;
}

function startChild(framework: Framework, setup: Setup): Promise<Server> {
  const prof = process.env.BENCH_CPU_PROF;
  const execArgv = ['--import', 'tsx', ...(prof ? ['--cpu-prof', '--cpu-prof-dir', join(prof, `${framework}-${setup}`)] : [])];
  const args = [...execArgv, fileURLToPath(import.meta.url), '--serve', framework, setup];
  // With --pin the servers get CPU 1 and the load generator (this process) CPU 0.
  const child = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '1', process.execPath, ...args] : args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', SCALESIGNAL_SINKS: '' },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${framework}/${setup}: child did not start`)), 30_000);
    child.once('exit', (code) => reject(new Error(`${framework}/${setup}: child exited with ${code}`)));
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve({ setup, child, url: `http://127.0.0.1:${message.port}${PATH}` });
      }
    });
  });
}

function ask<T>(child: ChildProcess, type: string, answer: string): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 10_000);
    const onMessage = (message: { type: string }) => {
      if (message.type !== answer) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message as T);
    };
    child.on('message', onMessage);
    child.send({ type });
  });
}

/** Asks for the recorded count; the child exits after answering (and writes its CPU profile then). */
async function stopChild(child: ChildProcess): Promise<number | null> {
  const answer = await ask<{ recorded: number | null }>(child, 'report', 'reported');
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const term = setTimeout(() => child.kill('SIGTERM'), 10_000);
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(term);
    clearTimeout(kill);
  }
  return answer?.recorded ?? null;
}

const autocannon = require('autocannon') as typeof import('autocannon');

async function load(server: Server, seconds: number, connections: number): Promise<Omit<Run, 'framework' | 'setup' | 'round' | 'recorded'>> {
  await ask(server.child, 'mark', 'marked');
  let latencies = new Float64Array(1 << 20);
  let n = 0;
  // Without a callback autocannon returns its event emitter, which is also a promise of the result.
  const instance = autocannon({ url: server.url, connections, duration: seconds } as import('autocannon').Options) as unknown as import('autocannon').Instance & PromiseLike<import('autocannon').Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    if (n === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[n++] = responseTime;
  });
  const result = await instance;
  const sampled = await ask<{ cpuMicros: number }>(server.child, 'sample', 'sampled');
  const sorted = latencies.subarray(0, n).sort();
  const at = (q: number) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]);
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    cpuMicrosPerRequest: round3((sampled?.cpuMicros ?? NaN) / n),
    responses: n,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round3 = (v: number) => Math.round(v * 1000) / 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      frameworks: { type: 'string', default: 'express,fastify' },
      setups: { type: 'string', default: '' },
      out: { type: 'string', default: join(here, 'results/http-overhead.json') },
      pin: { type: 'boolean', default: os.cpus().length >= 2 },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  pin = values.pin && !values['no-pin'];
  if (pin) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    } catch {
      pin = false;
    }
  }
  const rounds = Number(values.rounds);
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const frameworks = values.frameworks.split(',') as Framework[];
  const only = values.setups === '' ? undefined : new Set(values.setups.split(','));
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  const runs: Run[] = [];
  const recorded: Record<string, number | null> = {};

  for (let round = 0; round < rounds; round++) {
    for (const framework of frameworks) {
      const setups = only === undefined ? SETUPS[framework] : (['bare', ...only].filter((s, i, all) => all.indexOf(s) === i) as Setup[]);
      // A fresh server per run: a process's own luck (JIT decisions, heap layout) then varies between rounds and
      // the median absorbs it. The order rotates each round so no setup is always first or last.
      for (let i = 0; i < setups.length; i++) {
        const setup = setups[(i + round) % setups.length];
        const server = await startChild(framework, setup);
        let run: Run;
        try {
          if (warmup > 0) await autocannon({ url: server.url, connections, duration: warmup });
          const measured = await load(server, duration, connections);
          run = { framework, setup, round, ...measured, recorded: null };
        } finally {
          const count = await stopChild(server.child);
          recorded[`${framework}/${setup}`] = count;
        }
        run.recorded = recorded[`${framework}/${setup}`];
        runs.push(run);
        console.error(
          `round ${round + 1}/${rounds} ${framework.padEnd(7)} ${setup.padEnd(15)} ${run.requestsPerSecond.toFixed(0).padStart(6)} req/s  p50 ${run.p50Ms.toFixed(3)} ms  p99 ${run.p99Ms.toFixed(3)} ms  cpu ${run.cpuMicrosPerRequest.toFixed(1)} us/req  recorded ${run.recorded ?? '-'}  errors ${run.errors} non2xx ${run.non2xx}`,
        );
      }
    }
  }

  const summary: Record<string, Record<string, { requestsPerSecond: number; p99Ms: number; p50Ms: number; cpuMicrosPerRequest: number }>> = {};
  const loss: Record<string, Record<string, { requestsPerSecond: number; p99: number; cpuPerRequest: number }>> = {};
  for (const framework of frameworks) {
    summary[framework] = {};
    for (const setup of new Set(runs.filter((r) => r.framework === framework).map((r) => r.setup))) {
      const mine = runs.filter((r) => r.framework === framework && r.setup === setup);
      summary[framework][setup] = {
        requestsPerSecond: Math.round(median(mine.map((r) => r.requestsPerSecond))),
        p50Ms: round3(median(mine.map((r) => r.p50Ms))),
        p99Ms: round3(median(mine.map((r) => r.p99Ms))),
        cpuMicrosPerRequest: round3(median(mine.map((r) => r.cpuMicrosPerRequest))),
      };
    }
    // Losses are paired: each round's setup against the same round's bare run (minutes apart at most), then the
    // median over rounds, so a drift of the shared machine cancels out.
    loss[framework] = {};
    const bareOf = (round: number) => runs.find((r) => r.framework === framework && r.setup === 'bare' && r.round === round);
    for (const setup of Object.keys(summary[framework])) {
      if (setup === 'bare') continue;
      const pairs = runs
        .filter((r) => r.framework === framework && r.setup === setup)
        .map((r) => [r, bareOf(r.round)] as const)
        .filter((pair): pair is readonly [Run, Run] => pair[1] !== undefined);
      if (pairs.length === 0) continue;
      // Fractions: 0.02 = 2 % fewer requests per second / 2 % more p99 latency / 2 % more CPU than bare.
      loss[framework][setup] = {
        requestsPerSecond: round3(median(pairs.map(([r, b]) => 1 - r.requestsPerSecond / b.requestsPerSecond))),
        p99: round3(median(pairs.map(([r, b]) => r.p99Ms / b.p99Ms - 1))),
        cpuPerRequest: round3(median(pairs.map(([r, b]) => r.cpuMicrosPerRequest / b.cpuMicrosPerRequest - 1))),
      };
    }
  }
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    config: { pinned: pin, rounds, durationSeconds: duration, warmupSeconds: warmup, connections, path: PATH, target: { requestsPerSecondLoss: 0.03, p99Added: 0.03 } },
    // The machine is shared: its 1-minute load average around the run, for judging the noise.
    loadAverage: { before: round3(loadBefore), after: round3(os.loadavg()[0]) },
    recorded,
    summary,
    loss,
    runs,
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify({ summary, loss }));
}

const argv = process.argv.slice(2);
if (argv[0] === '--serve') {
  await serve(argv[1] as Framework, argv[2] as Setup);
} else {
  await main();
}
