/**
 * The shared turn queue (src/core/turns.ts): however many sinks are slicing work at once, one turn of the event
 * loop runs one slice, so the host's pause per turn is one slice long, not one slice per busy sink.
 */
import { describe, expect, it, vi } from 'vitest';
import { nextTurn, turnsWaiting } from '../../src/core/turns.js';

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

describe('nextTurn', () => {
  it('runs one slice per turn of the event loop, whatever the number of slicing tasks', async () => {
    const host = hostTurns();
    const slicesPerTask = 20;
    const tasks = 4;
    const turnOfSlice: number[] = [];
    const order: number[] = [];
    const task = async (id: number) => {
      for (let i = 0; i < slicesPerTask; i++) {
        await nextTurn();
        turnOfSlice.push(host.turn);
        order.push(id);
      }
    };
    await Promise.all(Array.from({ length: tasks }, (_, id) => task(id)));
    host.stop();

    expect(turnOfSlice).toHaveLength(tasks * slicesPerTask);
    // Never two slices in one turn: the host got a turn between any two.
    expect(new Set(turnOfSlice).size).toBe(turnOfSlice.length);
    // FIFO: the tasks take turns in the order they queued, none starves.
    expect(order.slice(0, 8)).toEqual([0, 1, 2, 3, 0, 1, 2, 3]);
    expect(turnsWaiting()).toBe(0);
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
      // A ~1 ms slice of work.
      const until = performance.now() + 1;
      while (performance.now() < until);
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
