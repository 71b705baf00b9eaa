/**
 * Observed gauges: callbacks polled once per window, never overlapping, each given an AbortSignal that fires
 * at the timeout. A throw, a rejection, a timeout or a non-number is counted, never propagated.
 */
import type { GaugeOptions, LabelInput, ObservedValue } from './api.js';
import type { BoundGaugeHandle } from './handles.js';
import type { Family } from './series.js';

export type ObserveFailure = 'error' | 'timeout' | 'invalid' | 'still_running';

/** A callback stuck longer than this many timeouts is released so the gauge can recover. */
const STUCK_TIMEOUTS = 10;

export class ObservedGauge {
  private runningSince = -1;

  constructor(
    private readonly family: Family,
    private readonly callback: NonNullable<GaugeOptions['observe']>,
    private readonly onFailure: (metric: string, reason: ObserveFailure) => void,
  ) {}

  poll(timeoutMs: number): void {
    const now = performance.now();
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
      this.runningSince = -1;
      if (failed) this.onFailure(this.family.definition.name, 'error');
      else if (!controller.signal.aborted) this.apply(result);
    };
    try {
      const result = (this.callback as (signal: AbortSignal) => unknown)(controller.signal);
      if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
        (result as Promise<unknown>).then(
          (value) => finish(value, false),
          () => finish(undefined, true),
        );
      } else {
        finish(result, false);
      }
    } catch {
      finish(undefined, true);
    }
  }

  private apply(result: unknown): void {
    if (typeof result === 'number') {
      this.set(result, undefined);
    } else if (Array.isArray(result)) {
      for (const item of result as ObservedValue[]) {
        if (item === null || typeof item !== 'object') {
          this.onFailure(this.family.definition.name, 'invalid');
          continue;
        }
        this.set(item.value, item.labels);
      }
    } else {
      this.onFailure(this.family.definition.name, 'invalid');
    }
  }

  private set(value: unknown, labels: LabelInput | undefined): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      this.onFailure(this.family.definition.name, 'invalid');
      return;
    }
    (this.family.lookup(labels).handle as BoundGaugeHandle).set(value);
  }
}
