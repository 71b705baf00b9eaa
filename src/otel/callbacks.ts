/**
 * Observable callbacks, run once per window on the core's own poll: one observed gauge per Metrics,
 * `scalesignal.otel.callbacks` (the number of registered callbacks), whose observe function runs every OTel
 * callback. The core polls observed gauges just before a window seals, so what a synchronous callback observes
 * lands in the window that is closing; an async callback's observations land when it resolves (in the window
 * open then), unless it took longer than its timeout, when they are discarded.
 *
 * As in the SDK, a callback's observations are buffered and applied when it returns (the last per label set
 * wins) and discarded when it throws or rejects. Failures are counted in `scalesignal.observe.failures{metric,
 * reason}`, the same counter the core's observed gauges use: `error`, `timeout`, `invalid` (a non-number,
 * non-finite or negative-counter value, an observation for an instrument the batch callback was not registered
 * with, a label set past the ObservableCounter baseline limit).
 */
import type { Attributes, BatchObservableCallback, BatchObservableResult, Observable, ObservableCallback, ObservableResult } from '@opentelemetry/api';
import type { Counter } from '../core/api.js';
import type { RecordingTarget } from './target.js';
import { copyLabels, isAttributes, labelSetKey } from './attributes.js';
import type { CallbackRegistry, ObservableInstrument, Observation } from './observable.js';

export type FailureReason = 'error' | 'timeout' | 'invalid';

interface Registration {
  readonly callback: ObservableCallback | BatchObservableCallback;
  readonly instruments: ReadonlySet<ObservableInstrument>;
  readonly batch: boolean;
  readonly owner: object;
  readonly timeoutMs: number;
  /** The `metric` label of this callback's failures. */
  readonly metric: string;
}

/** What one callback run observed. Closed once applied or timed out: later observations are ignored. */
class Run {
  closed = false;
  invalid = 0;
  readonly buffers = new Map<ObservableInstrument, Map<string, Observation>>();

  constructor(private readonly allowed: ReadonlySet<ObservableInstrument>) {}

  push(instrument: unknown, value: unknown, attributes: unknown): void {
    if (this.closed) return;
    if (!this.allowed.has(instrument as ObservableInstrument) || typeof value !== 'number') {
      this.invalid++;
      return;
    }
    const target = instrument as ObservableInstrument;
    const number = target.integer ? Math.trunc(value) : value;
    if (!Number.isFinite(number)) {
      this.invalid++;
      return;
    }
    // A copy: callers often reuse one attributes object across observations, and async runs apply later.
    const labels = isAttributes(attributes) ? copyLabels(attributes as Attributes) : undefined;
    let buffer = this.buffers.get(target);
    if (buffer === undefined) this.buffers.set(target, (buffer = new Map()));
    buffer.set(labels === undefined ? '' : labelSetKey(labels), { labels, value: number });
  }
}

const hubs = new WeakMap<RecordingTarget, CallbackHub | null>();

/** One provider's view of the hub: its registrations carry its timeout and are released by its shutdown(). */
export interface ProviderCallbacks extends CallbackRegistry {
  addBatch(callback: BatchObservableCallback, instruments: ReadonlySet<ObservableInstrument>): void;
  removeBatch(callback: BatchObservableCallback, instruments: ReadonlySet<ObservableInstrument>): void;
  release(): void;
}

export class CallbackHub {
  private registrations: Registration[] = [];
  private readonly failures: Counter;

  /** The hub of `metrics`, or null when it cannot poll (a worker thread's metrics: observed gauges live on the main thread). */
  static for(metrics: RecordingTarget): CallbackHub | null {
    let hub = hubs.get(metrics);
    if (hub === undefined) {
      try {
        hub = new CallbackHub(metrics);
      } catch {
        hub = null;
      }
      hubs.set(metrics, hub);
    }
    return hub;
  }

  private constructor(metrics: RecordingTarget) {
    this.failures = metrics.counter('scalesignal.observe.failures', {
      unit: '{failure}',
      description: 'Observed-gauge callbacks that threw, timed out, returned a non-number or were still running',
    });
    metrics.gauge('scalesignal.otel.callbacks', {
      unit: '{callback}',
      description: 'OpenTelemetry observable callbacks registered; all of them run once per window',
      observe: () => this.collect(),
    });
  }

  forProvider(timeoutMs: number): ProviderCallbacks {
    const owner = {};
    return {
      add: (callback, instrument) => this.register(callback, new Set([instrument]), false, owner, timeoutMs),
      remove: (callback, instrument) => this.unregister(callback, new Set([instrument]), false),
      addBatch: (callback, instruments) => this.register(callback, instruments, true, owner, timeoutMs),
      removeBatch: (callback, instruments) => this.unregister(callback, instruments, true),
      release: () => {
        this.registrations = this.registrations.filter((r) => r.owner !== owner);
      },
    };
  }

  private register(
    callback: ObservableCallback | BatchObservableCallback,
    instruments: ReadonlySet<ObservableInstrument>,
    batch: boolean,
    owner: object,
    timeoutMs: number,
  ): void {
    if (this.find(callback, instruments, batch) >= 0) return;
    const metric = [...instruments].map((i) => i.name).sort().join(',');
    this.registrations.push({ callback, instruments, batch, owner, timeoutMs, metric });
  }

  private unregister(callback: ObservableCallback | BatchObservableCallback, instruments: ReadonlySet<ObservableInstrument>, batch: boolean): void {
    const index = this.find(callback, instruments, batch);
    // A new array: a collection running over the old one is not disturbed.
    if (index >= 0) this.registrations = this.registrations.filter((_, i) => i !== index);
  }

  private find(callback: unknown, instruments: ReadonlySet<ObservableInstrument>, batch: boolean): number {
    return this.registrations.findIndex(
      (r) =>
        r.callback === callback &&
        r.batch === batch &&
        r.instruments.size === instruments.size &&
        [...instruments].every((i) => r.instruments.has(i)),
    );
  }

  /** Runs every callback; returns how many are registered (the gauge's value). */
  private collect(): number {
    const registrations = this.registrations;
    for (const registration of registrations) this.run(registration);
    return registrations.length;
  }

  private run(registration: Registration): void {
    const run = new Run(registration.instruments);
    const result = registration.batch ? batchResult(run) : singleResult(run, [...registration.instruments][0]);
    let returned: unknown;
    try {
      returned = (registration.callback as (result: unknown) => unknown)(result);
    } catch {
      run.closed = true;
      this.fail(registration, 'error');
      return;
    }
    if (returned === null || typeof returned !== 'object' || typeof (returned as PromiseLike<unknown>).then !== 'function') {
      this.apply(registration, run);
      return;
    }
    const timer = setTimeout(() => {
      if (run.closed) return;
      run.closed = true;
      this.fail(registration, 'timeout');
    }, registration.timeoutMs);
    timer.unref();
    const settle = (failed: boolean) => {
      clearTimeout(timer);
      if (run.closed) return;
      if (failed) {
        run.closed = true;
        this.fail(registration, 'error');
      } else {
        this.apply(registration, run);
      }
    };
    try {
      (returned as PromiseLike<unknown>).then(
        () => settle(false),
        () => settle(true),
      );
    } catch {
      settle(true);
    }
  }

  private apply(registration: Registration, run: Run): void {
    run.closed = true;
    let invalid = run.invalid;
    for (const [instrument, observations] of run.buffers) invalid += instrument.apply(observations);
    if (invalid > 0) this.fail(registration, 'invalid', invalid);
  }

  private fail(registration: Registration, reason: FailureReason, count = 1): void {
    this.failures.add(count, { metric: registration.metric, reason });
  }
}

function singleResult(run: Run, instrument: ObservableInstrument | undefined): ObservableResult {
  return {
    observe(value: number, attributes?: Attributes): void {
      run.push(instrument, value, attributes);
    },
  };
}

function batchResult(run: Run): BatchObservableResult {
  return {
    observe(observable: Observable, value: number, attributes?: Attributes): void {
      run.push(observable, value, attributes);
    },
  };
}
