import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../src/index.js';
import { collectSink, find } from '../helpers/collect.js';
import { turnsWaiting } from '../../src/core/turns.js';

// Wall-clock-aligned start: 10:00:00.250 UTC.
const T0 = Date.UTC(2026, 0, 1, 10, 0, 0, 250);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

function setup(options: Parameters<typeof createMetrics>[0] = {}) {
  const sink = collectSink();
  const metrics = createMetrics({ service: 'test', eventLoop: false, sinks: [sink], ...options });
  return { metrics, sink };
}

describe('one-second windows', () => {
  it('counts and sums exactly across window boundaries', async () => {
    const { metrics, sink } = setup();
    const requests = metrics.counter('http.server.requests', { unit: '{request}' });
    const bytes = metrics.counter('http.server.response.size', { unit: 'By' }).bind({ route: '/pay' });
    const expected: number[] = [];
    for (let second = 0; second < 5; second++) {
      let inSecond = 0;
      // 10 bursts a second, each crossing nothing; the timer fires between seconds.
      for (let burst = 0; burst < 10; burst++) {
        for (let i = 0; i < second * 10 + burst; i++) {
          requests.add(1, { route: '/pay' });
          bytes.add(100);
          inSecond++;
        }
        await vi.advanceTimersByTimeAsync(second === 0 ? 75 : 100);
      }
      expected.push(inSecond);
    }
    await metrics.shutdown();
    const counts = sink.windows.map((w) => find(w, 'http.server.requests', { route: '/pay' })?.sum ?? 0);
    // First window is partial (started at .250) but holds everything recorded before 10:00:01.
    expect(counts.slice(0, 5)).toEqual(expected);
    const total = counts.reduce((a, b) => a + b, 0);
    expect(total).toBe(expected.reduce((a, b) => a + b, 0));
    const lastBytes = sink.windows.map((w) => find(w, 'http.server.response.size', { route: '/pay' })).filter(Boolean);
    expect(lastBytes.at(-1)?.total).toBe(total * 100);
    // Windows follow each other without gaps or overlaps, one second apart after the first.
    for (let i = 1; i < 5; i++) {
      expect(sink.windows[i].start).toBe(sink.windows[i - 1].end);
      expect(sink.windows[i].end - sink.windows[i].start).toBe(1000);
    }
    expect(sink.windows[0].start).toBe(T0);
  });

  it('seals on time when the timer fires a hair before the boundary and the clock crosses it right after', async () => {
    const { metrics, sink } = setup();
    metrics.counter('work.done').add(1);
    await vi.advanceTimersByTimeAsync(749); // 10:00:00.999, the timer is due at 10:00:01.000
    const boundary = T0 + 750;
    // The timer's tick() still reads 10:00:00.999 (libuv fired early); every later read is past the boundary.
    vi.spyOn(Date, 'now').mockImplementationOnce(() => boundary - 1);
    await vi.advanceTimersByTimeAsync(1);
    vi.mocked(Date.now).mockRestore();
    await vi.advanceTimersByTimeAsync(20);
    // Sealed within milliseconds of the boundary, not a whole interval later.
    expect(sink.windows).toHaveLength(1);
    expect(sink.windows[0].end).toBe(boundary);
    expect(find(sink.windows[0], 'work.done')?.sum).toBe(1);
    await metrics.shutdown();
  });

  it('a blocked event loop yields one Window per second, each with its own timestamp', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('work.done');
    c.add(3);
    // The loop is blocked for 4.5 s: no timer runs while the wall clock moves on.
    vi.setSystemTime(T0 + 4500);
    c.add(2); // recorded while still blocked: lands in the second the block began in
    await vi.advanceTimersByTimeAsync(750); // the overdue timer finally runs at T0 + 5250
    const starts = sink.windows.map((w) => w.start);
    expect(starts).toEqual([T0, T0 + 750, T0 + 1750, T0 + 2750, T0 + 3750]);
    expect(sink.windows.map((w) => find(w, 'work.done')?.sum)).toEqual([5, 0, 0, 0, 0]);
    // Rates are per second of each window, and the idle seconds read 0, not "no data".
    expect(find(sink.windows[1], 'work.done')?.rate).toBe(0);
    await metrics.shutdown();
  });

  it('records gauges with last, min and max including the value held at the window start', async () => {
    const { metrics, sink } = setup();
    const inflight = metrics.gauge('http.server.active_requests');
    inflight.add(5);
    await vi.advanceTimersByTimeAsync(750); // window 1 closes at 5
    inflight.add(3); // 8
    inflight.add(-6); // 2
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(1000); // untouched window keeps the value
    await metrics.shutdown();
    const [first, second, third] = sink.windows.map((w) => find(w, 'http.server.active_requests'));
    expect([first?.last, first?.max]).toEqual([5, 5]);
    expect([second?.last, second?.min, second?.max, second?.count]).toEqual([2, 2, 8, 2]);
    expect([third?.last, third?.min, third?.max, third?.count]).toEqual([2, 2, 2, 0]);
    inflight.set(7); // after shutdown: a no-op, never a throw
  });

  it('computes histogram quantiles per window and carries lossless buckets', async () => {
    const { metrics, sink } = setup();
    const latency = metrics.histogram('http.server.request.duration', { unit: 'ms' }).bind({ route: '/pay' });
    const values: number[] = [];
    for (let i = 1; i <= 1000; i++) {
      values.push(i / 10);
      latency.record(i / 10);
    }
    latency.record(0);
    await vi.advanceTimersByTimeAsync(750);
    await metrics.shutdown();
    const s = find(sink.windows[0], 'http.server.request.duration', { route: '/pay' });
    expect(s?.count).toBe(1001);
    expect(s?.min).toBe(0);
    expect(s?.max).toBe(100);
    expect(s?.sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 6);
    expect(Math.abs((s?.p99 ?? 0) - 99) / 99).toBeLessThan(0.01);
    expect(Math.abs((s?.p50 ?? 0) - 50) / 50).toBeLessThan(0.01);
    expect(s?.buckets?.zeroCount).toBe(1);
    expect(s?.buckets?.scale).toBe(6);
    expect(s?.buckets?.counts.reduce((a, b) => a + b, 0)).toBe(1000);
    // The next window of the same series starts from nothing.
    const next = sink.windows.slice(1).map((w) => find(w, 'http.server.request.duration', { route: '/pay' }));
    expect(next.every((n) => n?.count === 0 && Number.isNaN(n.p99))).toBe(true);
  });

  it('startTimer records elapsed milliseconds once', async () => {
    const { metrics, sink } = setup();
    const h = metrics.histogram('job.duration', { unit: 'ms' });
    const stop = h.startTimer({ job: 'a' });
    const elapsed = stop();
    stop();
    expect(elapsed).toBeGreaterThanOrEqual(0);
    await metrics.flush();
    expect(find(sink.windows[0], 'job.duration', { job: 'a' })?.count).toBe(1);
    await metrics.shutdown();
  });

  it('flush() seals the partial window now; the rest of that second is carried into the next one, one window per timestamp', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    const g = metrics.gauge('g');
    c.add(1);
    g.set(5);
    await vi.advanceTimersByTimeAsync(100);
    await metrics.flush();
    expect(sink.windows).toHaveLength(1);
    expect(sink.windows[0].end).toBe(T0 + 100);
    const second0 = T0 - (T0 % 1000);
    expect(sink.windows[0].timestamp).toBe(second0);
    c.add(2);
    g.set(7);
    // The rest of second T0 is not sent as a second window stamped T0: it joins the next second.
    await vi.advanceTimersByTimeAsync(900);
    expect(sink.windows).toHaveLength(1);
    c.add(4);
    await vi.advanceTimersByTimeAsync(1000);
    expect(sink.windows).toHaveLength(2);
    const [first, second] = sink.windows;
    expect(second.start).toBe(T0 + 100);
    expect(second.end).toBe(second0 + 2000);
    expect(second.timestamp).toBe(second0 + 1000);
    expect(find(second, 'c')?.sum).toBe(6);
    expect(find(second, 'c')?.count).toBe(2);
    expect(find(second, 'c')?.total).toBe(7);
    expect(find(second, 'g')?.last).toBe(7);
    expect(find(second, 'g')?.max).toBe(7);
    expect(new Set(sink.windows.map((w) => w.timestamp)).size).toBe(sink.windows.length);
    expect(find(first, 'c')!.sum + find(second, 'c')!.sum).toBe(7);
    await metrics.shutdown();
  });

  it('two flushes in one second and a shutdown right after: every record delivered once, no timestamp twice', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    const h = metrics.histogram('h');
    c.add(1);
    h.record(10);
    await vi.advanceTimersByTimeAsync(100);
    await metrics.flush();
    c.add(2);
    h.record(20);
    await vi.advanceTimersByTimeAsync(100);
    await metrics.flush();
    c.add(4);
    h.record(40);
    await vi.advanceTimersByTimeAsync(1300);
    c.add(8);
    await metrics.shutdown();
    const stamps = sink.windows.map((w) => w.timestamp);
    expect(new Set(stamps).size).toBe(stamps.length);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(sink.windows.reduce((n, w) => n + (find(w, 'c')?.sum ?? 0), 0)).toBe(15);
    expect(sink.windows.reduce((n, w) => n + (find(w, 'h')?.count ?? 0), 0)).toBe(3);
    const merged = sink.windows.find((w) => (find(w, 'h')?.count ?? 0) > 0 && find(w, 'h')!.max === 40);
    expect(merged).toBeDefined();
  });

  it('a flush() or shutdown() in the millisecond an interval opened: windows never end where the previous one ended', async () => {
    // OTLP stamps a point at its window's end: two windows ending in the same millisecond are one point twice at
    // the collector (a delta sum counted twice). This once failed the OTLP fault suite when shutdown() landed in
    // the very millisecond of a boundary.
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    c.add(1);
    const boundary = T0 - (T0 % 1000) + 1000;
    await vi.advanceTimersByTimeAsync(boundary - T0);
    expect(Date.now()).toBe(boundary);
    expect(sink.windows.at(-1)?.end).toBe(boundary);
    c.add(2);
    await metrics.flush();
    c.add(4);
    await metrics.flush();
    c.add(8);
    await metrics.shutdown();
    const ends = sink.windows.map((w) => w.end);
    for (let i = 1; i < ends.length; i++) expect(ends[i], `window ends ${ends.join(', ')}`).toBeGreaterThan(ends[i - 1]);
    for (const w of sink.windows) expect(w.end).toBeGreaterThan(w.start);
    for (let i = 1; i < sink.windows.length; i++) expect(sink.windows[i].start).toBe(sink.windows[i - 1].end);
    const stamps = sink.windows.map((w) => w.timestamp);
    expect(new Set(stamps).size).toBe(stamps.length);
    expect(sink.windows.reduce((n, w) => n + (find(w, 'c')?.sum ?? 0), 0)).toBe(15);
  });

  /** Three flush() calls, each after a record, in the last millisecond before a boundary: cuts that run past it. */
  async function threeFlushesBeforeBoundary() {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    const boundary = T0 - (T0 % 1000) + 1000;
    await vi.advanceTimersByTimeAsync(boundary - 1 - T0);
    for (let i = 0; i < 3; i++) {
      c.add(1);
      await metrics.flush();
    }
    return { metrics, sink, c };
  }

  it('flush() calls in the last millisecond of an interval cut past its boundary: the rest is carried, ends still increase', async () => {
    const { metrics, sink, c } = await threeFlushesBeforeBoundary();
    c.add(1);
    await vi.advanceTimersByTimeAsync(2000);
    c.add(1);
    await metrics.shutdown();
    const windows = sink.windows;
    for (let i = 1; i < windows.length; i++) {
      expect(windows[i].end, `window ends ${windows.map((w) => w.end).join(', ')}`).toBeGreaterThan(windows[i - 1].end);
      expect(windows[i].start).toBe(windows[i - 1].end);
    }
    for (const w of windows) expect(w.end).toBeGreaterThan(w.start);
    expect(new Set(windows.map((w) => w.timestamp)).size).toBe(windows.length);
    expect(windows.reduce((n, w) => n + (find(w, 'c')?.sum ?? 0), 0)).toBe(5);
  });

  it('a flush() right after a boundary that earlier flush() calls cut past: ends still increase, none repeats', async () => {
    const { metrics, sink, c } = await threeFlushesBeforeBoundary();
    // The boundary's timer fires, then flush() again at the boundary and 1 ms after it.
    await vi.advanceTimersByTimeAsync(1);
    c.add(1);
    await metrics.flush();
    await vi.advanceTimersByTimeAsync(1);
    c.add(1);
    await metrics.flush();
    await metrics.shutdown();
    const windows = sink.windows;
    const ends = windows.map((w) => `${w.start}-${w.end}`).join(', ');
    for (let i = 1; i < windows.length; i++) expect(windows[i].end, ends).toBeGreaterThan(windows[i - 1].end);
    for (const w of windows) expect(w.end, ends).toBeGreaterThan(w.start);
    expect(windows.reduce((n, w) => n + (find(w, 'c')?.sum ?? 0), 0)).toBe(5);
  });

  it('treats label order as irrelevant and numbers as strings', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    c.add(1, { a: 'x', b: 1 });
    c.add(1, { b: '1', a: 'x' });
    c.bind({ b: 1, a: 'x' }).add(1);
    await metrics.flush();
    const series = sink.windows[0].series.filter((s) => s.name === 'c');
    expect(series).toHaveLength(1);
    expect(series[0].labels).toEqual({ a: 'x', b: '1' });
    expect(series[0].sum).toBe(3);
    await metrics.shutdown();
  });
});

describe('guard rails', () => {
  it('drops NaN, infinities, negatives and non-numbers, counting each, without throwing', async () => {
    const { metrics, sink } = setup();
    const c = metrics.counter('c');
    const h = metrics.histogram('h').bind();
    const g = metrics.gauge('g');
    c.add(NaN);
    c.add(-1);
    c.add(Infinity);
    c.add('5' as unknown as number);
    h.record(-0.5);
    h.record(NaN);
    g.set(-Infinity);
    c.add(2);
    h.record(1);
    g.set(-3); // gauges may be negative
    await metrics.flush();
    const w = sink.windows[0];
    expect(find(w, 'c')?.sum).toBe(2);
    expect(find(w, 'h')?.count).toBe(1);
    expect(find(w, 'g')?.last).toBe(-3);
    const dropped = (metric: string, reason: string) =>
      find(w, 'scalesignal.recordings.dropped', { metric, reason })?.sum ?? 0;
    expect(dropped('c', 'non_finite')).toBe(2);
    expect(dropped('c', 'negative')).toBe(1);
    expect(dropped('c', 'not_a_number')).toBe(1);
    expect(dropped('h', 'negative')).toBe(1);
    expect(dropped('h', 'non_finite')).toBe(1);
    expect(dropped('g', 'non_finite')).toBe(1);
    await metrics.shutdown();
  });

  it('sends label sets beyond maxSeriesPerMetric to one overflow series', async () => {
    const { metrics, sink } = setup({ maxSeriesPerMetric: 10 });
    const c = metrics.counter('c');
    for (let i = 0; i < 1000; i++) c.add(1, { user: `u${i}` });
    c.add(1, { user: 'u3' }); // an existing series still records normally
    await metrics.flush();
    const series = sink.windows[0].series.filter((s) => s.name === 'c');
    expect(series).toHaveLength(11);
    expect(find(sink.windows[0], 'c', { 'otel.metric.overflow': 'true' })?.sum).toBe(990);
    expect(find(sink.windows[0], 'c', { user: 'u3' })?.sum).toBe(2);
    await metrics.shutdown();
  });

  it('evicts idle series created by unbound calls, never bound ones, and reuses their storage', async () => {
    const { metrics, sink } = setup({ seriesIdleSeconds: 3 });
    const c = metrics.counter('c');
    const bound = c.bind({ user: 'bound' });
    c.add(1, { user: 'idle' });
    bound.add(1);
    await vi.advanceTimersByTimeAsync(750 + 5000);
    const last = sink.windows.at(-1)!;
    expect(find(last, 'c', { user: 'idle' })).toBeUndefined();
    expect(find(last, 'c', { user: 'bound' })).toBeDefined();
    // A new recording with the evicted labels starts a fresh series.
    c.add(4, { user: 'idle' });
    bound.add(1);
    await metrics.flush();
    const w = sink.windows.at(-1)!;
    expect(find(w, 'c', { user: 'idle' })?.total).toBe(4);
    expect(find(w, 'c', { user: 'bound' })?.total).toBe(2);
    await metrics.shutdown();
  });

  it('keeps a long-running service bounded when label values churn', async () => {
    const { metrics, sink } = setup({ seriesIdleSeconds: 2 });
    const c = metrics.counter('c');
    for (let second = 0; second < 30; second++) {
      for (let i = 0; i < 50; i++) c.add(1, { request_id: `${second}-${i}` });
      await vi.advanceTimersByTimeAsync(1000);
    }
    const live = sink.windows.at(-1)!.series.filter((s) => s.name === 'c').length;
    expect(live).toBeLessThanOrEqual(50 * 4);
    await metrics.shutdown();
  });
});

describe('observed gauges', () => {
  it('polls once per window and publishes the value', async () => {
    const { metrics, sink } = setup();
    let depth = 0;
    let calls = 0;
    metrics.gauge('queue.depth', {
      observe: () => {
        calls++;
        return (depth += 10);
      },
    });
    await vi.advanceTimersByTimeAsync(750 + 2000);
    expect(calls).toBe(3);
    expect(sink.windows.map((w) => find(w, 'queue.depth')?.last)).toEqual([10, 20, 30]);
    await metrics.shutdown();
  });

  it('counts a throwing, rejecting, hanging or non-number callback and never overlaps calls', async () => {
    const { metrics, sink } = setup({ observeTimeoutMs: 200 });
    let hangingCalls = 0;
    metrics.gauge('throws', { observe: () => { throw new Error('boom'); } });
    metrics.gauge('rejects', { observe: async () => { throw new Error('boom'); } });
    metrics.gauge('invalid', { observe: () => NaN });
    metrics.gauge('hangs', {
      observe: () => {
        hangingCalls++;
        return new Promise<number>(() => {});
      },
    });
    await vi.advanceTimersByTimeAsync(750 + 3000);
    await metrics.flush();
    const all = (metric: string, reason: string) =>
      sink.windows.reduce((n, w) => n + (find(w, 'scalesignal.observe.failures', { metric, reason })?.sum ?? 0), 0);
    expect(all('throws', 'error')).toBe(4);
    expect(all('rejects', 'error')).toBe(4);
    expect(all('invalid', 'invalid')).toBe(4);
    expect(hangingCalls).toBe(1);
    expect(all('hangs', 'timeout')).toBe(1);
    expect(all('hangs', 'still_running')).toBe(3);
    await metrics.shutdown();
  });

  it('accepts one value per label set', async () => {
    const { metrics, sink } = setup();
    metrics.gauge('queue.depth', {
      observe: async () => [
        { value: 3, labels: { queue: 'a' } },
        { value: 4, labels: { queue: 'b' } },
      ],
    });
    await vi.advanceTimersByTimeAsync(750 + 1000);
    const w = sink.windows.at(-1)!;
    expect(find(w, 'queue.depth', { queue: 'a' })?.last).toBe(3);
    expect(find(w, 'queue.depth', { queue: 'b' })?.last).toBe(4);
    await metrics.shutdown();
  });
});

describe('configuration errors name the option and the allowed values', () => {
  it.each([
    [{ intervalMs: 50 }, /"intervalMs" must be an integer from 100 to 60000/],
    [{ intervalMs: 700 }, /"intervalMs" must divide 60000/],
    [{ slots: 1 }, /"slots" must be an integer from 2 to 64/],
    [{ histogramScale: 12 }, /"histogramScale" must be an integer from 0 to 8/],
    [{ maxSeriesPerMetric: 0 }, /"maxSeriesPerMetric"/],
    [{ sinks: [{}] }, /"sinks"\[0\] must be \{ name: string, export/],
    [{ bogus: 1 }, /unknown option "bogus"; allowed: service, intervalMs/],
    [{ service: '' }, /"service" must be a non-empty string/],
  ])('%j', (options, message) => {
    expect(() => createMetrics({ eventLoop: false, sinks: [], ...(options as object) })).toThrow(message);
  });

  it('rejects bad metric names, redeclarations and bad bind labels', async () => {
    const { metrics } = setup();
    expect(() => metrics.counter('1bad')).toThrow(/metric name "1bad" must start with a letter/);
    metrics.counter('c', { unit: 'ms' });
    expect(() => metrics.histogram('c')).toThrow(/already a counter with unit "ms"/);
    expect(metrics.counter('c', { unit: 'ms' })).toBe(metrics.counter('c', { unit: 'ms' }));
    expect(() => metrics.counter('d').bind({ 'bad label': 'x' })).toThrow(/label name "bad label"/);
    expect(() => metrics.gauge('g', { observe: 5 as never })).toThrow(/"observe" must be a function/);
    await metrics.shutdown();
  });
});

describe('sinks fail soft', () => {
  it('a failing or hanging sink delays neither recording nor the other sinks, and is reported', async () => {
    const good = collectSink('good');
    const warnings: string[] = [];
    const metrics = createMetrics({
      eventLoop: false,
      logger: { warn: (m) => warnings.push(m) },
      sinks: [
        good,
        { name: 'broken', export: () => { throw new Error('backend down'); } },
        { name: 'hangs', timeoutMs: 300, maxBacklog: 3, export: () => new Promise(() => {}) },
      ],
    });
    const c = metrics.counter('c');
    for (let s = 0; s < 6; s++) {
      c.add(1);
      await vi.advanceTimersByTimeAsync(1000);
    }
    // Sinks export on turns of the real event loop (setImmediate is not faked here), one sink's slice per turn.
    while (turnsWaiting() > 0) await new Promise((resolve) => setImmediate(resolve));
    expect(good.windows.length).toBe(6);
    expect(good.windows.map((w) => find(w, 'c')?.sum)).toEqual([1, 1, 1, 1, 1, 1]);
    const last = good.windows.at(-1)!;
    const outcomes = (sink: string, outcome: string) =>
      good.windows.reduce((n, w) => n + (find(w, 'scalesignal.sink.windows', { sink, outcome })?.sum ?? 0), 0);
    expect(outcomes('broken', 'failed')).toBeGreaterThanOrEqual(4);
    // A timed-out export's outcome is unknown: counted failed, never resent (a resend could double-count).
    expect(outcomes('hangs', 'failed')).toBeGreaterThan(0);
    expect(find(last, 'scalesignal.sink.retries', { sink: 'hangs' })).toBeUndefined();
    expect(find(last, 'scalesignal.sink.export.duration', { sink: 'good' })).toBeDefined();
    expect(warnings.some((w) => w.includes('"broken"') && w.includes('backend down'))).toBe(true);
    // Shutdown waits for the hanging export's timeout (fake time), then gives up on it.
    let finished = false;
    const done = metrics.shutdown().then(() => (finished = true));
    for (let i = 0; i < 50 && !finished; i++) await vi.advanceTimersByTimeAsync(100);
    await done;
  });

  it('flush() costs a failing sink one attempt, not the rest of its backoff wait', async () => {
    const { SinkError } = await import('../../src/index.js');
    vi.spyOn(Math, 'random').mockReturnValue(0.999); // the longest backoff the jitter can draw
    let attempts = 0;
    const metrics = createMetrics({
      eventLoop: false,
      logger: { warn: () => {} },
      sinks: [{ name: 'down', export: () => { attempts++; throw new SinkError('503', { retryable: true }); } }],
    });
    metrics.counter('c').add(1);
    await vi.advanceTimersByTimeAsync(750 + 12_000); // several failures: the backoff ceiling is now 10 s
    const before = attempts;
    let flushed = false;
    const flushing = metrics.flush().then(() => (flushed = true));
    for (let i = 0; i < 10 && !flushed; i++) await vi.advanceTimersByTimeAsync(10);
    expect(flushed).toBe(true);
    expect(attempts).toBe(before + 1);
    await flushing;
    vi.mocked(Math.random).mockRestore();
    const shutdown = metrics.shutdown();
    await vi.advanceTimersByTimeAsync(100);
    await shutdown;
  });

  it('retries a retryable failure with backoff and delivers the same windows', async () => {
    const { SinkError } = await import('../../src/index.js');
    let failures = 2;
    const received: number[] = [];
    const metrics = createMetrics({
      eventLoop: false,
      logger: { warn: () => {} },
      sinks: [
        {
          name: 'flaky',
          export(windows) {
            if (failures-- > 0) throw new SinkError('503', { retryable: true });
            for (const w of windows) received.push(w.start);
          },
        },
      ],
    });
    metrics.counter('c').add(1);
    await vi.advanceTimersByTimeAsync(750 + 5000);
    await metrics.shutdown();
    expect(received[0]).toBe(T0);
    expect(new Set(received).size).toBe(received.length);
    expect(received.length).toBeGreaterThanOrEqual(6);
  });
});
