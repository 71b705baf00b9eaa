/**
 * The window clock: which interval is open, and a timer aligned to the wall-clock boundaries that turns each
 * finished interval into a seal request, however late the timer fired. It also publishes the open slot to the
 * shared clock every lane (main thread and workers) reads on each record.
 */
import type { SealRequest } from './sealer.js';

/** At most this many empty windows are emitted for one stall (a suspended laptop, a debugger pause). */
const MAX_GAP_WINDOWS = 300;

export class WindowClock {
  /**
   * Shared so that every lane reads the current slot: element 0 is the main lane's slot, element 1 the worker
   * lanes' (the same slot, or -1 once closeWorkerLanes() ran: a worker record then writes nothing).
   */
  readonly shared = new Int32Array(new SharedArrayBuffer(8));
  private workerLanesClosed = false;
  openSequence: number;
  /** Start of the open window when it does not begin on a boundary (creation, or after flush()). */
  private openStart: number;
  private timer: NodeJS.Timeout | undefined;
  private earlyTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly intervalMs: number,
    readonly slots: number,
    now = Date.now(),
  ) {
    this.openSequence = Math.floor(now / intervalMs);
    this.openStart = now;
    this.shared[0] = this.shared[1] = this.openSequence % slots;
  }

  get slot(): number {
    return this.shared[0];
  }

  /**
   * Calls `onBoundary` at every boundary, and `beforeBoundary` `leadMs()` before it when that is positive.
   */
  start(onBoundary: () => void, beforeBoundary: (sequence: number) => void, leadMs: () => number): void {
    const arm = () => {
      if (this.stopped) return;
      // Aim at the end of the open window, not at "the next boundary after now": libuv's timers can fire a
      // millisecond before Date.now() reaches the boundary, and a clock that crosses it between the tick and
      // here would otherwise skip a boundary and seal that window a whole interval late. At most one interval
      // ahead, so a wall clock stepped back does not park the timer.
      const end = (this.openSequence + 1) * this.intervalMs;
      const delay = end - Date.now();
      this.timer = setTimeout(() => {
        onBoundary();
        arm();
      }, Math.min(Math.max(0, delay), this.intervalMs));
      this.timer.unref();
      const lead = leadMs();
      clearTimeout(this.earlyTimer);
      if (lead > 0 && delay - lead > 0) {
        const sequence = this.openSequence;
        this.earlyTimer = setTimeout(() => beforeBoundary(sequence), delay - lead);
        this.earlyTimer.unref();
      }
    };
    arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.earlyTimer);
    this.timer = undefined;
  }

  /** Moves the clock to `sequence` and returns one seal request per finished interval. */
  advance(sequence: number): SealRequest[] {
    const requests: SealRequest[] = [];
    const first = Math.max(this.openSequence, sequence - MAX_GAP_WINDOWS);
    for (let s = first; s < sequence; s++) {
      const start = s === this.openSequence ? this.openStart : s * this.intervalMs;
      // Only the open interval's slot was written: the clock never pointed at the intervals of a stall.
      requests.push({
        sequence: s,
        start,
        end: (s + 1) * this.intervalMs,
        timestamp: s * this.intervalMs,
        slot: s === this.openSequence ? s % this.slots : -1,
      });
    }
    // Atomics: the publication worker lanes read (they then read it with plain loads on every record).
    Atomics.store(this.shared, 0, sequence % this.slots);
    if (!this.workerLanesClosed) Atomics.store(this.shared, 1, sequence % this.slots);
    this.openSequence = sequence;
    // Never behind an end already cut: flush() calls that ran past the boundary (each cut covers at least 1 ms)
    // would otherwise let the next cut end where one of theirs did.
    this.openStart = Math.max(sequence * this.intervalMs, this.openStart);
    return requests;
  }

  /**
   * shutdown(): worker lanes stop writing to any slot, so the last copy of their slots cannot race a record
   * (a record that read the slot before this still lands; see src/workers/link.ts). The main lane is unaffected.
   */
  closeWorkerLanes(): void {
    this.workerLanesClosed = true;
    Atomics.store(this.shared, 1, -1);
  }

  /**
   * Cuts the open interval at `now` (flush): the records so far become a window, the interval stays open.
   * A cut in the very millisecond the open part began (shutdown() right at a boundary, two flush() calls in one
   * millisecond, a clock stepped back) covers that millisecond, ending 1 ms ahead: a window that ended where the
   * previous one did would repeat its point time (OTLP stamps points at the end), so a collector would count
   * that window's delta sums twice. Should the cut reach the boundary, the boundary's empty remainder is carried
   * (WindowStamper: its interval is already stamped), so ends always increase.
   */
  cut(now: number): SealRequest {
    const end = Math.max(now, this.openStart + 1);
    const request: SealRequest = {
      sequence: this.openSequence,
      start: this.openStart,
      end,
      timestamp: this.openSequence * this.intervalMs,
      slot: this.slot,
    };
    this.openStart = end;
    return request;
  }
}
