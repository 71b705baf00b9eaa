/**
 * Observed gauges: callbacks polled once per window, never overlapping, each given an AbortSignal that fires
 * at the timeout. A throw, a rejection, a timeout or a non-number is counted, never propagated.
 *
 * Timing: a value must land in the window of the second it was polled for. A synchronous callback is polled at
 * the boundary, as the window closes. A callback that returned a promise is, from then on, polled early: its
 * lead is 1.25x its recent answer time plus 10 ms (at most the timeout), so its answer arrives before the
 * boundary. An answer that still arrives after the boundary but before the window is sealed is written into
 * that window's slot; only one that arrives after the seal goes into the next window.
 */
import type { GaugeOptions, LabelInput, ObservedValue } from './api.js';
import type { BoundGaugeHandle } from './handles.js';
import type { Family } from './series.js';

export type ObserveFailure = 'error' | 'timeout' | 'invalid' | 'still_running';

/** A callback stuck longer than this many timeouts is released so the gauge can recover. */
const STUCK_TIMEOUTS = 10;
/** Weight of the newest answer time in the moving average that sets the lead. */
const EWMA_WEIGHT = 0.3;

/** The slot of window `sequence` while it is still unsealed, or -1 once it is sealed (write to the open slot). */
export type SlotOf = (sequence: number) => number;

export class ObservedGauge {
  private runningSince = -1;
  /** The callback returned a promise last time: poll it early. */
  private asynchronous = false;
  private answerMs = 0;
  /** Sequence of the last window this gauge was polled for. */
  polledFor = -Infinity;

  constructor(
    private readonly family: Family,
    private readonly callback: NonNullable<GaugeOptions['observe']>,
    private readonly onFailure: (metric: string, reason: ObserveFailure) => void,
    private readonly slotOf: SlotOf,
  ) {}

  /** How long before the boundary to poll (0: at the boundary). */
  leadMs(timeoutMs: number): number {
    if (!this.asynchronous) return 0;
    return Math.min(timeoutMs, Math.ceil(this.answerMs * 1.25) + 10);
  }

  poll(timeoutMs: number, sequence: number): void {
    const now = performance.now();
    this.polledFor = sequence;
    if (this.runningSince >= 0 && now - this.runningSince < timeoutMs * STUCK_TIMEOUTS) {
      this.onFailure(this.family.definition.name, 'still_running');
      return;
    }
    this.runningSince = now;
    const controller = new AbortController();
    let settled = false;
    const timer = setTimeout(() => {
      if (settled) return;
      controller.abort(new Error(`observe callback exceeded ${timeoutMs} ms`));
      this.onFailure(this.family.definition.name, 'timeout');
    }, timeoutMs);
    timer.unref();
    const finish = (result: unknown, failed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const took = performance.now() - now;
      this.answerMs = this.answerMs === 0 ? took : this.answerMs + EWMA_WEIGHT * (took - this.answerMs);
      this.runningSince = -1;
      if (failed) this.onFailure(this.family.definition.name, 'error');
      else if (!controller.signal.aborted) this.apply(result, this.slotOf(sequence));
    };
    try {
      const result = (this.callback as (signal: AbortSignal) => unknown)(controller.signal);
      if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
        this.asynchronous = true;
        (result as Promise<unknown>).then(
          (value) => finish(value, false),
          () => finish(undefined, true),
        );
      } else {
        this.asynchronous = false;
        finish(result, false);
      }
    } catch {
      finish(undefined, true);
    }
  }

  private apply(result: unknown, slot: number): void {
    if (typeof result === 'number') {
      this.set(result, undefined, slot);
    } else if (Array.isArray(result)) {
      for (const item of result as ObservedValue[]) {
        if (item === null || typeof item !== 'object') {
          this.onFailure(this.family.definition.name, 'invalid');
          continue;
        }
        this.set(item.value, item.labels, slot);
      }
    } else {
      this.onFailure(this.family.definition.name, 'invalid');
    }
  }

  private set(value: unknown, labels: LabelInput | undefined, slot: number): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.onFailure(this.family.definition.name, 'invalid');
      return;
    }
    const series = this.family.lookup(labels); // unusable labels: dropped and counted by the family
    if (series === undefined) return;
    const handle = series.handle as BoundGaugeHandle;
    if (slot >= 0) handle.setInSlot(value, slot);
    else handle.set(value);
  }
}
