/**
 * HTTP overhead of the built-in indicators: autocannon against Express 5 and Fastify 5 servers, each run on a fresh
 * child process (primed, warmed, then measured), the setups of one framework and handler run back to back as a
 * block whose order rotates from round to round:
 *
 *   bare            no metrics
 *   control         bare again: the noise floor. Its "added" figures are what two identical servers differ by on
 *                   this machine; a setup's figure inside the control's spread is not told apart from nothing.
 *   scalesignal     expressMetrics / fastifyMetrics, event-loop gauges, Prometheus sink (as users deploy it)
 *   before          (--base <git ref>) the same, built from src/ at that commit: before/after side by side
 *   middleware      (--setups middleware) scalesignal without the Prometheus sink (an in-process sink that only
 *                   counts): the middleware's per-request cost apart from what the sink's HTTP server and gzip
 *                   scrapes do to the process (see "Priming")
 *   noop            (--setups noop) a middleware / onRequest hook doing nothing: what one more layer costs
 *   no-eventloop    (--setups no-eventloop) scalesignal with `eventLoop: false`: the event-loop sampler's share
 *   prom-bundle     (--setups prom-bundle) express-prom-bundle (method + path labels)          [Express]
 *   fastify-metrics (--setups fastify-metrics) fastify-metrics with its defaults               [Fastify]
 *   otel            (--setups otel) @opentelemetry/instrumentation-http, metrics only, sdk-metrics MeterProvider
 *                   with a 1 s periodic reader and a no-op exporter
 *
 * Two handlers on `GET /users/:id`: `hello` answers 'hello world'; `realistic` builds and serializes a ~2 KB JSON
 * document (a user and 20 line items), the shape of a typical API answer.
 *
 * The headline figure is server CPU time (user + system, the server's own process.cpuUsage) per response over the
 * measured blocks. How it is made precise on a shared 2-core machine:
 * - pinned: the servers run on CPU 1, autocannon (this process) on CPU 0 (taskset), so the load generator never
 *   takes the servers' core;
 * - a fixed offered load (--rate, default auto): every block sends the same request rate, 60 % of what the round's
 *   bare server answered flat out in its warm-up, so every setup sees the same arrival pattern (at saturation the
 *   requests served per event-loop turn, and with them the CPU per request, follow whichever of the server and
 *   autocannon is slower, and that moves with the machine's load). The requests are paced evenly over every
 *   millisecond (paced-load.ts), not by autocannon's per-second quota, whose bursts made one process's CPU per
 *   request vary up to 2x from block to block. --rate 0 saturates instead (autocannon);
 * - fine interleaving: each round runs --blocks short blocks per server (A B C A B C ..., order rotating from round
 *   to round), so the machine's drift lands on every setup alike; CPU is measured over each block only;
 * - pairing and robust statistics: each round gives one ratio per setup, its CPU per request over the round's
 *   bare server's; "added" is the median of those ratios over rounds, with a 95 % bootstrap interval (rounds
 *   resampled: a round's blocks share its processes' luck) and min..max;
 * - a control: a second bare server, measured like a setup; its interval is the bench's resolution. A setup whose
 *   interval overlaps the control's is not told apart from nothing.
 * req/s and p99 (from every response's own duration) are paired the same way (at a fixed rate req/s is the rate).
 * Two more views of the same blocks: "vs both bare" divides by the mean of the round's two bare servers (bare and
 * control), which halves the share of one baseline process's luck; "main thread" counts the servers' main threads
 * only (Linux, /proc/thread-self/schedstat), the thread the request path runs on, without GC helper threads and
 * JIT compilers.
 *
 * Priming, the same for every setup: 200 requests, then the setup's first-time work (scalesignal: one scrape of the
 * Prometheus sink through a node:http client with `Accept-Encoding: gzip`, as Prometheus sends; the body is
 * discarded, not decompressed in the server's process), then, in every setup's process (--zlib used, the default),
 * one request to its own server through a node:http client and one gzip and gunzip through node:zlib. Why the last
 * step: new kinds of object (a zlib stream, a client request) going through node's shared stream and HTTP code
 * turn its inline caches megamorphic for every later request of the process. Without the step only the
 * scalesignal process had met them (through its scrape), and bench:http:instructions charged the middleware
 * ~2,500-3,000 instructions per request on Fastify hello world (4-5 %) for node's code running slower, which any
 * real service's process pays anyway (compression, an SDK's HTTP client, a gzip file); a bare server that never
 * did either is not what users run. --zlib untouched measures those clean processes.
 *
 * scalesignal is loaded from an esbuild bundle of src/ built like the published package (no keepNames): under tsx
 * every named function expression would carry a per-creation __name() call that users do not run.
 *
 *   npm run bench:http                          # 10 rounds x 5 interleaved blocks of 1 s (+1 s warm-up), ~22 minutes
 *   npm run bench:http -- --rate 0              # saturating load instead of a fixed rate
 *   npm run bench:http -- --zlib untouched      # only scalesignal's process (its scrape) uses zlib and an HTTP client
 *   npm run bench:http -- --base main           # adds `before`: scalesignal built from main's src/
 *   npm run bench:http -- --rounds 2 --handlers hello --frameworks fastify
 *   npm run bench:http -- --setups noop,otel    # more setups (bare, control and scalesignal always run)
 *   BENCH_CPU_PROF=/tmp/prof npm run bench:http -- --rounds 1   # children run with --cpu-prof
 *   npm run bench:http -- --no-pin              # by default the server runs on CPU 1, autocannon on CPU 0 (taskset)
 *
 * Writes bench/results/http-overhead.json; the last line printed is the summary as JSON.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleScalesignal } from './bundle.js';
import { pacedLoad } from './paced-load.js';
import { document } from './realistic-document.js';
import { added, median, pct, round3, type Added } from './stats.js';

export type Framework = 'express' | 'fastify';
export type Setup = 'bare' | 'control' | 'scalesignal' | 'before' | 'middleware' | 'prom-bundle' | 'fastify-metrics' | 'otel' | 'noop' | 'no-eventloop';
export type Handler = 'hello' | 'realistic';
export type ZlibMode = 'used' | 'untouched';

/** Parses --zlib (see "zlib" in the benches' headers). */
export function zlibOption(value: string): ZlibMode {
  if (value !== 'used' && value !== 'untouched') throw new Error(`--zlib: "used" or "untouched", not "${value}"`);
  return value;
}

const DEFAULT_SETUPS: readonly Setup[] = ['bare', 'control', 'scalesignal'];
const PEERS: Record<Framework, readonly Setup[]> = { express: ['prom-bundle'], fastify: ['fastify-metrics'] };
export const PATH = '/users/42';
const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);


// ------------------------------------------------------------------------------------------------------------
// Child: one server, one setup, one handler.
// ------------------------------------------------------------------------------------------------------------



// BENCH_INTERVAL_MS: bench:http:instructions runs with long windows (see there); users run 1 s ones.
const benchIntervalMs = process.env.BENCH_INTERVAL_MS ? Number(process.env.BENCH_INTERVAL_MS) : undefined;

/** The middleware and the plugin, as users add them, for the setups that load scalesignal. */
function scalesignalInstrumentation(lib: typeof import('../src/index.js'), metrics: import('../src/index.js').Metrics) {
  return {
    instrumentExpress: (app: import('express').Express) => {
      app.use(lib.expressMetrics(metrics));
    },
    instrumentFastify: async (app: import('fastify').FastifyInstance) => {
      await app.register(lib.fastifyMetrics, { metrics });
    },
  };
}

async function serve(framework: Framework, setup: Setup, handler: Handler): Promise<void> {
  let report: () => Promise<number | null> = async () => null;
  /** First-time work before measuring; the setup's report by default. */
  let prime: (() => Promise<unknown>) | undefined;
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
  } else if (setup === 'scalesignal' || setup === 'before' || setup === 'no-eventloop') {
    const bundle = setup === 'before' ? process.env.SCALESIGNAL_BASE_BUNDLE : (process.env.SCALESIGNAL_BUNDLE ?? (await bundleScalesignal()));
    if (bundle === undefined || bundle === '') throw new Error('setup "before" needs --base <git ref>');
    const lib = (await import(pathToFileURL(bundle).href)) as typeof import('../src/index.js');
    const prometheus = lib.prometheusSink({ port: 0, host: '127.0.0.1' });
    const eventLoop = setup === 'no-eventloop' ? { eventLoop: false as const } : {};
    const metrics = lib.createMetrics({ service: 'bench', sinks: [prometheus], intervalMs: benchIntervalMs, ...eventLoop });
    ({ instrumentExpress, instrumentFastify } = scalesignalInstrumentation(lib, metrics));
    report = async () => {
      await metrics.flush();
      await prometheus.ready;
      if (prometheus.url === undefined) return null;
      return sumSamples(await (await fetch(prometheus.url)).text(), /^http_server_requests_total\{/);
    };
    // Priming scrapes as Prometheus does (gzip accepted, the body decompressed elsewhere): the sink's first
    // render and compression happen before any measurement, and nothing decompresses in the server's process.
    prime = async () => {
      await metrics.flush();
      await prometheus.ready;
      if (prometheus.url !== undefined) await scrape(prometheus.url);
    };
  } else if (setup === 'middleware') {
    const lib = (await import(pathToFileURL(process.env.SCALESIGNAL_BUNDLE ?? (await bundleScalesignal())).href)) as typeof import('../src/index.js');
    let counted = 0;
    const sink: import('../src/core/sink.js').Sink = {
      name: 'count',
      export(batch) {
        for (const window of batch) for (const series of window.series) if (series.name === 'http.server.requests') counted += series.sum;
      },
    };
    const metrics = lib.createMetrics({ service: 'bench', sinks: [sink], intervalMs: benchIntervalMs });
    ({ instrumentExpress, instrumentFastify } = scalesignalInstrumentation(lib, metrics));
    report = async () => {
      await metrics.flush();
      return counted;
    };
  } else if (setup === 'noop') {
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
    if (handler === 'hello') {
      app.get('/users/:id', (_req, res) => {
        res.send('hello world');
      });
    } else {
      app.get('/users/:id', (req, res) => {
        res.json(document(req.params.id));
      });
    }
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  } else {
    const Fastify = (await import('fastify')).default;
    const app = Fastify({ logger: false });
    await instrumentFastify?.(app);
    if (handler === 'hello') app.get('/users/:id', async () => 'hello world');
    else app.get<{ Params: { id: string } }>('/users/:id', async (request) => document(request.params.id));
    await app.listen({ port: 0, host: '127.0.0.1' });
    port = (app.server.address() as { port: number }).port;
  }

  // Priming, the same for every setup: lazy module loads and first-time work (prom-client on the first window,
  // the exporters' first collection) must not land in a measured run.
  for (let i = 0; i < 200; i++) await (await fetch(`http://127.0.0.1:${port}${PATH}`)).arrayBuffer();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await (prime ?? report)();
  if (process.env.BENCH_ZLIB !== 'untouched') {
    // What the scalesignal process did for its scrape, every process does: a node:http client request, gzip.
    await scrape(`http://127.0.0.1:${port}${PATH}`);
    await zlibRoundTrip();
  }

  // 'mark' starts a CPU measurement, 'sample' returns the CPU used since (the process's, and the main thread's
  // alone: the rest is GC helpers, JIT compilers and libuv's pool); 'report' answers and exits.
  let mark = process.cpuUsage();
  let mainMark = mainThreadCpuMicros();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'mark') {
      mark = process.cpuUsage();
      mainMark = mainThreadCpuMicros();
      process.send?.({ type: 'marked' });
    } else if (message.type === 'sample') {
      const used = process.cpuUsage(mark);
      process.send?.({ type: 'sampled', cpuMicros: used.user + used.system, mainCpuMicros: mainThreadCpuMicros() - mainMark });
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

/** CPU time of the calling thread (Linux: /proc/thread-self/schedstat, user + system), µs; NaN elsewhere. */
function mainThreadCpuMicros(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    return NaN;
  }
}

/** GET with `Accept-Encoding: gzip`, body discarded. */
function scrape(url: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        res.resume();
        res.once('end', resolve);
      })
      .once('error', reject);
  });
}

/**
 * One gzip and gunzip through node:zlib, in every setup's process (see "Priming" in the header): what the
 * Prometheus sink does on a scrape, and nearly every real service (compression, gzip files, SDKs) does too.
 */
async function zlibRoundTrip(): Promise<void> {
  const zlib = await import('node:zlib');
  const { promisify } = await import('node:util');
  const packed = await promisify(zlib.gzip)(Buffer.alloc(64 * 1024, 'scalesignal '));
  await promisify(zlib.gunzip)(packed);
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
  handler: Handler;
  setup: Setup;
  round: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  responses: number;
  errors: number;
  non2xx: number;
  /** Paced load: most requests waiting for a free connection at once. */
  queuedMax: number;
  /** Requests the setup's own metrics counted (priming and warm-up included); null for bare. */
  recorded: number | null;
  /** Server CPU time (user + system) per response of the measured run, in microseconds. */
  cpuMicrosPerRequest: number;
  /** The same, of the server's main thread alone (the event loop: the request path), in microseconds. */
  mainCpuMicrosPerRequest: number;
}

let pin = false;
/** `used` (default): every server's process makes one node:http client request and a gzip round trip while priming. */
let zlibMode: ZlibMode = 'used';
let bundlePath = '';
let baseBundlePath = '';

interface Server {
  readonly setup: Setup;
  readonly child: ChildProcess;
  readonly url: string;
}

function startChild(framework: Framework, setup: Setup, handler: Handler): Promise<Server> {
  const prof = process.env.BENCH_CPU_PROF;
  const execArgv = ['--import', 'tsx', ...(prof ? ['--cpu-prof', '--cpu-prof-dir', join(prof, `${framework}-${handler}-${setup}`)] : [])];
  const args = [...execArgv, fileURLToPath(import.meta.url), '--serve', framework, setup, handler];
  // With --pin the servers get CPU 1 and the load generator (this process) CPU 0.
  const child = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '1', process.execPath, ...args] : args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_ENV: 'production', SCALESIGNAL_SINKS: '', SCALESIGNAL_BUNDLE: bundlePath, SCALESIGNAL_BASE_BUNDLE: baseBundlePath, BENCH_ZLIB: zlibMode },
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

/** What one server accumulated over its blocks of a round. */
class Tally {
  latencies = new Float64Array(1 << 16);
  responses = 0;
  cpuMicros = 0;
  mainCpuMicros = 0;
  seconds = 0;
  errors = 0;
  non2xx = 0;
  /** Paced load: most requests waiting for a free connection at once (0: the server kept up). */
  queuedMax = 0;

  add(ms: number): void {
    if (this.responses === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.responses++] = ms;
  }

  result(): Omit<Run, 'framework' | 'handler' | 'setup' | 'round' | 'recorded'> {
    const n = this.responses;
    const sorted = this.latencies.subarray(0, n).sort();
    const at = (q: number) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.ceil(q * n) - 1)]);
    return {
      requestsPerSecond: n / this.seconds,
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      cpuMicrosPerRequest: round3(this.cpuMicros / n),
      mainCpuMicrosPerRequest: round3(this.mainCpuMicros / n),
      responses: n,
      errors: this.errors,
      non2xx: this.non2xx,
      queuedMax: this.queuedMax,
    };
  }
}

/** Adds the server's CPU since its 'mark' (process and main thread) to the tally. */
async function sampleCpu(server: Server, tally: Tally): Promise<void> {
  const sampled = await ask<{ cpuMicros: number; mainCpuMicros: number }>(server.child, 'sample', 'sampled');
  tally.cpuMicros += sampled?.cpuMicros ?? NaN;
  tally.mainCpuMicros += sampled?.mainCpuMicros ?? NaN;
}

/** One block of load on one server; its CPU is measured over the block only (idle servers' timers stay out). */
async function block(server: Server, seconds: number, connections: number, rate: number, tally: Tally): Promise<void> {
  await ask(server.child, 'mark', 'marked');
  const started = performance.now();
  if (rate > 0) {
    const result = await pacedLoad({ url: server.url, rate, seconds, connections, onResponse: (ms) => tally.add(ms) });
    tally.seconds += (performance.now() - started) / 1000;
    await sampleCpu(server, tally);
    tally.errors += result.errors;
    tally.non2xx += result.non2xx;
    tally.queuedMax = Math.max(tally.queuedMax, result.queuedMax);
    return;
  }
  const options = { url: server.url, connections, duration: seconds };
  // Without a callback autocannon returns its event emitter, which is also a promise of the result.
  const instance = autocannon(options as import('autocannon').Options) as unknown as import('autocannon').Instance & PromiseLike<import('autocannon').Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => tally.add(responseTime));
  const result = await instance;
  tally.seconds += (performance.now() - started) / 1000;
  await sampleCpu(server, tally);
  tally.errors += result.errors + result.timeouts;
  tally.non2xx += result.non2xx;
}


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '10' },
      blocks: { type: 'string', default: '5' },
      duration: { type: 'string', default: '1' },
      /** Requests per second in every block: `auto` (a fraction of bare's flat-out rate in the round's warm-up), N, or 0 (saturate). */
      rate: { type: 'string', default: 'auto' },
      'rate-fraction': { type: 'string', default: '0.6' },
      warmup: { type: 'string', default: '1' },
      connections: { type: 'string', default: '50' },
      frameworks: { type: 'string', default: 'express,fastify' },
      handlers: { type: 'string', default: 'hello,realistic' },
      setups: { type: 'string', default: '' },
      base: { type: 'string' },
      peers: { type: 'boolean', default: false },
      out: { type: 'string', default: join(here, 'results/http-overhead.json') },
      pin: { type: 'boolean', default: os.cpus().length >= 2 },
      zlib: { type: 'string', default: 'used' },
      'no-pin': { type: 'boolean', default: false },
    },
  });
  pin = values.pin && !values['no-pin'];
  zlibMode = zlibOption(values.zlib);
  if (pin) {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
    } catch {
      pin = false;
    }
  }
  bundlePath = await bundleScalesignal();
  if (values.base !== undefined) baseBundlePath = await bundleScalesignal(values.base);
  const rounds = Number(values.rounds);
  const duration = Number(values.duration);
  const blocks = Number(values.blocks);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const rateFraction = Number(values['rate-fraction']);
  if (values.rate === 'auto' && warmup <= 0) throw new Error('--rate auto needs a warm-up (--warmup > 0)');
  const rates: Array<{ framework: Framework; handler: Handler; round: number; rate: number }> = [];
  const frameworks = values.frameworks.split(',') as Framework[];
  const handlers = values.handlers.split(',') as Handler[];
  const extra = [...(values.base !== undefined ? ['before' as const] : []), ...(values.setups === '' ? [] : (values.setups.split(',') as Setup[]))];
  const setupsOf = (framework: Framework) =>
    [...DEFAULT_SETUPS, ...extra, ...(values.peers ? PEERS[framework] : [])].filter(
      (setup, i, all) => all.indexOf(setup) === i && (setup !== 'prom-bundle' || framework === 'express') && (setup !== 'fastify-metrics' || framework === 'fastify'),
    );
  const started = Date.now();
  const loadBefore = os.loadavg()[0];
  const runs: Run[] = [];
  const recorded: Record<string, number | null> = {};

  for (let round = 0; round < rounds; round++) {
    for (const framework of frameworks) {
      for (const handler of handlers) {
        // Fresh servers every round, one per setup, all alive together: a process's own luck (JIT decisions, heap
        // layout) varies between rounds and the median absorbs it. Their load is interleaved in short blocks
        // (A B C A B C ...), the order rotating each round, so the machine's drift lands on every setup alike.
        const all = setupsOf(framework);
        const setups = all.map((_, i) => all[(i + round) % all.length]);
        const servers: Server[] = [];
        const tallies = setups.map(() => new Tally());
        try {
          for (const setup of setups) servers.push(await startChild(framework, setup, handler));
          // Warm-up flat out; bare's rate sets the round's offered load (--rate auto).
          let bareRate = 0;
          for (const server of servers) {
            if (warmup <= 0) continue;
            const result = await autocannon({ url: server.url, connections, duration: warmup });
            if (server.setup === 'bare') bareRate = result.requests.average;
          }
          let rate = values.rate === 'auto' ? Math.round(bareRate * rateFraction) : Number(values.rate);
          if (!(rate > 0)) rate = 0;
          rates.push({ framework, handler, round, rate });
          for (let b = 0; b < blocks; b++) for (let i = 0; i < servers.length; i++) await block(servers[i], duration, connections, rate, tallies[i]);
        } finally {
          for (let i = 0; i < servers.length; i++) recorded[`${framework}/${handler}/${setups[i]}`] = await stopChild(servers[i].child);
        }
        for (let i = 0; i < setups.length; i++) {
          const setup = setups[i];
          const run: Run = { framework, handler, setup, round, ...tallies[i].result(), recorded: recorded[`${framework}/${handler}/${setup}`] };
          runs.push(run);
          console.error(
            `round ${round + 1}/${rounds} ${framework.padEnd(7)} ${handler.padEnd(9)} ${setup.padEnd(15)} ${run.requestsPerSecond.toFixed(0).padStart(6)} req/s  p99 ${run.p99Ms.toFixed(2)} ms  cpu ${run.cpuMicrosPerRequest.toFixed(2)} us/req (main ${run.mainCpuMicrosPerRequest.toFixed(2)})  recorded ${run.recorded ?? '-'}  errors ${run.errors} non2xx ${run.non2xx} queued ${run.queuedMax}`,
          );
        }
      }
    }
  }

  type Row = {
    requestsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    cpuMicrosPerRequest: number;
    mainCpuMicrosPerRequest: number;
    cpuAdded?: Added;
    /** The main thread's CPU per request against bare's main thread. */
    mainCpuAdded?: Added;
    /** Against the mean of the round's two bare servers (bare and control): half the baseline's process luck. */
    cpuAddedVsBothBare?: Added;
    requestsPerSecondLost?: Added;
    p99Added?: Added;
  };
  const summary: Record<string, Record<string, Record<string, Row>>> = {};
  const lines: string[][] = [
    ['framework', 'handler', 'setup', 'req/s', 'p99', 'CPU/req', 'CPU added [95 % CI] (min..max)', 'vs both bare [95 % CI]', 'main thread [95 % CI]', 'req/s lost', 'p99 added'],
  ];
  const interval = (a: Added | undefined) => (a === undefined ? '' : `${pct(a.median)} [${pct(a.ci95[0])}, ${pct(a.ci95[1])}]`);
  for (const framework of frameworks) {
    summary[framework] = {};
    for (const handler of handlers) {
      const table: Record<string, Row> = (summary[framework][handler] = {});
      const mine = runs.filter((r) => r.framework === framework && r.handler === handler);
      const bareOf = (round: number) => mine.find((r) => r.setup === 'bare' && r.round === round);
      const controlOf = (round: number) => mine.find((r) => r.setup === 'control' && r.round === round);
      for (const setup of setupsOf(framework)) {
        const of = mine.filter((r) => r.setup === setup);
        if (of.length === 0) continue;
        const row: Row = {
          requestsPerSecond: Math.round(median(of.map((r) => r.requestsPerSecond))),
          p50Ms: round3(median(of.map((r) => r.p50Ms))),
          p99Ms: round3(median(of.map((r) => r.p99Ms))),
          cpuMicrosPerRequest: round3(median(of.map((r) => r.cpuMicrosPerRequest))),
          mainCpuMicrosPerRequest: round3(median(of.map((r) => r.mainCpuMicrosPerRequest))),
        };
        // Paired: each round's setup against the same round's bare run (seconds apart), then the median over
        // rounds, so a drift of the shared machine cancels out. Fractions: 0.02 = 2 % more than bare.
        const pairs = of.map((r) => [r, bareOf(r.round)] as const).filter((p): p is readonly [Run, Run] => p[1] !== undefined);
        if (setup !== 'bare' && pairs.length > 0) {
          row.cpuAdded = added(pairs.map(([r, b]) => r.cpuMicrosPerRequest / b.cpuMicrosPerRequest - 1));
          row.mainCpuAdded = added(pairs.map(([r, b]) => r.mainCpuMicrosPerRequest / b.mainCpuMicrosPerRequest - 1));
          if (setup !== 'control') {
            const both = pairs.flatMap(([r, b]) => {
              const c = controlOf(r.round);
              return c === undefined ? [] : [r.cpuMicrosPerRequest / ((b.cpuMicrosPerRequest + c.cpuMicrosPerRequest) / 2) - 1];
            });
            if (both.length > 0) row.cpuAddedVsBothBare = added(both);
          }
          row.requestsPerSecondLost = added(pairs.map(([r, b]) => 1 - r.requestsPerSecond / b.requestsPerSecond));
          row.p99Added = added(pairs.map(([r, b]) => r.p99Ms / b.p99Ms - 1));
        }
        table[setup] = row;
        lines.push([
          framework,
          handler,
          setup,
          String(row.requestsPerSecond),
          `${row.p99Ms.toFixed(2)} ms`,
          `${row.cpuMicrosPerRequest.toFixed(2)} us`,
          row.cpuAdded
            ? `${pct(row.cpuAdded.median)} [${pct(row.cpuAdded.ci95[0])}, ${pct(row.cpuAdded.ci95[1])}] (${pct(row.cpuAdded.min)}..${pct(row.cpuAdded.max)})`
            : '',
          interval(row.cpuAddedVsBothBare),
          interval(row.mainCpuAdded),
          row.requestsPerSecondLost ? pct(row.requestsPerSecondLost.median) : '',
          row.p99Added ? pct(row.p99Added.median) : '',
        ]);
      }
    }
  }
  const widths = lines[0].map((_, i) => Math.max(...lines.map((line) => line[i].length)));
  console.log(lines.map((line) => line.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n'));
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    config: {
      pinned: pin,
      zlib: zlibMode,
      base: values.base ?? null,
      rounds,
      blocks,
      blockSeconds: duration,
      rate: values.rate,
      rateFraction: values.rate === 'auto' ? rateFraction : null,
      statistics:
        "per round: CPU per request of the setup / of the round's bare server - 1 (cpuAdded; mainCpuAdded: main threads only; cpuAddedVsBothBare: / the mean of bare and control); median over rounds, 95 % percentile bootstrap interval of the median (rounds resampled, 10,000 resamples), min..max",
      warmupSeconds: warmup,
      connections,
      path: PATH,
      handlers,
      target: { cpuAdded: { realistic: 0.03, hello: 0.05 } },
    },
    // The machine is shared: its 1-minute load average around the run, for judging the noise.
    loadAverage: { before: round3(loadBefore), after: round3(os.loadavg()[0]) },
    recorded,
    rates,
    summary,
    runs,
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify({ summary }));
}

const argv = process.argv.slice(2);
if (argv[0] === '--serve') {
  await serve(argv[1] as Framework, argv[2] as Setup, (argv[3] as Handler | undefined) ?? 'hello');
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main();
}
