/**
 * Runs async tasks one at a time, in the order they were submitted. The sink's state is changed by sliced applies
 * and read by sliced snapshots: running them through one Serial is what keeps a scrape from ever reading half a
 * window.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // The next task waits for this one to settle, whatever its outcome.
    this.tail = result.then(ignore, ignore);
    return result;
  }
}

function ignore(): void {}
