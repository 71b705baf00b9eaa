/**
 * Runs queued tasks one per turn of the event loop (setImmediate, chained): the sinks' exports after a seal
 * each get their own macrotask, with timers and I/O of the host in between, instead of one pause as long as
 * all of them together. Immediates queued from inside an immediate run on the next turn, hence the chain.
 */
const tasks: Array<() => void> = [];
let scheduled = false;

export function onNextTurn(task: () => void): void {
  tasks.push(task);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runOne);
  }
}

function runOne(): void {
  const task = tasks.shift();
  if (tasks.length > 0) setImmediate(runOne);
  else scheduled = false;
  try {
    task?.();
  } catch {
    // Tasks handle their own errors; one must never stop the others.
  }
}
