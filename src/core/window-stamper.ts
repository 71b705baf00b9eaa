/**
 * One window per interval and sink timestamp, even when flush() cuts an interval in two.
 *
 * Push backends key a datapoint by its timestamp: two windows stamped with the same second become two datums
 * (CloudWatch would count a gauge twice in the fleet Sum). So every window carries `timestamp`, the interval it
 * is reported at, and no two windows share one. After flush() delivered the first part of interval N, the rest
 * of N is carried into the window of N+1 (merged: counts and sums add, min/max combine, histograms merge) instead
 * of being sent as a second N. A flush()/shutdown() that must deliver an interval already stamped takes the next
 * interval's timestamp (at most one interval early), and what follows is carried until the clock passes it.
 */
import { mergeSeriesWindows } from './window-merge.js';
import type { Window } from './window.js';

export class WindowStamper {
  /** Sequence of the last timestamp handed out. */
  private lastStamped = -Infinity;
  private carried: Window | undefined;

  constructor(private readonly intervalMs: number) {}

  /**
   * The window to deliver for a sealed interval, or undefined when it is carried into the next one.
   * `sequence` is the interval the records belong to; `mustDeliver` is set by flush() and shutdown().
   */
  stamp(window: Window, sequence: number, mustDeliver: boolean): Window | undefined {
    const merged = this.carried === undefined ? window : mergeWindows(this.carried, window);
    this.carried = undefined;
    let stampSequence = sequence;
    if (sequence <= this.lastStamped) {
      if (!mustDeliver) {
        this.carried = merged;
        return undefined;
      }
      stampSequence = this.lastStamped + 1;
    }
    this.lastStamped = stampSequence;
    return Object.freeze({ ...merged, timestamp: stampSequence * this.intervalMs });
  }
}

function mergeWindows(earlier: Window, later: Window): Window {
  return {
    start: earlier.start,
    end: later.end,
    timestamp: later.timestamp,
    resource: later.resource,
    series: mergeSeriesWindows(earlier.series, later.series, (later.end - earlier.start) / 1000),
  };
}
