/**
 * Worker lanes, side by side in one run:
 *  1. bound histogram.record and counter.add on the main thread vs inside a worker (the same code runs in both:
 *     mitata p50 and a timed tight loop of N records), target: worker <= 2x main;
 *  2. sealing cost with 0, 1, 2 and 4 worker lanes of 100 series (20 histograms) each, every series holding
 *     fresh records in every lane: the copy into the main thread's mirrors plus the seal, in µs per lane;
 *  3. stragglers: 4 and 12 workers recording as fast as they can for STRAGGLER_SECONDS at the default 1 s interval
 *     (12 on 2 cores: most of them descheduled at any instant), then shutdown(): the fraction of records that
 *     landed in a later window than their second's, and how many slots a seal had to leave for a later one.
 * Writes bench/results/workers.json.
 *
 *   npm run bench:workers      (node --import tsx bench/workers.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { do_not_optimize, measure } from 'mitata';
import { createMetrics } from '../src/index.js';
import type { BoundCounter, BoundGauge, BoundHistogram } from '../src/core/api.js';
import type { MetricsRegistry } from '../src/core/registry.js';
import { Sealer } from '../src/core/sealer.js';
import { connectMetrics, createWorkerLink, type WorkerLink, type WorkerMetrics } from '../src/workers/index.js';
import { workerLaneStats } from '../src/workers/link.js';

const LOOP = 3_000_000;
const LOOP_RUNS = 15;
const SERIES = { counters: 60, gauges: 20, histograms: 20 };
const SEALS = 300;
const WARMUP_SEALS = 300;

// Values vary so histograms touch many buckets, as real latencies do (same input as bench/hotpath.ts).
const values = new Float64Array(1024);
for (let i = 0; i < values.length; i++) values[i] = Math.exp(((i * 7919) % 1024) / 1024 * 6);
let cursor = 0;
const next = () => values[(cursor = (cursor + 1) & 1023)];

interface RecordCost {
  histogramP50: number;
  counterP50: number;
  baselineP50: number;
  histogramLoopNs: number;
  counterLoopNs: number;
}

const STRAGGLER_SECONDS = 6;

type Instruments = Pick<WorkerMetrics, 'counter' | 'gauge' | 'histogram'>;

type LoopKind = 'baseline' | 'histogram' | 'counter';

function cpuNs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) * 1000;
}

/** Runs identically on the main thread and in a worker: mitata p50s, and one timed tight loop of a kind on demand. */
async function recordCost(metrics: Instruments): Promise<{ cost: RecordCost; loop: (kind: LoopKind) => number }> {
  const histogram = metrics.histogram('bench.latency', { unit: 'ms' }).bind({ route: '/pay' });
  const counter = metrics.counter('bench.requests').bind({ route: '/pay' });
  const p50 = async (fn: () => void) => (await measure(fn, { min_cpu_time: 500 * 1e6 })).p50;
  const baselineP50 = await p50(() => do_not_optimize(next()));
  const histogramP50 = (await p50(() => histogram.record(next()))) - baselineP50;
  const counterP50 = await p50(() => counter.add(1));
  // One function per kind, so each call site stays monomorphic. Timed in process CPU time, not wall time: with
  // the loops alternating only one thread runs at a time, and time spent descheduled (this machine is shared) is
  // not counted.
  const loops: Record<LoopKind, () => number> = {
    baseline: () => {
      const start = cpuNs();
      for (let i = 0; i < LOOP; i++) do_not_optimize(next());
      return (cpuNs() - start) / LOOP;
    },
    histogram: () => {
      const start = cpuNs();
      for (let i = 0; i < LOOP; i++) histogram.record(next());
      return (cpuNs() - start) / LOOP;
    },
    counter: () => {
      const start = cpuNs();
      for (let i = 0; i < LOOP; i++) counter.add(1);
      return (cpuNs() - start) / LOOP;
    },
  };
  return {
    cost: { histogramP50, counterP50, baselineP50, histogramLoopNs: NaN, counterLoopNs: NaN },
    loop: (kind) => loops[kind](),
  };
}

/**
 * Tight loops, main thread and worker alternating run by run (one at a time: two cores here), best of LOOP_RUNS
 * each: on a shared machine noise only ever adds time, and alternating exposes both sides to the same load.
 */
async function alternateLoops(main: (kind: LoopKind) => number, worker: Worker): Promise<Record<'main' | 'worker', Record<LoopKind, number>>> {
  const best = {
    main: { baseline: Infinity, histogram: Infinity, counter: Infinity },
    worker: { baseline: Infinity, histogram: Infinity, counter: Infinity },
  };
  for (let run = 0; run < LOOP_RUNS; run++) {
    for (const kind of ['baseline', 'histogram', 'counter'] as const) {
      best.main[kind] = Math.min(best.main[kind], main(kind));
      const answer = reply(worker);
      worker.postMessage({ loop: kind });
      best.worker[kind] = Math.min(best.worker[kind], (await answer) as number);
    }
  }
  return best;
}

/** The 100 series every lane declares: same names and labels everywhere, so each worker adds one location to each. */
function declare(metrics: Instruments) {
  const counters: BoundCounter[] = [];
  const gauges: BoundGauge[] = [];
  const histograms: BoundHistogram[] = [];
  for (let i = 0; i < SERIES.counters; i++) counters.push(metrics.counter(`seal.counter.${i % 6}`).bind({ i }));
  for (let i = 0; i < SERIES.gauges; i++) gauges.push(metrics.gauge(`seal.gauge.${i % 2}`).bind({ i }));
  for (let i = 0; i < SERIES.histograms; i++) histograms.push(metrics.histogram(`seal.histogram.${i % 2}`, { unit: 'ms' }).bind({ i }));
  return () => {
    for (const c of counters) c.add(1);
    for (let i = 0; i < gauges.length; i++) gauges[i].set(i);
    for (const h of histograms) for (let k = 0; k < 20; k++) h.record(next());
  };
}

function startWorker(role: 'record' | 'seal' | 'spin', link: ReturnType<typeof createWorkerLink>, stop?: SharedArrayBuffer): Worker {
  // Node 20 workers do not inherit tsx's loader: load this file through tsx's API.
  const api = import.meta.resolve('tsx/esm/api');
  const self = import.meta.url;
  const code = `import(${JSON.stringify(api)}).then(({ tsImport }) => tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
  return new Worker(code, { eval: true, workerData: { scalesignal: link, role, stop }, transferList: [link.port] });
}

const reply = (worker: Worker, expected?: string) =>
  new Promise<unknown>((resolve, reject) => {
    const onMessage = (message: unknown) => {
      if (expected !== undefined && message !== expected) return;
      worker.off('message', onMessage);
      worker.off('error', reject);
      resolve(message);
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));

  // 1. Record cost: main thread first, then the same code in a worker (one at a time: two cores here).
  const recordMetrics = createMetrics({ service: 'bench', sinks: [], eventLoop: false, intervalMs: 60_000 });
  const mainSide = await recordCost(recordMetrics);
  const mainCost = mainSide.cost;
  const recorder = startWorker('record', createWorkerLink(recordMetrics));
  const workerCost = (await reply(recorder)) as RecordCost;
  const best = await alternateLoops(mainSide.loop, recorder);
  mainCost.histogramLoopNs = best.main.histogram - best.main.baseline;
  mainCost.counterLoopNs = best.main.counter;
  workerCost.histogramLoopNs = best.worker.histogram - best.worker.baseline;
  workerCost.counterLoopNs = best.worker.counter;
  await recorder.terminate();
  await recordMetrics.shutdown();
  if (process.argv.includes('--record-only')) {
    console.table({ main: roundAll(mainCost), worker: roundAll(workerCost) });
    return;
  }

  // 2. Seal cost with 0, 1, 2, 4 worker lanes.
  const registry = createMetrics({ service: 'bench', sinks: [], eventLoop: false, intervalMs: 60_000 }) as MetricsRegistry;
  const fillMain = declare(registry);
  const sealer = new Sealer(registry.table, registry.options.histogramScale, { service: 'bench', attributes: {} }, 0);
  const lanes: Worker[] = [];
  const seal: Array<{ workerLanes: number; series: number; locations: number; copyUs: number; sealUs: number; totalUs: number; totalMinUs: number }> = [];
  for (const target of [0, 1, 2, 4]) {
    while (lanes.length < target) {
      const worker = startWorker('seal', createWorkerLink(registry));
      await reply(worker, 'ready');
      lanes.push(worker);
    }
    const copyNs: number[] = [];
    const sealNs: number[] = [];
    const warmup = target === 0 ? WARMUP_SEALS : 20;
    for (let round = 0; round < SEALS + warmup; round++) {
      fillMain();
      await Promise.all(lanes.map((worker) => {
        const filled = reply(worker, 'filled');
        worker.postMessage('fill');
        return filled;
      }));
      const slot = Atomics.load(registry.clock.shared, 0);
      const t0 = process.hrtime.bigint();
      for (const hook of registry.beforeSeal) hook(slot, 1);
      const t1 = process.hrtime.bigint();
      sealer.seal({ sequence: round, start: round * 1000, end: round * 1000 + 1000, timestamp: round * 1000, slot });
      const t2 = process.hrtime.bigint();
      if (round >= warmup) {
        copyNs.push(Number(t1 - t0));
        sealNs.push(Number(t2 - t1));
      }
    }
    const locations = [...registry.table.all].reduce((sum, s) => sum + s.locations.length, 0);
    seal.push({
      workerLanes: target,
      series: registry.table.all.size,
      locations,
      copyUs: round2(median(copyNs) / 1000),
      sealUs: round2(median(sealNs) / 1000),
      totalUs: round2(median(copyNs.map((ns, i) => ns + sealNs[i])) / 1000),
      totalMinUs: round2(Math.min(...copyNs.map((ns, i) => ns + sealNs[i])) / 1000),
    });
  }
  for (const worker of lanes) await worker.terminate();
  await registry.shutdown();

  // 3. Stragglers.
  const stragglers: Array<{ workers: number; seconds: number; records: number; stragglers: number; fraction: number; deferredSlots: number; retries: number }> = [];
  for (const count of [4, 12]) {
    const m = createMetrics({ service: 'bench', sinks: [], eventLoop: false });
    const stop = new SharedArrayBuffer(4);
    const spinners = Array.from({ length: count }, () => startWorker('spin', createWorkerLink(m), stop));
    await Promise.all(spinners.map((worker) => reply(worker, 'ready')));
    await new Promise((resolve) => setTimeout(resolve, STRAGGLER_SECONDS * 1000));
    const finished = spinners.map((worker) => reply(worker, 'stopped'));
    Atomics.store(new Int32Array(stop), 0, 1);
    await Promise.all(finished);
    await m.shutdown();
    for (const worker of spinners) await worker.terminate();
    const stats = workerLaneStats(m);
    stragglers.push({
      workers: count,
      seconds: STRAGGLER_SECONDS,
      records: stats.records,
      stragglers: stats.stragglers,
      fraction: Number((stats.stragglers / stats.records).toPrecision(3)),
      deferredSlots: stats.deferred,
      retries: stats.retries,
    });
  }

  const perLane = seal.slice(1).map((row) => ({
    workerLanes: row.workerLanes,
    usPerLaneMedian: round2((row.totalUs - seal[0].totalUs) / row.workerLanes),
    usPerLaneMin: round2((row.totalMinUs - seal[0].totalMinUs) / row.workerLanes),
    copyUsPerLane: round2(row.copyUs / row.workerLanes),
  }));
  const ratio = {
    histogramP50: round2(workerCost.histogramP50 / mainCost.histogramP50),
    counterP50: round2(workerCost.counterP50 / mainCost.counterP50),
    histogramLoop: round2(workerCost.histogramLoopNs / mainCost.histogramLoopNs),
    counterLoop: round2(workerCost.counterLoopNs / mainCost.counterLoopNs),
  };
  const worst = Math.max(ratio.histogramLoop, ratio.counterLoop);
  const report = {
    node: process.version,
    date: new Date().toISOString(),
    method:
      'record: mitata p50 per call (histogram minus the input-selection baseline), main thread then worker, and the best of 15 tight loops of 3M calls timed in process CPU time (process.cpuUsage()) (histogram minus the same loop over input selection only), main thread and worker alternating run by run, same code; seal: median and minimum of 300 rounds (after 300 warm-up rounds), each after every lane recorded into all 100 series (20 histograms x 20 values), copy = worker lanes into main-thread mirrors (beforeSeal), seal = Sealer.seal',
    record: {
      mainNs: roundAll(mainCost),
      workerNs: roundAll(workerCost),
      workerOverMain: ratio,
      target: 'worker <= 1.2x main (tight loop)',
      ok: worst <= 1.2,
    },
    seal: { series: SERIES, rows: seal, perLane },
    stragglers,
  };
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'workers.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.table({ main: roundAll(mainCost), worker: roundAll(workerCost) });
  console.table(seal);
  console.table(stragglers);
  console.log(JSON.stringify({ workerOverMain: ratio, perLane }));
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function roundAll<T extends object>(row: T): T {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, round2(v as number)])) as T;
}

// ---- entry: the worker side, or the run -----------------------------------------------------------------------
if (!isMainThread) {
  const { scalesignal, role, stop } = workerData as { scalesignal: WorkerLink; role: 'record' | 'seal' | 'spin'; stop?: SharedArrayBuffer };
  const metrics = connectMetrics(scalesignal);
  if (role === 'record') {
    const { cost, loop } = await recordCost(metrics);
    parentPort!.on('message', (message: { loop: LoopKind }) => parentPort!.postMessage(loop(message.loop)));
    parentPort!.postMessage(cost);
  } else if (role === 'spin') {
    const histogram = metrics.histogram('bench.spin.latency', { unit: 'ms' }).bind();
    const counter = metrics.counter('bench.spin.requests').bind();
    await metrics.flush();
    parentPort!.postMessage('ready');
    const stopped = new Int32Array(stop as SharedArrayBuffer);
    while (Atomics.load(stopped, 0) === 0) {
      for (let i = 0; i < 1000; i++) {
        histogram.record(next());
        counter.add(1);
      }
    }
    parentPort!.postMessage('stopped');
  } else {
    const fill = declare(metrics);
    await metrics.flush();
    parentPort!.postMessage('ready');
    parentPort!.on('message', (message) => {
      if (message === 'fill') {
        fill();
        parentPort!.postMessage('filled');
      } else {
        parentPort!.close();
      }
    });
  }
} else {
  await main();
}
