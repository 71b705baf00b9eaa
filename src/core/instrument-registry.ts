/**
 * Instrument declaration rules, shared by the main thread's registry and a worker's: a name is declared once
 * with one kind and unit; declaring it again with the same kind and unit returns the same instrument.
 */
import type { Counter, Gauge, Histogram, InstrumentOptions } from './api.js';
import { ConfigError, ConfigErrorCode } from './errors.js';
import { CounterInstrument, GaugeInstrument, HistogramInstrument } from './instruments.js';
import { assertMetricName } from './options.js';
import type { Family, SeriesTable } from './series.js';
import type { MetricKind } from './window.js';

type Instrument = Counter | Gauge | Histogram;

export class InstrumentRegistry {
  private readonly instruments = new Map<string, { kind: MetricKind; unit: string; instrument: Instrument }>();

  constructor(private readonly table: SeriesTable) {}

  has(name: string): boolean {
    return this.instruments.has(name);
  }

  counter(name: string, options: InstrumentOptions = {}): Counter {
    return this.declare(name, 'counter', options) as Counter;
  }

  gauge(name: string, options: InstrumentOptions = {}): Gauge {
    return this.declare(name, 'gauge', options) as Gauge;
  }

  histogram(name: string, options: InstrumentOptions = {}): Histogram {
    return this.declare(name, 'histogram', options) as Histogram;
  }

  family(name: string): Family | undefined {
    return this.table.families.get(name);
  }

  declare(name: string, kind: MetricKind, options: InstrumentOptions): Instrument {
    assertMetricName(name);
    if (typeof options !== 'object' || options === null) throw new ConfigError(`${kind} "${name}": options must be an object`);
    const unit = options.unit ?? '';
    if (typeof unit !== 'string' || unit.length > 63) {
      throw new ConfigError(`${kind} "${name}": option "unit" must be a UCUM string such as "ms", "s", "By", "{request}"`);
    }
    const description = options.description ?? '';
    if (typeof description !== 'string') throw new ConfigError(`${kind} "${name}": option "description" must be a string`);
    const existing = this.instruments.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind || existing.unit !== unit) {
        throw new ConfigError(
          `metric "${name}" is already a ${existing.kind} with unit "${existing.unit}"; cannot redeclare it as a ${kind} with unit "${unit}"`,
          ConfigErrorCode.metricConflict,
        );
      }
      return existing.instrument;
    }
    const family = this.table.family({ name, kind, unit, description });
    const instrument =
      kind === 'counter' ? new CounterInstrument(family) : kind === 'gauge' ? new GaugeInstrument(family) : new HistogramInstrument(family);
    this.instruments.set(name, { kind, unit, instrument });
    return instrument;
  }
}
