/**
 * Kubernetes manifests that scale a service on scalesignal's leading indicators: a Deployment (+ Service) wired
 * the way the SDK reads its environment, and one autoscaler per path:
 *   metrics-api  KEDA reads every pod's own `/metrics` through the Service's endpoints: no Prometheus server
 *   prometheus   KEDA runs PromQL against a Prometheus that scrapes the pods (self-managed or AMP)
 *   cloudwatch   KEDA reads the 1-second CloudWatch metric the EMF or PutMetricData sink publishes
 *   queues       KEDA reads SQS / RabbitMQ itself, beside the app's own queue-depth gauge
 *   hpa          a plain autoscaling/v2 HPA on a per-pod metric served by the Prometheus Adapter
 * The paths are alternatives: a workload takes one ScaledObject (or one HPA), so every path names its
 * autoscaler after the service and applying another one replaces it.
 *
 * Metric types, as the HPA computes them: `AverageValue` divides the metric by the target (desired =
 * ceil(total / per-pod target)), so additive signals are given as fleet totals; `Value` scales the current
 * replicas by metric / target, for signals that do not add up across pods (P99).
 */
import { Pacer } from '../sinks/cloudwatch/pacer.js';
import { BEHAVIOR_REASONS, TUNED_BEHAVIOR, type Behavior } from './behavior.js';
import { ManifestError } from './errors.js';
import {
  emfMetric,
  instrumentOf,
  prometheusNames,
  putMetricDataMetric,
  QUEUE_DEPTH,
  queueLabels,
  routeLabels,
  type CloudWatchMetric,
  type RouteRef,
} from './names.js';
import { fleetP99, maxOfMax, podMatchers, selector, sumOfMax } from './promql.js';
import { DEFAULT_TARGETS, TARGET_FIELD, type Indicator, type Targets } from './targets.js';

export type ScalingPath = 'metrics-api' | 'prometheus' | 'cloudwatch' | 'queues' | 'hpa';
export const SCALING_PATHS: readonly ScalingPath[] = ['metrics-api', 'prometheus', 'cloudwatch', 'queues', 'hpa'];
export type CloudWatchSource = 'emf' | 'putmetricdata';
export const CLOUDWATCH_SOURCES: readonly CloudWatchSource[] = ['emf', 'putmetricdata'];

/** Indicators each path can scale on. */
export const PATH_INDICATORS: Readonly<Record<ScalingPath, readonly Indicator[]>> = {
  'metrics-api': ['inflight', 'p99', 'sse', 'queue'],
  prometheus: ['inflight', 'p99', 'sse', 'queue'],
  cloudwatch: ['inflight', 'p99', 'sse', 'queue'],
  queues: ['queue'],
  hpa: ['sse', 'inflight'],
};

export interface ManifestOptions {
  /** Deployment, Service and autoscaler name; also `OTEL_SERVICE_NAME`. */
  readonly service: string;
  readonly path: ScalingPath;
  /** Kubernetes namespace. Default `default`. */
  readonly namespace?: string;
  /** Thresholds; unset ones come from DEFAULT_TARGETS. */
  readonly targets?: Partial<Targets>;
  /** What to scale on. Default per path: inflight (+ p99 where it resolves), queue for `queues`, sse for `hpa`. */
  readonly indicators?: readonly Indicator[];
  /** Latency series (method + route template) to scale P99 on; required for P99 on metrics-api and cloudwatch. */
  readonly routes?: readonly RouteRef[];
  readonly image?: string;
  /** Container port of the application. Default 8080. */
  readonly httpPort?: number;
  /** Port of the SDK's `/metrics` (OTEL_EXPORTER_PROMETHEUS_PORT). Default 9464. */
  readonly metricsPort?: number;
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  /** `prometheus` path. Default `http://prometheus.monitoring.svc:9090`. */
  readonly prometheusUrl?: string;
  /** `prometheus` and `hpa` paths: PromQL matchers picking the pods. Default `namespace` + `pod` of the Deployment. */
  readonly podMatchers?: string;
  /** AWS Region for `cloudwatch` and SQS. */
  readonly region?: string;
  readonly cloudwatchSource?: CloudWatchSource;
  /** CloudWatch namespace the sink publishes to. Default the service name. */
  readonly cloudwatchNamespace?: string;
  /** Most pods sharing the PutMetricData quota (`SCALESIGNAL_FLEET_SIZE`). Default `maxReplicas`. */
  readonly fleetSize?: number;
  /** Name of the app's queue-depth gauge. Default `queue.depth`. */
  readonly queueMetric?: string;
  /** `queue` label of the depth to scale on. Default the SQS URL's last segment, else the RabbitMQ queue, else `jobs`. */
  readonly queue?: string;
  readonly sqsQueueUrl?: string;
  readonly rabbitmqQueue?: string;
  /** Emit the Deployment and Service too. Default true. */
  readonly deployment?: boolean;
}

/** A comment attached to a field of the object (`path` as for `yaml`'s `getIn`). */
export interface Note {
  readonly path: readonly (string | number)[];
  readonly text: string;
}

export interface Manifest {
  readonly object: Record<string, unknown>;
  /** Lines above the document. */
  readonly header: readonly string[];
  readonly notes: readonly Note[];
}

/** A Prometheus Adapter rule (its `rules:` config), which the `hpa` path needs to serve its Pods metric. */
export interface AdapterRule {
  readonly seriesQuery: string;
  readonly resources: { readonly overrides: Record<string, { resource: string }> };
  readonly name: { readonly matches: string; readonly as: string };
  readonly metricsQuery: string;
}

interface Resolved {
  readonly service: string;
  readonly path: ScalingPath;
  readonly namespace: string;
  readonly targets: Targets;
  readonly indicators: readonly Indicator[];
  readonly routes: readonly RouteRef[];
  readonly image: string;
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  readonly prometheusUrl: string;
  readonly podMatchers: string;
  readonly region: string | undefined;
  readonly cloudwatchSource: CloudWatchSource;
  readonly cloudwatchNamespace: string;
  readonly fleetSize: number;
  readonly queueMetric: string;
  readonly queue: string;
  readonly sqsQueueUrl: string | undefined;
  readonly rabbitmqQueue: string | undefined;
  readonly deployment: boolean;
}

const APP_LABEL = 'app.kubernetes.io/name';
const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'];
/** KEDA splits `dimensionName` / `dimensionValue` on `;`. */
const DIMENSION_SEPARATOR = ';';

export function resolveOptions(o: ManifestOptions): Resolved {
  const fail = (flag: string, message: string): never => {
    throw new ManifestError(flag, message);
  };
  if (typeof o.service !== 'string' || !DNS_LABEL.test(o.service) || o.service.length > 52) {
    // 52: KEDA names the HPA `keda-hpa-<name>`, and pod names add the ReplicaSet hash and a suffix to 63.
    fail('--service', `must be a DNS label of at most 52 characters (lower-case letters, digits, '-', starting with a letter), got ${JSON.stringify(o.service)}`);
  }
  if (!SCALING_PATHS.includes(o.path)) fail('--path', `must be one of ${SCALING_PATHS.join(', ')}, got ${JSON.stringify(o.path)}`);
  const namespace = o.namespace ?? 'default';
  if (!DNS_LABEL.test(namespace) || namespace.length > 63) fail('--namespace', `must be a DNS label, got ${JSON.stringify(namespace)}`);

  const targets: Record<keyof Targets, number> = { ...DEFAULT_TARGETS };
  for (const [key, value] of Object.entries(o.targets ?? {})) {
    if (!(key in DEFAULT_TARGETS)) fail('--target', `unknown target "${key}"; allowed: ${Object.keys(DEFAULT_TARGETS).join(', ')}`);
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) fail('--target', `${key} must be a positive number, got ${String(value)}`);
    targets[key as keyof Targets] = value as number;
  }

  const routes = o.routes ?? [];
  for (const r of routes) {
    if (!METHODS.includes(r.method)) fail('--route', `method must be one of ${METHODS.join(', ')}, got ${JSON.stringify(r.method)}`);
    if (typeof r.route !== 'string' || !r.route.startsWith('/') || r.route.includes(DIMENSION_SEPARATOR)) {
      fail('--route', `route must be a route template starting with "/" and without ";", got ${JSON.stringify(r.route)}`);
    }
  }

  const allowed = PATH_INDICATORS[o.path];
  const p99Resolves = o.path === 'prometheus' || routes.length > 0;
  const indicators =
    o.indicators ??
    (o.path === 'queues' ? ['queue'] : o.path === 'hpa' ? ['sse'] : p99Resolves ? (['inflight', 'p99'] as Indicator[]) : (['inflight'] as Indicator[]));
  for (const i of indicators) {
    if (!allowed.includes(i)) fail('--target', `${i} cannot drive --path ${o.path}; allowed there: ${allowed.join(', ')}`);
  }
  if (indicators.includes('p99') && !p99Resolves) {
    fail(
      '--route',
      `--target p99 on --path ${o.path} needs at least one --route "METHOD /template" (e.g. --route "POST /pay"): ` +
        `the latency histogram has one series per method and route, and ${o.path === 'metrics-api' ? "KEDA's metrics-api reads one series" : 'a CloudWatch metric is one dimension set'}`,
    );
  }
  if (new Set(indicators).size !== indicators.length) fail('--target', 'each indicator at most once');

  const port = (flag: string, value: number | undefined, fallback: number): number => {
    const p = value ?? fallback;
    if (!Number.isInteger(p) || p < 1 || p > 65535) fail(flag, `must be a port from 1 to 65535, got ${String(value)}`);
    return p;
  };
  const httpPort = port('--http-port', o.httpPort, 8080);
  const metricsPort = port('--metrics-port', o.metricsPort, 9464);
  if (httpPort === metricsPort) fail('--metrics-port', `must differ from --http-port (${httpPort})`);

  const minReplicas = o.minReplicas ?? 2;
  const maxReplicas = o.maxReplicas ?? 50;
  if (!Number.isInteger(minReplicas) || minReplicas < 1) {
    fail('--min', `must be an integer >= 1 (a pod must run to report its own signals), got ${String(o.minReplicas)}`);
  }
  if (!Number.isInteger(maxReplicas) || maxReplicas < minReplicas) fail('--max', `must be an integer >= --min (${minReplicas}), got ${String(o.maxReplicas)}`);

  const region = o.region;
  const needsRegion = o.path === 'cloudwatch' || (o.path === 'queues' && o.sqsQueueUrl !== undefined);
  if (needsRegion && region === undefined) fail('--region', `is required for --path ${o.path} (e.g. --region eu-west-1)`);
  if (region !== undefined && !REGION.test(region)) fail('--region', `must be an AWS Region such as eu-west-1, got ${JSON.stringify(region)}`);

  const cloudwatchSource = o.cloudwatchSource ?? 'emf';
  if (!CLOUDWATCH_SOURCES.includes(cloudwatchSource)) fail('--cloudwatch-source', `must be one of ${CLOUDWATCH_SOURCES.join(', ')}, got ${JSON.stringify(cloudwatchSource)}`);
  const cloudwatchNamespace = o.cloudwatchNamespace ?? o.service;
  if (cloudwatchNamespace.trim() === '' || cloudwatchNamespace.length > 255 || cloudwatchNamespace.startsWith('AWS/')) {
    fail('--cloudwatch-namespace', `must be 1 to 255 characters and not start with "AWS/", got ${JSON.stringify(cloudwatchNamespace)}`);
  }
  const fleetSize = o.fleetSize ?? maxReplicas;
  if (!Number.isInteger(fleetSize) || fleetSize < 1) fail('--fleet-size', `must be a positive integer, got ${String(o.fleetSize)}`);

  let sqsQueue: string | undefined;
  if (o.sqsQueueUrl !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(o.sqsQueueUrl);
    } catch {
      url = undefined;
    }
    const segments = url?.pathname.split('/').filter((s) => s !== '') ?? [];
    if (url === undefined || !/^https?:$/.test(url.protocol) || segments.length !== 2) {
      fail('--sqs-queue-url', `must be a queue URL such as https://sqs.eu-west-1.amazonaws.com/123456789012/jobs, got ${JSON.stringify(o.sqsQueueUrl)}`);
    }
    sqsQueue = segments[1];
  }
  if (o.path !== 'queues' && (o.sqsQueueUrl !== undefined || o.rabbitmqQueue !== undefined)) {
    fail(o.sqsQueueUrl !== undefined ? '--sqs-queue-url' : '--rabbitmq-queue', 'only applies to --path queues');
  }
  if (o.rabbitmqQueue !== undefined && o.rabbitmqQueue.trim() === '') fail('--rabbitmq-queue', 'must not be empty');
  const queue = o.queue ?? sqsQueue ?? o.rabbitmqQueue ?? 'jobs';
  if (queue.trim() === '' || queue.includes(DIMENSION_SEPARATOR)) fail('--queue', `must be a queue name without ";", got ${JSON.stringify(queue)}`);
  const queueMetric = o.queueMetric ?? QUEUE_DEPTH;
  if (!/^[a-zA-Z][a-zA-Z0-9_./-]*$/.test(queueMetric)) {
    fail('--queue-metric', `must be an instrument name (letters, digits, _ . - /, starting with a letter), got ${JSON.stringify(queueMetric)}`);
  }

  const prometheusUrl = o.prometheusUrl ?? 'http://prometheus.monitoring.svc:9090';
  if (!/^https?:\/\/[^/\s]+/.test(prometheusUrl)) fail('--prometheus-url', `must be an http(s) URL, got ${JSON.stringify(prometheusUrl)}`);

  return {
    service: o.service,
    path: o.path,
    namespace,
    targets,
    indicators,
    routes,
    image: o.image ?? `registry.example.com/${o.service}:1.0.0`,
    httpPort,
    metricsPort,
    minReplicas,
    maxReplicas,
    prometheusUrl,
    podMatchers: o.podMatchers ?? podMatchers(o.service, namespace),
    region,
    cloudwatchSource,
    cloudwatchNamespace,
    fleetSize,
    queueMetric,
    queue,
    sqsQueueUrl: o.sqsQueueUrl,
    rabbitmqQueue: o.rabbitmqQueue,
    deployment: o.deployment ?? true,
  };
}

/** Every manifest of one path, in apply order. */
export function generateManifests(options: ManifestOptions): Manifest[] {
  const r = resolveOptions(options);
  const out: Manifest[] = [];
  if (r.deployment) out.push(deployment(r), service(r));
  switch (r.path) {
    case 'metrics-api':
      out.push(scaledObject(r, r.indicators.flatMap((i) => metricsApiTriggers(r, i))));
      break;
    case 'prometheus':
      out.push(scaledObject(r, r.indicators.flatMap((i) => prometheusTriggers(r, i))));
      break;
    case 'cloudwatch':
      out.push(awsAuthentication(r), scaledObject(r, r.indicators.flatMap((i) => cloudWatchTriggers(r, i))));
      break;
    case 'queues': {
      if (r.sqsQueueUrl !== undefined) out.push(awsAuthentication(r));
      if (r.rabbitmqQueue !== undefined) out.push(rabbitmqAuthentication(r));
      out.push(scaledObject(r, queueTriggers(r)));
      break;
    }
    case 'hpa':
      out.push(hpa(r));
      break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Deployment and Service

/** The SDK's sinks for a path, as `SCALESIGNAL_SINKS` names them. */
function sinksFor(r: Resolved): string {
  if (r.path !== 'cloudwatch') return 'prometheus';
  return r.cloudwatchSource === 'emf' ? 'prometheus,emf' : 'prometheus,cloudwatch';
}

function deployment(r: Resolved): Manifest {
  const labels = { [APP_LABEL]: r.service };
  const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });
  const env: Array<Record<string, unknown>> = [
    { name: 'OTEL_SERVICE_NAME', value: r.service },
    { name: 'SCALESIGNAL_SINKS', value: sinksFor(r) },
    { name: 'OTEL_EXPORTER_PROMETHEUS_PORT', value: String(r.metricsPort) },
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('NODE_NAME', 'spec.nodeName'),
  ];
  const notes: Note[] = [];
  const envIndex = (name: string) => env.findIndex((e) => e.name === name);
  if (r.path === 'cloudwatch' && r.cloudwatchSource === 'emf') {
    env.push(fieldEnv('HOST_IP', 'status.hostIP'));
    env.push({ name: 'AWS_EMF_AGENT_ENDPOINT', value: 'tcp://$(HOST_IP):25888' });
    env.push({ name: 'AWS_EMF_NAMESPACE', value: r.cloudwatchNamespace });
  }
  const p99OnPods = r.path === 'metrics-api' && r.indicators.includes('p99');
  if (p99OnPods) env.push({ name: 'SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES', value: 'zero' });
  if (r.path === 'cloudwatch' && r.cloudwatchSource === 'putmetricdata') {
    env.push({ name: 'SCALESIGNAL_CLOUDWATCH_NAMESPACE', value: r.cloudwatchNamespace });
    env.push({ name: 'SCALESIGNAL_FLEET_SIZE', value: String(r.fleetSize) });
  }
  const container: Record<string, unknown> = {
    name: r.service,
    image: r.image,
    ports: [
      { name: 'http', containerPort: r.httpPort },
      { name: 'metrics', containerPort: r.metricsPort },
    ],
    env,
    resources: { requests: { cpu: '500m', memory: '256Mi' } },
  };
  const podSpec: Record<string, unknown> = { containers: [container] };
  if (r.path === 'cloudwatch' && r.cloudwatchSource === 'putmetricdata') podSpec.serviceAccountName = r.service;
  const object = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: r.service, namespace: r.namespace, labels },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: {
          labels,
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(r.metricsPort), 'prometheus.io/path': '/metrics' },
        },
        spec: podSpec,
      },
    },
  };
  const c = ['spec', 'template', 'spec', 'containers', 0];
  notes.push(
    { path: ['spec', 'selector'], text: 'no `replicas`: the autoscaler owns the count, and `kubectl apply` would reset it' },
    { path: ['spec', 'template', 'metadata', 'annotations'], text: 'for the common annotation-based scrape job; a PodMonitor on port `metrics` does the same' },
    { path: [...c, 'env', envIndex('OTEL_SERVICE_NAME')], text: 'the service name every sink reports (Prometheus job aside, CloudWatch ServiceName)' },
    { path: [...c, 'env', envIndex('SCALESIGNAL_SINKS')], text: 'sinks created from the environment when createMetrics() gets no `sinks`' },
    { path: [...c, 'env', envIndex('OTEL_EXPORTER_PROMETHEUS_PORT')], text: "prometheusSink()'s port for /metrics" },
    { path: [...c, 'env', envIndex('POD_NAME')], text: 'downward API: k8s.pod.name / namespace / node on every window, and the PutMetricData pacing phase' },
    { path: [...c, 'resources', 'requests', 'cpu'], text: 'scheduling needs it, and a CPU HPA measures utilisation against it' },
  );
  if (p99OnPods) {
    notes.push({
      path: [...c, 'env', envIndex('SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES')],
      text: 'an idle pod reports P99 0 instead of no sample: KEDA fails a read without one, and an idle fleet could not scale in',
    });
  }
  if (envIndex('AWS_EMF_AGENT_ENDPOINT') >= 0) {
    notes.push({ path: [...c, 'env', envIndex('AWS_EMF_AGENT_ENDPOINT')], text: "the CloudWatch agent DaemonSet's EMF listener on this node" });
  }
  if (envIndex('SCALESIGNAL_FLEET_SIZE') >= 0) {
    notes.push(
      { path: [...c, 'env', envIndex('SCALESIGNAL_FLEET_SIZE')], text: 'maxReplicas, summed over every deployment sending from this account and Region' },
      { path: ['spec', 'template', 'spec', 'serviceAccountName'], text: 'bound to an IAM role allowed cloudwatch:PutMetricData (IRSA or EKS Pod Identity)' },
    );
  }
  return { object, header: [`${r.service}: the SDK configured from the environment (createMetrics() without sinks).`], notes };
}

function service(r: Resolved): Manifest {
  const object = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: r.service, namespace: r.namespace, labels: { [APP_LABEL]: r.service } },
    spec: {
      selector: { [APP_LABEL]: r.service },
      ports: [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'metrics', port: r.metricsPort, targetPort: 'metrics' },
      ],
    },
  };
  return {
    object,
    header: [],
    notes: [{ path: ['spec', 'ports', 1], text: "KEDA's metrics-api scaler finds every ready pod through this port's EndpointSlices" }],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// KEDA

interface Trigger {
  readonly trigger: Record<string, unknown>;
  /** Comment on the trigger. */
  readonly why: string;
}

function scaledObject(r: Resolved, triggers: readonly Trigger[]): Manifest {
  const behavior = behaviorObject(TUNED_BEHAVIOR);
  const object = {
    apiVersion: 'keda.sh/v1alpha1',
    kind: 'ScaledObject',
    metadata: { name: r.service, namespace: r.namespace },
    spec: {
      scaleTargetRef: { name: r.service },
      pollingInterval: 5,
      minReplicaCount: r.minReplicas,
      maxReplicaCount: r.maxReplicas,
      advanced: { horizontalPodAutoscalerConfig: { behavior } },
      triggers: triggers.map((t) => t.trigger),
    },
  };
  const b = ['spec', 'advanced', 'horizontalPodAutoscalerConfig', 'behavior'];
  const notes: Note[] = [
    { path: ['spec', 'pollingInterval'], text: 'only 0 <-> 1 activation; from 1 to N the HPA asks KEDA once per sync period (15 s, 10 s on EKS if set)' },
    { path: ['spec', 'minReplicaCount'], text: 'never 0: a pod must run to report its own signals' },
    ...BEHAVIOR_REASONS.map((n) => ({ path: [...b, ...n.path], text: n.text })),
    ...triggers.map((t, i) => ({ path: ['spec', 'triggers', i], text: t.why })),
  ];
  return {
    object,
    header: [
      `One ScaledObject per workload: the ${r.path} path. Other paths' files replace it (same name).`,
      'The HPA KEDA creates scales to the largest replica count any trigger asks for.',
    ],
    notes,
  };
}

function behaviorObject(b: Behavior): Record<string, unknown> {
  const rules = (x: Behavior['scaleUp']) => ({
    stabilizationWindowSeconds: x.stabilizationWindowSeconds,
    selectPolicy: x.selectPolicy,
    policies: x.policies.map((p) => ({ type: p.type, value: p.value, periodSeconds: p.periodSeconds })),
  });
  return { scaleUp: rules(b.scaleUp), scaleDown: rules(b.scaleDown) };
}

const num = (n: number): string => String(n);
const slug = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
const routeName = (route: RouteRef): string => `p99-${slug(route.method)}-${slug(route.route) || 'root'}`;

function metricsApiUrl(r: Resolved): string {
  // KEDA takes the Service name and namespace from the host's first two labels and the pod port from the URL.
  return `http://${r.service}.${r.namespace}.svc.cluster.local:${r.metricsPort}/metrics`;
}

function metricsApiTriggers(r: Resolved, indicator: Indicator): Trigger[] {
  const names = prometheusNames(instrumentOf(indicator, r.queueMetric));
  const base = (name: string, valueLocation: string, aggregationType: string, metricType: string, target: number, why: string): Trigger => ({
    trigger: {
      type: 'metrics-api',
      name,
      metricType,
      metadata: {
        url: metricsApiUrl(r),
        format: 'prometheus',
        valueLocation,
        aggregateFromKubeServiceEndpoints: 'true',
        aggregationType,
        targetValue: num(target),
      },
    },
    why,
  });
  const t = r.targets;
  switch (indicator) {
    case 'inflight':
      return [base('inflight', selector(names.max), 'sum', 'AverageValue', t.inflight, `in-flight requests, each pod's busiest moment of the last second, summed; ${t.inflight} per pod`)];
    case 'sse':
      return [base('sse', selector(names.max), 'sum', 'AverageValue', t.sse, `open SSE connections summed over the pods; ${t.sse} per pod`)];
    case 'queue':
      return [
        base('queue', selector(names.max, queueLabels(r.queue)), 'max', 'AverageValue', t.queue, `backlog of "${r.queue}" as the pods see it (max: every pod reads the same queue); ${t.queue} per pod`),
      ];
    case 'p99':
      return r.routes.map((route) =>
        base(routeName(route), selector(names.p99, routeLabels(route)), 'max', 'Value', t.p99Ms, `P99 of ${route.method} ${route.route} over the last 10 s, the slowest pod's; ${t.p99Ms} ms. A pod without requests in 10 s reads 0 (SCALESIGNAL_PROMETHEUS_IDLE_QUANTILES=zero)`),
      );
  }
}

function prometheusTriggers(r: Resolved, indicator: Indicator): Trigger[] {
  const names = prometheusNames(instrumentOf(indicator, r.queueMetric));
  const m = r.podMatchers;
  const base = (name: string, query: string, metricType: string, threshold: number, why: string): Trigger => ({
    trigger: { type: 'prometheus', name, metricType, metadata: { serverAddress: r.prometheusUrl, query, threshold: num(threshold) } },
    why,
  });
  const t = r.targets;
  switch (indicator) {
    case 'inflight':
      return [base('inflight', sumOfMax(names, m), 'AverageValue', t.inflight, `fleet in-flight requests (each pod's busiest moment of its last window); ${t.inflight} per pod`)];
    case 'sse':
      return [base('sse', sumOfMax(names, m), 'AverageValue', t.sse, `fleet SSE connections; ${t.sse} per pod`)];
    case 'queue':
      return [base('queue', maxOfMax(names, m, queueLabels(r.queue)), 'AverageValue', t.queue, `backlog of "${r.queue}" (max over pods: they all read the same queue); ${t.queue} per pod`)];
    case 'p99':
      if (r.routes.length === 0) {
        return [base('p99', fleetP99(names, m), 'Value', t.p99Ms, `fleet P99 over every route from the le buckets; ${t.p99Ms} ms scales replicas by P99 / target`)];
      }
      return r.routes.map((route) => base(routeName(route), fleetP99(names, m, route), 'Value', t.p99Ms, `fleet P99 of ${route.method} ${route.route} from the le buckets; ${t.p99Ms} ms`));
  }
}

/** Seconds to leave out at the end of the CloudWatch query: datapoints still on their way from some pods. */
function cloudWatchEndOffset(r: Resolved): number {
  if (r.cloudwatchSource === 'emf') return 2;
  // Each pod sends once per pacing period (the sink's own Pacer decides it): a second is complete one period later.
  const pacer = new Pacer({ quotaTps: 500, headroom: 0.8, fleetSize: r.fleetSize, identity: `${r.service}-0-0` });
  return pacer.basePeriod + 1;
}

function cloudWatchTriggers(r: Resolved, indicator: Indicator): Trigger[] {
  const spec = instrumentOf(indicator, r.queueMetric);
  const emf = r.cloudwatchSource === 'emf';
  const metricOf = (labels: Record<string, string>): CloudWatchMetric =>
    emf ? emfMetric(spec, r.service, r.cloudwatchNamespace, labels) : putMetricDataMetric(spec, r.service, r.cloudwatchNamespace, labels);
  const offset = cloudWatchEndOffset(r);
  const base = (name: string, metric: CloudWatchMetric, stat: string, metricType: string, target: number, why: string): Trigger => ({
    trigger: {
      type: 'aws-cloudwatch',
      name,
      metricType,
      authenticationRef: { name: `${r.service}-aws` },
      metadata: {
        awsRegion: r.region,
        namespace: metric.namespace,
        metricName: metric.metricName,
        dimensionName: metric.dimensions.map((d) => d.name).join(DIMENSION_SEPARATOR),
        dimensionValue: metric.dimensions.map((d) => d.value).join(DIMENSION_SEPARATOR),
        metricStat: stat,
        metricStatPeriod: '1',
        metricCollectionTime: '10',
        metricEndTimeOffset: num(offset),
        targetMetricValue: num(target),
        minMetricValue: '0',
      },
    },
    why,
  });
  const t = r.targets;
  const late = `newest ${offset} s left out: still arriving`;
  switch (indicator) {
    case 'inflight':
      return [base('inflight', metricOf({}), 'Sum', 'AverageValue', t.inflight, `fleet in-flight requests: one value per pod per second, summed; ${late}`)];
    case 'sse':
      return [base('sse', metricOf({}), 'Sum', 'AverageValue', t.sse, `fleet SSE connections; ${late}`)];
    case 'queue':
      return [base('queue', metricOf(queueLabels(r.queue)), 'Maximum', 'AverageValue', t.queue, `backlog of "${r.queue}" (Maximum: every pod reads the same queue); ${late}`)];
    case 'p99':
      return r.routes.map((route) =>
        emf
          ? base(routeName(route), metricOf(routeLabels(route)), 'Maximum', 'Value', t.p99Ms, `the slowest pod's P99 of ${route.method} ${route.route}; ${late}`)
          : base(routeName(route), metricOf(routeLabels(route)), 'p99', 'Value', t.p99Ms, `fleet P99 of ${route.method} ${route.route}, computed by CloudWatch from every pod's Values/Counts; ${late}`),
      );
  }
}

function queueTriggers(r: Resolved): Trigger[] {
  const out: Trigger[] = [];
  const t = r.targets;
  if (r.sqsQueueUrl !== undefined) {
    out.push({
      trigger: {
        type: 'aws-sqs-queue',
        name: 'sqs',
        authenticationRef: { name: `${r.service}-aws` },
        metadata: { queueURL: r.sqsQueueUrl, queueLength: num(t.queue), awsRegion: r.region, scaleOnInFlight: 'true' },
      },
      why: `KEDA reads SQS itself (visible + in flight, as sqsQueueDepth counts); ${t.queue} messages per pod`,
    });
  }
  if (r.rabbitmqQueue !== undefined) {
    out.push({
      trigger: {
        type: 'rabbitmq',
        name: 'rabbitmq',
        authenticationRef: { name: `${r.service}-rabbitmq` },
        metadata: { protocol: 'amqp', queueName: r.rabbitmqQueue, mode: 'QueueLength', value: num(t.queue) },
      },
      why: `KEDA reads RabbitMQ itself (ready messages, as rabbitmqQueueDepth counts); ${t.queue} per pod`,
    });
  }
  out.push(...metricsApiTriggers(r, 'queue').map((x) => ({ ...x, why: `${x.why}; no queue credentials in KEDA` })));
  return out;
}

function awsAuthentication(r: Resolved): Manifest {
  return {
    object: {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: `${r.service}-aws`, namespace: r.namespace },
      spec: { podIdentity: { provider: 'aws' } },
    },
    header: [],
    notes: [
      {
        path: ['spec', 'podIdentity', 'provider'],
        text: r.path === 'cloudwatch' ? "KEDA operator's role (IRSA / EKS Pod Identity): cloudwatch:GetMetricData" : "KEDA operator's role (IRSA / EKS Pod Identity): sqs:GetQueueAttributes",
      },
    ],
  };
}

function rabbitmqAuthentication(r: Resolved): Manifest {
  return {
    object: {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: `${r.service}-rabbitmq`, namespace: r.namespace },
      spec: { secretTargetRef: [{ parameter: 'host', name: `${r.service}-rabbitmq`, key: 'host' }] },
    },
    header: [],
    notes: [{ path: ['spec', 'secretTargetRef', 0], text: `a Secret "${r.service}-rabbitmq" whose key "host" is amqp://user:password@host:5672/vhost` }],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// HPA + Prometheus Adapter

/** The Pods metric the `hpa` path asks for, per indicator: the gauge's window maximum, per pod. */
function hpaMetricName(r: Resolved, indicator: Indicator): string {
  return prometheusNames(instrumentOf(indicator, r.queueMetric)).max;
}

/** Prometheus Adapter rules serving the `hpa` path's Pods metrics from the pods' own series. */
export function prometheusAdapterRules(options: ManifestOptions): AdapterRule[] {
  const r = resolveOptions({ ...options, path: 'hpa' });
  return r.indicators.map((i) => {
    const name = hpaMetricName(r, i);
    return {
      seriesQuery: `${name}{namespace!="",pod!=""}`,
      resources: { overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } } },
      name: { matches: `^${name}$`, as: name },
      metricsQuery: 'max(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)',
    };
  });
}

function hpa(r: Resolved): Manifest {
  const t = r.targets;
  const metrics = r.indicators.map((i) => ({
    type: 'Pods',
    pods: { metric: { name: hpaMetricName(r, i) }, target: { type: 'AverageValue', averageValue: num(t[TARGET_FIELD[i]]) } },
  }));
  const object = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: r.service, namespace: r.namespace },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: r.service },
      minReplicas: r.minReplicas,
      maxReplicas: r.maxReplicas,
      metrics,
      behavior: behaviorObject(TUNED_BEHAVIOR),
    },
  };
  const rules = prometheusAdapterRules({ service: r.service, path: 'hpa', namespace: r.namespace, indicators: r.indicators });
  const header = [
    'A plain HPA on per-pod metrics from the custom metrics API (custom.metrics.k8s.io), which the Prometheus',
    'Adapter serves from Prometheus (it is being deprecated in favour of KEDA: prefer the metrics-api path).',
    'Prometheus Adapter rules for these metrics:',
    ...renderRules(rules),
  ];
  return {
    object,
    header,
    notes: [
      ...r.indicators.map((i, k) => ({ path: ['spec', 'metrics', k], text: `${i}: average per pod ${num(t[TARGET_FIELD[i]])}` })),
      ...BEHAVIOR_REASONS.map((n) => ({ path: ['spec', 'behavior', ...n.path], text: n.text })),
    ],
  };
}

function renderRules(rules: readonly AdapterRule[]): string[] {
  const lines = ['rules:'];
  for (const rule of rules) {
    lines.push(`  - seriesQuery: '${rule.seriesQuery}'`);
    lines.push('    resources: { overrides: { namespace: { resource: namespace }, pod: { resource: pod } } }');
    lines.push(`    name: { matches: '${rule.name.matches}', as: '${rule.name.as}' }`);
    lines.push(`    metricsQuery: '${rule.metricsQuery}'`);
  }
  return lines;
}
