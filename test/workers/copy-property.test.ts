/**
 * Property: whatever the interleaving of a worker's stores with the main thread's seals, flushes and the reads
 * inside each copy, every window is self-consistent and the windows together hold every finished record exactly
 * once, never in a window of an earlier second than the record's.
 *
 * The model: record i has value 2^(i/8), so each record owns its own histogram bucket (8 buckets apart at scale 6)
 * and a window's buckets say exactly which records it holds. fast-check draws the schedule: writer stores,
 * boundaries, flushes, and how many writer stores run at each read phase of a copy (setCopyProbe).
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Window } from '../../src/core/window.js';
import { setCopyProbe } from '../../src/workers/link.js';
import { find } from '../helpers/collect.js';
import { fakeLane, mapping } from './fake-lane.js';

const T0 = Date.UTC(2026, 0, 1, 10, 0, 0, 250);
const valueOf = (i: number) => Math.pow(2, i / 8);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

type Action = { kind: 'steps'; n: number } | { kind: 'boundary'; ms: number } | { kind: 'flush' };

const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('steps' as const), n: fc.integer({ min: 1, max: 15 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('boundary' as const), ms: fc.integer({ min: 5, max: 1400 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
);

async function run(actions: Action[], probeSteps: number[]): Promise<void> {
  const { metrics, sink, writer, settle } = await fakeLane(valueOf);
  let p = 0;
  setCopyProbe(metrics, () => {
    const n = probeSteps.length === 0 ? 0 : probeSteps[p++ % probeSteps.length];
    for (let k = 0; k < n; k++) writer.advance();
  });
  for (const a of actions) {
    if (a.kind === 'steps') for (let k = 0; k < a.n; k++) writer.advance();
    else if (a.kind === 'boundary') await vi.advanceTimersByTimeAsync(a.ms);
    else await settle(metrics.flush(), 700);
  }
  setCopyProbe(metrics, undefined);
  writer.finish();
  await settle(metrics.shutdown(), 5000);

  const records = writer.started;
  const owner = new Map<number, number>();
  for (let i = 0; i < records.length; i++) owner.set(mapping.denseIndex(records[i].value), i);
  const seen = new Set<number>();
  for (const window of sink.windows as Window[]) {
    const s = find(window, 'lat');
    if (s === undefined || s.count === 0) continue;
    const b = s.buckets!;
    expect(b.zeroCount).toBe(0);
    expect(b.counts.reduce((x, y) => x + y, 0), 'count == sum of bucket counts').toBe(s.count);
    let sum = 0;
    for (let k = 0; k < b.counts.length; k++) {
      if (b.counts[k] === 0) continue;
      expect(b.counts[k], 'one record per bucket').toBe(1);
      const i = owner.get(b.offset + k - mapping.offset);
      expect(i, 'a bucket of a known record').toBeDefined();
      expect(seen.has(i!), `record ${i} in two windows`).toBe(false);
      seen.add(i!);
      const { value, at } = records[i!];
      expect(window.timestamp, 'never in the window of an earlier second').toBeGreaterThanOrEqual(Math.floor(at / 1000) * 1000);
      sum += value;
      expect(s.min, 'min <= every value').toBeLessThanOrEqual(value);
      expect(s.max, 'max >= every value').toBeGreaterThanOrEqual(value);
    }
    expect(Math.abs(s.sum - sum)).toBeLessThanOrEqual(1e-9 * sum);
  }
  expect(seen.size, 'every finished record delivered').toBe(records.length);
}

describe('the copy of a worker lane against a model', () => {
  it('random interleavings of stores, boundaries, flushes and reads inside copies: windows agree, records exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 20 }), async (actions, probe) => {
        vi.setSystemTime(T0);
        await run(actions, probe);
      }),
      { numRuns: 200 },
    );
  }, 120_000);
});
