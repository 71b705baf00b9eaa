/**
 * A window's retained size in bytes, estimated once per window: what bounds a sink's backlog in memory.
 * Per series: the object's fields, its label strings (UTF-16, two bytes a unit) and its bucket array.
 */
import type { Window } from './window.js';

const WINDOW_OVERHEAD = 200;
const SERIES_OVERHEAD = 240;
const BUCKET_BYTES = 8;

const sizes = new WeakMap<Window, number>();

export function estimateWindowBytes(window: Window): number {
  const known = sizes.get(window);
  if (known !== undefined) return known;
  let bytes = WINDOW_OVERHEAD;
  for (const series of window.series) {
    bytes += SERIES_OVERHEAD + series.key.length * 2;
    if (series.buckets !== undefined) bytes += 64 + series.buckets.counts.length * BUCKET_BYTES;
  }
  sizes.set(window, bytes);
  return bytes;
}
