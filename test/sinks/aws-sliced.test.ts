/**
 * The AWS sinks do their per-window work in slices with turns of the event loop between them (EMF documents,
 * PutMetricData datums, and the SDK's serialization of each request body: cloudwatch/sdk-body.ts).
 * What the user must not notice: a 2,000-series window (1,000 counters + 1,000 histograms of 300 distinct values,
 * label `route`) recorded through createMetrics still arrives whole and exact, every window once and, on EMF, in
 * timestamp order; and a flush(), a shutdown() or a newer window evicting an older one while a window is half
 * built still settles every window exactly once, with nothing of a dropped window at the receiver.
 *
 * Receivers: a loopback CloudWatch agent (EMF over TCP, test/helpers/emf-agent-listener.ts), documents checked
 * against the EMF specification (test/helpers/emf-validator.ts); the loopback PutMetricData server through the
 * real `@aws-sdk/client-cloudwatch` (test/helpers/cloudwatch-server.ts: AWS JSON 1.0, the API's limits and model).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/create-metrics.js';
import type { Window } from '../../src/core/window.js';
import { cloudWatchSink, type CloudWatchClock, type CloudWatchSinkOptions } from '../../src/sinks/cloudwatch.js';
import { systemClock } from '../../src/sinks/cloudwatch/publisher.js';
import { joinedBody } from '../../src/sinks/cloudwatch/sdk-body.js';
import type { PutMetricDataInput } from '../../src/sinks/cloudwatch/types.js';
import { emfSink, type EmfSinkOptions } from '../../src/sinks/emf.js';
import { loopbackSinkOptions, startCloudWatchServer, type CloudWatchServer } from '../helpers/cloudwatch-server.js';
import { startEmfAgentListener, type EmfAgentListener } from '../helpers/emf-agent-listener.js';
import { emfMetrics, validateEmf, type EmfDocument } from '../helpers/emf-validator.js';
import { series, window } from '../helpers/windows.js';
import { receipt } from '../helpers/receipt.js';

const ROUTES = 1000;
const VALUES = 300;
const ADDS = 3;
const silent = { warn: () => undefined, info: () => undefined };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function agent(): Promise<EmfAgentListener> {
  const a = await startEmfAgentListener();
  cleanups.push(() => a.stop());
  return a;
}

async function cloudWatch(): Promise<CloudWatchServer> {
  const s = await startCloudWatchServer();
  cleanups.push(() => s.close());
  return s;
}

function emfTo(a: EmfAgentListener, options: EmfSinkOptions = {}) {
  const sink = emfSink({ agentEndpoint: `tcp://127.0.0.1:${a.port}`, logger: silent, ...options }, {});
  cleanups.push(() => sink.shutdown());
  return sink;
}

function cloudWatchTo(s: CloudWatchServer, options: CloudWatchSinkOptions = {}) {
  const sink = cloudWatchSink({ ...loopbackSinkOptions(s.url), logger: silent, ...options });
  cleanups.push(() => sink.shutdown());
  return sink;
}

interface Recorded {
  adds: number;
  count: number;
  sum: number;
}

/** Records 2,000 series in each of `seconds` consecutive seconds; returns what was recorded per route. */
async function record2000(metrics: ReturnType<typeof createMetrics>, seconds: number): Promise<Map<string, Recorded>> {
  const counter = metrics.counter('orders.received', { unit: '{order}' });
  const latency = metrics.histogram('orders.latency', { unit: 'ms' });
  const recorded = new Map<string, Recorded>();
  for (let s = 0; s < seconds; s++) {
    if (s > 0) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
    for (let i = 0; i < ROUTES; i++) {
      const route = `/api/r${i}`;
      const r = recorded.get(route) ?? { adds: 0, count: 0, sum: 0 };
      for (let k = 0; k < ADDS; k++) counter.add(1, { route });
      // 13 is coprime with 500: 300 distinct values per series and second.
      for (let t = 0; t < VALUES; t++) {
        const v = 1 + ((i * 7 + t * 13 + s) % 500) * 0.37;
        latency.record(v, { route });
        r.sum += v;
      }
      r.adds += ADDS;
      r.count += VALUES;
      recorded.set(route, r);
    }
  }
  return recorded;
}

/** A synthetic window of 1,000 counters and 1,000 histograms (each with 300 buckets), for the timing-free cases. */
function bigWindow(start: number): Window {
  const list = [];
  for (let i = 0; i < ROUTES; i++) {
    const labels = { route: `/api/r${i}` };
    list.push(series({ name: 'orders.received', kind: 'counter', labels, count: 3, sum: 3, min: 1, max: 1, total: 3 }));
    list.push(
      series({
        name: 'orders.latency',
        kind: 'histogram',
        unit: 'ms',
        labels,
        count: 300,
        sum: 300 * 50,
        min: 1,
        max: 130,
        p50: 40,
        p90: 90,
        p95: 100,
        p99: 110,
        // 150 non-empty buckets of 2 between 1 and 130: more than the 150 pairs a datum holds once min and max are added.
        buckets: { scale: 6, offset: 0, counts: Array.from({ length: 450 }, (_, k) => (k % 3 === 0 ? 2 : 0)), zeroCount: 0 },
      }),
    );
  }
  return window(start, list);
}

const thisSecond = () => Math.floor(Date.now() / 1000) * 1000;

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const docsByTimestamp = (docs: readonly EmfDocument[]) => {
  const by = new Map<number, number>();
  for (const d of docs) by.set(d._aws.Timestamp, (by.get(d._aws.Timestamp) ?? 0) + 1);
  return by;
};

describe('EMF, built in slices', () => {
  it('2,000 series recorded through createMetrics arrive whole and exact, every window once, in timestamp order', async () => {
    const a = await agent();
    const metrics = createMetrics({ service: 'shop', sinks: [emfTo(a)], eventLoop: false });
    const recorded = await record2000(metrics, 2);
    await metrics.shutdown();
    const docs = a.lines.map((l) => validateEmf(l.text));
    // Throws if any metric of any second arrives twice.
    const all = emfMetrics(docs);
    const timestamps = docs.map((d) => d._aws.Timestamp);
    expect(timestamps).toEqual([...timestamps].sort((x, y) => x - y));
    expect(new Set(timestamps).size).toBeGreaterThanOrEqual(2);
    const sums = new Map<string, number>();
    for (const [id, m] of all) {
      // Other series (scalesignal's self-metrics) have other dimensions.
      const match = /^(orders\..*)\{ServiceName=shop,route=(.*)\}@\d+$/.exec(id);
      if (match === null) continue;
      const [, name, route] = match;
      sums.set(`${name} ${route}`, (sums.get(`${name} ${route}`) ?? 0) + (m.value as number));
    }
    const total = (name: string, route: string) => sums.get(`${name} ${route}`);
    for (const [route, r] of recorded) {
      expect(total('orders.received', route)).toBe(r.adds);
      expect(total('orders.latency.count', route)).toBe(r.count);
      expect(total('orders.latency.sum', route)).toBeCloseTo(r.sum, 6);
    }
  });

  it('flush() while a window is half built delivers every window whole, once', async () => {
    const a = await agent();
    const sink = emfTo(a);
    const r = receipt();
    const t = thisSecond() - 5000;
    const windows = [bigWindow(t), bigWindow(t + 1000), bigWindow(t + 2000)];
    const exported = sink.export(windows, r);
    await sink.flush(10_000);
    await exported;
    expect([...r.outcomes.values()]).toEqual(['sent', 'sent', 'sent']);
    const docs = a.lines.map((l) => validateEmf(l.text));
    emfMetrics(docs);
    expect([...docsByTimestamp(docs).entries()]).toEqual(windows.map((w) => [w.timestamp, ROUTES]));
  });

  it('shutdown() while a window is half built settles every window once; nothing of a dropped window arrives', async () => {
    const a = await agent();
    const sink = emfTo(a, { shutdownTimeoutMs: 0 });
    const r = receipt();
    const t = thisSecond() - 5000;
    // export() builds the first slice of the first window before it returns, then yields.
    const exported = sink.export([bigWindow(t), bigWindow(t + 1000), bigWindow(t + 2000)], r);
    await sink.shutdown();
    await exported;
    expect([...r.outcomes.values()]).toEqual(['dropped', 'dropped', 'dropped']);
    const stats = sink.stats();
    expect(stats.windows_pending).toBe(0);
    expect(stats.backlog_bytes).toBe(0);
    await new Promise((res) => setTimeout(res, 100));
    expect(a.lines).toHaveLength(0);
  });

  it('a newer window evicting the one being built: the old one dropped and absent, the new one whole', async () => {
    const a = await agent();
    const first = bigWindow(thisSecond() - 3000);
    const second = bigWindow(thisSecond() - 2000);
    // Room for one sealed window only (estimateWindowBytes is the same for both).
    const { estimateWindowBytes } = await import('../../src/core/window-size.js');
    const sink = emfTo(a, { maxBacklogBytes: Math.ceil(estimateWindowBytes(first) * 1.5) });
    const r = receipt();
    const one = sink.export([first], r);
    // The first window's documents are half built (export() ran their first slice); this evicts it.
    const two = sink.export([second], r);
    await Promise.all([one, two]);
    await sink.flush(10_000);
    expect(r.outcomes.get(first.timestamp)).toBe('dropped');
    expect(r.outcomes.get(second.timestamp)).toBe('sent');
    const docs = a.lines.map((l) => validateEmf(l.text));
    emfMetrics(docs);
    expect([...docsByTimestamp(docs).entries()]).toEqual([[second.timestamp, ROUTES]]);
    expect(sink.stats().backlog_bytes).toBe(0);
  });
});

describe('PutMetricData, converted and serialized in slices', () => {
  it('2,000 series recorded through createMetrics arrive whole and exact, each datum once', async () => {
    const cw = await cloudWatch();
    const sink = cloudWatchTo(cw);
    const metrics = createMetrics({ service: 'shop', sinks: [sink], eventLoop: false });
    const recorded = await record2000(metrics, 2);
    await metrics.shutdown();
    expect(cw.requests.every((q) => q.status === 200)).toBe(true);
    // Every body was the sliced one (its probe datum, a histogram's or a counter's, matched the SDK's body).
    expect(sink.stats().sdk_body_fallbacks).toBe(0);
    // Several requests per second of data: bodies joined from many serializer slices.
    expect(cw.requests.length).toBeGreaterThanOrEqual(4);
    const seen = new Set<string>();
    const totals = new Map<string, { adds: number; count: number; sum: number }>();
    for (const d of cw.accepted) {
      // Other series (scalesignal's self-metrics) are not part of this comparison.
      if (!d.MetricName.startsWith('orders.')) continue;
      const route = d.Dimensions.find((x) => x.Name === 'route')?.Value as string;
      const id = `${d.MetricName}|${route}|${d.Timestamp}`;
      expect(seen.has(id), `${id} arrived twice`).toBe(false);
      seen.add(id);
      const t = totals.get(route) ?? { adds: 0, count: 0, sum: 0 };
      if (d.MetricName === 'orders.received') t.adds += d.StatisticValues?.Sum ?? d.Value ?? 0;
      else {
        const counts = d.Counts as number[];
        const values = d.Values as number[];
        for (let k = 0; k < counts.length; k++) {
          t.count += counts[k];
          t.sum += counts[k] * values[k];
        }
      }
      totals.set(route, t);
    }
    for (const [route, r] of recorded) {
      const t = totals.get(route);
      expect(t?.adds).toBe(r.adds);
      expect(t?.count).toBe(r.count);
      // Values are bucket representatives: within the histogram's relative error (0.54 %).
      expect(Math.abs((t?.sum ?? 0) / r.sum - 1)).toBeLessThan(0.0055);
    }
  }, 20_000);

  it('the body joined from slices is byte for byte the one the SDK writes in one piece', async () => {
    const sdk = await import('@aws-sdk/client-cloudwatch');
    const client = new sdk.CloudWatchClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const serializer = (client as unknown as { config: { protocol: { serializer: { write(s: unknown, v: unknown): void; flush(): Uint8Array } } } }).config
      .protocol.serializer;
    const serialize = (value: PutMetricDataInput): Uint8Array => {
      serializer.write(sdk.PutMetricDataInput$, value);
      const out = serializer.flush();
      return Uint8Array.from(out);
    };
    const at = new Date(Date.UTC(2026, 0, 1, 0, 0, 1, 500));
    const input: PutMetricDataInput = {
      Namespace: 'Shop "eu"/checkout',
      MetricData: Array.from({ length: 37 }, (_, i) => ({
        MetricName: `orders.${i % 3 === 0 ? 'latency' : 'received'}`,
        Dimensions: [
          { Name: 'ServiceName', Value: 'shop' },
          { Name: 'route', Value: `/api/r${i}?q="x\\y"\u00e9` },
        ],
        Timestamp: at,
        ...(i % 3 === 0
          ? { Values: [0.5, 1.25 + i, 1e-7, 123456.789], Counts: [1, 2, 3, 4 + i] }
          : i % 3 === 1
            ? { StatisticValues: { SampleCount: 3, Sum: 3.5, Minimum: 0.5, Maximum: 2 } }
            : { Value: -i / 7 }),
        Unit: i % 3 === 0 ? ('Milliseconds' as const) : ('Count' as const),
        StorageResolution: 1 as const,
      })),
    };
    const whole = serialize(input);
    // Slices of 0 ms: a turn of the loop after every few datums.
    const joined = await joinedBody(serialize, input, 0);
    expect(joined).toBeDefined();
    expect(Buffer.from(joined as Uint8Array).toString('utf8')).toBe(Buffer.from(whole).toString('utf8'));
  });

  it('shutdown() while a window is half converted sends it whole, once', async () => {
    const cw = await cloudWatch();
    let paused = 0;
    let hold: (() => void) | undefined;
    // The conversion's turns of the loop, held at the first one until shutdown() has been called.
    const clock: CloudWatchClock = {
      ...systemClock,
      yield: () => {
        paused++;
        if (paused === 1) return new Promise<void>((resolve) => (hold = resolve));
        return new Promise<void>((resolve) => setImmediate(resolve));
      },
    };
    const sink = cloudWatchTo(cw, { clock });
    const r = receipt();
    const w = bigWindow(thisSecond() - 2000);
    sink.export([w], r);
    await until(() => hold !== undefined);
    const done = sink.shutdown();
    hold?.();
    await done;
    expect([...r.outcomes.entries()]).toEqual([[w.timestamp, 'sent']]);
    expect(cw.accepted).toHaveLength(2 * ROUTES);
    expect(new Set(cw.accepted.map((d) => `${d.MetricName}|${d.Dimensions[1]?.Value}|${d.Timestamp}`)).size).toBe(2 * ROUTES);
    expect(sink.stats().windows_pending).toBe(0);
  });

  it('a newer window evicting the one being converted: the old one dropped and absent, the new one whole', async () => {
    const cw = await cloudWatch();
    let hold: (() => void) | undefined;
    let held = false;
    const clock: CloudWatchClock = {
      ...systemClock,
      yield: () => {
        if (held) return new Promise<void>((resolve) => setImmediate(resolve));
        held = true;
        return new Promise<void>((resolve) => (hold = resolve));
      },
    };
    const first = bigWindow(thisSecond() - 3000);
    const second = bigWindow(thisSecond() - 2000);
    const { estimateWindowBytes } = await import('../../src/core/window-size.js');
    const sink = cloudWatchTo(cw, { clock, maxBacklogBytes: Math.ceil(estimateWindowBytes(first) * 1.5) });
    const r = receipt();
    sink.export([first], r);
    await until(() => hold !== undefined);
    // The first window is half converted; this evicts it.
    sink.export([second], r);
    expect(r.outcomes.get(first.timestamp)).toBe('dropped');
    hold?.();
    await sink.flush(10_000);
    expect(r.outcomes.get(second.timestamp)).toBe('sent');
    expect(cw.accepted).toHaveLength(2 * ROUTES);
    expect(cw.accepted.every((d) => d.Timestamp === second.timestamp)).toBe(true);
    expect(sink.stats().datapoints_pending).toBe(0);
  });
});
