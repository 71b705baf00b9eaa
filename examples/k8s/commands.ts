/**
 * The CLI invocations behind every file in examples/k8s: `npm run k8s:examples` rewrites them, and
 * test/k8s/cli.test.ts fails when a file differs from what the CLI prints today, so the examples never drift
 * from the names the SDK emits.
 */
export const EXAMPLES: ReadonlyArray<{ readonly file: string; readonly args: readonly string[] }> = [
  {
    file: 'metrics-api.yaml',
    args: ['manifests', '--service', 'checkout', '--path', 'metrics-api', '--target', 'inflight=50', '--target', 'p99=250ms', '--route', 'POST /pay', '--target', 'sse=500', '--target', 'queue=100'],
  },
  {
    file: 'prometheus.yaml',
    args: ['manifests', '--service', 'checkout', '--path', 'prometheus', '--target', 'inflight=50', '--target', 'p99=250ms', '--target', 'sse=500'],
  },
  {
    file: 'cloudwatch-emf.yaml',
    args: ['manifests', '--service', 'checkout', '--path', 'cloudwatch', '--region', 'eu-west-1', '--target', 'inflight=50', '--target', 'p99=250ms', '--route', 'POST /pay'],
  },
  {
    file: 'cloudwatch-putmetricdata.yaml',
    args: ['manifests', '--service', 'checkout', '--path', 'cloudwatch', '--cloudwatch-source', 'putmetricdata', '--fleet-size', '1000', '--region', 'eu-west-1', '--target', 'inflight=50', '--target', 'p99=250ms', '--route', 'POST /pay'],
  },
  {
    file: 'queues.yaml',
    args: ['manifests', '--service', 'worker', '--path', 'queues', '--region', 'eu-west-1', '--sqs-queue-url', 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs', '--rabbitmq-queue', 'jobs', '--target', 'queue=100'],
  },
  {
    file: 'hpa-sse.yaml',
    args: ['manifests', '--service', 'feed', '--path', 'hpa', '--target', 'sse=500'],
  },
];
