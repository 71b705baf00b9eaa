/**
 * Sinks chosen from the environment when createMetrics gets no `sinks` option:
 * `SCALESIGNAL_SINKS=prometheus,emf` (console, prometheus, otlp, emf, cloudwatch) (comma-separated; each sink reads its own settings from its variables).
 * Unset: the console sink, except under NODE_ENV=production where printing a table every second to a
 * service's stdout would be a surprise; there the metrics record but go nowhere until a sink is named.
 */
import type { Logger } from '../core/api.js';
import { ConfigError } from '../core/options.js';
import { consoleSink } from './console.js';
import { cloudWatchSink } from './cloudwatch.js';
import { emfSink } from './emf.js';
import { otlpSink } from './otlp.js';
import { prometheusSink } from './prometheus.js';
import type { Sink } from './sink.js';

// Each factory reads its own settings from the environment; heavy clients load only when a sink is created.
const factories: Record<string, () => Sink> = {
  console: () => consoleSink(),
  prometheus: () => prometheusSink(),
  otlp: () => otlpSink(),
  emf: () => emfSink(),
  cloudwatch: () => cloudWatchSink(),
};

export function defaultSinks(env: NodeJS.ProcessEnv, logger: Logger): Sink[] {
  const list = env.SCALESIGNAL_SINKS;
  if (list === undefined || list.trim() === '') {
    if (env.NODE_ENV === 'production') {
      logger.warn('scalesignal: no sinks configured (pass `sinks` or set SCALESIGNAL_SINKS); metrics are recorded but not exported');
      return [];
    }
    return [consoleSink()];
  }
  const names = list
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'none');
  return names.map((name) => {
    const factory = factories[name];
    if (factory === undefined) {
      throw new ConfigError(`SCALESIGNAL_SINKS names unknown sink "${name}"; allowed: ${Object.keys(factories).join(', ')}, none`);
    }
    return factory();
  });
}
