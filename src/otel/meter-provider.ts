/**
 * createMeterProvider(metrics): an OpenTelemetry MeterProvider recording into scalesignal's one-second windows.
 *
 *   import { metrics as otelMetrics } from '@opentelemetry/api';
 *   otelMetrics.setGlobalMeterProvider(createMeterProvider(metrics));
 *
 * Every library instrumented against @opentelemetry/api (instrumentation-http, undici, pg, ...) then records
 * into the ring at the cost of a bound handle, and its series reach every configured sink each second.
 */
import type { Meter, MeterOptions, MeterProvider } from '@opentelemetry/api';
import type { Logger } from '../core/api.js';
import { ConfigError } from '../core/errors.js';
import { CallbackHub } from './callbacks.js';
import { MeterState, ScalesignalMeter } from './meter.js';
import type { RecordingTarget } from './target.js';

export interface MeterProviderOptions {
  /**
   * Longest an async observable callback may run; its observations are discarded after, and the timeout is
   * counted in `scalesignal.observe.failures{reason="timeout"}`. Default: half the window. Allowed: 1..intervalMs.
   */
  callbackTimeoutMs?: number;
  /** Where refused instrument declarations are reported (once each). Default: stderr. */
  logger?: Logger;
}

export interface ScalesignalMeterProvider extends MeterProvider {
  /** Seals the partial window and waits for every sink (`metrics.flush()`). */
  forceFlush(): Promise<void>;
  /**
   * Unregisters this provider's observable callbacks. The Metrics is the application's to shut down;
   * synchronous instruments keep recording until it is.
   */
  shutdown(): Promise<void>;
}

const KNOWN = new Set(['callbackTimeoutMs', 'logger']);

export function createMeterProvider(metrics: RecordingTarget, options: MeterProviderOptions = {}): ScalesignalMeterProvider {
  if (
    typeof metrics !== 'object' ||
    metrics === null ||
    typeof metrics.counter !== 'function' ||
    typeof metrics.gauge !== 'function' ||
    typeof metrics.histogram !== 'function'
  ) {
    throw new ConfigError('createMeterProvider(metrics): pass the Metrics returned by createMetrics() (or connectMetrics() in a worker)');
  }
  if (typeof options !== 'object' || options === null) throw new ConfigError('createMeterProvider(metrics, options): options must be an object');
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new ConfigError(`createMeterProvider: unknown option "${key}"; allowed: ${[...KNOWN].join(', ')}`);
  }
  const intervalMs = metrics.intervalMs;
  const timeoutMs = options.callbackTimeoutMs ?? Math.max(1, Math.floor(intervalMs / 2));
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > intervalMs) {
    throw new ConfigError(`createMeterProvider: option "callbackTimeoutMs" must be an integer from 1 to ${intervalMs} (the window), got ${JSON.stringify(timeoutMs)}`);
  }
  const logger = options.logger ?? { warn: (message: string) => process.stderr.write(`${message}\n`) };
  if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function') {
    throw new ConfigError('createMeterProvider: option "logger" must have a warn(message) function');
  }
  const state = new MeterState(metrics, () => CallbackHub.for(metrics)?.forProvider(timeoutMs) ?? null, logger);
  const meters = new Map<string, Meter>();
  return {
    getMeter(name: string, version = '', meterOptions?: MeterOptions): Meter {
      // Scope is not part of a series' identity, so meters differ only as objects; kept per scope as the SDK does.
      const key = `${String(name)}\u0000${String(version)}\u0000${meterOptions?.schemaUrl ?? ''}`;
      let meter = meters.get(key);
      if (meter === undefined) meters.set(key, (meter = new ScalesignalMeter(state)));
      return meter;
    },
    forceFlush: () => metrics.flush(),
    async shutdown() {
      state.release();
    },
  };
}
