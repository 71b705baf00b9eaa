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
        const s = find(sink.windows.at(-1)!, 'h', labels)!;
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
        s.buckets!.counts.forEach((c, i) => c > 0 && actual.set(s.buckets!.offset + i, c));
        expect(actual).toEqual(expected);
        expect(s.buckets!.zeroCount).toBe(zeros);
        expect(s.count).toBe(values.length);
      }),
      { numRuns: 60 },
    );
    await metrics.shutdown();
  });
});
