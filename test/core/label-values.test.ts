/**
 * Label values are valid Unicode and at most 1,024 UTF-16 units, cut on a code-point boundary: an emoji at the cut
 * is kept whole or left out, never halved into a lone surrogate (invalid UTF-8 in OTLP, whose proto3 strings must
 * be valid UTF-8); lone surrogates already in the input become U+FFFD. Checked on the windows and on what an OTLP
 * receiver (loopback, decoding the exporter's real request) gets.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { MAX_LABEL_VALUE_LENGTH } from '../../src/core/labels.js';
import { otlpSink } from '../../src/sinks/otlp.js';
import { collectSink } from '../helpers/collect.js';
import { decodePoints, startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';

type Unicode = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Reference: whole code points of the well-formed value while they fit in 1,024 UTF-16 units. */
function expected(input: string): string {
  let out = '';
  for (const codePoint of (input as Unicode).toWellFormed()) {
    if (out.length + codePoint.length > MAX_LABEL_VALUE_LENGTH) break;
    out += codePoint;
  }
  return out;
}

const validUtf8 = (value: string) => Buffer.from(value, 'utf8').toString('utf8') === value;

const EMOJI = '\u{1F600}';
const cases: Record<string, string> = {
  emojiAtCut: 'a'.repeat(1023) + EMOJI + 'tail',
  emojiFits: 'a'.repeat(1022) + EMOJI + 'tail',
  loneHigh: 'x\uD83Dy',
  loneLow: '\uDE00start',
  highAtEnd: 'end\uD83D',
  cjk10k: '\u8DEF'.repeat(10_000),
  flagsAtCut: 'a'.repeat(1021) + '\u{1F1E9}\u{1F1EA}',
};

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await receiver.close();
});

describe('label values', () => {
  it('are well-formed and cut on a code-point boundary, whatever the input (property)', async () => {
    const sink = collectSink();
    const metrics = createMetrics({ service: 'labels', eventLoop: false, logger: { warn() {} }, sinks: [sink] });
    const c = metrics.counter('c');
    const inputs: string[] = [];
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 40 }),
          fc.string({ unit: fc.oneof(fc.constant('a'), fc.constant(EMOJI), fc.constant('\uD800'), fc.constant('\uDC00')), minLength: 1000, maxLength: 1100 }),
        ),
        (value) => {
          inputs.push(value);
          c.add(1, { v: value });
        },
      ),
      { numRuns: 300 },
    );
    await metrics.flush();
    const stored = new Map<string, number>();
    for (const s of sink.windows.flatMap((w) => w.series.filter((x) => x.name === 'c'))) stored.set(s.labels.v, (stored.get(s.labels.v) ?? 0) + s.sum);
    const want = new Map<string, number>();
    for (const input of inputs) want.set(expected(input), (want.get(expected(input)) ?? 0) + 1);
    const diff = [...new Set([...stored.keys(), ...want.keys()])].filter((k) => stored.get(k) !== want.get(k)).map((k) => [JSON.stringify(k).slice(0, 80), k.length, stored.get(k), want.get(k)]);
    expect(diff).toEqual([]);
    for (const value of stored.keys()) {
      expect((value as Unicode).isWellFormed()).toBe(true);
      expect(value.length).toBeLessThanOrEqual(MAX_LABEL_VALUE_LENGTH);
    }
    await metrics.shutdown();
  });

  it('arrive at an OTLP receiver as valid UTF-8, equal to the reference cut', async () => {
    const metrics = createMetrics({ service: 'labels', eventLoop: false, logger: { warn() {} }, sinks: [otlpSink({ url: receiver.url })] });
    const c = metrics.counter('c');
    for (const [name, value] of Object.entries(cases)) c.add(1, { case: name, v: value });
    await metrics.flush();
    await metrics.shutdown();
    const points = receiver.requests.flatMap((r) => decodePoints(r.body)).filter((p) => p.name === 'c');
    const received = Object.fromEntries(points.map((p) => [p.attributes.case, p.attributes.v as string]));
    expect(Object.keys(received).sort()).toEqual(Object.keys(cases).sort());
    for (const [name, value] of Object.entries(cases)) {
      expect(received[name]).toBe(expected(value));
      expect(validUtf8(received[name])).toBe(true);
    }
    expect(received.emojiAtCut).toBe('a'.repeat(1023));
    expect(received.emojiFits).toBe('a'.repeat(1022) + EMOJI);
    expect(received.loneHigh).toBe('x\uFFFDy');
    expect(received.highAtEnd).toBe('end\uFFFD');
    expect(received.flagsAtCut).toBe('a'.repeat(1021) + '\u{1F1E9}');
  });
});
