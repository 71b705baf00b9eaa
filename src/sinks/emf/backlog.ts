/**
 * Windows waiting for delivery, oldest first, bounded in bytes (`maxBacklogBytes`) and in windows
 * (`maxBacklog`). A window is held as the sealed Window (its estimated heap) until its documents are built, then
 * as the documents (their length). When a new window does not fit, the oldest windows that nothing is in flight
 * for go first: for autoscaling the newest seconds matter most. What goes is returned for accounting.
 */
import type { Window } from '../../core/window.js';
import type { Ticket } from '../aws/ledger.js';

export interface Entry {
  readonly ticket: Ticket;
  /** Until the documents are built. */
  window: Window | undefined;
  /** The documents being built, a step at a time (see documentSteps). */
  building: Generator<void, string[], void> | undefined;
  documents: string[] | undefined;
  /** Next document to write. */
  next: number;
  /** Documents not yet sent or failed (set when built). */
  open: number;
  /** Written documents waiting for confirmation, plus the one being written. */
  busy: number;
  /** Some document left the process (sent, written or failed after a write). */
  touched: boolean;
  /** Some document failed. */
  failed: boolean;
  bytes: number;
  /** Settled and out of the backlog. */
  done: boolean;
}

export class Backlog {
  private readonly entries: Entry[] = [];
  private total = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly maxWindows: number,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.length;
  }

  /** Oldest first. */
  get list(): readonly Entry[] {
    return this.entries;
  }

  /** Adds a window's entry; returns the entries evicted to make room (possibly the new one itself). */
  add(entry: Entry): Entry[] {
    this.entries.push(entry);
    this.total += entry.bytes;
    return this.trim();
  }

  /** A window's size changed (its documents were built). Returns evicted entries. */
  resize(entry: Entry, bytes: number): Entry[] {
    this.total += bytes - entry.bytes;
    entry.bytes = bytes;
    return this.trim();
  }

  remove(entry: Entry): void {
    const i = this.entries.indexOf(entry);
    if (i < 0) return;
    this.entries.splice(i, 1);
    this.total -= entry.bytes;
  }

  /** The oldest window with a document still to write. */
  nextToWrite(): Entry | undefined {
    for (const e of this.entries) if (e.documents === undefined || e.next < e.documents.length) return e;
    return undefined;
  }

  /** The oldest window whose documents are not built yet. */
  nextToBuild(): Entry | undefined {
    for (const e of this.entries) if (e.documents === undefined) return e;
    return undefined;
  }

  /** Removes and returns every entry. */
  clear(): Entry[] {
    const all = this.entries.splice(0);
    this.total = 0;
    return all;
  }

  private trim(): Entry[] {
    const evicted: Entry[] = [];
    for (let i = 0; i < this.entries.length && (this.total > this.maxBytes || this.entries.length > this.maxWindows); ) {
      const e = this.entries[i];
      if (e.busy > 0) {
        i++;
        continue;
      }
      this.entries.splice(i, 1);
      this.total -= e.bytes;
      evicted.push(e);
    }
    return evicted;
  }
}
