/**
 * Documents as JSON lines on a stream (stdout by default), where the node's log agent (Fluent Bit, Container
 * Insights) picks them up. One write at a time, so at most one document waits in the stream's buffer: a stalled
 * stdout (a log agent that stopped reading the pipe) holds one document, not a growing queue of them, and a
 * write that has not completed is never written again (it still goes out when the pipe drains).
 * Like Node's console, a write error never becomes an unhandled 'error' event: stdout closed under us must not
 * crash the service; a broken stream does not come back, so the document is `failed`.
 */
import type { DocumentWriter, Written } from './writer.js';

const noop = () => {};

export function streamWriter(stream: NodeJS.WritableStream): DocumentWriter {
  return {
    write(document: string): Promise<Written> {
      return new Promise<Written>((resolve) => {
        try {
          stream.write(`${document}\n`, (error) => {
            if (error == null) {
              resolve({ result: 'sent' });
              return;
            }
            if (stream.listenerCount('error') === 0) stream.once('error', noop);
            resolve({ result: 'failed', reason: `stream write failed: ${error.message}` });
          });
        } catch (error) {
          resolve({ result: 'failed', reason: `stream write failed: ${String(error)}` });
        }
      });
    },
    abandon: () => false,
    close: noop,
  };
}
