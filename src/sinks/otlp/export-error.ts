import { SinkError } from '../../core/sink.js';

/** HTTP statuses the OTLP/HTTP spec calls retryable. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

/**
 * Maps the error of a failed OTLP export to a SinkError.
 * The exporter reports an HTTP failure as an OTLPExporterError with a numeric `code` (the status), a network
 * failure as the Node error (`code` like ECONNREFUSED), a socket timeout as "Request timed out", and a
 * retryable status it gave up on (429/502/503/504) without the status, as "Export failed with retryable status".
 */
export function toSinkError(error: unknown): SinkError {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  let retryable: boolean;
  let detail: string;
  if (typeof code === 'number') {
    retryable = RETRYABLE_STATUS.has(code);
    detail = `HTTP ${code}${message ? ` ${message}` : ''}`;
  } else if (typeof code === 'string') {
    // ECONNREFUSED, ECONNRESET, ENOTFOUND...; ERR_* codes are Node usage errors that a retry will not fix.
    retryable = !code.startsWith('ERR_');
    detail = `${code} ${message}`;
  } else {
    retryable = /timed out|retryable status|concurrent export limit/i.test(message);
    detail = message;
  }
  return new SinkError(`OTLP export failed: ${detail}`, { retryable, cause: error });
}
