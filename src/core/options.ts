/** Validation of createMetrics options: every mistake is reported here, naming the option and what it allows. */
import type { Logger, MetricsOptions } from './api.js';
import { MAX_SCALE, MIN_SCALE } from './exponential-histogram.js';
import type { Sink } from '../sinks/sink.js';

export interface ResolvedOptions {
  readonly service: string | undefined;
  readonly intervalMs: number;
  readonly sinks: readonly Sink[] | undefined;
  readonly slots: number;
  readonly histogramScale: number;
  readonly maxSeriesPerMetric: number;
  readonly seriesIdleSeconds: number;
  readonly observeTimeoutMs: number;
  readonly resource: Readonly<Record<string, string>>;
  readonly eventLoop: boolean;
  readonly logger: Logger;
}

const KNOWN = new Set([
  'service',
  'intervalMs',
  'sinks',
  'slots',
  'histogramScale',
  'maxSeriesPerMetric',
  'seriesIdleSeconds',
  'observeTimeoutMs',
  'resource',
  'eventLoop',
  'logger',
]);

export class ConfigError extends TypeError {
  constructor(message: string) {
    super(`scalesignal: ${message}`);
    this.name = 'ConfigError';
  }
}

function integer(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`option "${name}" must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function resolveOptions(options: MetricsOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('createMetrics(options): options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      throw new ConfigError(`unknown option "${key}"; allowed: ${[...KNOWN].join(', ')}`);
    }
  }
  if (options.service !== undefined && (typeof options.service !== 'string' || options.service.length === 0)) {
    throw new ConfigError('option "service" must be a non-empty string');
  }
  const intervalMs = integer(options.intervalMs, 'intervalMs', 100, 60_000, 1000);
  if (60_000 % intervalMs !== 0) {
    throw new ConfigError(`option "intervalMs" must divide 60000 evenly (e.g. 100, 250, 500, 1000, 5000), got ${intervalMs}`);
  }
  let sinks: readonly Sink[] | undefined;
  if (options.sinks !== undefined) {
    if (!Array.isArray(options.sinks)) throw new ConfigError('option "sinks" must be an array of sinks');
    const names = new Set<string>();
    for (const [i, sink] of options.sinks.entries()) {
      if (typeof sink !== 'object' || sink === null || typeof sink.export !== 'function' || typeof sink.name !== 'string') {
        throw new ConfigError(`option "sinks"[${i}] must be { name: string, export(windows), shutdown?() }`);
      }
      if (names.has(sink.name)) throw new ConfigError(`option "sinks": two sinks are named "${sink.name}"; names must be unique`);
      names.add(sink.name);
    }
    sinks = options.sinks;
  }
  const resource = options.resource ?? {};
  if (typeof resource !== 'object' || resource === null || Object.values(resource).some((v) => typeof v !== 'string')) {
    throw new ConfigError('option "resource" must be an object of string values');
  }
  if (options.eventLoop !== undefined && typeof options.eventLoop !== 'boolean') {
    throw new ConfigError('option "eventLoop" must be true or false');
  }
  const logger = options.logger ?? { warn: (message: string) => process.stderr.write(`${message}\n`) };
  if (typeof logger.warn !== 'function') throw new ConfigError('option "logger" must have a warn(message) function');
  return {
    service: options.service,
    intervalMs,
    sinks,
    slots: integer(options.slots, 'slots', 2, 64, 4),
    histogramScale: integer(options.histogramScale, 'histogramScale', MIN_SCALE, MAX_SCALE, 6),
    maxSeriesPerMetric: integer(options.maxSeriesPerMetric, 'maxSeriesPerMetric', 1, 1_000_000, 2000),
    seriesIdleSeconds: integer(options.seriesIdleSeconds, 'seriesIdleSeconds', 0, 31 * 24 * 3600, 300),
    observeTimeoutMs: integer(options.observeTimeoutMs, 'observeTimeoutMs', 1, 60_000, Math.max(1, Math.floor(intervalMs / 2))),
    resource,
    eventLoop: options.eventLoop ?? true,
    logger,
  };
}

const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;

export function assertMetricName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new ConfigError(
      `metric name ${JSON.stringify(name)} must start with a letter and contain only letters, digits, "_", ".", "-", "/" (at most 255)`,
    );
  }
}
