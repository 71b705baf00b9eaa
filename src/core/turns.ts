/**
 * One queue of turns of the event loop for every sink's sliced work: `nextTurn()` resolves in FIFO order. Why:
 * each sink cuts its work into ~1 ms slices, but with a setImmediate of its own per slice, every busy sink's slice
 * ran in the same turn, so right after a seal the host saw one pause of ~1 ms per busy sink (4-8 ms with all sinks
 * at 2,000 series). Through this queue a turn runs slices until TURN_BUDGET_MS of work is used, then the host's
 * timers and I/O run before the next turn: no turn runs longer than the budget plus one slice.
 *
 * Several slices per turn, not one: on a host whose loop iterations take 5-20 ms, one slice per turn made a
 * window's ~50-100 slices (many of them tiny: a turn before signing, a turn before the write) take 0.5-2 s.
 *
 * How a turn knows a slice is done: a resumed waiter runs as a microtask until its next `await`. The turn queues
 * a microtask right after resuming it, and from there a process.nextTick: Node runs next-tick callbacks only once
 * the microtask queue is empty, so the check runs after the slice's synchronous part and the microtasks it
 * chained. Only then is the elapsed time read and, within budget, the next waiter resumed.
 *
 * Process-wide on purpose: the event loop is, and two registries (or two copies of a sink) must share its turns too.
 */
import { performance } from 'node:perf_hooks';

/** Work one turn may start slices within; the last slice started may run past it by its own length. */
export const TURN_BUDGET_MS = 1;
/** A backstop for a clock that does not advance (a performance.now() faked before this module loaded). */
const MAX_RESUMES_PER_TURN = 1000;

const waiting: Array<() => void> = [];
let scheduled = false;
/** The setImmediate that armed the pending turn: a fake timer uninstalled before it ran would lose that turn. */
let scheduledWith: typeof setImmediate | undefined;
/** When the running turn started (performance.now()), and how many waiters it resumed. */
let turnStart = 0;
let resumed = 0;
// Real time even under fake timers that fake `performance`: the budget is the host's real pause.
const now = performance.now.bind(performance);

function runTurn(): void {
  scheduled = false;
  turnStart = now();
  resumed = 0;
  resumeNext();
}

function resumeNext(): void {
  const resume = waiting.shift();
  // Arm the next turn before resuming, so a slice that throws cannot stall the queue.
  if (waiting.length > 0 && !scheduled) schedule();
  if (resume === undefined) return;
  resumed++;
  resume();
  queueMicrotask(afterSliceMicrotasks);
}

function afterSliceMicrotasks(): void {
  process.nextTick(checkpoint);
}

/** The resumed slice has run: another one in this turn if the budget allows. */
function checkpoint(): void {
  if (waiting.length === 0 || resumed >= MAX_RESUMES_PER_TURN || now() - turnStart >= TURN_BUDGET_MS) return;
  resumeNext();
}

function schedule(): void {
  scheduled = true;
  scheduledWith = setImmediate;
  setImmediate(runTurn);
}

/**
 * Resolves on a later turn of the event loop (or later in the running turn, within its budget), after every
 * waiter queued before it; pending I/O and timers run between turns.
 */
export function nextTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    // Re-arm when setImmediate changed since (fake timers installed or removed): the armed turn may never run, and
    // one lost turn must not stall every sink of the process. A spare turn finds the queue empty and does nothing.
    if (!scheduled || scheduledWith !== setImmediate) schedule();
  });
}

/** Waiters not yet resumed (for tests and diagnostics). */
export function turnsWaiting(): number {
  return waiting.length;
}
