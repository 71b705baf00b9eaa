/**
 * Longest synchronous stretch of the AWS sinks' per-window work, unsliced (before) vs sliced (after), in one run.
 *
 * One real 2,000-series window (1,000 counters + 1,000 histograms of 300 distinct values each, label `route`,
 * recorded through createMetrics into a keeping sink) goes through every piece of each sink's per-window work.
 * Each piece is timed as the host feels it: a setImmediate ticker runs beside it and the longest gap between
 * two ticks is the longest time the event loop was blocked (a piece run in one go shows its whole length).
 * Min of REPS repetitions: the minimum is what the code costs, the rest is other processes' load.
 *   EMF             view (AWS names/dimensions) -> documents -> delivery to a loopback agent over TCP (EmfDelivery:
 *                   build + one write per document)
 *   PutMetricData   enqueue (view + datum count) -> datums -> batches (<= 1000 datums / 1 MB) -> one request
 *                   through the SDK: its serializer alone, and `client.send` whole against a loopback PutMetricData
 *                   server (serialize, gzip, SigV4, HTTP, response, logger middleware) -> the whole sink, export
 *                   to flush, against the same server
 * "before" is the unsliced path, in the same run: documents and datums in one piece (windowDocuments,
 * DatumConverter.convert), the delivery loop with `sliceMs: Infinity`, the SDK serializing the whole input itself
 * (`client.send(new PutMetricDataCommand(input))`), and for the whole sink that transport plus a clock whose yield
 * is a microtask (its conversion never lets the loop turn). "after" is the code as shipped (1 ms slices).
 * Each piece also reports the longest gap with no GC pause in it (the code's own slices) and the longest GC pause
 * (PerformanceObserver "gc"): scavenges copy the documents and datums that survive while a window is built.
 * The backends run in a child process, so parsing what arrives is not charged to the host.
 *
 *   npm run bench:aws-stretch        (REPS=15)
 *
 * Writes bench/results/aws-stretch.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { createServer, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPS = Number(process.env.REPS ?? 15);
const HISTOGRAM_VALUES = 300;
const RECORD_GAPS_OVER_MS = 0.25;

// ---------------------------------------------------------------------------------------------------------------
// Child: the backends (a CloudWatch agent's EMF TCP listener that counts lines, the loopback PutMetricData server).

async function backends(): Promise<void> {
  const { startCloudWatchServer } = await import('../test/helpers/cloudwatch-server.js');
  const cw = await startCloudWatchServer();
  let lines = 0;
  const sockets = new Set<Socket>();
  const agent = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => agent.listen(0, '127.0.0.1', resolve));
  const port = (agent.address() as { port: number }).port;
  process.send?.({ emf: `tcp://127.0.0.1:${port}`, cloudwatch: cw.url });
  process.on('message', (message: string) => {
    if (message === 'count') {
      const datums = cw.accepted.length;
      const rejected = cw.requests.filter((r) => r.status !== 200).length;
      // Keep memory flat over the run: only counts are needed.
      cw.accepted.length = 0;
      cw.requests.length = 0;
      process.send?.({ lines, datums, rejected });
      lines = 0;
    } else if (message === 'stop') {
      for (const s of sockets) s.destroy();
      agent.close();
      void cw.close().then(() => process.exit(0));
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Parent: the host under measurement.

interface Endpoints {
  emf: string;
  cloudwatch: string;
}

function startBackends(): Promise<{ child: ChildProcess; endpoints: Endpoints; count: () => Promise<{ lines: number; datums: number; rejected: number }> }> {
  const child = fork(fileURLToPath(import.meta.url), ['--backends'], { execArgv: ['--no-warnings', '--import', 'tsx'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (endpoints: Endpoints) =>
      resolve({
        child,
        endpoints,
        count: () => new Promise((done) => (child.once('message', done), child.send('count'))),
      }),
    );
  });
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs a generator's steps with a turn of the loop whenever `budgetMs` has passed, as the EMF delivery loop does. */
async function inSlices(steps: Iterator<unknown>, budgetMs: number): Promise<void> {
  let start = performance.now();
  while (steps.next().done !== true) {
    if (performance.now() - start <= budgetMs) continue;
    await nextTurn();
    start = performance.now();
  }
}

/** Garbage-collection pauses of this process (start and end, performance.now() time). */
const gcPauses: Array<[number, number]> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcPauses.push([e.startTime, e.startTime + e.duration]);
}).observe({ entryTypes: ['gc'] });

interface Stretch {
  /** Longest gap between two ticks, ms. */
  wall: number;
  /** Longest gap with no garbage-collection pause in it: the code's own slices (plus the OS's preemption). */
  noGc: number;
  /** Longest garbage-collection pause while the work ran. */
  gc: number;
}

/** Longest gap between setImmediate ticks while `work` runs: the longest the event loop was held. */
async function longestStretch(work: () => unknown): Promise<Stretch> {
  const gaps: Array<[number, number]> = [];
  let last = performance.now();
  let stop = false;
  let shortest = 0;
  const tick = () => {
    const now = performance.now();
    // Only gaps that can matter are kept: a ticker that allocates on every tick would cause GC pauses itself.
    if (now - last > RECORD_GAPS_OVER_MS) gaps.push([last, now]);
    else shortest = Math.max(shortest, now - last);
    last = now;
    if (!stop) setImmediate(tick);
  };
  setImmediate(tick);
  const from = performance.now();
  last = from;
  await work();
  stop = true;
  // The tick already scheduled measures the last stretch; the GC observer reports in a later task.
  await nextTurn();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const to = performance.now();
  const pauses = gcPauses.splice(0).filter(([s, e]) => e > from && s < to);
  let wall = shortest;
  let noGc = shortest;
  for (const [s, e] of gaps) {
    wall = Math.max(wall, e - s);
    if (!pauses.some(([ps, pe]) => pe > s && ps < e)) noGc = Math.max(noGc, e - s);
  }
  return { wall, noGc, gc: pauses.reduce((m, [s, e]) => Math.max(m, e - s), 0) };
}

interface Piece {
  /** Min over the repetitions of the longest stretch, ms. */
  before: number;
  after: number;
  /** The same, counting only stretches with no GC pause in them. */
  beforeNoGc: number;
  afterNoGc: number;
  /** Min over the repetitions of the longest GC pause while the piece ran. */
  beforeGc: number;
  afterGc: number;
}

/** `after` undefined: the piece is unchanged by slicing. `setup` runs, untimed, before each timed run. */
async function piece(name: string, before: () => unknown, after?: () => unknown, setup?: () => unknown): Promise<Piece> {
  const b = { wall: Infinity, noGc: Infinity, gc: Infinity };
  const a = { wall: Infinity, noGc: Infinity, gc: Infinity };
  const keepMin = (into: Stretch, s: Stretch) => {
    into.wall = Math.min(into.wall, s.wall);
    into.noGc = Math.min(into.noGc, s.noGc);
    into.gc = Math.min(into.gc, s.gc);
  };
  // Alternated, so drift in machine load does not favour one side.
  for (let rep = 0; rep < REPS; rep++) {
    await setup?.();
    keepMin(b, await longestStretch(before));
    if (after === undefined) continue;
    await setup?.();
    keepMin(a, await longestStretch(after));
  }
  const same = after === undefined ? b : a;
  const result = { before: r2(b.wall), after: r2(same.wall), beforeNoGc: r2(b.noGc), afterNoGc: r2(same.noGc), beforeGc: r2(b.gc), afterGc: r2(same.gc) };
  const f = (x: number, w: number) => x.toFixed(2).padStart(w);
  process.stdout.write(
    `${name.padEnd(48)} before ${f(result.before, 6)} ms   after ${f(result.after, 5)} ms (no GC in it ${f(result.afterNoGc, 5)}, longest GC ${f(result.afterGc, 5)})${after === undefined ? '  unchanged' : ''}\n`,
  );
  return result;
}

const r2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const { createMetrics, cloudWatchSink } = await import('../src/index.js');
  type Window = import('../src/index.js').Window;
  type MetricDatum = import('../src/sinks/cloudwatch/types.js').MetricDatum;
  type PendingEntry = import('../src/sinks/cloudwatch/pending.js').PendingEntry;
  const { AwsView } = await import('../src/sinks/aws/view.js');
  const { dimensionRules } = await import('../src/sinks/aws/dimensions.js');
  const { WindowLedger } = await import('../src/sinks/aws/ledger.js');
  const { documentSteps, windowDocuments } = await import('../src/sinks/emf/documents.js');
  const { EmfDelivery } = await import('../src/sinks/emf/delivery.js');
  const { agentWriter, parseAgentEndpoint } = await import('../src/sinks/emf/agent-client.js');
  const { DatumConverter } = await import('../src/sinks/cloudwatch/datum.js');
  const { Batcher, MAX_DATUMS_PER_REQUEST, MAX_REQUEST_BYTES } = await import('../src/sinks/cloudwatch/batcher.js');
  const { PendingQueue } = await import('../src/sinks/cloudwatch/pending.js');
  const { systemClock } = await import('../src/sinks/cloudwatch/publisher.js');
  const { joinedBody, slicedBodyFor, SLICE_MS } = await import('../src/sinks/cloudwatch/sdk-body.js');
  const { estimateWindowBytes } = await import('../src/core/window-size.js');
  const sdk = await import('@aws-sdk/client-cloudwatch');

  // One real window, through the recording core.
  const windows: Window[] = [];
  const m = createMetrics({ service: 'probe', eventLoop: false, sinks: [{ name: 'keep', export: (ws) => void windows.push(...ws) }] });
  const c = m.counter('bench.requests', { unit: '{request}' });
  const h = m.histogram('bench.latency', { unit: 'ms' });
  for (let t = 0; t < HISTOGRAM_VALUES; t++) {
    for (let i = 0; i < 1000; i++) {
      c.add(1, { route: `/api/r${i}` });
      // 13 is coprime with 500: 300 distinct values per series.
      h.record(1 + ((i * 7 + t * 13) % 500) * 0.37, { route: `/api/r${i}` });
    }
  }
  await m.shutdown();
  const w = windows.reduce((a, b) => (b.series.reduce((n, s) => n + s.count, 0) > a.series.reduce((n, s) => n + s.count, 0) ? b : a));
  if (w.series.length !== 2000) throw new Error(`expected one 2,000-series window, got ${w.series.length} series`);

  const { child, endpoints, count } = await startBackends();
  const silent = { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} };
  const rules = dimensionRules({}, 'bench');
  const pieces: Record<string, Record<string, Piece>> = { emf: {}, putMetricData: {} };

  // --- EMF ------------------------------------------------------------------------------------------------------
  const emfView = new AwsView(rules, {});
  const docConfig = { rollup: false, baseDimensions: 1, percentiles: ['p50', 'p90', 'p95', 'p99'] as const, gaugeMax: false, histogramValues: false, maxBytes: 1_000_000, meta: {} };
  const docCounts = { metricsSkipped: 0, valuesInvalid: 0 };
  const view = emfView.series(w);
  const docs = windowDocuments(view, w.timestamp, 'probe', docConfig, docCounts);
  process.stdout.write(`window: ${w.series.length} series; EMF ${docs.length} documents; slice budget ${SLICE_MS} ms; min of ${REPS}\n`);
  pieces.emf.view = await piece('emf: view (names, dimensions)', () => emfView.series(w));
  // A new sink's first window (and the first after label churn fills the cache) computes every identity.
  let coldView = new AwsView(rules, {});
  pieces.emf.viewFirstWindow = await piece('emf: view, first window (identities computed)', () => coldView.series(w), undefined, () => {
    coldView = new AwsView(rules, {});
  });
  pieces.emf.documents = await piece(
    'emf: documents',
    () => windowDocuments(view, w.timestamp, 'probe', docConfig, docCounts),
    // As the delivery loop runs them: steps until SLICE_MS has passed, then a turn of the loop.
    () => inSlices(documentSteps(view, w.timestamp, 'probe', docConfig, docCounts), SLICE_MS),
  );
  const delivery = (sliceMs: number | undefined) => {
    const d = new EmfDelivery({
      name: 'bench',
      writer: agentWriter(parseAgentEndpoint(endpoints.emf)),
      build: (x) => documentSteps(emfView.series(x), x.timestamp, 'probe', docConfig, docCounts),
      ledger: new WindowLedger(),
      timeoutMs: 500,
      maxBacklog: 600,
      maxBacklogBytes: 16 * 1024 * 1024,
      logger: silent,
      ...(sliceMs === undefined ? {} : { sliceMs }),
    });
    return async () => {
      d.accept([w], undefined);
      await d.flush(10_000);
      await d.shutdown(0);
    };
  };
  let emfDeliveries = 0;
  pieces.emf.deliveryToAgent = await piece(
    'emf: build + write to a loopback agent',
    () => (emfDeliveries++, delivery(Infinity)()),
    () => (emfDeliveries++, delivery(undefined)()),
  );
  const emfArrived = (await count()).lines;

  // --- PutMetricData --------------------------------------------------------------------------------------------
  const cwView = new AwsView(rules, {});
  const converter = new DatumConverter(1);
  const enqueue = () => {
    const v = cwView.series(w);
    converter.countDatums(v);
    estimateWindowBytes(w);
    return v;
  };
  pieces.putMetricData.enqueue = await piece('putMetricData: enqueue (view, datum count)', enqueue);
  const cwSeries = enqueue();
  const pendingEntry = (view: typeof cwSeries | undefined): PendingEntry => ({
    ticket: { timestamp: w.timestamp, receipt: undefined, settled: undefined },
    timestamp: w.timestamp,
    view,
    converting: undefined,
    datums: undefined,
    sizes: undefined,
    count: view === undefined ? 0 : converter.countDatums(view),
    inFlight: 0,
    touched: false,
    failed: false,
    bytes: 0,
    done: false,
  });
  pieces.putMetricData.datums = await piece(
    'putMetricData: datums',
    () => converter.convert(cwSeries, w.timestamp, [], []),
    // As a pacing slot runs it: Batcher.prepare with the publisher's setImmediate between slices.
    async () => {
      const queue = new PendingQueue(Infinity, Infinity);
      queue.push(pendingEntry(cwSeries));
      await new Batcher(converter).prepare(queue, Infinity, nextTurn);
    },
  );
  const limits = { maxDatums: MAX_DATUMS_PER_REQUEST, maxBytes: MAX_REQUEST_BYTES };
  const batchesOf = async () => {
    const queue = new PendingQueue(Infinity, Infinity);
    queue.push(pendingEntry(cwSeries));
    const batcher = new Batcher(converter);
    await batcher.prepare(queue, Infinity, nextTurn);
    const batches = [];
    for (let b = batcher.take(queue, limits, 'probe'); b !== undefined; b = batcher.take(queue, limits, 'probe')) batches.push(b);
    return batches;
  };
  const batches = await batchesOf();
  // The batches alone: take() over converted datums (converted in `setup`, untimed; conversion is timed above).
  let takeQueue = new PendingQueue(Infinity, Infinity);
  let takeBatcher = new Batcher(converter);
  pieces.putMetricData.batches = await piece(
    'putMetricData: batches (take)',
    () => {
      while (takeBatcher.take(takeQueue, limits, 'probe') !== undefined);
    },
    undefined,
    () => {
      const datums: MetricDatum[] = [];
      const sizes: number[] = [];
      converter.convert(cwSeries, w.timestamp, datums, sizes);
      takeQueue = new PendingQueue(Infinity, Infinity);
      takeBatcher = new Batcher(converter);
      takeQueue.push({ ...pendingEntry(undefined), datums, sizes, count: datums.length });
    },
  );
  process.stdout.write(`PutMetricData: ${batches.length} requests of ${batches.map((b) => b.datums.length).join(' / ')} datums (${batches.map((b) => Math.round(b.bytes / 1000)).join(' / ')} KB)\n`);

  const client = new sdk.CloudWatchClient({ endpoint: endpoints.cloudwatch, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  // Our MetricDatum type has readonly arrays; the SDK's input type does not (the values are the same).
  const Put = sdk.PutMetricDataCommand as unknown as new (i: unknown) => InstanceType<typeof sdk.PutMetricDataCommand>;
  // Throws when the installed SDK has no schema serializer to slice with.
  const sliced = slicedBodyFor(client, { PutMetricDataCommand: Put, PutMetricDataInput$: sdk.PutMetricDataInput$ });
  const serializer = (client as unknown as { config: { protocol: { serializer: { write(s: unknown, v: unknown): void; flush(): Uint8Array } } } }).config.protocol.serializer;
  const serialize = (value: unknown) => {
    serializer.write(sdk.PutMetricDataInput$, value);
    return serializer.flush();
  };
  // The biggest request: the longest serialization.
  const biggest = batches.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const input = { Namespace: 'probe', MetricData: biggest.datums };
  pieces.putMetricData.sdkSerializer = await piece(
    'putMetricData: SDK serializer, biggest request',
    () => serialize(input),
    () => joinedBody((v) => serialize(v) as Uint8Array, input),
  );
  pieces.putMetricData.sdkSend = await piece(
    'putMetricData: SDK send, biggest request',
    () => client.send(new Put(input)),
    async () => {
      const body = await sliced.body(input);
      return client.send(sliced.command(body, { signal: new AbortController().signal, writing: () => undefined }) as InstanceType<typeof Put>);
    },
  );
  const sdkArrived = await count();

  // The whole sink, export() to flush(), through the public API.
  const unslicedClock = { ...systemClock, yield: () => Promise.resolve() };
  const plainTransport = (i: unknown, o: { signal: AbortSignal }) => client.send(new Put(i), { abortSignal: o.signal });
  const sinkFor = (before: boolean) =>
    cloudWatchSink({
      fleetSize: 1,
      identity: 'aws-stretch-0',
      logger: silent,
      ...(before
        ? { transport: plainTransport, clock: unslicedClock }
        : { endpoint: endpoints.cloudwatch, region: 'us-east-1', clientConfig: { credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } } }),
    });
  // Created once and warmed up (the SDK client's first request resolves its config, endpoint and credentials).
  const beforeSink = sinkFor(true);
  const afterSink = sinkFor(false);
  let sinkRuns = 0;
  const sinkRun = (sink: typeof beforeSink) => async () => {
    sinkRuns++;
    sink.export([w]);
    await sink.flush(10_000);
  };
  await sinkRun(beforeSink)();
  await sinkRun(afterSink)();
  pieces.putMetricData.sinkToServer = await piece('putMetricData: whole sink, export to flush', sinkRun(beforeSink), sinkRun(afterSink));
  await beforeSink.shutdown();
  await afterSink.shutdown();
  const sinkArrived = await count();
  child.send('stop');

  const longest = (p: Record<string, Piece>) => {
    // Steady state: the first window's identities are a one-time cost, reported on their own.
    const max = (k: keyof Piece) => Math.max(...Object.entries(p).filter(([name]) => !name.endsWith('FirstWindow')).map(([, x]) => x[k]));
    return { before: max('before'), after: max('after'), beforeNoGc: max('beforeNoGc'), afterNoGc: max('afterNoGc'), afterGc: max('afterGc') };
  };
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    sdk: (JSON.parse(readFileSync(join(HERE, '..', 'node_modules', '@aws-sdk', 'client-cloudwatch', 'package.json'), 'utf8')) as { version: string }).version,
    loadavg: loadavg().map((x) => Math.round(x * 10) / 10),
    method:
      'longest gap between setImmediate ticks while the piece runs (what the host event loop feels), min of REPS; ' +
      '*NoGc: the longest gap with no GC pause in it (the code itself); *Gc: the longest GC pause (PerformanceObserver "gc")',
    reps: REPS,
    sliceBudgetMs: SLICE_MS,
    window: {
      series: w.series.length,
      histogramDistinctValues: HISTOGRAM_VALUES,
      emfDocuments: docs.length,
      datums: batches.reduce((n, b) => n + b.datums.length, 0),
      requests: batches.map((b) => ({ datums: b.datums.length, estimatedBytes: b.bytes })),
    },
    arrived: {
      emfDocuments: { expected: emfDeliveries * docs.length, received: emfArrived },
      sdkSendDatums: { expected: 2 * REPS * biggest.datums.length, received: sdkArrived.datums, rejectedRequests: sdkArrived.rejected },
      sinkDatums: { expected: sinkRuns * batches.reduce((n, b) => n + b.datums.length, 0), received: sinkArrived.datums, rejectedRequests: sinkArrived.rejected },
    },
    target: 'no synchronous piece longer than ~1-2 ms at 2,000 series',
    emf: { longestMs: longest(pieces.emf), piecesMs: pieces.emf },
    putMetricData: { longestMs: longest(pieces.putMetricData), piecesMs: pieces.putMetricData },
  };
  for (const [label, l] of [['EMF', result.emf.longestMs], ['PutMetricData', result.putMetricData.longestMs]] as const) {
    process.stdout.write(`${label} longest piece: before ${l.before} ms, after ${l.after} ms (no GC: before ${l.beforeNoGc}, after ${l.afterNoGc}; longest GC pause after ${l.afterGc})\n`);
  }
  process.stdout.write(`arrived: ${JSON.stringify(result.arrived)}\n`);
  const file = join(HERE, 'results', 'aws-stretch.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

if (process.argv[2] === '--backends') await backends();
else await main();
