/**
 * Drives createMetrics() with a real sink through healthy -> fault -> recovery phases while recording a known
 * load, and collects what is needed to judge it: every window the core produced (a tap sink that always
 * succeeds sees the same windows, in the same order), the self-metrics `scalesignal.sink.windows{sink,outcome}`
 * as they were published in those windows, the host's event-loop delay and heap.
 *
 * Time is compressed by the interval, not faked: windows are 100-250 ms instead of 1 s and the sink's timeout
 * scales with them, so a "70 s outage" is 70 windows (more than the backlog holds) in a few seconds of real time.
 * Sockets, timers and serialization are real.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMetrics } from '../../src/create-metrics.js';
import type { Metrics } from '../../src/core/api.js';
import type { Sink } from '../../src/core/sink.js';
import type { Window } from '../../src/core/window.js';

export interface Phase {
  readonly name: 'healthy' | 'fault' | 'recovery';
  readonly windows: number;
  /** Called when the phase starts. */
  readonly enter?: () => void | Promise<void>;
}

export interface RunOptions {
  readonly sink: Sink;
  readonly intervalMs: number;
  /** Label values of the recorded counter: the series count. */
  readonly series: number;
  readonly phases: readonly Phase[];
  /** Windows to wait after the last phase for the accounting to catch up. */
  readonly settleWindows?: number;
}

export interface Outcomes {
  sent: number;
  failed: number;
  dropped: number;
  retried: number;
}

export interface RunResult {
  /** Every window the core produced, oldest first (as the tap received them). */
  readonly windows: TappedWindow[];
  /** `work.done` per window timestamp and series label, as recorded. */
  readonly recorded: Map<number, Map<string, number>>;
  /** Self-metric outcomes of the sink under test, summed over all windows. */
  readonly outcomes: Outcomes;
  /** Windows the tap sink was handed (== produced), from the same self-metric. */
  readonly produced: number;
  /** After each window: the sink's outcomes so far (sent+failed+dropped) and the windows produced so far. */
  readonly running: Array<{ accounted: number; produced: number }>;
  readonly eventLoopP99Ms: number;
  readonly eventLoopMaxMs: number;
  readonly heapBeforeBytes: number;
  readonly heapPeakBytes: number;
  /** Heap after a full GC, at the start of each phase and at the end of the run (retained memory, not garbage). */
  readonly retainedAt: Record<string, number>;
  readonly phaseStarts: Record<string, number>;
}

/** What the tap keeps of a window: compact, so the record of 90 windows does not itself dominate the heap. */
export interface TappedWindow {
  readonly timestamp: number;
  readonly start: number;
  readonly end: number;
  /** `work.done` sum per shard index (label `s<i>`). */
  readonly work: Float64Array;
  /** The self-metric series (`scalesignal.sink.windows`), as published. */
  readonly outcomes: Window['series'];
}

/** A sink that keeps every window the core produced, compactly: the record of what was produced. */
export function tapSink(shards: number): Sink & { windows: TappedWindow[] } {
  const windows: TappedWindow[] = [];
  return {
    name: 'tap',
    windows,
    export(batch) {
      for (const w of batch) {
        const work = new Float64Array(shards);
        const outcomes: Window['series'][number][] = [];
        for (const s of w.series) {
          if (s.name === 'work.done') work[Number(String(s.labels.shard).slice(1))] = s.sum;
          else if (s.name === 'scalesignal.sink.windows') outcomes.push(s);
          else if (s.name === 'scalesignal.sink.retries') outcomes.push({ ...s, labels: { ...s.labels, outcome: 'retried' } });
        }
        windows.push({ timestamp: w.timestamp, start: w.start, end: w.end, work, outcomes });
      }
    },
  };
}

export async function runPhases(options: RunOptions): Promise<RunResult> {
  const tap = tapSink(options.series);
  const metrics: Metrics = createMetrics({
    service: 'fault-suite',
    intervalMs: options.intervalMs,
    sinks: [options.sink, tap],
    eventLoop: false,
    logger: { warn: () => {}, error: () => {}, info: () => {}, debug: () => {} } as never,
  });
  const counter = metrics.counter('work.done');
  const bound = Array.from({ length: options.series }, (_, i) => counter.bind({ shard: `s${i}` }));
  // Record on every 5 ms tick, every series, so each window carries a known, nonzero total per series.
  const recorder = setInterval(() => {
    for (const b of bound) b.add(1);
  }, 5);

  const loop = monitorEventLoopDelay({ resolution: 5 });
  const heapBeforeBytes = process.memoryUsage().heapUsed;
  let heapPeakBytes = heapBeforeBytes;
  const heapSampler = setInterval(() => {
    heapPeakBytes = Math.max(heapPeakBytes, process.memoryUsage().heapUsed);
  }, options.intervalMs);
  loop.enable();

  const phaseStarts: Record<string, number> = {};
  const retainedAt: Record<string, number> = {};
  for (const phase of options.phases) {
    retainedAt[phase.name] = retainedHeap();
    phaseStarts[phase.name] = Date.now();
    await phase.enter?.();
    await sleep(phase.windows * options.intervalMs);
  }
  clearInterval(recorder);
  retainedAt.end = retainedHeap();
  // Let the sink drain and the last outcomes land in sealed windows.
  await sleep((options.settleWindows ?? 8) * options.intervalMs);
  loop.disable();
  clearInterval(heapSampler);
  await metrics.shutdown({ timeoutMs: 2000 });

  const name = options.sink.name;
  const outcomes: Outcomes = { sent: 0, failed: 0, dropped: 0, retried: 0 };
  const running: RunResult['running'] = [];
  let produced = 0;
  const recorded = new Map<number, Map<string, number>>();
  for (const w of tap.windows) {
    const work = new Map<string, number>();
    w.work.forEach((sum, i) => work.set(`s${i}`, sum));
    for (const s of w.outcomes) {
      const outcome = String(s.labels.outcome) as keyof Outcomes;
      if (s.labels.sink === name) outcomes[outcome] += s.sum;
      else if (s.labels.sink === 'tap' && outcome === 'sent') produced += s.sum;
    }
    recorded.set(w.timestamp, work);
    running.push({ accounted: outcomes.sent + outcomes.failed + outcomes.dropped, produced });
  }
  return {
    windows: tap.windows,
    recorded,
    outcomes,
    produced,
    running,
    eventLoopP99Ms: loop.percentile(99) / 1e6,
    eventLoopMaxMs: loop.max / 1e6,
    heapBeforeBytes,
    heapPeakBytes,
    retainedAt,
    phaseStarts,
  };
}

/** Heap used after a full GC (the test process has no --expose-gc: V8's gc() is fetched at runtime). */
function retainedHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One line per scenario for the test log (figures for the closing note; never asserted on time). */
export function report(name: string, r: RunResult, extra: Record<string, unknown> = {}): void {
  const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
  console.info(
    `[fault] ${name}: produced=${r.produced} sent=${r.outcomes.sent} failed=${r.outcomes.failed} dropped=${r.outcomes.dropped} retried=${r.outcomes.retried}` +
      ` loopP99=${r.eventLoopP99Ms.toFixed(1)}ms loopMax=${r.eventLoopMaxMs.toFixed(1)}ms heapGrowth=${mb(r.heapPeakBytes - r.heapBeforeBytes)}MB` +
      ` retained(healthy->${r.retainedAt.recovery !== undefined ? 'recovery' : 'end'})=${mb((r.retainedAt.recovery ?? r.retainedAt.end) - r.retainedAt.healthy)}MB` +
      Object.entries(extra)
        .map(([k, v]) => ` ${k}=${String(v)}`)
        .join(''),
  );
}
