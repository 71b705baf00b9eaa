/**
 * A user's `write(document)` as destination, awaited one document at a time. A `SinkError` with `retryable: true`
 * means "not delivered, try again"; any other error means the document is lost (`failed`). A call that never
 * settles holds the line: the same document is never passed again while its call is pending.
 */
import { SinkError } from '../../core/sink.js';
import type { DocumentWriter, Written } from './writer.js';

export function functionWriter(write: (document: string) => void | Promise<void>): DocumentWriter {
  return {
    async write(document: string): Promise<Written> {
      try {
        await write(document);
        return { result: 'sent' };
      } catch (error) {
        const retry = error instanceof SinkError && error.retryable;
        return { result: retry ? 'retry' : 'failed', reason: `write() failed: ${String(error)}` };
      }
    },
    abandon: () => false,
    close: () => {},
  };
}
