/** An EmfDelivery over a given writer, with its ledger: for tests that drive the delivery loop directly. */
import type { Window } from '../../src/core/window.js';
import { WindowLedger } from '../../src/sinks/aws/ledger.js';
import { EmfDelivery } from '../../src/sinks/emf/delivery.js';
import type { DocumentWriter } from '../../src/sinks/emf/writer.js';
import { series, window } from './windows.js';

/** The one document every window becomes unless the test builds its own. */
export const COUNTER_DOCUMENT = '{"_aws":{"Timestamp":0,"CloudWatchMetrics":[]},"work":1}';

export function emfDelivery(
  writer: DocumentWriter,
  options: { timeoutMs: number; maxBacklogBytes?: number; build?: (window: Window) => string[] },
): { delivery: EmfDelivery; ledger: WindowLedger } {
  const ledger = new WindowLedger();
  const build = options.build ?? (() => [COUNTER_DOCUMENT]);
  const delivery = new EmfDelivery({
    name: 'emf',
    writer,
    // eslint-disable-next-line require-yield
    build: function* (w) {
      return build(w);
    },
    ledger,
    timeoutMs: options.timeoutMs,
    maxBacklog: 10,
    maxBacklogBytes: options.maxBacklogBytes ?? 1 << 20,
    logger: { warn: () => undefined },
  });
  return { delivery, ledger };
}

/** A window with one counter series starting at `start`. */
export const counterWindow = (start: number): Window => window(start, [series({ name: 'work', kind: 'counter', count: 1, sum: 1 })]);
