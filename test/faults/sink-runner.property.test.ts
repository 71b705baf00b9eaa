/**
 * Property test of the core's delivery (SinkRunner) over random fault schedules, with a custom sink whose every
 * export call does what the schedule says: succeed, fail, fail retryably (with or without Retry-After), throw
 * synchronously, hang past the timeout, or answer after it. Windows arrive at random times and sizes, so the
 * backlog overflows in windows and in bytes while an export is in flight; flush() is called at random points and
 * the run ends with close() under a deadline.
 *
 * Time is simulated (vitest fake timers): a schedule of minutes runs in milliseconds, and no assertion depends
 * on the machine's speed.
 *
 * Asserted for every schedule, per sink: sent + failed + dropped == produced; `sent` is exactly the windows of the
 * export calls that resolved before their timeout; a window is handed to the sink again only after a retryable
 * rejection (never after a success, a plain failure or a timeout); acknowledged windows arrive in timestamp
 * order; every flush() and close() settles.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WindowOutcome } from '../../src/core/self-metrics.js';
import { SinkError, type ExportContext, type Sink } from '../../src/core/sink.js';
import { SinkRunner } from '../../src/core/sink-runner.js';
import { estimateWindowBytes } from '../../src/core/window-size.js';
import type { Window } from '../../src/core/window.js';
import { series, window } from '../helpers/windows.js';

type Behaviour =
  | { kind: 'ok'; delayMs: number }
  | { kind: 'sync-ok' }
  | { kind: 'fail'; delayMs: number }
  | { kind: 'retry'; delayMs: number; retryAfterMs?: number }
  | { kind: 'throw' }
  | { kind: 'hang' }
  | { kind: 'late'; extraMs: number };

type Step = { kind: 'produce'; windows: number; series: number } | { kind: 'advance'; ms: number } | { kind: 'flush' };

const TIMEOUT_MS = 500;
const INTERVAL_MS = 1000;

const behaviour: fc.Arbitrary<Behaviour> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('ok' as const), delayMs: fc.integer({ min: 0, max: TIMEOUT_MS - 1 }) }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'sync-ok' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('fail' as const), delayMs: fc.integer({ min: 0, max: TIMEOUT_MS - 1 }) }), weight: 1 },
  {
    arbitrary: fc.record(
      {
        kind: fc.constant('retry' as const),
        delayMs: fc.integer({ min: 0, max: TIMEOUT_MS - 1 }),
        retryAfterMs: fc.integer({ min: 1, max: 8000 }),
      },
      { requiredKeys: ['kind', 'delayMs'] },
    ),
    weight: 3,
  },
  { arbitrary: fc.constant({ kind: 'throw' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'hang' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('late' as const), extraMs: fc.integer({ min: 1, max: 3000 }) }), weight: 1 },
);

const step: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('produce' as const), windows: fc.integer({ min: 1, max: 3 }), series: fc.integer({ min: 0, max: 40 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 2500 }) }), weight: 4 },
  { arbitrary: fc.constant({ kind: 'flush' as const }), weight: 1 },
);

interface Call {
  readonly ids: number[];
  readonly behaviour: Behaviour;
  /** How the call ended from the sink's side; 'pending' while it has not. */
  result: 'resolved' | 'rejected-retryable' | 'rejected' | 'pending';
  readonly startedAt: number;
  settledAt?: number;
  /** Settled after close() began: the runner no longer retries, so a retryable rejection counts failed. */
  duringClose?: boolean;
}

function makeSink(behaviours: Behaviour[], limits: { maxBacklog: number; maxBacklogBytes: number }) {
  const calls: Call[] = [];
  const state = { closing: false };
  let next = 0;
  const sink: Sink = {
    name: 'custom',
    timeoutMs: TIMEOUT_MS,
    maxBacklog: limits.maxBacklog,
    maxBacklogBytes: limits.maxBacklogBytes,
    export(windows: readonly Window[], context?: ExportContext) {
      expect(context?.signal).toBeInstanceOf(AbortSignal);
      const b = behaviours[next++ % behaviours.length];
      const call: Call = { ids: windows.map((w) => w.timestamp), behaviour: b, result: 'pending', startedAt: Date.now() };
      calls.push(call);
      const settle = (result: Call['result']) => {
        call.result = result;
        call.settledAt = Date.now();
        call.duringClose = state.closing;
      };
      switch (b.kind) {
        case 'sync-ok':
          settle('resolved');
          return;
        case 'throw':
          settle('rejected');
          throw new Error('sync failure');
        case 'hang':
          return new Promise<void>(() => {});
        case 'ok':
        case 'late':
          return new Promise<void>((resolve) =>
            setTimeout(() => {
              settle('resolved');
              resolve();
            }, b.kind === 'ok' ? b.delayMs : TIMEOUT_MS + b.extraMs),
          );
        case 'fail':
          return new Promise<void>((_, reject) =>
            setTimeout(() => {
              settle('rejected');
              reject(new SinkError('backend said no', { retryable: false }));
            }, b.delayMs),
          );
        case 'retry':
          return new Promise<void>((_, reject) =>
            setTimeout(() => {
              settle('rejected-retryable');
              reject(new SinkError('throttled', { retryable: true, retryAfterMs: b.retryAfterMs }));
            }, b.delayMs),
          );
      }
    },
  };
  return { sink, calls, state };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SinkRunner under random fault schedules', () => {
  it('accounts every window exactly once, never resends an acknowledged or unknown one, and always settles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(behaviour, { minLength: 1, maxLength: 12 }),
        fc.array(step, { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 40_000 }),
        fc.integer({ min: 0, max: 6000 }),
        async (behaviours, steps, maxBacklog, maxBacklogBytes, closeMs) => {
          const { sink, calls, state } = makeSink(behaviours, { maxBacklog, maxBacklogBytes });
          const counts: Record<WindowOutcome, number> = { sent: 0, failed: 0, dropped: 0, retried: 0, latency: 0 };
          const runner = new SinkRunner(sink, {
            intervalMs: INTERVAL_MS,
            logger: { warn: () => {}, error: () => {} } as never,
            onOutcome: (_sink, outcome, windows) => {
              counts[outcome] += windows;
            },
          });
          let produced = 0;
          let timestamp = 0;
          const flushes: Array<{ settled: boolean }> = [];
          for (const s of steps) {
            if (s.kind === 'produce') {
              const batch: Window[] = [];
              for (let i = 0; i < s.windows; i++) {
                timestamp += INTERVAL_MS;
                const list = Array.from({ length: s.series }, (_, k) => series({ name: `m${k}`, kind: 'counter', count: 1, sum: 1, total: 1 }));
                batch.push({ ...window(timestamp, list), timestamp });
              }
              produced += batch.length;
              runner.enqueue(batch);
            } else if (s.kind === 'advance') {
              await vi.advanceTimersByTimeAsync(s.ms);
            } else {
              const state = { settled: false };
              flushes.push(state);
              void runner.flushed().then(() => (state.settled = true));
            }
          }
          let closed = false;
          state.closing = true;
          void runner.close(closeMs).then(() => (closed = true));
          // Past the deadline, the longest timeout and the longest Retry-After: everything must have settled.
          await vi.advanceTimersByTimeAsync(closeMs + TIMEOUT_MS + 8000 + 3000 + 100);

          expect(closed).toBe(true);
          expect(flushes.every((f) => f.settled)).toBe(true);
          expect(counts.sent + counts.failed + counts.dropped).toBe(produced);

          // Sent is what the sink acknowledged within the timeout, no more, no less.
          const inTime = (c: Call) => c.result === 'resolved' && (c.settledAt as number) - c.startedAt < TIMEOUT_MS;
          const acknowledged = calls.filter(inTime).flatMap((c) => c.ids);
          expect(counts.sent).toBe(acknowledged.length);
          // Retried counts the windows of every retryable rejection the runner saw in time, before closing.
          const retryable = calls.filter(
            (c) => c.result === 'rejected-retryable' && !c.duringClose && (c.settledAt as number) - c.startedAt < TIMEOUT_MS,
          );
          expect(counts.retried).toBe(retryable.flatMap((c) => c.ids).length);

          // A window goes out again only after a retryable rejection of its previous attempt.
          const lastAttempt = new Map<number, Call>();
          for (const call of calls) {
            for (const id of call.ids) {
              const previous = lastAttempt.get(id);
              if (previous !== undefined) {
                const wasRetryable = previous.result === 'rejected-retryable' && (previous.settledAt as number) - previous.startedAt < TIMEOUT_MS;
                expect(wasRetryable, `window ${id} resent after a ${previous.behaviour.kind} attempt`).toBe(true);
              }
              lastAttempt.set(id, call);
            }
            // Oldest first within a call.
            expect([...call.ids].sort((a, b) => a - b)).toEqual(call.ids);
          }
          // Acknowledged windows arrive in timestamp order, each once.
          for (let i = 1; i < acknowledged.length; i++) expect(acknowledged[i]).toBeGreaterThan(acknowledged[i - 1]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('flush() waits for the windows in flight even while later windows overflow the backlog', async () => {
    const { sink, calls } = makeSink([{ kind: 'ok', delayMs: 400 }], { maxBacklog: 2, maxBacklogBytes: 1 << 20 });
    const counts: Record<WindowOutcome, number> = { sent: 0, failed: 0, dropped: 0, retried: 0, latency: 0 };
    const runner = new SinkRunner(sink, {
      intervalMs: INTERVAL_MS,
      logger: { warn: () => {}, error: () => {} } as never,
      onOutcome: (_s, outcome, n) => (counts[outcome] += n),
    });
    const w = (t: number) => ({ ...window(t, []), timestamp: t });
    runner.enqueue([w(1000)]); // in flight for 400 ms from the next turn
    await vi.advanceTimersByTimeAsync(0);
    let flushed = false;
    void runner.flushed().then(() => (flushed = true));
    runner.enqueue([w(2000), w(3000), w(4000), w(5000)]); // overflows: two dropped while the first is in flight
    await vi.advanceTimersByTimeAsync(100);
    expect(counts.dropped).toBe(2);
    expect(flushed).toBe(false); // window 1000 is still in flight
    await vi.advanceTimersByTimeAsync(300);
    expect(flushed).toBe(true);
    expect(calls[0].ids).toEqual([1000]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(counts).toEqual({ sent: 3, failed: 0, dropped: 2, retried: 0, latency: 0 });
  });

  it('estimates grow with series so the byte bound bites before the window bound', () => {
    const small = window(1000, [series({ name: 'a', kind: 'counter' })]);
    const big = window(1000, Array.from({ length: 1000 }, (_, i) => series({ name: `m${i}`, kind: 'counter', labels: { route: `/r/${i}` } })));
    expect(estimateWindowBytes(big)).toBeGreaterThan(100 * estimateWindowBytes(small));
  });
});
