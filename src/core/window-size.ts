/**
 * The heap a sealed Window keeps alive while it waits in a backlog, estimated once per window, so backlogs are
 * bounded in bytes (`maxBacklogBytes`) rather than in windows: a window of 1,000 histogram series weighs
 * megabytes, one of ten counters a few kilobytes. Label objects and keys are shared with the registry's series
 * and not counted. Calibrated against heap snapshots (test/sinks/emf-backlog.test.ts).
 */
import type { Window } from './window.js';

const WINDOW_BYTES = 256;
/** The window's series array slot, per series. */
const SLOT_BYTES = 8;
/** A SeriesWindow literal: 19 fields, boxed doubles included. */
const SERIES_BYTES = 480;
/** The buckets object and its array header. */
const BUCKETS_BYTES = 96;
/** Per bucket count (a JS array slot). */
const COUNT_BYTES = 8;

const sizes = new WeakMap<Window, number>();

export function estimateWindowBytes(window: Window): number {
  const known = sizes.get(window);
  if (known !== undefined) return known;
  let bytes = WINDOW_BYTES;
  for (const series of window.series) {
    bytes += SLOT_BYTES + SERIES_BYTES;
    const buckets = series.buckets;
    if (buckets !== undefined) bytes += BUCKETS_BYTES + COUNT_BYTES * buckets.counts.length;
  }
  sizes.set(window, bytes);
  return bytes;
}
