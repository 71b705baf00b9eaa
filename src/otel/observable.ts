/**
 * The asynchronous OTel instruments: ObservableGauge and ObservableUpDownCounter set a scalesignal gauge (the
 * observed value is the gauge's value), ObservableCounter adds the increase since its previous observation to a
 * scalesignal counter.
 *
 * An ObservableCounter's first observation of an attribute set is its baseline and adds nothing: the counter then
 * carries the increase since that moment (its `total` counts from there, as a counter created then would). The
 * alternative, adding the whole cumulative value to the first window, shows everything that happened before the
 * callback was registered as one second's rate, a spike an autoscaler would act on. A value below the previous
 * one is a reset (the observed source restarted): the new value is the increase.
 */
import type { ObservableCallback, Observable } from '@opentelemetry/api';
import type { Counter, Gauge, LabelInput } from '../core/api.js';

/** One observation per label set and callback run; the last one wins, as in the SDK. */
export interface Observation {
  readonly labels: LabelInput | undefined;
  readonly value: number;
}

/** Per ObservableCounter: label sets whose baseline is kept. Past this, new label sets are dropped and counted. */
export const MAX_COUNTER_BASELINES = 2000;

export interface CallbackRegistry {
  add(callback: ObservableCallback, instrument: ObservableInstrument): void;
  remove(callback: ObservableCallback, instrument: ObservableInstrument): void;
}

export abstract class ObservableInstrument implements Observable {
  constructor(
    readonly name: string,
    /** ValueType.INT: fractions are truncated, as the SDK does. */
    readonly integer: boolean,
    private readonly registry: CallbackRegistry,
  ) {}

  addCallback(callback: ObservableCallback): void {
    if (typeof callback === 'function') this.registry.add(callback, this);
  }

  removeCallback(callback: ObservableCallback): void {
    this.registry.remove(callback, this);
  }

  /** Applies one callback run's observations; returns how many were refused. */
  abstract apply(observations: ReadonlyMap<string, Observation>): number;
}

export class ObservableGaugeAdapter extends ObservableInstrument {
  constructor(
    name: string,
    integer: boolean,
    registry: CallbackRegistry,
    private readonly target: Gauge,
  ) {
    super(name, integer, registry);
  }

  apply(observations: ReadonlyMap<string, Observation>): number {
    for (const { labels, value } of observations.values()) this.target.set(value, labels);
    return 0;
  }
}

export class ObservableCounterAdapter extends ObservableInstrument {
  private readonly previous = new Map<string, number>();

  constructor(
    name: string,
    integer: boolean,
    registry: CallbackRegistry,
    private readonly target: Counter,
  ) {
    super(name, integer, registry);
  }

  apply(observations: ReadonlyMap<string, Observation>): number {
    let refused = 0;
    for (const [key, { labels, value }] of observations) {
      const before = this.previous.get(key);
      if (before === undefined) {
        if (this.previous.size >= MAX_COUNTER_BASELINES || value < 0) {
          refused++;
          continue;
        }
        this.previous.set(key, value);
        // Creates the series (increase 0), so it is listed from its first observation on.
        this.target.add(0, labels);
        continue;
      }
      if (value < 0) {
        refused++;
        continue;
      }
      this.previous.set(key, value);
      this.target.add(value >= before ? value - before : value, labels);
    }
    return refused;
  }
}
