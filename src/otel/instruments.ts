/**
 * The synchronous OTel instruments, each a thin adapter over a scalesignal instrument:
 *   Counter -> counter, UpDownCounter -> gauge (add), Gauge -> gauge (set), Histogram -> histogram.
 * No clock read, no allocation and no throw on a record: values the core refuses (negative counter adds and
 * histogram records, NaN, infinities, non-numbers) are dropped and counted in `scalesignal.recordings.dropped`,
 * where the SDK drops them with a diag warning. `ValueType.INT` instruments truncate fractions as the SDK does.
 * The `context` argument is ignored: scalesignal keeps no exemplars.
 */
import type {
  Attributes,
  Counter as OtelCounter,
  Gauge as OtelGauge,
  Histogram as OtelHistogram,
  UpDownCounter as OtelUpDownCounter,
} from '@opentelemetry/api';
import type { BoundCounter, BoundGauge, BoundHistogram, Counter, Gauge, Histogram } from '../core/api.js';
import { Resolver } from './resolver.js';

export class CounterAdapter implements OtelCounter {
  private readonly r: Resolver<BoundCounter>;
  constructor(
    private readonly target: Counter,
    private readonly integer: boolean,
  ) {
    this.r = new Resolver<BoundCounter>(
      (labels) => target.bind(labels),
      (labels) => ({ add: (value) => target.add(value, labels) }),
    );
  }

  add(value: number, attributes?: Attributes): void {
    if (this.integer && typeof value === 'number') value = Math.trunc(value);
    if (attributes === undefined) return this.r.plain().add(value);
    const bound = this.r.frozen(attributes);
    if (bound !== undefined) bound.add(value);
    else this.target.add(value, this.r.labels(attributes));
  }
}

export class UpDownCounterAdapter implements OtelUpDownCounter {
  private readonly r: Resolver<BoundGauge>;
  constructor(
    private readonly target: Gauge,
    private readonly integer: boolean,
  ) {
    this.r = gaugeResolver(target);
  }

  add(value: number, attributes?: Attributes): void {
    if (this.integer && typeof value === 'number') value = Math.trunc(value);
    if (attributes === undefined) return this.r.plain().add(value);
    const bound = this.r.frozen(attributes);
    if (bound !== undefined) bound.add(value);
    else this.target.add(value, this.r.labels(attributes));
  }
}

export class GaugeAdapter implements OtelGauge {
  private readonly r: Resolver<BoundGauge>;
  constructor(
    private readonly target: Gauge,
    private readonly integer: boolean,
  ) {
    this.r = gaugeResolver(target);
  }

  record(value: number, attributes?: Attributes): void {
    if (this.integer && typeof value === 'number') value = Math.trunc(value);
    if (attributes === undefined) return this.r.plain().set(value);
    const bound = this.r.frozen(attributes);
    if (bound !== undefined) bound.set(value);
    else this.target.set(value, this.r.labels(attributes));
  }
}

export class HistogramAdapter implements OtelHistogram {
  private readonly r: Resolver<BoundHistogram>;
  constructor(
    private readonly target: Histogram,
    private readonly integer: boolean,
  ) {
    this.r = new Resolver<BoundHistogram>(
      (labels) => target.bind(labels),
      (labels) => ({
        record: (value) => target.record(value, labels),
        startTimer: () => target.startTimer(labels),
      }),
    );
  }

  record(value: number, attributes?: Attributes): void {
    if (this.integer && typeof value === 'number') value = Math.trunc(value);
    if (attributes === undefined) return this.r.plain().record(value);
    const bound = this.r.frozen(attributes);
    if (bound !== undefined) bound.record(value);
    else this.target.record(value, this.r.labels(attributes));
  }
}

function gaugeResolver(target: Gauge): Resolver<BoundGauge> {
  return new Resolver<BoundGauge>(
    (labels) => target.bind(labels),
    (labels) => ({ set: (value) => target.set(value, labels), add: (delta) => target.add(delta, labels) }),
  );
}
