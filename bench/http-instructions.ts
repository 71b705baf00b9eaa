/**
 * Instructions per request each HTTP setup adds, counted by valgrind: a deterministic companion to bench/http.ts.
 *
 * Why: on this shared 2-core machine req/s and CPU time vary 10-30 % from run to run, so bench:http's losses
 * (Express ~7-20 %, Fastify ~5-13 %, CPU/request +10-27 %) cannot separate our real cost from noise. An
 * instruction count does not depend on what else the machine is doing: the same server serving the same requests
 * executes (nearly) the same instructions however loaded and however slow the machine is.
 *
 * Method, per framework (express, fastify), handler (hello, realistic: bench/http.ts's ~2 KB JSON) and setup (bare,
 * scalesignal; --setups adds noop, prom-bundle | fastify-metrics, otel):
 * - The server is bench/http.ts's own child (`--serve <framework> <setup> <handler>`: same setups, same priming,
 *   scalesignal from the same esbuild bundle as published, not tsx's keepNames transform), run under
 *   `valgrind --tool=callgrind --instr-atstart=no --smc-check=all-non-file` with the JIT on (valgrind re-checks
 *   V8's generated code for self-modification; no --no-opt or --jitless). Nothing is instrumented while Node
 *   starts, primes and warms up, which runs several times faster than instrumented code.
 * - This process drives it with a keep-alive node:http agent, --sockets sockets with one request in flight each:
 *   --warmup requests, then `callgrind_control --instr=on` and three windows, each ending with a callgrind dump
 *   (which zeroes the counters):
 *     window 0: a few hundred requests that absorb turning instrumentation on (valgrind retranslates everything);
 *     window 2: N2 requests, I(N2) instructions;
 *     window 1: N1 requests, then idle until it has lasted as long as window 2, I(N1) instructions.
 *   instructions/request = (I(N2) - I(N1)) / (N2 - N1): startup and warm-up are outside the windows, what every
 *   window has once (its edges) cancels, and so does what wall time drives, as both windows last equally long.
 *   Both windows are in one process (half the cost of a process per N); the repeats show process-to-process
 *   variation.
 * - Counted on all threads (V8's GC helpers too), except two parts that are not a cost per request:
 *   - timers, everything under libuv's uv__run_timers (inclusive): under valgrind the server runs ~50-100x
 *     slower while timers keep wall-clock time, so the event-loop sampler (every 10 ms), the 1 s seal, OTel's 1 s
 *     reader, Node's date cache would be charged 50-100x more often per request than on a real server. They cost
 *     per second: reported apart as instructions per (valgrind wall) second ("timers/s"). Callgrind loses part
 *     of them through V8's trampolines (and timers cause work elsewhere: immediates, GC of what they allocate,
 *     ~0.4 M instructions/s idle for scalesignal): that residue is what the equal window lengths cancel;
 *   - TurboFan compile jobs (OptimizingCompileDispatcher::CompileTask, background threads): code that only
 *     timers run (the sealer) becomes hot after minutes of valgrind time, not seconds, and compiles inside the
 *     windows. Reported apart per request ("jit/req"); a setup that kept deoptimizing would show there.
 * - Windows: the scalesignal server runs with 60 s windows (BENCH_INTERVAL_MS): under valgrind a second of wall
 *   time holds ~50x fewer requests than natively, so the per-window work (sealing, the Prometheus sink's apply,
 *   which grows with how busy the second was) would be charged ~50x too much per request, and it escapes the timer
 *   exclusion through V8's trampolines. What it costs per window is measured by bench:seal.
 * - Windows are long (Fastify 10,000 and 70,000 requests): TurboFan's late compilations and major GCs come in
 *   chunks whose place is luck; spread over more requests they weigh less. (A forced full GC at every window's
 *   edge was tried: V8 then recompiled hot code in every window, and the figures got noisier, not steadier.)
 * - The server runs with --no-memory-reducer: that V8 heuristic starts major GCs when it sees little allocation
 *   per wall second, and under valgrind every server looks nearly idle to it (Fastify: no major GC natively over
 *   100,000 requests, a random few under valgrind). Major GCs that allocation causes (Express: one every ~3,000
 *   requests, natively too) stay in; "gc/req" shows how much of a figure is V8's heap and GC (self cost), since
 *   a setup's heap size shifts when major GCs come and can make it cheaper in GC than bare.
 * - Every setup's process has used node:zlib and a node:http client once while priming (bench/http.ts's header:
 *   "Priming"), as the scalesignal process's scrape of its Prometheus sink does and nearly every real service
 *   does anyway; --zlib untouched leaves that out (then only the scalesignal process has, and node's stream and
 *   HTTP code runs slower in it for every later request).
 * - Every setup runs --repeats times (default 2), each on a fresh process: the spread shows it repeats.
 *
 *   npm run bench:http:instructions                      # bare + scalesignal, 2 frameworks x 2 handlers x 2 repeats (~1 h)
 *   npm run bench:http:instructions -- --frameworks express --handlers hello --repeats 1
 *   npm run bench:http:instructions -- --setups noop,otel   # more of bench/http.ts's setups
 *   npm run bench:http:instructions -- --setups middleware --skip scalesignal   # the middleware without the sink
 *   npm run bench:http:instructions -- --base main          # adds `before`: scalesignal built from main's src/
 *   npm run bench:http:instructions -- --express 1000,7000 --fastify 4000,24000 --warmup 8000   # shorter, noisier
 *   npm run bench:http:instructions -- --keep /tmp/cg     # keep the callgrind dumps (.2: the N2 window)
 *   npm run bench:http:instructions -- --zlib untouched   # processes that never used zlib (see below)
 *   npm run bench:http:instructions -- --node-flags=--perf-basic-prof --keep /tmp/cg   # to name JIT code
 *
 * Needs valgrind 3.x (callgrind, callgrind_control, callgrind_annotate) and ptrace between processes (vgdb, for
 * callgrind_control). Writes bench/results/http-instructions.json; the last line printed is the summary as JSON.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { bundleScalesignal } from './bundle.js';
import { PATH, zlibOption, type Framework, type Handler, type Setup, type ZlibMode } from './http.js';

/** bare and scalesignal by default; --setups adds bench/http.ts's others (noop, prom-bundle, fastify-metrics, otel). */
const DEFAULT_SETUPS: readonly Setup[] = ['bare', 'scalesignal'];
const here = dirname(fileURLToPath(import.meta.url));
const SERVER = join(here, 'http.ts');
const run$ = promisify(execFile);

/** The first window, absorbing the switch to instrumented code. */
const FIRST_WINDOW = 500;
/** Inclusive costs taken out of every window (see the header). */
const TIMERS = /^\s*([\d,]+)\s.*:uv__run_timers\s/m;
const JIT = /^\s*([\d,]+)\s.*:v8::internal::OptimizingCompileDispatcher::CompileTask::RunInternal\(\)\s/m;
/** V8's heap and GC functions, by self cost (for the informative gc/req column; collectors nest, so not inclusive). */
const GC =
  /v8::internal::(?:Scaveng|MarkCompact|MinorMarkCompact|ConcurrentMarking|IncrementalMarking|[A-Za-z]*Marking[A-Za-z]*|[A-Za-z]*Visitor|Sweeper|[A-Za-z]*Evacuat|RememberedSet|SlotSet|TypedSlot|RecordMigratedSlot|PointersUpdating|ParallelClearing|MemoryChunk|MemoryAllocator|GCTracer|PagedSpace|NewSpace|SemiSpace|FreeList|LargeObjectSpace|Page::|Heap::|HeapObject::SizeFromMap|BodyDescriptor)|heap::base::|_Map_base<v8::internal::MemoryChunk/;

interface Job {
  framework: Framework;
  handler: Handler;
  setup: Setup;
  repeat: number;
  n1: number;
  n2: number;
}

/** One window's counts. */
interface Count {
  /** All instructions, all threads. */
  instructions: number;
  /** Under uv__run_timers. */
  timers: number;
  /** In TurboFan's background compile jobs. */
  jit: number;
  /** Self cost of V8's heap and GC functions (informative; not excluded). */
  gc: number;
  /** Wall time under valgrind, ms. */
  wallMs: number;
}

interface Measured extends Job {
  windows: [Count, Count, Count];
  /** Requests the setup's own metrics counted (priming and warm-up included): proves it was on; null for bare. */
  recorded: number | null;
}

let options: { warmup: number; sockets: number; work: string; nodeFlags: string[]; bundle: string; baseBundle: string; zlib: ZlibMode };

async function measure(job: Job): Promise<Measured> {
  const { framework, handler, setup, repeat } = job;
  const name = `${framework}-${handler}-${setup}-${repeat + 1}`;
  const outFile = join(options.work, `${name}.callgrind`);
  const child = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      '--instr-atstart=no',
      // V8 writes code into anonymous memory and rewrites it: valgrind must notice (the amd64 default, made explicit).
      '--smc-check=all-non-file',
      '--dump-instr=no',
      '--dump-line=no',
      '--compress-strings=no',
      `--callgrind-out-file=${outFile}`,
      '-q',
      process.execPath,
      // V8's memory reducer starts major GCs when it sees little allocation per wall second: under valgrind every
      // server looks nearly idle to it (Fastify: none natively over 100,000 requests, several under valgrind).
      '--no-memory-reducer',
      ...options.nodeFlags,
      '--import',
      'tsx',
      SERVER,
      '--serve',
      framework,
      setup,
      handler,
    ],
    {
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: {
        ...process.env,
        NODE_ENV: 'production',
        SCALESIGNAL_SINKS: '',
        SCALESIGNAL_BUNDLE: options.bundle,
        SCALESIGNAL_BASE_BUNDLE: options.baseBundle,
        BENCH_ZLIB: options.zlib,
        // One window a minute (the longest allowed): see "windows" in the header.
        BENCH_INTERVAL_MS: '60000',
      },
    },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const fail = (why: string) => new Error(`${name}: ${why}\n${stderr}`);
  try {
    return { ...job, ...(await session(job, child, fail, exited, outFile)) };
  } catch (error) {
    // A failed run leaves no valgrind behind (this process started it).
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    throw error;
  }
}

/** Warm-up, the three windows, the setup's report; then reads the dumps. */
async function session(
  job: Job,
  child: ChildProcess,
  fail: (why: string) => Error,
  exited: Promise<number | null>,
  outFile: string,
): Promise<Omit<Measured, keyof Job>> {
  const callgrind = async (...args: string[]) => {
    const { stdout } = await run$('callgrind_control', [...args, String(child.pid)]);
    if (!/OK\./.test(stdout)) throw fail(`callgrind_control ${args.join(' ')}: ${stdout}`);
  };
  const ask = (type: string, answer: string, timeoutMs: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(fail(`no answer to ${type}`)), timeoutMs);
      const onMessage = (message: { type: string }) => {
        if (message.type !== answer) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(message as Record<string, unknown>);
      };
      child.on('message', onMessage);
      child.send({ type });
    });

  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(fail('did not start in 10 minutes')), 600_000);
    void exited.then((code) => reject(fail(`exited with ${code} before it was ready`)));
    child.on('message', (message: { type: string; port?: number }) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve(message.port!);
      }
    });
  });

  const agent = new http.Agent({ keepAlive: true, maxSockets: options.sockets });
  const get = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: PATH, agent }, (res) => {
          if (res.statusCode !== 200) reject(fail(`status ${res.statusCode}`));
          res.resume();
          res.once('end', resolve);
        })
        .once('error', reject);
    });
  // `sockets` loops, each one request at a time on its own keep-alive socket.
  const drive = async (count: number) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: options.sockets }, async () => {
        while (sent < count) {
          sent++;
          await get();
        }
      }),
    );
  };
  // Lets the server finish the last responses' tails ('finish' and 'close' work) before a window's edge.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));
  // A window: `requests` requests, then idle until it has lasted `lastMs` (the N1 window lasts as long as the N2
  // one, so what time drives and escapes the timer exclusion (see the header) is the same in both and cancels).
  const window = async (requests: number, dump: string, lastMs = 0) => {
    const started = performance.now();
    await drive(requests);
    await settle();
    const rest = lastMs - (performance.now() - started);
    if (rest > 0) await new Promise((resolve) => setTimeout(resolve, rest));
    const wallMs = performance.now() - started;
    await callgrind(`--dump=${dump}`);
    return wallMs;
  };

  await drive(options.warmup);
  await settle();
  await callgrind('--instr=on');
  const firstMs = await window(FIRST_WINDOW, 'first');
  const n2Ms = await window(job.n2, 'n2');
  const n1Ms = await window(job.n1, 'n1', n2Ms);
  await callgrind('--instr=off');
  agent.destroy();

  const { recorded } = await ask('report', 'reported', 300_000);
  const code = await exited;
  if (code !== 0) throw fail(`exited with ${code}`);
  // Dumps are numbered in order: 1 first, 2 the N2 window, 3 the N1 window.
  const windows = (await Promise.all([
    count(`${outFile}.1`, firstMs),
    count(`${outFile}.3`, n1Ms),
    count(`${outFile}.2`, n2Ms),
  ])) as [Count, Count, Count];
  return { windows, recorded: (recorded as number | null | undefined) ?? null };
}

/** A dump's total, its inclusive costs under uv__run_timers and TurboFan's compile jobs, its GC self cost. */
async function count(dump: string, wallMs: number): Promise<Count> {
  const totals = /^(?:totals|summary):\s*(\d+)/m.exec(readFileSync(dump, 'utf8'));
  if (totals === null) throw new Error(`no totals in ${dump}`);
  const annotate = async (...args: string[]) =>
    (await run$('callgrind_annotate', [...args, '--threshold=100', dump], { maxBuffer: 256 << 20 })).stdout;
  const [inclusive, self] = await Promise.all([annotate('--inclusive=yes'), annotate()]);
  const of = (pattern: RegExp) => Number(pattern.exec(inclusive)?.[1].replaceAll(',', '') ?? 0);
  let gc = 0;
  for (const line of self.split('\n')) {
    const match = /^\s*([\d,]+)\s+\([^)]*\)\s+(.*)$/.exec(line);
    if (match !== null && GC.test(match[2])) gc += Number(match[1].replaceAll(',', ''));
  }
  return { instructions: Number(totals[1]), timers: of(TIMERS), jit: of(JIT), gc, wallMs: Math.round(wallMs) };
}

/** Runs jobs `parallel` at a time (valgrind runs a server's threads one at a time: a core at most per server). */
async function pool<T, R>(items: readonly T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]);
      }
    }),
  );
  return results;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const round4 = (v: number) => Math.round(v * 10_000) / 10_000;
const fmt = (v: number) => Math.round(v).toLocaleString('en-US');

/** (I(N2) - I(N1)) / (N2 - N1) of one run, with the parts `of` picks. */
const perRequest = (run: Measured, of: (c: Count) => number) => (of(run.windows[2]) - of(run.windows[1])) / (run.n2 - run.n1);
const netOf = (c: Count) => c.instructions - c.timers - c.jit;

interface Row {
  /** Timers and TurboFan jobs excluded. */
  instructionsPerRequest: number;
  /** instructionsPerRequest / bare's - 1: 0.05 = 5 % more instructions per request than bare. */
  addedVsBare: number;
  addedInstructionsPerRequest: number;
  /** Per repeat (a fresh process each). */
  repeats: number[];
  /** (max - min) / mean of the repeats. */
  spread: number;
  /** TurboFan compile jobs per request in the windows (excluded above). */
  jitPerRequest: number;
  /** Of instructionsPerRequest, V8's heap and GC functions (self cost): allocation's price, and GC heuristics' luck. */
  gcPerRequest: number;
  /**
   * instructionsPerRequest - gcPerRequest, and its ratio to bare's: steadier between fresh processes (a major GC
   * more or less in a window moves a figure by thousands), but blind to what a setup's allocation costs in GC.
   */
  exclGcPerRequest: number;
  exclGcAddedVsBare: number;
  /** Everything, timers and compile jobs included: what valgrind's slowness makes of them, not a real cost. */
  allInPerRequest: number;
  /** Instructions under uv__run_timers per wall second of the windows, under valgrind. */
  timerInstructionsPerSecond: number;
  recorded: number | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      frameworks: { type: 'string', default: 'express,fastify' },
      handlers: { type: 'string', default: 'hello,realistic' },
      setups: { type: 'string', default: '' },
      /** Setups to leave out (e.g. --setups middleware --skip scalesignal); bare always runs. */
      skip: { type: 'string', default: '' },
      base: { type: 'string' },
      /** N1,N2 per framework: Fastify's requests cost ~10x fewer instructions, so it gets more of them. */
      express: { type: 'string', default: '2000,14000' },
      fastify: { type: 'string', default: '10000,70000' },
      warmup: { type: 'string', default: '20000' },
      sockets: { type: 'string', default: '4' },
      repeats: { type: 'string', default: '2' },
      // One more server than cores: N1 windows spend most of their time idle. Counts do not depend on it.
      parallel: { type: 'string', default: String(os.cpus().length + 1) },
      keep: { type: 'string' },
      /** Extra flags for the server's node, for diagnosis (e.g. --trace-gc); not for measuring. */
      'node-flags': { type: 'string', default: '' },
      zlib: { type: 'string', default: 'used' },
      out: { type: 'string', default: join(here, 'results/http-instructions.json') },
    },
  });
  const repeats = Number(values.repeats);
  const parallel = Number(values.parallel);
  const sizes: Record<Framework, { n1: number; n2: number }> = { express: { n1: 0, n2: 0 }, fastify: { n1: 0, n2: 0 } };
  for (const framework of ['express', 'fastify'] as const) {
    const [n1, n2] = values[framework].split(',').map(Number);
    if (!(Number.isInteger(n1) && Number.isInteger(n2) && n2 > n1 && n1 > 0)) throw new Error(`--${framework}: need N1,N2 integers, 0 < N1 < N2`);
    sizes[framework] = { n1, n2 };
  }
  if (values.keep !== undefined) await mkdir(values.keep, { recursive: true });
  options = {
    warmup: Number(values.warmup),
    sockets: Number(values.sockets),
    work: values.keep ?? mkdtempSync(join(os.tmpdir(), 'http-instructions-')),
    nodeFlags: values['node-flags'].split(' ').filter((flag) => flag !== ''),
    bundle: await bundleScalesignal(),
    baseBundle: values.base === undefined ? '' : await bundleScalesignal(values.base),
    zlib: zlibOption(values.zlib),
  };
  const version = await run$('valgrind', ['--version']).catch(() => {
    throw new Error('valgrind not found: this bench needs valgrind (callgrind)');
  });
  const frameworks = values.frameworks.split(',') as Framework[];
  const handlers = values.handlers.split(',') as Handler[];
  const skipped = values.skip.split(',');
  const extra = [...(values.base !== undefined ? ['before' as const] : []), ...(values.setups === '' ? [] : (values.setups.split(',') as Setup[]))];
  const setupsOf = (framework: Framework) =>
    [...DEFAULT_SETUPS, ...extra].filter(
      (setup, i, all) =>
        all.indexOf(setup) === i &&
        (setup === 'bare' || !skipped.includes(setup)) &&
        (setup !== 'prom-bundle' || framework === 'express') &&
        (setup !== 'fastify-metrics' || framework === 'fastify'),
    );

  // Express first: its runs are the longest, the pool should not end on one alone.
  const jobs: Job[] = [];
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const framework of frameworks) {
      for (const handler of handlers) for (const setup of setupsOf(framework)) jobs.push({ framework, handler, setup, repeat, ...sizes[framework] });
    }
  }
  const started = Date.now();
  let done = 0;
  const runs = await pool(jobs, parallel, async (job) => {
    const run = await measure(job);
    done++;
    const [, a, b] = run.windows;
    console.error(
      `[${String(done).padStart(2)}/${jobs.length}] ${job.framework.padEnd(7)} ${job.handler.padEnd(9)} ${job.setup.padEnd(15)} repeat ${job.repeat + 1}  ` +
        `${fmt(perRequest(run, netOf)).padStart(9)} instr/req  (I(${job.n1}) ${(a.instructions / 1e6).toFixed(0)} M, I(${job.n2}) ${(b.instructions / 1e6).toFixed(0)} M, ` +
        `timers ${((a.timers + b.timers) / 1e6).toFixed(1)} M, jit ${((a.jit + b.jit) / 1e6).toFixed(1)} M, ${((a.wallMs + b.wallMs) / 1000).toFixed(0)} s)  ` +
        `recorded ${run.recorded ?? '-'}  [${Math.round((Date.now() - started) / 1000)} s]`,
    );
    return run;
  });

  const table: Record<string, Record<string, Record<string, Row>>> = {};
  for (const framework of frameworks) {
    table[framework] = {};
    for (const handler of handlers) {
      const rows: Record<string, Row> = (table[framework][handler] = {});
      for (const setup of setupsOf(framework)) {
        const mine = runs.filter((r) => r.framework === framework && r.handler === handler && r.setup === setup);
        const net = mine.map((r) => perRequest(r, netOf));
        const value = mean(net);
        const timers = mine.reduce((sum, r) => sum + r.windows[1].timers + r.windows[2].timers, 0);
        const seconds = mine.reduce((sum, r) => sum + r.windows[1].wallMs + r.windows[2].wallMs, 0) / 1000;
        rows[setup] = {
          instructionsPerRequest: Math.round(value),
          addedVsBare: 0,
          addedInstructionsPerRequest: 0,
          repeats: net.map(Math.round),
          spread: round4((Math.max(...net) - Math.min(...net)) / value),
          jitPerRequest: Math.round(mean(mine.map((r) => perRequest(r, (c) => c.jit)))),
          gcPerRequest: Math.round(mean(mine.map((r) => perRequest(r, (c) => c.gc)))),
          exclGcPerRequest: Math.round(mean(mine.map((r) => perRequest(r, (c) => netOf(c) - c.gc)))),
          exclGcAddedVsBare: 0,
          allInPerRequest: Math.round(mean(mine.map((r) => perRequest(r, (c) => c.instructions)))),
          timerInstructionsPerSecond: Math.round(timers / seconds),
          recorded: mine[0].recorded,
        };
      }
      const bare = rows.bare.instructionsPerRequest;
      for (const row of Object.values(rows)) {
        row.addedInstructionsPerRequest = row.instructionsPerRequest - bare;
        row.addedVsBare = round4(row.instructionsPerRequest / bare - 1);
        row.exclGcAddedVsBare = round4(row.exclGcPerRequest / rows.bare.exclGcPerRequest - 1);
      }
    }
  }

  console.log(
    `\ninstructions per request = (I(N2) - I(N1)) / (N2 - N1), timers and TurboFan jobs excluded; express N1,N2 = ${values.express}, ` +
      `fastify ${values.fastify}; ${options.warmup} warm-up requests, ${options.sockets} keep-alive sockets, ${repeats} fresh processes each`,
  );
  const header = ['framework', 'handler', 'setup', 'instr/req', 'vs bare', 'added', 'repeats', 'spread', 'gc/req', 'excl. gc', 'jit/req', 'all-in/req', 'timers/s'];
  const lines = [header];
  for (const framework of frameworks) {
    for (const handler of handlers) {
      for (const [setup, row] of Object.entries(table[framework][handler])) {
        const isBare = setup === 'bare';
        lines.push([
          framework,
          handler,
          setup,
          fmt(row.instructionsPerRequest),
          isBare ? '' : `${row.addedVsBare >= 0 ? '+' : ''}${(row.addedVsBare * 100).toFixed(1)} %`,
          isBare ? '' : fmt(row.addedInstructionsPerRequest),
          row.repeats.map(fmt).join(' / '),
          `${(row.spread * 100).toFixed(1)} %`,
          fmt(row.gcPerRequest),
          isBare ? fmt(row.exclGcPerRequest) : `${fmt(row.exclGcPerRequest)} (${row.exclGcAddedVsBare >= 0 ? '+' : ''}${(row.exclGcAddedVsBare * 100).toFixed(1)} %)`,
          fmt(row.jitPerRequest),
          fmt(row.allInPerRequest),
          `${(row.timerInstructionsPerSecond / 1e6).toFixed(2)} M`,
        ]);
      }
    }
  }
  const widths = header.map((_, i) => Math.max(...lines.map((line) => line[i].length)));
  for (const line of lines) console.log(line.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));

  const result = {
    date: new Date().toISOString(),
    node: process.version,
    valgrind: version.stdout.trim(),
    cpuModel: os.cpus()[0]?.model,
    method:
      'callgrind, JIT on, instrumentation on after warm-up; in one server process a window of N2 requests, then one of N1 requests ' +
      'padded with idle time to the same wall time, each ending with a dump; instructions/request = (I(N2) - I(N1)) / (N2 - N1), ' +
      'all threads, excluding uv__run_timers (time-driven: timerInstructionsPerSecond) and TurboFan background compile jobs (jitPerRequest); ' +
      'server run with --no-memory-reducer, scalesignal with 60 s windows',
    config: { zlib: options.zlib, handlers, sizes, firstWindow: FIRST_WINDOW, warmup: options.warmup, sockets: options.sockets, repeats, parallel, path: PATH, target: { addedVsBare: 0.03 } },
    table,
    runs,
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  };
  await mkdir(dirname(values.out), { recursive: true });
  await writeFile(values.out, JSON.stringify(result, null, 2) + '\n');
  if (values.keep === undefined) rmSync(options.work, { recursive: true, force: true });
  const summary: Record<string, Record<string, { instructionsPerRequest: number; addedVsBare: number; spread: number; exclGcAddedVsBare: number }>> = {};
  for (const [framework, byHandler] of Object.entries(table)) {
    for (const [handler, rows] of Object.entries(byHandler)) {
      const key = `${framework}/${handler}`;
      summary[key] = {};
      for (const [setup, row] of Object.entries(rows)) {
        summary[key][setup] = { instructionsPerRequest: row.instructionsPerRequest, addedVsBare: row.addedVsBare, spread: row.spread, exclGcAddedVsBare: row.exclGcAddedVsBare };
      }
    }
  }
  console.log(JSON.stringify({ summary }));
}

await main();
