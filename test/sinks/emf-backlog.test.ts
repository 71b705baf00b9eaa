/**
 * The byte estimates behind `maxBacklogBytes` (src/core/window-size.ts, src/sinks/aws/string-bytes.ts) against the heap V8 really spends:
 * windows sealed by the real core (1,000 counters, gauges or histograms) and EMF documents, retained and measured
 * after a full GC. The estimate must not be below what is retained, or a byte-bounded backlog would not bound memory.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import type { Window } from '../../src/core/window.js';
import { estimateWindowBytes } from '../../src/core/window-size.js';
import { stringBytes } from '../../src/sinks/aws/string-bytes.js';
import { emfSink } from '../../src/sinks/emf.js';
import { collectSink } from '../helpers/collect.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** `rounds` windows of `n` series of one kind, sealed by the core. */
async function sealed(kind: 'counter' | 'gauge' | 'histogram', n: number, rounds: number): Promise<Window[]> {
  const collect = collectSink();
  const metrics = createMetrics({ service: 'calibration', sinks: [collect], eventLoop: false });
  const counter = metrics.counter('jobs', { unit: '{job}' });
  const gauge = metrics.gauge('depth', { unit: '{message}' });
  const histogram = metrics.histogram('latency', { unit: 'ms' });
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < n; i++) {
      const labels = { shard: String(i) };
      if (kind === 'counter') counter.add(1 + r, labels);
      else if (kind === 'gauge') gauge.set(i + r, labels);
      // A wide distribution: many buckets per window, as a real latency histogram has.
      else for (let k = 0; k < 20; k++) histogram.record(0.5 * 1.5 ** ((i + k * 7 + r) % 40), labels);
    }
    await metrics.flush();
  }
  await metrics.shutdown();
  return collect.windows.filter((w) => w.series.some((s) => s.name === (kind === 'counter' ? 'jobs' : kind === 'gauge' ? 'depth' : 'latency')));
}

async function documents(): Promise<string[]> {
  const lines: string[] = [];
  const sink = emfSink({ write: (d) => void lines.push(d), logger: { warn: () => undefined } }, {});
  for (const w of await sealed('histogram', 1000, 3)) await sink.export([w]);
  await sink.shutdown();
  return lines;
}

describe('backlog byte estimates', () => {
  for (const kind of ['counter', 'gauge', 'histogram'] as const) {
    it(`a sealed window of 1,000 ${kind}s retains no more than estimateWindowBytes() says`, async () => {
      const source = await sealed(kind, 1000, 10);
      expect(source.length).toBeGreaterThanOrEqual(8);
      const before = heap();
      // Retain copies built the way the core builds them (a fresh object per series and window).
      const kept = source.map((w) => ({ ...w, series: w.series.map((s) => ({ ...s, buckets: s.buckets && { ...s.buckets, counts: [...s.buckets.counts] } })) }));
      const retained = (heap() - before) / kept.length;
      const estimate = kept.reduce((a, w) => a + estimateWindowBytes(w), 0) / kept.length;
      process.stdout.write(`${kind}: retained ${Math.round(retained)} B/window, estimated ${Math.round(estimate)} B/window\n`);
      expect(estimate).toBeGreaterThanOrEqual(retained);
      // And not wildly above it, or the bound would waste most of its budget.
      expect(estimate).toBeLessThan(retained * 3);
      expect(kept.length).toBe(source.length);
    });
  }

  it('EMF documents retain no more than stringBytes() says', async () => {
    const lines = await documents();
    // Eight copies measured together: a GC between the two readings can free unrelated memory (V8 flushes old
    // bytecode, the runner drops buffers), which once made a single copy read 1.2 MB low of its 3.4 MB.
    const copiesOf = 8;
    const before = heap();
    const kept = Array.from({ length: copiesOf }, () => lines.map((l) => JSON.stringify(JSON.parse(l) as unknown)));
    const retained = (heap() - before) / copiesOf;
    const estimate = kept[0].reduce((a, d) => a + stringBytes(d), 0);
    process.stdout.write(`EMF documents: retained ${Math.round(retained)} B per copy, estimated ${estimate} B\n`);
    // The heap difference also holds the arrays of copies and whatever the runner allocated meanwhile: an
    // allowance of 64 KB for those, far below what a wrong estimate would miss by.
    const unrelated = 64 * 1024;
    expect(estimate + unrelated).toBeGreaterThanOrEqual(retained);
    expect(estimate).toBeLessThan(retained * 1.5);
    expect(kept).toHaveLength(copiesOf);
  });
});
