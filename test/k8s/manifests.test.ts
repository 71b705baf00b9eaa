/**
 * Every manifest the CLI can print, and every file in examples/k8s, validates against the official schemas
 * (Kubernetes' OpenAPI for Deployment, Service and autoscaling/v2 HPA; KEDA's ScaledObject and
 * TriggerAuthentication CRDs) and against what the API server and KEDA check beyond them (./validate.ts). The
 * validator is shown to reject the mistakes it exists for, so a pass means something.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXAMPLES } from '../../examples/k8s/commands.js';
import { generateManifests, renderManifests, type ManifestOptions } from '../../src/cli/index.js';
import { main } from '../../src/cli/main.js';
import { parseDocuments, validateManifests } from './validate.js';

const examplesDir = new URL('../../examples/k8s/', import.meta.url);
const ROUTES = [{ method: 'POST', route: '/pay' }, { method: 'GET', route: '/orders/:orderId' }];

const VARIANTS: ReadonlyArray<[string, ManifestOptions]> = [
  ['metrics-api, every indicator, two routes', { service: 'checkout', path: 'metrics-api', indicators: ['inflight', 'p99', 'sse', 'queue'], routes: ROUTES }],
  ['metrics-api, defaults', { service: 'checkout', path: 'metrics-api' }],
  ['prometheus, every indicator, fleet P99', { service: 'checkout', path: 'prometheus', indicators: ['inflight', 'p99', 'sse', 'queue'] }],
  ['prometheus, per-route P99, own namespace and ports', { service: 'api', namespace: 'shop', path: 'prometheus', indicators: ['p99'], routes: ROUTES, httpPort: 3000, metricsPort: 9100 }],
  ['cloudwatch EMF', { service: 'checkout', path: 'cloudwatch', region: 'eu-west-1', indicators: ['inflight', 'p99', 'sse', 'queue'], routes: ROUTES }],
  ['cloudwatch PutMetricData, 1,000 pods', { service: 'checkout', path: 'cloudwatch', cloudwatchSource: 'putmetricdata', fleetSize: 1000, region: 'us-east-1', indicators: ['inflight', 'p99'], routes: ROUTES }],
  ['queues: SQS + RabbitMQ + own gauge', { service: 'worker', path: 'queues', region: 'eu-west-1', sqsQueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', rabbitmqQueue: 'jobs' }],
  ['queues: own gauge only, no Deployment', { service: 'worker', path: 'queues', deployment: false }],
  ['hpa: SSE and in-flight', { service: 'feed', path: 'hpa', indicators: ['sse', 'inflight'], minReplicas: 1, maxReplicas: 10 }],
];

describe('generated manifests validate', () => {
  for (const [name, options] of VARIANTS) {
    it(name, () => {
      const docs = parseDocuments(renderManifests(generateManifests(options)));
      expect(docs.length).toBeGreaterThan(0);
      expect(validateManifests(docs)).toEqual([]);
    });
  }

  it('every example file validates and is exactly what the CLI prints today', () => {
    for (const { file, args } of EXAMPLES) {
      const onDisk = readFileSync(new URL(file, examplesDir), 'utf8');
      let printed = '';
      expect(main(args, { out: (t) => (printed += t), err: (t) => (printed += `ERR ${t}`) })).toBe(0);
      expect(onDisk, `${file} is stale: npm run k8s:examples`).toBe(printed);
      expect(validateManifests(parseDocuments(onDisk)), file).toEqual([]);
    }
  });
});

describe('the validator rejects what the cluster or KEDA would', () => {
  const base = () => parseDocuments(renderManifests(generateManifests({ service: 'checkout', path: 'cloudwatch', region: 'eu-west-1', indicators: ['inflight'] })));
  const find = (docs: Record<string, unknown>[], kind: string) => docs.find((d) => d.kind === kind) as Record<string, any>;
  const cases: ReadonlyArray<[string, (docs: Record<string, any>[]) => void, RegExp]> = [
    ['an unknown field in a ScaledObject spec', (d) => (find(d, 'ScaledObject').spec.pollingIntervall = 5), /additional/],
    ['a number where trigger metadata takes strings', (d) => (find(d, 'ScaledObject').spec.triggers[0].metadata.targetMetricValue = 50), /string/],
    ['minReplicaCount above maxReplicaCount (the CRD CEL rule)', (d) => (find(d, 'ScaledObject').spec.minReplicaCount = 80), /less than or equal/],
    ['a misspelt KEDA parameter', (d) => (find(d, 'ScaledObject').spec.triggers[0].metadata.metricStatPeriodd = '1'), /unknown metadata key/],
    ['a missing required KEDA parameter', (d) => delete find(d, 'ScaledObject').spec.triggers[0].metadata.minMetricValue, /minMetricValue/],
    ['a CloudWatch period KEDA refuses', (d) => (find(d, 'ScaledObject').spec.triggers[0].metadata.metricStatPeriod = '2'), /metricStatPeriod/],
    ['an unknown field in a container', (d) => (find(d, 'Deployment').spec.template.spec.containers[0].envv = []), /additional/],
    ['a selector that does not match the pod labels', (d) => (find(d, 'Deployment').spec.selector.matchLabels['app.kubernetes.io/name'] = 'other'), /does not match/],
    ['$(HOST_IP) used before it is defined', (d) => find(d, 'Deployment').spec.template.spec.containers[0].env.reverse(), /before it is defined/],
    ['an upper-case object name', (d) => (find(d, 'ScaledObject').metadata.name = 'Checkout'), /DNS-1123/],
    ['a missing TriggerAuthentication', (d) => d.splice(d.indexOf(find(d, 'TriggerAuthentication')), 1), /not among the documents/],
    ['a Service port aimed at no container port', (d) => (find(d, 'Service').spec.ports[1].targetPort = 'metricz'), /no container port/],
    ['a policy period beyond 1800 s', (d) => (find(d, 'ScaledObject').spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].periodSeconds = 3600), /periodSeconds/],
    ['metricType Utilization on an external trigger', (d) => (find(d, 'ScaledObject').spec.triggers[0].metricType = 'Utilization'), /metricType/],
  ];
  for (const [name, mutate, message] of cases) {
    it(name, () => {
      const docs = base();
      expect(validateManifests(docs)).toEqual([]);
      mutate(docs as Record<string, any>[]);
      const problems = validateManifests(docs);
      expect(problems.join('\n')).toMatch(message);
    });
  }

  it('an HPA with an unknown metric source type', () => {
    const docs = parseDocuments(renderManifests(generateManifests({ service: 'feed', path: 'hpa' }))) as Record<string, any>[];
    docs.find((d) => d.kind === 'HorizontalPodAutoscaler')!.spec.metrics[0].pods.target.averageValu = '5';
    expect(validateManifests(docs).join('\n')).toMatch(/additional/);
  });
});
