/**
 * CPU per request of two apps in one server process, each in a worker thread of its own (separate V8 isolates:
 * their own JIT state, inline caches, heaps, diagnostics channels and http prototypes), a paced load
 * (paced-load.ts) alternating between them in 1 s blocks, order swapped every pair. Each block's CPU is the serving
 * thread's own on-CPU time (/proc/thread-self/schedstat, ns), so nothing the other app does is charged to it.
 *
 * Why a third harness: bench:http (fresh processes) charges scalesignal with everything a process that loaded it
 * does differently, but two fresh processes of the same bare server differ by up to 30 %; bench:http:inprocess
 * (two apps in one isolate) cancels that luck but charges what scalesignal does to node's shared code to both
 * apps. Here the apps share the process (its CPU, its memory layout, its load) but not the isolate; a bare-vs-bare
 * control (`--compare control`) shows the harness's resolution.
 *
 * Caveat, found with it (2026-11-28): in a worker isolate, process.nextTick's tick-object literal often ends up
 * with megamorphic feedback (`%DebugPrint(process.nextTick)`: the DefineKeyedOwnPropertyInLiteral slots after the
 * first), so every tick object is built through the runtime: nextTick's self time 10x, +20-30 % CPU per request
 * for the whole isolate. It happened in almost every isolate that had started scalesignal's Prometheus sink and
 * served through a Fastify hook (a no-op hook as much as the plugin), and in some bare ones; a main-thread server
 * under the same load stayed monomorphic every time (6 of 6, scalesignal or bare). So this harness measures what
 * running in a worker does to node's own code as much as what scalesignal adds; main-thread services: bench:http.
 *
 *   npm run bench:http:isolates                                     # Fastify hello, scalesignal vs bare, 3 processes
 *   npm run bench:http:isolates -- --compare control                # bare vs bare
 *   npm run bench:http:isolates -- --compare noop-hook              # an isolate with scalesignal started and only a no-op hook
 *   npm run bench:http:isolates -- --framework express --handler realistic --rate 1500
 *
 * Every process (--runs) reports the median of its per-pair ratios; the result is the median over processes, with
 * each process's figure listed (they differ more than a single interval suggests: an isolate's luck does not
 * cancel). Writes bench/results/http-isolates[-<compare>]-<framework>-<handler>.json (--out).
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { bundleScalesignal } from './bundle.js';
import type { IsolateSetup, IsolateWorkerData } from './http-isolates-worker.js';
import { pacedLoad } from './paced-load.js';
import { added, median, pct, round3 } from './stats.js';

const here = dirname(fileURLToPath(import.meta.url));
type Framework = IsolateWorkerData['framework'];
type Handler = IsolateWorkerData['handler'];
type Compare = 'scalesignal' | 'noop-hook' | 'control';
type Side = 'a' | 'b';

/** The server process: two workers, a (the setup) and b (bare); answers the load generator's CPU questions. */
async function serve(): Promise<void> {
  const { worker: workerFile, framework, handler, compare, bundle } = JSON.parse(process.env.BENCH_ISOLATES!) as {
    worker: string;
    framework: Framework;
    handler: Handler;
    compare: Compare;
    bundle: string;
  };
  const start = (setup: IsolateSetup) =>
    new Promise<{ worker: Worker; port: number }>((resolve, reject) => {
      const worker = new Worker(workerFile, { workerData: { setup, framework, handler, bundle } satisfies IsolateWorkerData });
      worker.once('error', reject);
      worker.once('message', (port: number) => resolve({ worker, port }));
    });
  const a = await start(compare === 'control' ? 'bare' : compare);
  const b = await start('bare');
  const workers = { a: a.worker, b: b.worker };
  process.on('message', ({ side, op }: { side: Side; op: string }) => {
    workers[side].once('message', (ns: number) => process.send!(ns));
    workers[side].postMessage(op);
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ a: a.port, b: b.port });
}

function ask(child: ChildProcess, side: Side, op: string): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', resolve as (m: unknown) => void);
    child.send({ side, op });
  });
}

/** One server process: warm-up, then `pairs` pairs of blocks; the per-pair ratios a/b - 1 and CPU per request. */
async function runProcess(env: Record<string, string>, rate: number, pairs: number, connections: number) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { execArgv: ['--import', 'tsx'], env: { ...process.env, ...env } });
  const ports = await new Promise<Record<Side, number>>((resolve) => child.once('message', resolve as (m: unknown) => void));
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(child.pid)], { stdio: 'ignore' });
  const block = async (side: Side, seconds = 1): Promise<number> => {
    await ask(child, side, 'mark');
    let responses = 0;
    await pacedLoad({ url: `http://127.0.0.1:${ports[side]}/users/42`, rate, seconds, connections, onResponse: () => void responses++ });
    return (await ask(child, side, 'sample')) / 1000 / responses;
  };
  await block('a', 3);
  await block('b', 3);
  const ratios: number[] = [];
  const perRequest = { a: [] as number[], b: [] as number[] };
  for (let p = 0; p < pairs; p++) {
    const order: Side[] = p % 2 === 0 ? ['a', 'b'] : ['b', 'a'];
    const cpu = { a: 0, b: 0 };
    for (const side of order) cpu[side] = await block(side);
    perRequest.a.push(cpu.a);
    perRequest.b.push(cpu.b);
    ratios.push(cpu.a / cpu.b - 1);
  }
  child.kill();
  return { ratios, microsPerRequest: { a: round3(median(perRequest.a)), b: round3(median(perRequest.b)) } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      compare: { type: 'string', default: 'scalesignal' },
      framework: { type: 'string', default: 'fastify' },
      handler: { type: 'string', default: 'hello' },
      rate: { type: 'string', default: '8000' },
      pairs: { type: 'string', default: '20' },
      runs: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      out: { type: 'string' },
    },
  });
  const compare = values.compare as Compare;
  if (!['scalesignal', 'noop-hook', 'control'].includes(compare)) throw new Error(`--compare: scalesignal, noop-hook or control, not "${compare}"`);
  const framework = values.framework as Framework;
  const handler = values.handler as Handler;
  const [rate, pairs, runs, connections] = [values.rate, values.pairs, values.runs, values.connections].map(Number);
  const esbuild = await import('esbuild');
  const worker = join(mkdtempSync(join(here, '../.tmp/isolates-')), 'worker.mjs');
  await esbuild.build({ entryPoints: [join(here, 'http-isolates-worker.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: worker, logLevel: 'warning' });
  const env = { NODE_ENV: 'production', SCALESIGNAL_SINKS: '', BENCH_ISOLATES: JSON.stringify({ worker, framework, handler, compare, bundle: await bundleScalesignal() }) };
  // The servers on CPU 1, the load generator (this process) on CPU 0.
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

  const processes: Array<{ added: ReturnType<typeof added>; microsPerRequest: { a: number; b: number } }> = [];
  for (let r = 0; r < runs; r++) {
    const { ratios, microsPerRequest } = await runProcess(env, rate, pairs, connections);
    const result = { added: added(ratios), microsPerRequest };
    processes.push(result);
    const { median: m, ci95 } = result.added;
    console.log(`process ${r + 1}: ${pct(m)} [${pct(ci95[0])}, ${pct(ci95[1])}]  CPU/request ${microsPerRequest.a} vs ${microsPerRequest.b} us`);
  }
  const overall = median(processes.map((p) => p.added.median));
  const what = compare === 'control' ? 'bare vs bare' : `${compare} vs bare`;
  console.log(`${framework} ${handler} at ${rate} req/s, ${what}, separate isolates: ${pct(overall)} (median of ${runs} processes)`);
  const out = values.out ?? join(here, `results/http-isolates${compare === 'scalesignal' ? '' : `-${compare}`}-${framework}-${handler}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(
    out,
    JSON.stringify(
      {
        bench: 'http-isolates',
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        loadAverage: os.loadavg(),
        config: { compare, framework, handler, rate, pairs, runs, connections },
        cpuAdded: round3(overall),
        processes,
      },
      null,
      2,
    ) + '\n',
  );
}

if (process.argv[2] === '--serve') await serve();
else await main();
