/**
 * The logger the AWS sinks write to: the `logger` option, else the user's logger that createMetrics hands every
 * sink in `start()`, else stderr (a sink used on its own).
 */
import type { Logger } from '../../core/api.js';

const stderr: Logger = {
  warn: (message) => process.stderr.write(`${message}\n`),
  info: (message) => process.stderr.write(`${message}\n`),
};

export interface LateLogger {
  readonly logger: Logger;
  /** Takes the SDK's logger unless one was given explicitly. */
  adopt(logger: Logger): void;
}

export function lateLogger(explicit: Logger | undefined): LateLogger {
  if (explicit !== undefined) return { logger: explicit, adopt: () => undefined };
  let target = stderr;
  return {
    logger: {
      warn: (message) => target.warn(message),
      info: (message) => (target.info ?? target.warn).call(target, message),
    },
    adopt: (logger) => {
      target = logger;
    },
  };
}
