import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { bucketMapping } from '../../src/core/histogram/index.js';
import { collectSink, find } from '../helpers/collect.js';

// The bound histogram inlines the bucket-index computation for speed; it must agree with the mapping exactly.
describe('hot-path bucket index', () => {
  it.each([0, 4, 6, 8])('puts every value in the bucket BucketMapping.denseIndex names (scale %i)', async (scale) => {
    const mapping = bucketMapping(scale);
    const sink = collectSink();
    const metrics = createMetrics({ sinks: [sink], eventLoop: false, histogramScale: scale });
    const histogram = metrics.histogram('h');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.double({ min: 0, max: 1e14, noNaN: true }), { minLength: 1, maxLength: 50 }), async (values) => {
        const labels = { run: String(run++) };
        const bound = histogram.bind(labels);
        for (const v of values) bound.record(v);
        await metrics.flush();
        // Every window that holds this run's series: a boundary may seal part of the run, or a later empty window.
        const points = sink.windows.map((w) => find(w, 'h', labels)).filter((p) => p !== undefined);
        const expected = new Map<number, number>();
        let zeros = 0;
        for (const v of values) {
          if (v === 0) zeros++;
          else {
            const i = mapping.denseIndex(v) + mapping.offset;
            expected.set(i, (expected.get(i) ?? 0) + 1);
          }
        }
        const actual = new Map<number, number>();
        for (const p of points) p.buckets!.counts.forEach((c, i) => c > 0 && actual.set(p.buckets!.offset + i, (actual.get(p.buckets!.offset + i) ?? 0) + c));
        expect(actual).toEqual(expected);
        expect(points.reduce((a, p) => a + p.buckets!.zeroCount, 0)).toBe(zeros);
        expect(points.reduce((a, p) => a + p.count, 0)).toBe(values.length);
      }),
      { numRuns: 60 },
    );
    await metrics.shutdown();
  });
});
