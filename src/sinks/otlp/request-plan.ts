import type { Resource } from '../../core/window.js';
import type { SeriesPoint } from './data-points.js';

/**
 * Estimated JSON size per request. The collector's OTLP/HTTP receiver refuses bodies over 20 MiB by default, and
 * one window of 500 histograms with 400 buckets is ~0.6 MB, so a 60-window backlog must not become one request.
 */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface PlannedWindow {
  readonly key: string;
  readonly resource: Resource;
  readonly points: readonly SeriesPoint[];
  readonly bytes: number;
}

export interface PlannedRequest {
  readonly resource: Resource;
  readonly keys: string[];
  readonly points: SeriesPoint[];
}

/** Upper-bound-ish size of a point's OTLP/JSON encoding: fixed fields, attributes, and bucket counts. */
export function estimateBytes(points: readonly SeriesPoint[]): number {
  let bytes = 0;
  for (const p of points) {
    bytes += 160 + p.metric.name.length;
    for (const key in p.attributes) bytes += 48 + key.length + p.attributes[key].length;
    if (typeof p.value !== 'number') bytes += 200 + 8 * p.value.positive.bucketCounts.length;
  }
  return bytes;
}

/**
 * Whole windows, in order, packed into as few requests as the size cap allows; a new request also starts when
 * the resource changes (one ResourceMetrics per request). A window is never split: a request is then the unit
 * that either arrived or did not, for every point of the windows it carries.
 */
export function planRequests(windows: readonly PlannedWindow[], maxBytes = MAX_REQUEST_BYTES): PlannedRequest[] {
  const requests: PlannedRequest[] = [];
  let current: PlannedRequest | undefined;
  let currentId = '';
  let bytes = 0;
  for (const w of windows) {
    const id = JSON.stringify(w.resource);
    if (current === undefined || id !== currentId || (bytes > 0 && bytes + w.bytes > maxBytes)) {
      current = { resource: w.resource, keys: [], points: [] };
      currentId = id;
      bytes = 0;
      requests.push(current);
    }
    current.keys.push(w.key);
    for (const p of w.points) current.points.push(p);
    bytes += w.bytes;
  }
  return requests;
}
