/**
 * An upper estimate of the heap a sealed Window keeps alive while it waits in a sink's backlog, so backlogs can
 * be bounded in bytes (`maxBacklogBytes`) rather than in windows: a window of 1,000 histogram series weighs
 * megabytes, one of ten counters a few kilobytes. Labels objects are shared with the core's registry and not
 * counted. Calibrated against heap snapshots in test/sinks/emf-backlog.test.ts.
 */
import type { Window } from '../../core/window.js';

/** A SeriesWindow literal: 19 fields, boxed doubles included. */
const SERIES_BYTES = 480;
/** The buckets object and its array header. */
const BUCKETS_BYTES = 96;
/** Per bucket count (a JS array slot). */
const COUNT_BYTES = 8;
const WINDOW_BYTES = 256;

export function windowBytes(window: Window): number {
  let bytes = WINDOW_BYTES + 8 * window.series.length;
  for (const s of window.series) {
    bytes += SERIES_BYTES;
    const b = s.buckets;
    if (b !== undefined) bytes += BUCKETS_BYTES + COUNT_BYTES * b.counts.length;
  }
  return bytes;
}

/** Heap of a one-byte (ASCII) string: its characters, the string header and the slot referring to it, rounded up. */
export function stringBytes(text: string): number {
  return text.length + 64;
}
