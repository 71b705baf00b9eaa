/**
 * The shared turn queue (src/core/turns.ts): however many sinks are slicing work at once, one turn of the event
 * loop starts slices only within its budget (TURN_BUDGET_MS), so the host's pause per turn is the budget plus one
 * slice at most, not one slice per busy sink; and short slices share a turn, so a slow host loop does not stretch
 * a window's work to one loop iteration per slice.
 */
import { describe, expect, it, vi } from 'vitest';
import { nextTurn, TURN_BUDGET_MS, turnsWaiting } from '../../src/core/turns.js';

/** Counts turns of the event loop as the host sees them: one increment per check phase. */
function hostTurns() {
  let turn = 0;
  let running = true;
  const tick = () => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop: () => void (running = false),
  };
}

const spin = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe('nextTurn', () => {
  it('a turn starts slices only within its budget: never more than the budget plus one slice, and FIFO across tasks', async () => {
    const host = hostTurns();
    const slicesPerTask = 30;
    const tasks = 4;
    // Slices of 0.1-0.4 ms, and now and then one longer than the whole budget.
    const workOf = (task: number, i: number) => ((task * 7 + i * 3) % 11 === 0 ? 1.5 : 0.1 + ((task + i) % 4) * 0.1);
    const slices: Array<{ turn: number; work: number }> = [];
    const order: number[] = [];
    const task = async (id: number) => {
      for (let i = 0; i < slicesPerTask; i++) {
        await nextTurn();
        const turn = host.turn;
        const started = performance.now();
        spin(workOf(id, i));
        slices.push({ turn, work: performance.now() - started });
        order.push(id);
      }
    };
    await Promise.all(Array.from({ length: tasks }, (_, id) => task(id)));
    host.stop();

    expect(slices).toHaveLength(tasks * slicesPerTask);
    const byTurn = new Map<number, number[]>();
    for (const s of slices) byTurn.set(s.turn, [...(byTurn.get(s.turn) ?? []), s.work]);
    for (const [turn, works] of byTurn) {
      // Every slice but the last one of a turn started within the budget.
      const beforeLast = works.slice(0, -1).reduce((a, b) => a + b, 0);
      expect(beforeLast, `turn ${turn}: ${works.map((w) => w.toFixed(2)).join(' + ')} ms`).toBeLessThan(TURN_BUDGET_MS);
    }
    // Short slices do share turns.
    expect(byTurn.size).toBeLessThan(slices.length);
    // FIFO: the tasks take turns in the order they queued, none starves.
    expect(order.slice(0, 8)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(turnsWaiting()).toBe(0);
  });

  it('with a slow host loop (10 ms per iteration), tiny slices complete in far fewer host iterations than slices', async () => {
    let iterations = 0;
    let running = true;
    // The host: every iteration of its event loop is busy for 10 ms.
    const busyHost = () => {
      iterations++;
      spin(10);
      if (running) setImmediate(busyHost);
    };
    setImmediate(busyHost);
    const slices = 200;
    const before = iterations;
    for (let i = 0; i < slices; i++) await nextTurn();
    const used = iterations - before;
    running = false;
    expect(used).toBeLessThan(slices / 10);
  });

  it('a waiter that throws after resuming does not stall the others', async () => {
    const failing = nextTurn().then(() => {
      throw new Error('slice failed');
    });
    const after = nextTurn().then(() => 'resumed');
    await expect(failing).rejects.toThrow('slice failed');
    await expect(after).resolves.toBe('resumed');
  });

  it('timers due while slices are queued run between them', async () => {
    let timerFiredAfterSlice = -1;
    let slices = 0;
    setTimeout(() => (timerFiredAfterSlice = slices), 5);
    const started = Date.now();
    while (Date.now() - started < 50) {
      await nextTurn();
      slices++;
      // A slice of the whole budget: one per turn.
      spin(TURN_BUDGET_MS);
    }
    expect(timerFiredAfterSlice).toBeGreaterThan(0);
    expect(timerFiredAfterSlice).toBeLessThan(slices);
  });

  it('a turn armed under fake timers that were then removed does not stall the queue', async () => {
    vi.useFakeTimers({ toFake: ['setImmediate'] });
    const lost = nextTurn();
    vi.useRealTimers();
    const next = nextTurn().then(() => 'resumed');
    await expect(next).resolves.toBe('resumed');
    await expect(lost).resolves.toBeUndefined();
  });
});
