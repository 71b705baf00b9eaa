/** Validation of createMetrics options: every mistake is reported here, naming the option and what it allows. */
import type { Logger, MetricsOptions } from './api.js';
import { assertKnownOptions, booleanOption, integerOption, stringOption } from './config.js';
import { ConfigError, ConfigErrorCode } from './errors.js';
import { MAX_SCALE, MIN_SCALE } from './histogram/mapping.js';
import type { Sink } from './sink.js';

export interface ResolvedOptions {
  readonly service: string | undefined;
  readonly intervalMs: number;
  /** The user's sinks; undefined when the composition root should choose them from the environment. */
  readonly sinks: readonly Sink[] | undefined;
  readonly slots: number;
  readonly histogramScale: number;
  readonly maxSeriesPerMetric: number;
  readonly seriesIdleSeconds: number;
  readonly observeTimeoutMs: number;
  readonly resource: Readonly<Record<string, string>>;
  readonly eventLoop: boolean;
  readonly logger: Logger;
  readonly shutdownTimeoutMs: number;
  readonly handleSignals: boolean;
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
  'shutdownTimeoutMs',
  'handleSignals',
]);

export const stderrLogger: Logger = { warn: (message: string) => process.stderr.write(`${message}\n`) };

export function resolveOptions(options: MetricsOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ConfigError('createMetrics(options): options must be an object');
  }
  assertKnownOptions(options, KNOWN, 'createMetrics(options)');
  const intervalMs = integerOption(options.intervalMs, 'intervalMs', { min: 100, max: 60_000 }, 1000);
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
  const logger = options.logger ?? stderrLogger;
  if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function') {
    throw new ConfigError('option "logger" must have a warn(message) function');
  }
  return {
    service: stringOption(options.service, 'service', undefined),
    intervalMs,
    sinks,
    slots: integerOption(options.slots, 'slots', { min: 2, max: 64 }, 4),
    histogramScale: integerOption(options.histogramScale, 'histogramScale', { min: MIN_SCALE, max: MAX_SCALE }, 6),
    maxSeriesPerMetric: integerOption(options.maxSeriesPerMetric, 'maxSeriesPerMetric', { min: 1, max: 1_000_000 }, 2000),
    seriesIdleSeconds: integerOption(options.seriesIdleSeconds, 'seriesIdleSeconds', { min: 0, max: 31 * 24 * 3600 }, 300),
    observeTimeoutMs: integerOption(options.observeTimeoutMs, 'observeTimeoutMs', { min: 1, max: 60_000 }, Math.max(1, Math.floor(intervalMs / 2))),
    resource,
    eventLoop: booleanOption(options.eventLoop, 'eventLoop', true),
    logger,
    shutdownTimeoutMs: integerOption(options.shutdownTimeoutMs, 'shutdownTimeoutMs', { min: 0, max: 600_000 }, 5000),
    handleSignals: booleanOption(options.handleSignals, 'handleSignals', false),
  };
}

const METRIC_NAME = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;

export function assertMetricName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new ConfigError(
      `metric name ${JSON.stringify(name)} must start with a letter and contain only letters, digits, "_", ".", "-", "/" (at most 255)`,
      ConfigErrorCode.metricName,
    );
  }
}
