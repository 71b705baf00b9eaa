/**
 * The instruments users hold. Unbound calls resolve their labels through the family's cache on every call
 * (unusable labels: the family counts the drop and answers undefined); bind() resolves once, throws a ConfigError
 * for labels an unbound call would drop, and returns the hot-path handle itself.
 */
import type {
  BoundCounter,
  BoundGauge,
  BoundHistogram,
  Counter,
  Gauge,
  Histogram,
  LabelInput,
  StopTimer,
} from './api.js';
import { BoundCounterHandle, BoundGaugeHandle, BoundHistogramHandle, startTimer } from './handles.js';
import { assertValidLabels } from './labels.js';
import type { Family } from './series.js';

export class CounterInstrument implements Counter {
  readonly name: string;
  constructor(private readonly family: Family) {
    this.name = family.definition.name;
  }
  add(value: number, labels?: LabelInput): void {
    const series = this.family.lookup(labels);
    if (series !== undefined) (series.handle as BoundCounterHandle).add(value);
  }
  bind(labels?: LabelInput): BoundCounter {
    assertValidLabels(labels, `${this.name}.bind()`);
    return this.family.bind(labels).handle as BoundCounterHandle;
  }
}

export class GaugeInstrument implements Gauge {
  readonly name: string;
  constructor(private readonly family: Family) {
    this.name = family.definition.name;
  }
  set(value: number, labels?: LabelInput): void {
    const series = this.family.lookup(labels);
    if (series !== undefined) (series.handle as BoundGaugeHandle).set(value);
  }
  add(delta: number, labels?: LabelInput): void {
    const series = this.family.lookup(labels);
    if (series !== undefined) (series.handle as BoundGaugeHandle).add(delta);
  }
  bind(labels?: LabelInput): BoundGauge {
    assertValidLabels(labels, `${this.name}.bind()`);
    return this.family.bind(labels).handle as BoundGaugeHandle;
  }
}

export class HistogramInstrument implements Histogram {
  readonly name: string;
  constructor(private readonly family: Family) {
    this.name = family.definition.name;
  }
  record(value: number, labels?: LabelInput): void {
    const series = this.family.lookup(labels);
    if (series !== undefined) (series.handle as BoundHistogramHandle).record(value);
  }
  bind(labels?: LabelInput): BoundHistogram {
    assertValidLabels(labels, `${this.name}.bind()`);
    return this.family.bind(labels).handle as BoundHistogramHandle;
  }
  /** The series is resolved when the timer stops, so an idle eviction in between cannot strand the record. */
  startTimer(labels?: LabelInput): StopTimer {
    return startTimer((ms) => this.record(ms, labels));
  }
}
