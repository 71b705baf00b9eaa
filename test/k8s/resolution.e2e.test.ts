/**
 * Names that resolve: every query, selector and metric reference in examples/k8s (each file is exactly what the
 * CLI prints, see manifests.test.ts) is evaluated against what the SDK really emits, and must return the value
 * that was recorded.
 *
 * Pods are the SDK started from each example Deployment's own container env (./pods.ts: downward API filled in,
 * `sinksFromEnv` building the sinks from SCALESIGNAL_SINKS), with known values: requests held in flight and SSE
 * streams opened through `instrumentHttpServer`, queue depths observed through the queue recipes, and latencies
 * recorded into the integration's own duration series. Then:
 * - `prometheus` triggers: the PromQL runs on a REAL Prometheus (Debian's) that scraped the pods, labelled with
 *   `namespace` / `pod` as a Kubernetes scrape job labels them; the answer is read as KEDA reads it.
 * - `metrics-api` triggers: the selector is evaluated on the pods' `/metrics` as KEDA does (Prometheus' own expfmt
 *   parser, then KEDA's selector matching, ./metrics-api.ts), aggregated over the Service's endpoints.
 * - `aws-cloudwatch` triggers: CloudWatch cannot run here. The EMF documents go to a loopback TCP listener in
 *   place of the CloudWatch agent (validated against the EMF specification), the PutMetricData requests to the
 *   loopback PutMetricData endpoint (test/helpers/cloudwatch-server.ts, real AWS SDK client and wire protocol); a
 *   trigger resolves when namespace, metric name and the full dimension set match what was sent, and its
 *   statistic over what was sent equals the recorded value.
 * - queue triggers: the SQS queue URL is read by the SDK's sqsQueueDepth through a loopback SQS endpoint
 *   speaking the real protocol, asked for the attributes KEDA's aws-sqs-queue scaler counts; RabbitMQ's queue name
 *   must be the `queue` label the app's gauge is selected by.
 * - the HPA's Pods metric: the Prometheus Adapter rule (seriesQuery, metricsQuery) runs on the same Prometheus.
 */
import { readFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessQueueDepth, sqsQueueDepth } from '../../src/index.js';
import { prometheusAdapterRules } from '../../src/cli/index.js';
import { startCloudWatchServer, type CloudWatchServer } from '../helpers/cloudwatch-server.js';
import { validateEmf, type EmfDocument } from '../helpers/emf-validator.js';
import { freePort, PROMETHEUS_INSTALL, prometheusAvailable } from '../helpers/prometheus-server.js';
import { bucketQuantile, kedaPrometheusValue } from './keda-prometheus.js';
import { fetchExposition, readEndpoints, realExpfmt, type AggregationType } from './metrics-api.js';
import { containerEnv, startPod, waitFor, type Pod } from './pods.js';
import { startLabelledPrometheus, type LabelledPrometheus } from './prometheus.js';
import { parseDocuments } from './validate.js';
import { startEmfAgentListener } from '../helpers/emf-agent-listener.js';
import { buildExpfmt } from '../helpers/expfmt.js';

type Json = Record<string, any>;
const examples = (file: string): Json[] => parseDocuments(readFileSync(new URL(`../../examples/k8s/${file}`, import.meta.url), 'utf8'));
const byKind = (docs: Json[], kind: string): Json => docs.find((d) => d.kind === kind)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Known latencies, the same on every pod: 10 .. 509.5 ms for POST /pay, 1 .. 100 ms for GET /orders/:orderId. */
const PAY_MS = Array.from({ length: 1000 }, (_, i) => 10 + i * 0.5);
const ORDERS_MS = Array.from({ length: 100 }, (_, i) => 1 + i);
/** Nearest-rank quantile of what was recorded. */
function exactQuantile(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}
const within1pc = (actual: number, expected: number) => expect(Math.abs(actual - expected) / expected, `${actual} vs ${expected}`).toBeLessThanOrEqual(0.01);

const NS = 'default';
const pods: Record<string, Pod> = {};
let prometheus: LabelledPrometheus;
let cloudwatch: CloudWatchServer;
let agent: { port: number; docs: EmfDocument[]; stop(): Promise<void> };
let sqs: { url: string; requests: Array<{ QueueUrl: string; AttributeNames: string[] }>; stop(): Promise<void> };
let sqsClient: SQSClient;
const savedEnv = { ...process.env };

/** Recorded on each pod, and what each path must return. */
const RECORDED = {
  checkoutA: { inflight: 7, sse: 3, queue: 30 },
  checkoutB: { inflight: 5, sse: 2, queue: 12 },
  emf: { inflight: 4 },
  putMetricData: { inflight: 6 },
  worker: { visible: 40, inFlight: 2 },
  feed: { sse: 9 },
};
const POD_NAMES = {
  checkoutA: 'checkout-5d9c7b8f6-x2x7q',
  checkoutB: 'checkout-5d9c7b8f6-k8mzp',
  emf: 'checkout-7f6d5c4b3-emf01',
  putMetricData: 'checkout-6c5b4a392-pmd01',
  worker: 'worker-84d6f9c5b-q9w8e',
  feed: 'feed-6b7c8d9e0-s5s5s',
};

async function podFrom(
  file: string,
  key: keyof typeof POD_NAMES,
  replace: (env: Record<string, string>) => void,
  ports: (env: Record<string, string>) => Promise<void>,
): Promise<Pod> {
  const env = containerEnv(byKind(examples(file), 'Deployment'), { name: POD_NAMES[key], namespace: NS, nodeName: 'node-1', hostIP: '127.0.0.1' });
  replace(env);
  await ports(env);
  const pod = await startPod(POD_NAMES[key], env);
  pods[key] = pod;
  return pod;
}

/** The Deployment's port 9464 becomes a free loopback port: several pods share this machine. */
async function loopbackMetrics(env: Record<string, string>): Promise<void> {
  expect(env.OTEL_EXPORTER_PROMETHEUS_PORT).toBe('9464');
  env.OTEL_EXPORTER_PROMETHEUS_PORT = String(await freePort());
  env.OTEL_EXPORTER_PROMETHEUS_HOST = '127.0.0.1';
}

function recordLatencies(pod: Pod): void {
  const duration = pod.metrics.histogram('http.server.request.duration', { unit: 'ms' });
  const pay = duration.bind({ method: 'POST', route: '/pay' });
  const orders = duration.bind({ method: 'GET', route: '/orders/:orderId' });
  for (const v of PAY_MS) pay.record(v);
  for (const v of ORDERS_MS) orders.record(v);
}

beforeAll(async () => {
  buildExpfmt(); // before any pod serves from this process: a first build blocks for seconds
  if (!prometheusAvailable()) throw new Error(`Prometheus is needed: ${PROMETHEUS_INSTALL}`);
  cloudwatch = await startCloudWatchServer();
  agent = await startTcpAgent();
  sqs = await startSqs({
    jobs: { ApproximateNumberOfMessages: String(RECORDED.worker.visible), ApproximateNumberOfMessagesNotVisible: String(RECORDED.worker.inFlight), ApproximateNumberOfMessagesDelayed: '5' },
  });
  sqsClient = new SQSClient({ endpoint: sqs.url, region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
  // What the PutMetricData sink's AWS SDK client reads (region, credentials, endpoint) when it first sends.
  Object.assign(process.env, { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_ENDPOINT_URL_CLOUDWATCH: cloudwatch.url });

  for (const key of ['checkoutA', 'checkoutB'] as const) {
    const pod = await podFrom('metrics-api.yaml', key, () => undefined, loopbackMetrics);
    const jobs = Array.from({ length: RECORDED[key].queue }, (_, i) => i);
    pod.metrics.gauge('queue.depth', { unit: '{message}', observe: inProcessQueueDepth({ queues: { jobs } }) });
  }
  await podFrom('cloudwatch-emf.yaml', 'emf', (env) => {
    // $(HOST_IP) is the node's address, where the CloudWatch agent DaemonSet listens; here a loopback listener.
    expect(env.AWS_EMF_AGENT_ENDPOINT).toBe('tcp://127.0.0.1:25888');
    env.AWS_EMF_AGENT_ENDPOINT = `tcp://127.0.0.1:${agent.port}`;
  }, loopbackMetrics);
  await podFrom('cloudwatch-putmetricdata.yaml', 'putMetricData', () => undefined, loopbackMetrics);
  const worker = await podFrom('queues.yaml', 'worker', () => undefined, loopbackMetrics);
  const sqsTrigger = byKind(examples('queues.yaml'), 'ScaledObject').spec.triggers.find((t: Json) => t.type === 'aws-sqs-queue');
  worker.metrics.gauge('queue.depth', { unit: '{message}', observe: sqsQueueDepth({ client: sqsClient, queueUrl: sqsTrigger.metadata.queueURL }) });
  await podFrom('hpa-sse.yaml', 'feed', () => undefined, loopbackMetrics);

  // The latency series exist (bound, count 0) before anything is recorded, so Prometheus' rate() sees every
  // bucket start from 0 and histogram_quantile can be computed exactly from the buckets.
  for (const key of ['checkoutA', 'checkoutB', 'emf', 'putMetricData'] as const) {
    const duration = pods[key].metrics.histogram('http.server.request.duration', { unit: 'ms' });
    duration.bind({ method: 'POST', route: '/pay' });
    duration.bind({ method: 'GET', route: '/orders/:orderId' });
  }
  for (const key of ['checkoutA', 'checkoutB', 'emf', 'putMetricData'] as const) await pods[key].hold(RECORDED[key].inflight);
  for (const key of ['checkoutA', 'checkoutB', 'feed'] as const) await pods[key].openSse(RECORDED[key].sse);

  const target = (key: keyof typeof POD_NAMES) => ({ address: pods[key].metricsAddress, labels: { namespace: NS, pod: POD_NAMES[key] } });
  prometheus = await startLabelledPrometheus([
    { name: 'checkout', targets: [target('checkoutA'), target('checkoutB')] },
    { name: 'worker', targets: [target('worker')] },
    { name: 'feed', targets: [target('feed')] },
  ]);
  await waitFor(async () => {
    const r = await prometheus.query('min(count_over_time(http_server_request_duration_milliseconds_count{namespace="default"}[1m]))');
    return r.length === 1 && Number(r[0].value[1]) >= 3;
  }, 'three scrapes of the empty latency series', 30_000);

  // Record inside one window: 300 ms into a second.
  await sleep(1300 - (Date.now() % 1000));
  for (const key of ['checkoutA', 'checkoutB', 'emf', 'putMetricData'] as const) recordLatencies(pods[key]);
  const total = 2 * (PAY_MS.length + ORDERS_MS.length);
  await waitFor(async () => {
    const r = await prometheus.query('sum(http_server_request_duration_milliseconds_count{namespace="default"})');
    return r.length === 1 && Number(r[0].value[1]) === total;
  }, 'Prometheus to scrape the recorded latencies', 20_000);
  await sleep(1100); // one more scrape, so rate() has a sample after the step on both pods
}, 150_000);

afterAll(async () => {
  await Promise.allSettled(Object.values(pods).map((p) => p.close()));
  await prometheus?.stop();
  await cloudwatch?.close();
  await agent?.stop();
  sqsClient?.destroy();
  await sqs?.stop();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
}, 60_000);


/** A trigger's expected value: by trigger name, for the pods behind the Deployment. */
function triggersOf(file: string): Json[] {
  return byKind(examples(file), 'ScaledObject').spec.triggers as Json[];
}

describe('metrics-api triggers (examples/k8s/metrics-api.yaml) read the pods as KEDA does', () => {
  it('the URL reaches the SDK port through the Service, and every selector returns the recorded value', async () => {
    const docs = examples('metrics-api.yaml');
    const container = byKind(docs, 'Deployment').spec.template.spec.containers[0];
    const servicePort = byKind(docs, 'Service').spec.ports.find((p: Json) => p.name === 'metrics');
    const containerPort = container.ports.find((p: Json) => p.name === servicePort.targetPort);
    const envPort = container.env.find((e: Json) => e.name === 'OTEL_EXPORTER_PROMETHEUS_PORT').value;
    const triggers = triggersOf('metrics-api.yaml');
    expect(triggers.map((t) => t.name)).toEqual(['inflight', 'p99-post-pay', 'sse', 'queue']);
    const endpoints = [pods.checkoutA.metricsUrl, pods.checkoutB.metricsUrl];
    const a = RECORDED.checkoutA;
    const b = RECORDED.checkoutB;
    const expected: Record<string, number> = { inflight: a.inflight + b.inflight, sse: a.sse + b.sse, queue: Math.max(a.queue, b.queue) };
    for (const t of triggers) {
      const url = new URL(t.metadata.url);
      // KEDA: <service>.<namespace> from the host, the pod port from the URL, matched against the EndpointSlice.
      expect(url.hostname.split('.').slice(0, 2)).toEqual([byKind(docs, 'Service').metadata.name, NS]);
      expect(Number(url.port)).toBe(containerPort.containerPort);
      expect(String(containerPort.containerPort)).toBe(envPort);
      expect(url.pathname).toBe('/metrics');
      expect(t.metadata.format).toBe('prometheus');
      const read = await readEndpoints(endpoints, t.metadata.valueLocation, t.metadata.aggregationType as AggregationType, realExpfmt);
      expect(read.reads.filter((r) => r.error !== undefined), t.name).toEqual([]);
      if (t.name === 'p99-post-pay') within1pc(read.value, exactQuantile(PAY_MS, 0.99));
      else expect(read.value, t.name).toBe(expected[t.name]);
    }
  });

  it("a pod without requests in the quantile window has no P99 series: KEDA skips it (and fails if none has one)", async () => {
    const p99 = triggersOf('metrics-api.yaml').find((t) => t.name === 'p99-post-pay')!;
    await expect(readEndpoints([pods.feed.metricsUrl], p99.metadata.valueLocation, 'max', realExpfmt)).rejects.toThrow(/not found/);
    const mixed = await readEndpoints([pods.feed.metricsUrl, pods.checkoutA.metricsUrl], p99.metadata.valueLocation, 'max', realExpfmt);
    within1pc(mixed.value, exactQuantile(PAY_MS, 0.99));
  });
});

describe('prometheus triggers (examples/k8s/prometheus.yaml) on a real Prometheus', () => {
  it('every query returns one element with the recorded value, as KEDA reads it', async () => {
    const triggers = triggersOf('prometheus.yaml');
    expect(triggers.map((t) => t.name)).toEqual(['inflight', 'p99', 'sse']);
    // The fleet P99 as Prometheus computes it from the SDK's own le buckets, summed over both pods.
    const summed = new Map<number, number>();
    for (const pod of [pods.checkoutA, pods.checkoutB]) {
      const family = realExpfmt(await fetchExposition(pod.metricsUrl)).get('http_server_request_duration_milliseconds')!;
      for (const m of family.metric) for (const bucket of m.histogram!.buckets) summed.set(bucket.upperBound, (summed.get(bucket.upperBound) ?? 0) + bucket.cumulativeCount);
    }
    const buckets = [...summed].map(([upperBound, count]) => ({ upperBound, count }));
    const fromBuckets = bucketQuantile(0.99, buckets);
    const recordedP99 = exactQuantile([...PAY_MS, ...ORDERS_MS], 0.99);
    for (const t of triggers) {
      const result = await prometheus.query(t.metadata.query);
      expect(result, `${t.name}: ${t.metadata.query}`).toHaveLength(1);
      const value = kedaPrometheusValue(result);
      switch (t.name) {
        case 'inflight':
          expect(value).toBe(RECORDED.checkoutA.inflight + RECORDED.checkoutB.inflight);
          break;
        case 'sse':
          expect(value).toBe(RECORDED.checkoutA.sse + RECORDED.checkoutB.sse);
          break;
        case 'p99': {
          expect(Math.abs(value - fromBuckets) / fromBuckets, `${value} vs ${fromBuckets}`).toBeLessThan(1e-9);
          // ... which lies in the le bucket holding the P99 that was recorded (the buckets' resolution).
          const upper = buckets.map((x) => x.upperBound).sort((x, y) => x - y).find((u) => u >= recordedP99)!;
          const lower = buckets.map((x) => x.upperBound).sort((x, y) => x - y).filter((u) => u < recordedP99).at(-1) ?? 0;
          expect(value).toBeGreaterThan(lower);
          expect(value).toBeLessThanOrEqual(upper);
          break;
        }
      }
    }
  });

  it('a query selects exactly the pods of its Deployment', async () => {
    const inflight = triggersOf('prometheus.yaml').find((t) => t.name === 'inflight')!;
    const perPod = await prometheus.query(inflight.metadata.query.replace(/^sum\((.*)\)$/, '$1'));
    expect(perPod.map((r) => r.metric.pod).sort()).toEqual([POD_NAMES.checkoutA, POD_NAMES.checkoutB].sort());
  });
});

describe('queue triggers (examples/k8s/queues.yaml)', () => {
  it("KEDA's SQS and RabbitMQ triggers and the app's gauge name the same queue, and the gauge reads what KEDA's SQS scaler counts", async () => {
    const triggers = triggersOf('queues.yaml');
    const sqsTrigger = triggers.find((t) => t.type === 'aws-sqs-queue')!;
    const rabbit = triggers.find((t) => t.type === 'rabbitmq')!;
    const own = triggers.find((t) => t.type === 'metrics-api')!;
    const label = /queue="([^"]+)"/.exec(own.metadata.valueLocation)?.[1];
    expect(label).toBe(sqsTrigger.metadata.queueURL.split('/').at(-1));
    expect(label).toBe(rabbit.metadata.queueName);
    // aws-sqs-queue with scaleOnInFlight (and not scaleOnDelayed) counts visible + not visible.
    expect(sqsTrigger.metadata.scaleOnInFlight).toBe('true');
    expect(sqsTrigger.metadata.scaleOnDelayed).toBeUndefined();
    await waitFor(() => sqs.requests.length > 0, 'the SDK to read SQS');
    const asked = sqs.requests.at(-1)!;
    expect(asked.QueueUrl).toBe(sqsTrigger.metadata.queueURL);
    expect([...asked.AttributeNames].sort()).toEqual(['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible']);
    const read = await readEndpoints([pods.worker.metricsUrl], own.metadata.valueLocation, own.metadata.aggregationType, realExpfmt);
    expect(read.value).toBe(RECORDED.worker.visible + RECORDED.worker.inFlight);
  });
});

describe('aws-cloudwatch triggers resolve to what the sinks send', () => {
  /** Dimension sets compare as sets: CloudWatch identifies a metric by namespace, name and every dimension. */
  const dims = (t: Json) => Object.fromEntries((t.metadata.dimensionName as string).split(';').map((n, i) => [n, (t.metadata.dimensionValue as string).split(';')[i]]));

  it('EMF (examples/k8s/cloudwatch-emf.yaml): namespace, name and dimension set are in the documents, with the recorded values', async () => {
    const triggers = triggersOf('cloudwatch-emf.yaml');
    expect(triggers.map((t) => t.name)).toEqual(['inflight', 'p99-post-pay']);
    const matching = (t: Json) =>
      agent.docs.flatMap((doc) =>
        doc._aws.CloudWatchMetrics.filter(
          (d) =>
            d.Namespace === t.metadata.namespace &&
            d.Metrics.some((m) => m.Name === t.metadata.metricName && m.StorageResolution === 1) &&
            d.Dimensions.some((set) => set.length === Object.keys(dims(t)).length && set.every((k) => dims(t)[k] === doc[k])),
        ).map(() => ({ value: doc[t.metadata.metricName] as number, at: doc._aws.Timestamp })),
      );
    await waitFor(() => triggers.every((t) => matching(t).length > 0), 'EMF documents for every trigger');
    for (const t of triggers) {
      const found = matching(t);
      const latest = found.reduce((x, y) => (y.at > x.at ? y : x));
      if (t.name === 'inflight') {
        expect(t.metadata.metricStat).toBe('Sum');
        expect(latest.value).toBe(RECORDED.emf.inflight);
      } else {
        expect(t.metadata.metricStat).toBe('Maximum');
        expect(found).toHaveLength(1); // only the second with requests has a P99
        within1pc(latest.value, exactQuantile(PAY_MS, 0.99));
      }
    }
  });

  it('PutMetricData (examples/k8s/cloudwatch-putmetricdata.yaml): the datums match, p99 from Values/Counts is the recorded P99', async () => {
    const triggers = triggersOf('cloudwatch-putmetricdata.yaml');
    const matching = (t: Json) =>
      cloudwatch.requests
        .filter((r) => r.status === 200 && r.namespace === t.metadata.namespace)
        .flatMap((r) => r.datums)
        .filter(
          (d) =>
            d.MetricName === t.metadata.metricName &&
            d.StorageResolution === 1 &&
            d.Dimensions.length === Object.keys(dims(t)).length &&
            d.Dimensions.every((x) => dims(t)[x.Name] === x.Value),
        );
    // 1,000 pods at 500 TPS x 0.8: one request every 3 s.
    await waitFor(() => triggers.every((t) => matching(t).length > 0), 'PutMetricData datums for every trigger', 20_000);
    for (const t of triggers) {
      const found = matching(t);
      const latest = found.reduce((x, y) => (y.Timestamp > x.Timestamp ? y : x));
      if (t.name === 'inflight') {
        expect(t.metadata.metricStat).toBe('Sum');
        expect(latest.StatisticValues?.Sum ?? latest.Value).toBe(RECORDED.putMetricData.inflight);
      } else {
        expect(t.metadata.metricStat).toBe('p99');
        expect(found).toHaveLength(1);
        const pairs = latest.Values!.map((v, i) => ({ v, c: latest.Counts?.[i] ?? 1 })).sort((x, y) => x.v - y.v);
        const n = pairs.reduce((s, p) => s + p.c, 0);
        expect(n).toBe(PAY_MS.length);
        let seen = 0;
        const p99 = pairs.find((p) => (seen += p.c) >= Math.ceil(0.99 * n))!.v;
        within1pc(p99, exactQuantile(PAY_MS, 0.99));
      }
    }
  });
});

describe('the HPA (examples/k8s/hpa-sse.yaml) through the Prometheus Adapter rule', () => {
  it('the Pods metric is served from the pods\' series with the recorded value', async () => {
    const hpa = byKind(examples('hpa-sse.yaml'), 'HorizontalPodAutoscaler');
    const [rule] = prometheusAdapterRules({ service: 'feed', path: 'hpa', indicators: ['sse'] });
    expect(hpa.spec.metrics[0].pods.metric.name).toBe(rule.name.as);
    expect(readFileSync(new URL('../../examples/k8s/hpa-sse.yaml', import.meta.url), 'utf8')).toContain(rule.metricsQuery);
    const series = await prometheus.query(rule.seriesQuery);
    expect(series.map((s) => s.metric.pod)).toContain(POD_NAMES.feed);
    const metricName = new RegExp(rule.name.matches).test(series[0].metric.__name__) ? series[0].metric.__name__ : '';
    // What the adapter sends for GET .../namespaces/default/pods/*/sse_active_connections_max
    const query = rule.metricsQuery
      .replace('<<.Series>>', metricName)
      .replace('<<.LabelMatchers>>', `namespace="${NS}",pod=~"${POD_NAMES.feed}"`)
      .replace('<<.GroupBy>>', 'pod');
    const result = await prometheus.query(query);
    expect(result.map((r) => [r.metric.pod, Number(r.value[1])])).toEqual([[POD_NAMES.feed, RECORDED.feed.sse]]);
  });
});

describe("the selectors' labels are the ones the HTTP integration records", () => {
  it('a real POST /pay through instrumentHttpServer lands in the series the P99 triggers select', async () => {
    const selector = triggersOf('metrics-api.yaml').find((t) => t.name === 'p99-post-pay')!.metadata.valueLocation as string;
    const labels = Object.fromEntries([...selector.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const countOf = async () => {
      const family = realExpfmt(await fetchExposition(pods.checkoutA.metricsUrl)).get('http_server_request_duration_milliseconds')!;
      const m = family.metric.find((x) => Object.entries(labels).every(([k, v]) => x.label.some((l) => l.name === k && l.value === v)) && x.label.length === Object.keys(labels).length);
      return m?.histogram?.count;
    };
    expect(await countOf()).toBe(PAY_MS.length);
    expect(await pods.checkoutA.request('POST', '/pay')).toBe(200);
    await waitFor(async () => (await countOf()) === PAY_MS.length + 1, 'the real request in the selected series', 5000);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Loopback stand-ins

/** The EMF agent listener, its lines parsed and validated as EMF documents on arrival. */
async function startTcpAgent(): Promise<{ port: number; readonly docs: EmfDocument[]; stop(): Promise<void> }> {
  const listener = await startEmfAgentListener();
  return {
    port: listener.port,
    get docs() {
      return listener.lines.map((line) => validateEmf(line.text));
    },
    stop: () => listener.stop(),
  };
}

/** GetQueueAttributes over AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.GetQueueAttributes`), as the SDK sends it. */
async function startSqs(queues: Record<string, Record<string, string>>) {
  const requests: Array<{ QueueUrl: string; AttributeNames: string[] }> = [];
  const server = http.createServer(async (req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = JSON.parse(raw) as { QueueUrl: string; AttributeNames: string[] };
    if (req.headers['x-amz-target'] !== 'AmazonSQS.GetQueueAttributes') {
      res.statusCode = 400;
      res.end('{}');
      return;
    }
    requests.push(body);
    const attributes = queues[body.QueueUrl.slice(body.QueueUrl.lastIndexOf('/') + 1)];
    res.setHeader('content-type', 'application/x-amz-json-1.0');
    if (attributes === undefined) {
      res.statusCode = 400;
      res.setHeader('x-amzn-query-error', 'AWS.SimpleQueueService.NonExistentQueue;Sender');
      res.end(JSON.stringify({ __type: 'com.amazonaws.sqs#QueueDoesNotExist', message: 'The specified queue does not exist.' }));
      return;
    }
    res.end(JSON.stringify({ Attributes: Object.fromEntries(body.AttributeNames.map((n) => [n, attributes[n]])) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

