/**
 * Event-loop cost of each sink: the p99 event-loop delay of an app recording N series, with one sink (or all of
 * them) vs with none, at 100 / 1,000 / 2,000 series, in one run.
 *
 * Each cell (sink config x series) runs in its own child process (`--cell`), so heap and JIT state never carry
 * over; the backends live in this parent process, so decoding what arrives is not charged to the app:
 *   prometheus   the sink's own /metrics, scraped every second like Prometheus (OpenMetrics, gzip)
 *   otlp         loopback OTLP/HTTP receiver (test/helpers/otlp-receiver.ts)
 *   emf          loopback CloudWatch-agent TCP listener (newline-delimited EMF)
 *   cloudwatch   loopback PutMetricData server (test/helpers/cloudwatch-server.ts) through @aws-sdk/client-cloudwatch
 * The app: half the series are counters, half histograms (label `route`), each recorded every 10 ms; 1 s windows;
 * `monitorEventLoopDelay` (10 ms resolution, Node's default: a per-window pause shows as one sample of its length) over MEASURE_S seconds after WARMUP_S seconds. Cells are repeated in
 * ROUNDS alternating rounds (the machine is shared and noisy) and the median of the rounds is reported; "added"
 * is the sink's p99 minus the `none` p99 of the same series count.
 *
 * On a shared machine the p99 is dominated by other processes (load 10-16 during the recorded runs: `none` alone
 * ranged 16-150 ms), so the run also records a load-robust probe of the OTLP sink's longest synchronous
 * serialization stretch (min of 15 repetitions): SINKS_ONLY_PROBE=1 runs only that.
 *
 *   npm run bench:sinks     (ROUNDS=3 WARMUP_S=3 MEASURE_S=8; SINKS_LABEL=before|after names the result)
 *   SINKS_SERIES=2000 SINKS_CONFIGS=all SINKS_BASE=HEAD~1 npm run bench:sinks   (a subset, with a ref side by side)
 *
 * Writes bench/results/sinks.json (keeps the other label's result, so before/after sit side by side).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ALL_CONFIGS = ['none', 'prometheus', 'otlp', 'emf', 'cloudwatch', 'all'] as const;
type Config = (typeof ALL_CONFIGS)[number];
/** SINKS_SERIES=2000 SINKS_CONFIGS=all: a subset of the cells (`none` always runs: it is the baseline). */
const SERIES = (process.env.SINKS_SERIES ?? '100,1000,2000').split(',').map(Number);
const CONFIGS = ALL_CONFIGS.filter((c) => c === 'none' || (process.env.SINKS_CONFIGS ?? ALL_CONFIGS.join(',')).split(',').includes(c));
/** SINKS_BASE=<git ref>: every cell also runs on that ref's src/ (a detached worktree), interleaved in the same run. */
const BASE_REF = process.env.SINKS_BASE;
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const WARMUP_S = Number(process.env.WARMUP_S ?? 3);
const MEASURE_S = Number(process.env.MEASURE_S ?? 8);
const LABEL = process.env.SINKS_LABEL ?? 'after';
const HERE = dirname(fileURLToPath(import.meta.url));

interface CellResult {
  p50: number;
  p99: number;
  max: number;
  delivered: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Child: the app under measurement.

async function cell(config: Config, series: number, endpoints: Record<string, string>): Promise<void> {
  const { createMetrics, otlpSink, emfSink, cloudWatchSink, prometheusSink } = (
    process.env.SINKS_SRC !== undefined ? await import(pathToFileURL(join(process.env.SINKS_SRC, 'index.ts')).href) : await import('../src/index.js')
  ) as typeof import('../src/index.js');
  type AnySink = import('../src/index.js').Sink;
  const sinks: AnySink[] = [];
  const want = (name: Config) => config === name || config === 'all';
  let prom: import('../src/index.js').PrometheusSink | undefined;
  const logger = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} };
  if (want('prometheus')) sinks.push((prom = prometheusSink({ port: 0, host: '127.0.0.1', onError: () => {} })));
  if (want('otlp')) sinks.push(otlpSink({ url: endpoints.otlp, temporality: 'delta' }));
  if (want('emf')) sinks.push(emfSink({ agentEndpoint: endpoints.emf }, {}));
  if (want('cloudwatch')) {
    sinks.push(
      cloudWatchSink({
        endpoint: endpoints.cloudwatch,
        region: 'us-east-1',
        clientConfig: { credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } },
        fleetSize: 1,
        identity: 'sinks-bench-0',
        logger: logger as never,
      }),
    );
  }
  const metrics = createMetrics({ service: 'sinks-bench', sinks, eventLoop: false, logger: logger as never });
  const counter = metrics.counter('bench.requests', { unit: '{request}' });
  const histogram = metrics.histogram('bench.latency', { unit: 'ms' });
  const half = Math.floor(series / 2);
  const counters = Array.from({ length: half }, (_, i) => counter.bind({ route: `/api/r${i}` }));
  const histograms = Array.from({ length: series - half }, (_, i) => histogram.bind({ route: `/api/r${i}` }));
  let tick = 0;
  const load = setInterval(() => {
    tick++;
    for (const c of counters) c.add(1);
    for (let i = 0; i < histograms.length; i++) histograms[i].record(1 + ((i * 7 + tick * 13) % 500) * 0.37);
  }, 10);
  if (prom !== undefined) {
    await prom.ready;
    process.stdout.write(`PROM ${prom.url}\n`);
  }
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  await new Promise((r) => setTimeout(r, MEASURE_S * 1000));
  h.disable();
  clearInterval(load);
  await metrics.shutdown({ timeoutMs: 3000 });
  const result: CellResult = { p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6, delivered: 0 };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: backends, scraper, orchestration.

async function startTcpAgent(): Promise<{ port: number; lines: () => number; close: () => Promise<void> }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) count++;
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    lines: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function scrapeLoop(url: string): () => void {
  let stopped = false;
  const once = () => {
    if (stopped) return;
    const req = request(url, { headers: { accept: 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5', 'accept-encoding': 'gzip' } }, (res) => {
      res.resume();
      res.on('end', () => setTimeout(once, 1000));
    });
    req.on('error', () => setTimeout(once, 1000));
    req.end();
  };
  once();
  return () => (stopped = true);
}

async function runCell(config: Config, series: number, endpoints: Record<string, string>, src?: string): Promise<CellResult> {
  const child = spawn(process.execPath, ['--no-warnings', '--import', 'tsx', join(HERE, 'sinks.ts'), '--cell', config, String(series), JSON.stringify(endpoints)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: src === undefined ? process.env : { ...process.env, SINKS_SRC: src },
  });
  let out = '';
  let stopScrape: (() => void) | undefined;
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
    const m = /PROM (\S+)/.exec(out);
    if (m && stopScrape === undefined) stopScrape = scrapeLoop(m[1]);
  });
  await new Promise<void>((resolve) => child.on('exit', () => resolve()));
  stopScrape?.();
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`cell ${config}/${series} printed no result:\n${out}`);
  return JSON.parse(line.slice(7)) as CellResult;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

async function main(): Promise<void> {
  const { startOtlpReceiver } = await import('../test/helpers/otlp-receiver.js');
  const { startCloudWatchServer } = await import('../test/helpers/cloudwatch-server.js');
  const otlp = await startOtlpReceiver();
  const cw = await startCloudWatchServer();
  const agent = await startTcpAgent();
  const endpoints = { otlp: otlp.url, emf: `tcp://127.0.0.1:${agent.port}`, cloudwatch: cw.url };
  const runs = new Map<string, CellResult[]>();
  const baseSrc = BASE_REF === undefined ? undefined : checkoutBase(BASE_REF);
  const variants: Array<{ suffix: string; src?: string }> = [{ suffix: '' }, ...(baseSrc === undefined ? [] : [{ suffix: ':base', src: baseSrc }])];
  const started = Date.now();
  const loadBefore = loadavg();
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order each round so drift in machine load does not favour one config.
    const order = round % 2 === 0 ? CONFIGS : [...CONFIGS].reverse();
    for (const series of SERIES) {
      for (const config of order) {
        for (const variant of round % 2 === 0 ? variants : [...variants].reverse()) {
        const result = await runCell(config, series, endpoints, variant.src);
        const key = `${config}@${series}${variant.suffix}`;
        runs.set(key, [...(runs.get(key) ?? []), result]);
        process.stdout.write(`round ${round + 1} ${key.padEnd(18)} p50 ${result.p50.toFixed(2)} p99 ${result.p99.toFixed(2)} max ${result.max.toFixed(1)} ms\n`);
        // Keep the receivers from accumulating every body.
        otlp.requests.length = 0;
        cw.requests.length = 0;
        cw.accepted.length = 0;
        }
      }
    }
  }
  const table: Record<string, Record<string, { p99Ms: number; addedP99Ms: number; p50Ms: number; maxMs: number; rounds: number[] }>> = {};
  for (const series of SERIES) for (const variant of variants) {
    const row: (typeof table)[string] = {};
    const base = median(runs.get(`none@${series}${variant.suffix}`)!.map((r) => r.p99));
    for (const config of CONFIGS) {
      const rs = runs.get(`${config}@${series}${variant.suffix}`)!;
      const p99 = median(rs.map((r) => r.p99));
      row[config] = {
        p99Ms: r1(p99),
        addedP99Ms: r1(p99 - base),
        p50Ms: r1(median(rs.map((r) => r.p50))),
        maxMs: r1(median(rs.map((r) => r.max))),
        rounds: rs.map((r) => r1(r.p99)),
      };
    }
    table[`${series}${variant.suffix}`] = row;
  }
  await otlp.close();
  await cw.close();
  await agent.close();

  const file = join(HERE, 'results', 'sinks.json');
  mkdirSync(dirname(file), { recursive: true });
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  const result = {
    ...previous,
    [LABEL]: {
      date: new Date().toISOString(),
      node: process.version,
      rounds: ROUNDS,
      warmupS: WARMUP_S,
      measureS: MEASURE_S,
      loadavg: { before: loadBefore.map(r1), after: loadavg().map(r1) },
      durationS: Math.round((Date.now() - started) / 1000),
      target: 'all sinks add <= 5 ms to the event-loop p99 at 2,000 series',
      targetMet: table['2000']?.all === undefined ? null : table['2000'].all.addedP99Ms <= 5,
      cells: { series: SERIES, configs: CONFIGS, base: BASE_REF ?? null },
      p99BySeries: table,
    },
    otlpSerializationPause: await otlpSerializationPause(),
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  const added = (key: string) => (table[key] === undefined ? undefined : Object.fromEntries(CONFIGS.map((c) => [c, table[key][c].addedP99Ms])));
  process.stdout.write(`${JSON.stringify({ label: LABEL, added2000: added('2000'), ...(BASE_REF === undefined ? {} : { added2000Base: added('2000:base') }) })}\n`);
}

/**
 * Load-robust companion to the p99 table: the longest synchronous stretch of the OTLP sink's serialization for
 * one 2,000-series window (1,000 counters + 1,000 histograms), in one piece (before) vs sliced (after), min of
 * 15 repetitions (the minimum is what the code costs; the rest is other processes' load).
 */
async function otlpSerializationPause(): Promise<Record<string, number>> {
  const { loadOtel } = await import('../src/sinks/otlp/load.js');
  const { DataPointConverter } = await import('../src/sinks/otlp/data-points.js');
  const { toResourceMetrics } = await import('../src/sinks/otlp/resource-metrics.js');
  const { SLICE_POINTS } = await import('../src/sinks/otlp/sliced-body.js');
  const { createMetrics } = await import('../src/index.js');
  const otel = await loadOtel();
  const windows: import('../src/index.js').Window[] = [];
  const m = createMetrics({ service: 'probe', eventLoop: false, sinks: [{ name: 'keep', export: (ws) => void windows.push(...ws) }] });
  const c = m.counter('bench.requests');
  const h = m.histogram('bench.latency', { unit: 'ms' });
  for (let t = 0; t < 50; t++) for (let i = 0; i < 1000; i++) {
    c.add(1, { route: `/api/r${i}` });
    h.record(1 + ((i * 7 + t * 13) % 500) * 0.37, { route: `/api/r${i}` });
  }
  await m.shutdown();
  const w = windows.find((x) => x.series.length >= 2000)!;
  const converter = new DataPointConverter({ counter: 'delta', histogram: 'delta' });
  const timed = (fn: () => void) => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  };
  let convert = Infinity;
  let whole = Infinity;
  let slice = Infinity;
  for (let rep = 0; rep < 15; rep++) {
    let points: ReturnType<typeof converter.convert> = [];
    convert = Math.min(convert, timed(() => (points = converter.convert(w))));
    whole = Math.min(whole, timed(() => otel.JsonMetricsSerializer.serializeRequest(toResourceMetrics(otel, w.resource, points, converter.temporality))));
    let longest = 0;
    for (let from = 0; from < points.length; from += SLICE_POINTS) {
      const part = points.slice(from, from + SLICE_POINTS);
      longest = Math.max(longest, timed(() => otel.JsonMetricsSerializer.serializeRequest(toResourceMetrics(otel, w.resource, part, converter.temporality))));
    }
    slice = Math.min(slice, longest);
  }
  return { points: w.series.length, convertMs: r1(convert), beforeOnePieceMs: r1(whole), afterLongestSliceMs: r1(slice), slicePoints: SLICE_POINTS };
}

if (process.env.SINKS_ONLY_PROBE) {
  const probe = await otlpSerializationPause();
  const file = join(HERE, 'results', 'sinks.json');
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  writeFileSync(file, `${JSON.stringify({ ...previous, otlpSerializationPause: probe }, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(probe)}\n`);
  process.exit(0);
} else if (process.argv[2] === '--cell') {
  await cell(process.argv[3] as Config, Number(process.argv[4]), JSON.parse(process.argv[5]) as Record<string, string>);
} else {
  await main();
}

/** A detached worktree of `ref` (node_modules shared), for SINKS_BASE; returns its src/. */
function checkoutBase(ref: string): string {
  const root = join(HERE, '..');
  const sha = execFileSync('git', ['rev-parse', '--short', ref], { cwd: root, encoding: 'utf8' }).trim();
  const dir = join(tmpdir(), `scalesignal-sinks-base-${sha}`);
  if (!existsSync(dir)) {
    execFileSync('git', ['worktree', 'add', '--detach', dir, sha], { cwd: root, stdio: 'ignore' });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  }
  return join(dir, 'src');
}
