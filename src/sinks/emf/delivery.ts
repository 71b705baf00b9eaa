/**
 * The EMF sink's delivery loop. It owns the backlog (bounded in bytes), builds each window's documents once,
 * writes every document once per attempt, one at a time, and settles every window exactly once (sent, failed
 * or dropped) in the ledger.
 *
 * - Progress, not payload: each document gets `timeoutMs` to be written. A TCP write that makes no progress is
 *   abandoned (the connection is closed and the document written again later, on a new one: at most a truncated
 *   line reached the agent). A stream or user function cannot be abandoned: its write stays in flight and nothing
 *   is written behind it until it completes, so a stalled stdout holds one document, never a queue of copies.
 * - Retries: a document that certainly did not arrive is written again after a jittered exponential pause
 *   (100 ms doubling, at most 2 s: the agent is local and a second of delay is a second of autoscaling signal).
 *   A document that may have arrived (an agent that closed on us right after the write) is failed, not resent.
 * - Order: windows go out oldest first, so after an outage the agent receives them in timestamp order.
 * - The event loop: documents are built one window at a time, and the loop yields every few milliseconds.
 */
import type { Logger } from '../../core/api.js';
import { RateLimitedReporter } from '../../core/reporter.js';
import { nextTurn } from '../../core/turns.js';
import type { Window } from '../../core/window.js';
import type { WindowLedger, WindowReceipt } from '../aws/ledger.js';
import { estimateWindowBytes } from '../../core/window-size.js';
import { stringBytes } from '../aws/string-bytes.js';
import { Backlog, type Entry } from './backlog.js';
import type { DocumentWriter, Written } from './writer.js';

export interface DeliveryOptions {
  readonly name: string;
  readonly writer: DocumentWriter;
  /** The documents of one window. */
  /** The window's documents, built in steps (a step is one series or one document). */
  readonly build: (window: Window) => Generator<void, string[], void>;
  readonly ledger: WindowLedger;
  /** A document write that makes no progress for this long is abandoned or, where it cannot be, waited out. */
  readonly timeoutMs: number;
  readonly maxBacklogBytes: number;
  readonly maxBacklog: number;
  readonly logger: Logger;
  readonly random?: () => number;
  /** Longest stretch of synchronous work between turns of the loop, ms. Default 1; `Infinity`: one piece (benchmarks). */
  readonly sliceMs?: number;
}

export interface DeliveryCounts {
  documentsSent: number;
  documentsFailed: number;
  /** Writes that certainly did not arrive and were tried again. */
  documentsRetried: number;
  /** Writes that made no progress within timeoutMs. */
  writesTimedOut: number;
}

const MIN_RETRY_MS = 100;
const MAX_RETRY_MS = 2000;
/** Longest stretch of synchronous work before yielding to the host's event loop. */
const SLICE_MS = 1;

export class EmfDelivery {
  readonly counts: DeliveryCounts = { documentsSent: 0, documentsFailed: 0, documentsRetried: 0, writesTimedOut: 0 };
  private readonly backlog: Backlog;
  private readonly unconfirmed: Array<{ entry: Entry; written: Written; verdict?: 'sent' | 'failed' }> = [];
  /** The poll that gives written documents their verdicts, while one is on its way. */
  private observing: Promise<void> | undefined;
  private readonly random: () => number;
  private readonly sliceMs: number;
  private readonly reporter: RateLimitedReporter;
  private running = false;
  private closed = false;
  private stopped = false;
  private retryAt = 0;
  private streak = 0;
  /** Incremented whenever the loop parks (backoff, stalled write, nothing to do). */
  private parks = 0;
  private changed: Promise<void>;
  private notify!: () => void;
  private wake: (() => void) | undefined;
  /** A write that cannot be abandoned is waiting on its destination. */
  private stalled = false;

  constructor(private readonly o: DeliveryOptions) {
    this.backlog = new Backlog(o.maxBacklogBytes, o.maxBacklog);
    this.random = o.random ?? Math.random;
    this.sliceMs = o.sliceMs ?? SLICE_MS;
    this.reporter = new RateLimitedReporter(o.logger, `scalesignal emf sink "${o.name}": `);
    this.changed = this.nextChange();
  }

  get backlogBytes(): number {
    return this.backlog.bytes;
  }

  /** Takes windows over (never throws) and starts delivering them. */
  accept(windows: readonly Window[], receipt: WindowReceipt | undefined): Entry[] {
    const entries: Entry[] = [];
    for (const window of windows) {
      const ticket = this.o.ledger.open(window, receipt);
      if (this.closed) {
        this.o.ledger.settle(ticket, 'dropped');
        continue;
      }
      const entry: Entry = {
        ticket,
        window,
        building: undefined,
        documents: undefined,
        next: 0,
        open: 0,
        busy: 0,
        touched: false,
        failed: false,
        bytes: estimateWindowBytes(window),
        done: false,
      };
      entries.push(entry);
      this.evict(this.backlog.add(entry));
    }
    // A loop sleeping in a backoff wakes to build the new windows, then parks again.
    this.wake?.();
    this.kick();
    return entries;
  }

  /**
   * Resolves when the given windows are settled, when the loop parks (a backoff or a stalled write: the windows
   * stay in the backlog), or after `capMs`, whichever comes first.
   */
  async settledOrParked(entries: readonly Entry[], capMs: number): Promise<void> {
    const parks = this.parks;
    const deadline = performance.now() + capMs;
    while (entries.some((e) => !e.done) && this.parks === parks && !this.stalled) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await Promise.race([this.changed, delay(left)]);
    }
  }

  /** Resolves when everything accepted so far is settled, or at the deadline. A backoff is cut short once. */
  async flush(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    this.retryAt = 0;
    this.wake?.();
    this.kick();
    while (this.o.ledger.pending > 0) {
      const left = deadline - performance.now();
      if (left <= 0) return;
      await Promise.race([this.changed, delay(left)]);
    }
  }

  /** Stops accepting, delivers what it can within `timeoutMs`, then settles the rest as failed or dropped. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closed = true;
    // Held open on purpose: during shutdown this flush is all that stands between the data and process exit.
    const hold = setTimeout(() => {}, timeoutMs);
    try {
      await this.flush(timeoutMs);
    } finally {
      clearTimeout(hold);
    }
    this.stopped = true;
    this.wake?.();
    this.confirm(); // verdicts already given stand
    for (const { entry } of this.unconfirmed.splice(0)) this.fail(entry);
    for (const entry of this.backlog.clear()) this.finish(entry, entry.touched ? 'failed' : 'dropped');
    this.o.writer.close();
    this.signal();
  }

  private kick(): void {
    if (!this.running && !this.stopped) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    let sliceStart = performance.now();
    try {
      for (;;) {
        this.confirm();
        if (this.stopped) break;
        if (performance.now() - sliceStart > this.sliceMs) {
          await yieldToLoop();
          sliceStart = performance.now();
          continue;
        }
        const entry = this.backlog.nextToWrite();
        if (entry === undefined) {
          if (this.unconfirmed.length === 0) break;
          if (this.buildAhead()) continue;
          this.park();
          const wait = this.untilConfirmable();
          if (wait > 0 && Number.isFinite(wait)) await this.sleep(Math.ceil(wait));
          else await this.observe();
          sliceStart = performance.now();
          continue;
        }
        const wait = this.retryAt - performance.now();
        if (wait > 0) {
          if (this.buildAhead()) continue;
          this.park();
          await this.sleep(wait);
          sliceStart = performance.now();
          continue;
        }
        if (entry.documents === undefined) {
          this.build(entry, sliceStart + this.sliceMs);
          continue;
        }
        const document = entry.documents[entry.next];
        entry.busy++;
        const written = await this.write(document);
        entry.busy--;
        this.apply(entry, written);
      }
    } catch (error) {
      this.report('loop', `delivery stopped unexpectedly: ${String(error)}`);
    } finally {
      this.running = false;
      this.park();
    }
  }

  /**
   * While waiting (a backoff, a grace period), turns the next waiting window into its documents, which are
   * smaller than the sealed window: the byte budget then holds more seconds of an outage.
   */
  private buildAhead(): boolean {
    const entry = this.backlog.nextToBuild();
    if (entry === undefined) return false;
    this.build(entry, performance.now() + this.sliceMs);
    return true;
  }

  /** Builds the entry's documents until `deadline` (performance.now()); the loop yields and comes back. */
  private build(entry: Entry, deadline: number): void {
    let documents: string[];
    try {
      entry.building ??= this.o.build(entry.window as Window);
      for (;;) {
        const step = entry.building.next();
        if (step.done) {
          documents = step.value;
          break;
        }
        if (performance.now() >= deadline) return;
      }
    } catch (error) {
      // A bug, not an outage: retrying would repeat it.
      this.report('build', `could not build EMF documents: ${String(error)}`);
      documents = [];
      entry.failed = true;
    }
    entry.window = undefined;
    entry.building = undefined;
    entry.documents = documents;
    entry.open = documents.length;
    let bytes = 64;
    for (const d of documents) bytes += stringBytes(d);
    this.evict(this.backlog.resize(entry, bytes));
    if (!entry.done && documents.length === 0) this.finish(entry, entry.failed ? 'failed' : 'sent');
  }

  /** One document, with a timeout on its progress. */
  private async write(document: string): Promise<Written> {
    const pending = this.o.writer.write(document);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.o.timeoutMs);
      timer.unref();
    });
    const first = await Promise.race([pending, timedOut]);
    clearTimeout(timer);
    if (first !== undefined) return first;
    this.counts.writesTimedOut++;
    // A poll phase first: abandoning destroys the connection, and an agent's close (or reset) of it still unread
    // would then never be seen, so documents written on it before would count sent. observe() gives them their
    // verdicts after a poll has read it; the write may complete meanwhile, then nothing is abandoned.
    await this.observe();
    const late = await Promise.race([pending, Promise.resolve(undefined)]);
    if (late !== undefined) return late;
    if (this.o.writer.abandon()) return pending;
    // Stalled (stdout, a user function): nothing else is written until this write completes.
    this.report('stalled', `a document write made no progress within ${this.o.timeoutMs} ms; holding further documents until it completes`);
    this.stalled = true;
    this.park();
    try {
      return await pending;
    } finally {
      this.stalled = false;
    }
  }

  private apply(entry: Entry, written: Written): void {
    if (entry.done) return;
    switch (written.result) {
      case 'sent':
        entry.next++;
        entry.touched = true;
        this.streak = 0;
        this.counts.documentsSent++;
        this.documentSettled(entry);
        return;
      case 'written':
        // A writer that cannot confirm would leave the document waiting for a verdict forever: it counts sent.
        if (this.o.writer.confirm === undefined) {
          this.apply(entry, { ...written, result: 'sent' });
          return;
        }
        entry.next++;
        entry.touched = true;
        entry.busy++;
        this.streak = 0;
        this.unconfirmed.push({ entry, written });
        return;
      case 'failed':
        entry.next++;
        entry.touched = true;
        this.fail(entry);
        this.report('failed', `an EMF document was not delivered (${written.reason ?? 'unknown'}); it is not sent again`);
        return;
      case 'retry': {
        this.counts.documentsRetried++;
        this.streak++;
        const ceiling = Math.min(MAX_RETRY_MS, MIN_RETRY_MS * 2 ** (this.streak - 1));
        this.retryAt = performance.now() + ceiling * (0.5 + 0.5 * this.random());
        this.report('retry', `EMF destination unavailable (${written.reason ?? 'unknown'}); retrying`);
        return;
      }
    }
  }

  /** Settles written documents that have a verdict, or whose peer closed on them. */
  private confirm(): void {
    const confirm = this.o.writer.confirm;
    if (this.unconfirmed.length === 0 || confirm === undefined) return;
    let keep = 0;
    for (const item of this.unconfirmed) {
      // Only observe() says `sent`; a close seen at any time before that fails the document.
      const verdict = item.verdict ?? confirm.call(this.o.writer, item.written, -Infinity);
      if (verdict === 'wait') {
        this.unconfirmed[keep++] = item;
        continue;
      }
      item.entry.busy--;
      if (item.entry.done) continue;
      if (verdict === 'sent') {
        this.counts.documentsSent++;
        this.documentSettled(item.entry);
      } else {
        this.fail(item.entry);
        this.report('closed', 'the CloudWatch agent closed the connection right after a write; those documents are counted failed, not resent');
      }
    }
    this.unconfirmed.length = keep;
    // While the loop is busy writing, verdicts still come in the background.
    if (keep > 0 && this.untilConfirmable() <= 0) void this.observe();
  }

  /**
   * Gives verdicts to written documents whose grace period has ended, in the check phase after a poll phase that
   * began after that: a close the kernel already had, which a busy or blocked event loop had not read yet, is
   * seen first (a timer that fires late runs before the poll that would have read it). Two immediates: one
   * scheduled from a poll callback can run before any new poll.
   */
  private observe(): Promise<void> {
    if (this.observing !== undefined) return this.observing;
    const through = performance.now();
    this.observing = new Promise<void>((resolve) => {
      setImmediate(() =>
        setImmediate(() => {
          this.observing = undefined;
          const confirm = this.o.writer.confirm;
          if (confirm !== undefined) {
            for (const item of this.unconfirmed) {
              if (item.verdict !== undefined) continue;
              const verdict = confirm.call(this.o.writer, item.written, through);
              if (verdict !== 'wait') item.verdict = verdict;
            }
          }
          resolve();
          // A loop sleeping through a backoff settles them now.
          this.wake?.();
        }),
      );
    });
    return this.observing;
  }

  /** ms until the first written document without a verdict has had its grace period; <= 0: observe now. */
  private untilConfirmable(): number {
    const grace = this.o.writer.graceMs ?? 0;
    for (const item of this.unconfirmed) if (item.verdict === undefined) return (item.written.at ?? 0) + grace - performance.now();
    return Infinity;
  }

  private fail(entry: Entry): void {
    if (entry.done) return;
    this.counts.documentsFailed++;
    entry.failed = true;
    this.documentSettled(entry);
  }

  private documentSettled(entry: Entry): void {
    entry.open--;
    if (entry.open <= 0 && entry.documents !== undefined && entry.next >= entry.documents.length) this.finish(entry, entry.failed ? 'failed' : 'sent');
  }

  private finish(entry: Entry, outcome: 'sent' | 'failed' | 'dropped'): void {
    if (entry.done) return;
    entry.done = true;
    entry.window = undefined;
    entry.documents = undefined;
    this.backlog.remove(entry);
    this.o.ledger.settle(entry.ticket, outcome);
    this.signal();
  }

  private evict(evicted: readonly Entry[]): void {
    if (evicted.length === 0) return;
    for (const entry of evicted) {
      // Part of it may already be in CloudWatch: that window is incomplete there, so it failed.
      this.finish(entry, entry.touched ? 'failed' : 'dropped');
    }
    this.report('evicted', `backlog over maxBacklogBytes (${this.o.maxBacklogBytes}) or maxBacklog (${this.o.maxBacklog}); dropped the oldest window(s)`);
  }

  private park(): void {
    this.parks++;
    this.signal();
  }

  private signal(): void {
    const notify = this.notify;
    this.changed = this.nextChange();
    notify();
  }

  private nextChange(): Promise<void> {
    return new Promise((resolve) => {
      this.notify = resolve;
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** At most once a minute per kind: a failing destination must not flood the host's logs. */
  private report(kind: string, message: string): void {
    this.reporter.warn(message, kind);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function yieldToLoop(): Promise<void> {
  return nextTurn();
}
