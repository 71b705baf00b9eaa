/**
 * The request body, serialized by OTel's own JSON serializer in slices of a few hundred points with a turn of
 * the event loop between slices: one 2,000-series window is ~8 ms of JSON.stringify in one piece, which the host
 * would feel as an 8 ms pause; sliced, no pause is longer than ~1 ms.
 *
 * Each slice is a complete ExportMetricsServiceRequest `{"resourceMetrics":[...]}`; the slices' resourceMetrics
 * are joined into one array, so the collector gets one request (one unit that arrived or not) holding several
 * ResourceMetrics with the same resource, which OTLP allows and collectors merge.
 *
 * The body comes back as its parts, written one after another, not joined into one Buffer: a backlog request is
 * up to 4 MB, the largest block the SDK would allocate at once (and a second copy of the body), and glibc raises
 * its mmap threshold to the size of the largest block freed, after which every smaller Buffer comes from malloc's
 * arenas and may stay resident there. The parts are a slice each, a few hundred KB. In bench:soak (5 minutes, 6
 * faults, one run each) the malloc arenas held ~70 MB with the parts against ~80 MB with the joined body.
 */
import { nextTurn } from '../../core/turns.js';
import type { Resource } from '../../core/window.js';
import type { SeriesPoint, TemporalityChoice } from './data-points.js';
import type { OtelModules } from './load.js';
import { toResourceMetrics } from './resource-metrics.js';

/** Points per slice: ~0.5-1 ms of serialization on a laptop-class core. */
export const SLICE_POINTS = 250;

const PREFIX = Buffer.from('{"resourceMetrics":[');
const SUFFIX = Buffer.from(']}');
const COMMA = Buffer.from(',');

export async function serializeSliced(
  otel: OtelModules,
  resource: Resource,
  points: readonly SeriesPoint[],
  temporality: TemporalityChoice,
  slicePoints = SLICE_POINTS,
): Promise<Uint8Array[]> {
  const serialize = (slice: readonly SeriesPoint[]) => {
    const body = otel.JsonMetricsSerializer.serializeRequest(toResourceMetrics(otel, resource, slice, temporality));
    if (body === undefined) throw new Error('the OTel serializer returned nothing');
    return body;
  };
  if (points.length <= slicePoints) return [serialize(points)];
  const parts: Uint8Array[] = [PREFIX];
  for (let from = 0; from < points.length; from += slicePoints) {
    if (from > 0) await nextTurn();
    const body = Buffer.from(serialize(points.slice(from, from + slicePoints)));
    if (!startsWith(body, PREFIX) || !endsWith(body, SUFFIX)) {
      // Not the shape this join relies on (a future serializer): fall back to one piece.
      return [serialize(points)];
    }
    if (parts.length > 1) parts.push(COMMA);
    parts.push(body.subarray(PREFIX.length, body.length - SUFFIX.length));
  }
  parts.push(SUFFIX);
  return parts;
}

function startsWith(body: Buffer, prefix: Buffer): boolean {
  return body.length >= prefix.length && body.subarray(0, prefix.length).equals(prefix);
}

function endsWith(body: Buffer, suffix: Buffer): boolean {
  return body.length >= suffix.length && body.subarray(body.length - suffix.length).equals(suffix);
}
