import { SinkError } from '../../core/sink.js';

const noop = () => {};

/**
 * Writes documents as JSON lines to a stream (stdout by default), where the node's log agent (Fluent Bit,
 * Container Insights) picks them up. One write per export, resolved once the stream has taken the bytes.
 * Like Node's console, a write error never becomes an unhandled 'error' event: stdout closed under us must not
 * crash the service. Such an error is not retryable (the stream will not come back).
 */
export function writeLines(stream: NodeJS.WritableStream, documents: readonly string[]): Promise<void> {
  if (documents.length === 0) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    try {
      stream.write(documents.join('\n') + '\n', (error) => {
        if (error == null) {
          resolve();
          return;
        }
        if (stream.listenerCount('error') === 0) stream.once('error', noop);
        reject(new SinkError(`EMF stdout write failed: ${error.message}`, { retryable: false, cause: error }));
      });
    } catch (error) {
      reject(new SinkError(`EMF stdout write failed: ${String(error)}`, { retryable: false, cause: error }));
    }
  });
}
