/** The EMF sink behind the real recording core: documents carry what was recorded, per window. */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { emfSink } from '../../src/sinks/emf.js';
import { emfMetrics, validateEmf } from '../helpers/emf-validator.js';
import type { DocumentWriter } from '../../src/sinks/emf/writer.js';
import { counterWindow, emfDelivery } from '../helpers/emf-delivery.js';

describe('createMetrics + emfSink', () => {
  it('counters, gauges and histograms recorded by a service become valid EMF with the recorded values', async () => {
    const lines: string[] = [];
    const metrics = createMetrics({ service: 'worker', sinks: [emfSink({ write: (d) => void lines.push(d) }, {})], eventLoop: false });
    const jobs = metrics.counter('jobs.completed', { unit: '{job}' });
    const inflight = metrics.gauge('jobs.inflight', { unit: '{job}' });
    const duration = metrics.histogram('job.duration', { unit: 's' });
    const values = [0.12, 0.5, 0.51, 2, 2.25, 7];
    for (const v of values) {
      jobs.add(1, { queue: 'emails' });
      duration.record(v, { queue: 'emails' });
    }
    inflight.set(3, { queue: 'emails' });
    await metrics.shutdown();

    const docs = lines.map((l) => validateEmf(l));
    const all = emfMetrics(docs);
    const find = (name: string) => [...all.entries()].filter(([k]) => k.startsWith(`${name}{ServiceName=worker,queue=emails}`)).map(([, v]) => v);
    expect(find('jobs.completed').reduce((a, m) => a + (m.value as number), 0)).toBe(values.length);
    expect(find('jobs.completed')[0].unit).toBe('Count');
    const counts = find('job.duration.count').filter((m) => (m.value as number) > 0);
    expect(counts.map((m) => m.value)).toEqual([values.length]);
    const ts = counts[0].timestamp;
    const at = (name: string) => find(name).find((m) => m.timestamp === ts)!;
    expect(at('job.duration.sum').value).toBeCloseTo(values.reduce((a, v) => a + v, 0), 9);
    expect(at('job.duration.min').value).toBe(0.12);
    expect(at('job.duration.max').value).toBe(7);
    expect(at('job.duration.max').unit).toBe('Seconds');
    // p50 of 6 values is the 3rd (0.51), within the histogram's 0.54 % relative error.
    expect(Math.abs((at('job.duration.p50').value as number) / 0.51 - 1)).toBeLessThan(0.0055);
    expect(at('jobs.inflight').value).toBe(3);
  });
});

describe('EMF delivery with a writer that cannot confirm', () => {
  it('a document it reports written counts sent once, and flush() does not wait for a verdict that cannot come', async () => {
    const lines: string[] = [];
    const writer: DocumentWriter = {
      write: async (document) => {
        lines.push(document);
        return { result: 'written', at: performance.now() };
      },
      abandon: () => false,
      close: () => undefined,
    };
    const { delivery, ledger } = emfDelivery(writer, { timeoutMs: 1000 });
    delivery.accept([counterWindow(1000)], undefined);
    const started = performance.now();
    await delivery.flush(5000);
    const flushMs = performance.now() - started;
    await delivery.shutdown(100);
    // Not the 5 s deadline: nothing was left waiting for a verdict.
    expect(flushMs).toBeLessThan(2500);
    expect(lines).toHaveLength(1);
    expect(ledger.counts).toMatchObject({ accepted: 1, sent: 1, failed: 0 });
  });
});
