/**
 * Per-window accounting for a sink that owns its delivery: every window it accepted ends exactly once as sent
 * (the backend acknowledged all of it, as far as its protocol can tell), failed (some of it was refused or may
 * not have arrived, and is not sent again) or dropped (never left the process: backlog bound, shutdown).
 * `accepted == sent + failed + dropped + pending` holds at every moment.
 *
 * The dispatcher counts an export that returned as "sent"; these counts are the truth for the AWS sinks and are
 * reported through `stats()`. A dispatcher that passes a `WindowReceipt` to `export()` is told each outcome.
 */
import type { ExportContext } from '../../core/sink.js';
import type { Window } from '../../core/window.js';

export type WindowOutcome = 'sent' | 'failed' | 'dropped';

/**
 * What a dispatcher may add to `export()`'s context argument to learn each window's outcome. Windows are named by
 * their timestamp (the core reports one window per timestamp), so the sink never has to keep a window alive
 * just to report on it: a backlog bounded in bytes must not hold sealed windows it has already turned into
 * documents or datums.
 */
export interface WindowReceipt {
  settled(timestamp: number, outcome: WindowOutcome): void;
}

export interface Ticket {
  readonly timestamp: number;
  readonly receipt: WindowReceipt | undefined;
  settled: WindowOutcome | undefined;
}

export interface LedgerCounts {
  accepted: number;
  sent: number;
  failed: number;
  dropped: number;
}

export class WindowLedger {
  readonly counts: LedgerCounts = { accepted: 0, sent: 0, failed: 0, dropped: 0 };

  get pending(): number {
    const c = this.counts;
    return c.accepted - c.sent - c.failed - c.dropped;
  }

  open(window: Window, receipt?: WindowReceipt): Ticket {
    this.counts.accepted++;
    return { timestamp: window.timestamp, receipt, settled: undefined };
  }

  /** Settles a window once; later calls are ignored and return false. */
  settle(ticket: Ticket, outcome: WindowOutcome): boolean {
    if (ticket.settled !== undefined) return false;
    ticket.settled = outcome;
    this.counts[outcome]++;
    try {
      ticket.receipt?.settled(ticket.timestamp, outcome);
    } catch {
      // A dispatcher's bookkeeping must never break delivery.
    }
    return true;
  }
}

/**
 * export()'s second argument for these sinks: the SDK's ExportContext (its abort signal is not needed: export()
 * never waits on the network past its own bound), optionally carrying `settled` to learn each window's outcome.
 */
export type DeliveryContext = Partial<ExportContext & WindowReceipt>;

/** Validated receipt argument: anything without a `settled` function is ignored. */
export function receiptOf(value: unknown): WindowReceipt | undefined {
  return typeof value === 'object' && value !== null && typeof (value as WindowReceipt).settled === 'function' ? (value as WindowReceipt) : undefined;
}
