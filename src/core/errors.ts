/**
 * The error catalogue (as fastify's lib/errors.js): every configuration mistake is a ConfigError with a stable
 * `code` callers can branch on, and a message that names the option and what it allows. The recording hot path
 * never throws: bad values and labels are counted and dropped instead.
 */

export const ConfigErrorCode = {
  /** An option of createMetrics or of a sink/integration factory is missing, of the wrong type or out of range. */
  option: 'ERR_SCALESIGNAL_OPTION',
  /** An environment variable holds a value the SDK cannot use. */
  environment: 'ERR_SCALESIGNAL_ENVIRONMENT',
  /** A metric name breaks the naming rule. */
  metricName: 'ERR_SCALESIGNAL_METRIC_NAME',
  /** A metric is declared again with another kind or unit. */
  metricConflict: 'ERR_SCALESIGNAL_METRIC_CONFLICT',
  /** Labels passed to bind() are not a plain object of string, number or boolean values. */
  labels: 'ERR_SCALESIGNAL_LABELS',
  /** A worker link or port is not one this SDK made, or is used after close. */
  worker: 'ERR_SCALESIGNAL_WORKER',
} as const;

export type ConfigErrorCode = (typeof ConfigErrorCode)[keyof typeof ConfigErrorCode];

export class ConfigError extends TypeError {
  readonly code: ConfigErrorCode;
  constructor(message: string, code: ConfigErrorCode = ConfigErrorCode.option) {
    super(`scalesignal: ${message}`);
    this.name = 'ConfigError';
    this.code = code;
  }
}
