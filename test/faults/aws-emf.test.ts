/**
 * The EMF sink against a misbehaving CloudWatch agent (loopback TCP/UDP, ports chosen by the OS) and a stalled
 * stdout. For each fault: every window is accounted exactly once (sent + failed + dropped = produced, nothing
 * pending after flush), nothing arrives twice, what is counted sent arrived whole, the backlog stays within
 * `maxBacklogBytes` on the heap, and after recovery documents arrive in timestamp order.
 *
 * Time: the sink's timeouts, retries and grace periods run in real time. The "70 s outage" is compressed: its 70
 * one-second windows are handed over 50 ms apart while the agent refuses connections. That is honest for this
 * sink, which never reads a window's timestamp for timing: only the rate at which windows arrive changes.
 * Event-loop delay is printed for the record; timing targets live in bench/.
 */
import fc from 'fast-check';
import { createSocket } from 'node:dgram';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { emfSink, type EmfSink, type EmfSinkOptions } from '../../src/sinks/emf.js';
import { SinkError } from '../../src/core/sink.js';
import { counterWindow, judge, nondecreasing, startFaultAgent, type FaultAgent } from './aws-agent.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const T0 = Math.floor(Date.now() / 1000) * 1000 - 600_000;
const quiet = { warn: () => undefined };
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sinkFor(options: EmfSinkOptions): EmfSink {
  const sink = emfSink({ logger: quiet, ...options }, {});
  cleanups.push(() => sink.shutdown());
  return sink;
}

async function agentIn(mode: 'read' | 'hang' | 'close'): Promise<FaultAgent> {
  const agent = await startFaultAgent(mode);
  cleanups.push(() => agent.stop());
  return agent;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The agent reads on its own schedule: wait until it has `n` lines (or give up after `ms`). */
async function linesAt(agent: FaultAgent, n: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (agent.lines.length < n && Date.now() < deadline) await sleep(20);
}

/** As the dispatcher does: one export at a time, awaited, a window every `everyMs`. */
async function feed(sink: EmfSink, windows: number, series: number, everyMs: number, groups = 10): Promise<void> {
  for (let i = 0; i < windows; i++) {
    const started = performance.now();
    await sink.export([counterWindow(T0, i, series, groups)]);
    const left = everyMs - (performance.now() - started);
    if (left > 0) await sleep(left);
  }
}

function accounted(sink: EmfSink, produced: number): void {
  const s = sink.stats();
  expect(s.windows_pending).toBe(0);
  expect(s.windows_sent + s.windows_failed + s.windows_dropped).toBe(produced);
}

describe('EMF sink under agent faults', () => {
  it('refuses, a 70 s outage at 1,000 series (compressed), recovery: every window once, oldest dropped first, in order, heap bounded', async () => {
    const agent = await agentIn('read');
    await agent.stop(); // connections refused
    const maxBacklogBytes = 2 * 1024 * 1024;
    const sink = sinkFor({ agentEndpoint: `tcp://127.0.0.1:${agent.port}`, maxBacklogBytes, timeoutMs: 200 });
    const before = heap();
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    await feed(sink, 70, 1000, 50);
    loop.disable();
    const peak = heap() - before;
    const during = sink.stats();
    expect(during.backlog_bytes).toBeLessThanOrEqual(maxBacklogBytes);
    expect(during.windows_sent).toBe(0);
    expect(during.windows_dropped).toBeGreaterThan(0);
    // What the backlog holds, plus sockets, timers and the test's own bookkeeping.
    expect(peak).toBeLessThan(maxBacklogBytes + 3 * 1024 * 1024);

    await agent.start();
    await sink.flush(15_000);
    accounted(sink, 70);
    const s = sink.stats();
    await linesAt(agent, s.documents_sent);
    await sleep(200);
    const got = judge(agent.lines, 1000);
    expect(got.duplicates).toBe(0);
    expect(got.partial.size).toBe(0);
    expect(got.complete.size).toBe(s.windows_sent);
    expect(s.windows_failed).toBe(0);
    expect(nondecreasing(got.order)).toBe(true);
    // What was dropped is the oldest: every delivered second is newer than every dropped one.
    expect(Math.min(...got.complete)).toBe(T0 + s.windows_dropped * 1000);
    process.stdout.write(
      `emf outage: produced 70, sent ${s.windows_sent}, dropped ${s.windows_dropped}, failed ${s.windows_failed}; heap +${(peak / 1048576).toFixed(1)} MB ` +
        `(bound ${maxBacklogBytes / 1048576} MB); event-loop p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms\n`,
    );
  }, 40_000);

  it('hangs (accepts, reads nothing) then resumes: stalled writes are abandoned and redone, nothing arrives twice or is lost', async () => {
    const agent = await agentIn('hang');
    const sink = sinkFor({ agentEndpoint: `tcp://127.0.0.1:${agent.port}`, maxBacklogBytes: 64 * 1024 * 1024, timeoutMs: 200 });
    // ~50 KB of documents a window: 200 windows are more than the loopback socket buffers hold.
    await feed(sink, 200, 1000, 0);
    await sleep(500);
    expect(sink.stats().writes_timed_out).toBeGreaterThan(0);
    agent.setMode('read');
    await sink.flush(20_000);
    accounted(sink, 200);
    const s = sink.stats();
    await linesAt(agent, s.documents_sent);
    await sleep(200); // anything beyond would be a duplicate
    const got = judge(agent.lines, 1000);
    expect(got.duplicates).toBe(0);
    expect(got.partial.size).toBe(0);
    expect(got.complete.size).toBe(200);
    expect(s.windows_sent).toBe(200);
    // Abandoned writes reach the agent as a truncated last line, which it cannot parse and drops.
    expect(agent.truncated).toBeLessThanOrEqual(s.writes_timed_out);
    process.stdout.write(`emf hang: sent ${s.windows_sent}/200, writes timed out ${s.writes_timed_out}, truncated lines ${agent.truncated}, connections ${agent.connections}\n`);
  }, 40_000);

  it('accepts and closes: every window counted failed, none sent, nothing received, reconnects bounded', async () => {
    const agent = await agentIn('close');
    const sink = sinkFor({ agentEndpoint: `tcp://127.0.0.1:${agent.port}`, timeoutMs: 200 });
    await feed(sink, 10, 20, 0, 1); // one document a window
    await sink.flush(15_000);
    accounted(sink, 10);
    const s = sink.stats();
    expect(s.windows_sent).toBe(0);
    expect(s.windows_failed).toBe(10);
    expect(agent.lines).toHaveLength(0);
    // Each document costs at most two connections: the one it was written on, and one found closed.
    expect(agent.connections).toBeLessThanOrEqual(2 * 10 + 1);
  }, 30_000);

  it('a stalled stdout holds one write, never a copy; the backlog stays bounded; every window accounted once it drains', async () => {
    const chunks: string[] = [];
    const held: Array<() => void> = [];
    let stalled = true;
    let writes = 0;
    const stream = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        writes++;
        chunks.push(chunk.toString('utf8'));
        if (stalled) held.push(() => callback());
        else callback();
      },
    });
    const maxBacklogBytes = 1024 * 1024;
    const sink = sinkFor({ stream, maxBacklogBytes, timeoutMs: 100 });
    const before = heap();
    await feed(sink, 60, 1000, 0);
    const peak = heap() - before;
    expect(writes).toBe(1);
    expect(sink.stats().backlog_bytes).toBeLessThanOrEqual(maxBacklogBytes);
    expect(peak).toBeLessThan(maxBacklogBytes + 3 * 1024 * 1024);
    stalled = false;
    for (const release of held.splice(0)) release();
    await sink.flush(10_000);
    accounted(sink, 60);
    const s = sink.stats();
    const lines = chunks.join('').split('\n').filter((l) => l !== '');
    const got = judge(lines, 1000);
    expect(got.duplicates).toBe(0);
    expect(got.partial.size).toBe(0);
    expect(got.complete.size).toBe(s.windows_sent);
    expect(s.windows_dropped).toBeGreaterThan(0);
    expect(nondecreasing(got.order)).toBe(true);
  }, 30_000);

  it('UDP is fire-and-forget: with nothing listening, datagrams the kernel took still count as sent (documented)', async () => {
    const probe = createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const { port } = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const sink = sinkFor({ agentEndpoint: `udp://127.0.0.1:${port}` });
    await feed(sink, 3, 20, 0);
    await sink.flush(5000);
    accounted(sink, 3);
    expect(sink.stats().windows_sent).toBe(3);
  });

  it('shutdown with a hung agent settles every window within shutdownTimeoutMs and closes the connection', async () => {
    const agent = await agentIn('hang');
    const sink = emfSink({ agentEndpoint: `tcp://127.0.0.1:${agent.port}`, logger: quiet, timeoutMs: 100, shutdownTimeoutMs: 500 }, {});
    await feed(sink, 150, 1000, 0);
    await sink.shutdown();
    accounted(sink, 150);
    // Refused after shutdown: dropped, never queued.
    await sink.export([counterWindow(T0, 151, 10)]);
    expect(sink.stats().windows_dropped).toBeGreaterThanOrEqual(1);
    accounted(sink, 151);
  }, 30_000);
});

describe('EMF sink: exactly-once accounting under any fault schedule', () => {
  type Step = 'ok' | 'retry' | 'fail' | 'stall-ok' | 'stall-retry';
  it('property: sent windows arrived whole and once, dropped ones not at all, every window settled once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Step>('ok', 'ok', 'ok', 'retry', 'fail', 'stall-ok', 'stall-retry'), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 250 }),
        fc.constantFrom(20_000, 200_000, 16 * 1024 * 1024),
        async (schedule, windows, series, maxBacklogBytes) => {
          const delivered = new Map<string, number>();
          let n = 0;
          const write = async (doc: string): Promise<void> => {
            const step = schedule[n++ % schedule.length];
            if (step.startsWith('stall')) await sleep(30);
            if (step === 'retry' || step === 'stall-retry') throw new SinkError('busy', { retryable: true });
            if (step === 'fail') throw new Error('rejected');
            const parsed = JSON.parse(doc) as { _aws: { Timestamp: number }; shard: string };
            const id = `${parsed._aws.Timestamp}/${parsed.shard}`;
            delivered.set(id, (delivered.get(id) ?? 0) + 1);
          };
          const sink = emfSink({ write, logger: quiet, timeoutMs: 10, maxBacklogBytes, shutdownTimeoutMs: 300 }, {});
          const settled = new Map<number, string[]>();
          const receipt = { settled: (ts: number, outcome: string) => settled.set(ts, [...(settled.get(ts) ?? []), outcome]) };
          for (let i = 0; i < windows; i++) await sink.export([counterWindow(T0, i, series)], receipt);
          // A schedule of mostly retries never drains: flush gives up, and shutdown settles what is left.
          await sink.flush(1500);
          await sink.shutdown();
          accounted(sink, windows);
          expect([...delivered.values()].every((c) => c === 1)).toBe(true);
          const groups = Math.min(series, 10);
          for (let i = 0; i < windows; i++) {
            const ts = T0 + i * 1000;
            const outcomes = settled.get(ts) ?? [];
            expect(outcomes).toHaveLength(1);
            let arrived = 0;
            for (let g = 0; g < groups; g++) arrived += delivered.get(`${ts}/${g}`) ?? 0;
            if (outcomes[0] === 'sent') expect(arrived).toBe(groups);
            if (outcomes[0] === 'dropped') expect(arrived).toBe(0);
            if (outcomes[0] === 'failed') expect(arrived).toBeLessThan(groups);
          }
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  }, 120_000);
});
