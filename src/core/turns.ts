/**
 * One queue of turns of the event loop for every sink's sliced work: `nextTurn()` resolves in FIFO order, one
 * waiter per turn (per setImmediate). Why: each sink cuts its work into ~1 ms slices, but with a setImmediate of
 * its own per slice, every busy sink's slice ran in the same turn, so right after a seal the host saw one pause of
 * ~1 ms per busy sink (4-8 ms with all sinks at 2,000 series). Through this queue a turn runs one slice of one sink,
 * and the host's timers and I/O run between any two.
 *
 * Process-wide on purpose: the event loop is, and two registries (or two copies of a sink) must share its turns too.
 */

const waiting: Array<() => void> = [];
let scheduled = false;
/** The setImmediate that armed the pending turn: a fake timer uninstalled before it ran would lose that turn. */
let scheduledWith: typeof setImmediate | undefined;

function runOne(): void {
  scheduled = false;
  const resume = waiting.shift();
  // Schedule the next turn before resuming, so a slice that throws cannot stall the queue.
  if (waiting.length > 0) schedule();
  resume?.();
}

function schedule(): void {
  scheduled = true;
  scheduledWith = setImmediate;
  setImmediate(runOne);
}

/**
 * Resolves on a later turn of the event loop, after every waiter queued before it (pending I/O and timers run in
 * between). The caller's next slice then runs alone in that turn.
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
