/**
 * `scalesignal manifests ...`: prints the Kubernetes manifests that scale a service on the indicators the SDK
 * emits. Every bad flag is named with what it allows; exit status 2 for usage errors, as POSIX tools do.
 */
import { parseArgs } from 'node:util';
import { ManifestError } from './errors.js';
import { CLOUDWATCH_SOURCES, generateManifests, PATH_INDICATORS, SCALING_PATHS, type ManifestOptions, type ScalingPath } from './manifests.js';
import type { RouteRef } from './names.js';
import { renderManifests } from './render.js';
import { DEFAULT_TARGETS, parseTarget, TARGET_FIELD, type Indicator, type Targets } from './targets.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const FLAGS = {
  service: { type: 'string' },
  path: { type: 'string' },
  namespace: { type: 'string' },
  target: { type: 'string', multiple: true },
  route: { type: 'string', multiple: true },
  image: { type: 'string' },
  'http-port': { type: 'string' },
  'metrics-port': { type: 'string' },
  min: { type: 'string' },
  max: { type: 'string' },
  'prometheus-url': { type: 'string' },
  'pod-matchers': { type: 'string' },
  region: { type: 'string' },
  'cloudwatch-source': { type: 'string' },
  'cloudwatch-namespace': { type: 'string' },
  'fleet-size': { type: 'string' },
  'queue-metric': { type: 'string' },
  queue: { type: 'string' },
  'sqs-queue-url': { type: 'string' },
  'rabbitmq-queue': { type: 'string' },
  'no-deployment': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const USAGE = `Usage: scalesignal manifests --service <name> [--path <path>] [--target <indicator>=<value> ...] [options]

Prints Kubernetes manifests (Deployment + Service + autoscaler) that scale <name> on the leading indicators
scalesignal emits, with the metric names the SDK really exposes.

  --service <name>             Deployment / Service name, also OTEL_SERVICE_NAME (required)
  --path <path>                ${SCALING_PATHS.join(' | ')} (default metrics-api)
                                 metrics-api  KEDA reads each pod's /metrics directly: no Prometheus server
                                 prometheus   KEDA runs PromQL on a Prometheus scraping the pods
                                 cloudwatch   KEDA reads the 1-second CloudWatch metric (EMF or PutMetricData)
                                 queues       KEDA reads SQS / RabbitMQ, beside the app's own queue-depth gauge
                                 hpa          autoscaling/v2 HPA on per-pod metrics via the Prometheus Adapter
  --target <indicator>=<value> repeatable; what to scale on and the per-pod target:
                                 inflight=${DEFAULT_TARGETS.inflight}  p99=${DEFAULT_TARGETS.p99Ms}ms  sse=${DEFAULT_TARGETS.sse}  queue=${DEFAULT_TARGETS.queue}   (values shown are the defaults)
                               default: inflight (+ p99 where it resolves); queue for queues; sse for hpa
  --route "<METHOD> <template>" repeatable; the route(s) to scale P99 on, e.g. --route "POST /pay"
                               (required for p99 on metrics-api and cloudwatch)
  --namespace <ns>             Kubernetes namespace (default default)
  --image <image>              container image (default registry.example.com/<name>:1.0.0)
  --http-port <n>              application port (default 8080)
  --metrics-port <n>           /metrics port, OTEL_EXPORTER_PROMETHEUS_PORT (default 9464)
  --min <n> / --max <n>        replica bounds (default 2 / 50)
  --prometheus-url <url>       prometheus path (default http://prometheus.monitoring.svc:9090)
  --pod-matchers <matchers>    PromQL matchers picking the pods (default namespace="<ns>",pod=~"<name>-<hash>-<id>")
  --region <region>            AWS Region (required for cloudwatch and SQS)
  --cloudwatch-source <src>    ${CLOUDWATCH_SOURCES.join(' | ')} (default emf)
  --cloudwatch-namespace <ns>  CloudWatch namespace (default <name>)
  --fleet-size <n>             pods sharing the PutMetricData quota (default --max)
  --queue-metric <name>        the app's queue-depth gauge (default queue.depth)
  --queue <name>               its queue label (default the SQS URL's last segment, else the RabbitMQ queue, else jobs)
  --sqs-queue-url <url>        queues path: add KEDA's aws-sqs-queue trigger
  --rabbitmq-queue <name>      queues path: add KEDA's rabbitmq trigger
  --no-deployment              print only the autoscaler
  -h, --help                   this text

Example:
  npx scalesignal manifests --service checkout --path metrics-api --target inflight=50 --target p99=250ms --route "POST /pay"
`;

/** Runs the CLI; returns the exit status. */
export function main(argv: readonly string[], io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) }): number {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'manifests') {
    io.err(`scalesignal: unknown command "${command}"; allowed: manifests (try --help)\n`);
    return 2;
  }
  try {
    const options = parseManifestArgs(rest);
    if (options === 'help') {
      io.out(USAGE);
      return 0;
    }
    const preamble = [`Generated by: scalesignal manifests ${rest.map(shellQuote).join(' ')}`];
    io.out(renderManifests(generateManifests(options), preamble));
    return 0;
  } catch (error) {
    if (error instanceof ManifestError) {
      io.err(`scalesignal manifests: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}

/** Flags -> generator options; throws ManifestError naming the flag at fault. */
export function parseManifestArgs(args: readonly string[]): ManifestOptions | 'help' {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...args], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (error) {
    throw argsError(error);
  }
  if (values.help === true) return 'help';
  const str = (flag: string): string | undefined => values[flag] as string | undefined;
  const int = (flag: string): number | undefined => {
    const raw = str(flag);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(n)) throw new ManifestError(`--${flag}`, `must be an integer, got ${JSON.stringify(raw)}`);
    return n;
  };

  const service = str('service');
  if (service === undefined) throw new ManifestError('--service', 'is required: the Deployment name, e.g. --service checkout');
  const path = (str('path') ?? 'metrics-api') as ScalingPath;
  if (!SCALING_PATHS.includes(path)) throw new ManifestError('--path', `must be one of ${SCALING_PATHS.join(', ')}, got ${JSON.stringify(path)}`);

  const targets: Partial<Record<keyof Targets, number>> = {};
  const indicators: Indicator[] = [];
  for (const text of (values.target as string[] | undefined) ?? []) {
    let parsed: ReturnType<typeof parseTarget>;
    try {
      parsed = parseTarget(text);
    } catch (error) {
      throw new ManifestError('--target', (error as Error).message.replace(/^--target /, ''));
    }
    if (indicators.includes(parsed.indicator)) throw new ManifestError('--target', `gives ${parsed.indicator} twice`);
    if (!PATH_INDICATORS[path].includes(parsed.indicator)) {
      throw new ManifestError('--target', `${parsed.indicator} cannot drive --path ${path}; allowed there: ${PATH_INDICATORS[path].join(', ')}`);
    }
    indicators.push(parsed.indicator);
    targets[TARGET_FIELD[parsed.indicator]] = parsed.value;
  }
  const routes: RouteRef[] = ((values.route as string[] | undefined) ?? []).map((text) => {
    const match = /^\s*([A-Za-z_]+)\s+(\S+)\s*$/.exec(text);
    if (match === null) throw new ManifestError('--route', `must be "<METHOD> <route template>", e.g. "POST /pay", got ${JSON.stringify(text)}`);
    return { method: match[1].toUpperCase(), route: match[2] };
  });

  return {
    service,
    path,
    namespace: str('namespace'),
    targets,
    indicators: indicators.length > 0 ? indicators : undefined,
    routes,
    image: str('image'),
    httpPort: int('http-port'),
    metricsPort: int('metrics-port'),
    minReplicas: int('min'),
    maxReplicas: int('max'),
    prometheusUrl: str('prometheus-url'),
    podMatchers: str('pod-matchers'),
    region: str('region'),
    cloudwatchSource: str('cloudwatch-source') as ManifestOptions['cloudwatchSource'],
    cloudwatchNamespace: str('cloudwatch-namespace'),
    fleetSize: int('fleet-size'),
    queueMetric: str('queue-metric'),
    queue: str('queue'),
    sqsQueueUrl: str('sqs-queue-url'),
    rabbitmqQueue: str('rabbitmq-queue'),
    deployment: values['no-deployment'] === true ? false : undefined,
  };
}

/** node:util's parse errors, rephrased to name the flag and what is allowed. */
function argsError(error: unknown): ManifestError {
  const code = (error as { code?: string }).code;
  const message = (error as Error).message;
  const allowed = Object.keys(FLAGS).map((f) => `--${f}`).join(', ');
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const flag = /'([^']+)'/.exec(message)?.[1] ?? 'flag';
    return new ManifestError(flag, `is not a flag of scalesignal manifests; allowed: ${allowed}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--[a-z-]+/.exec(message)?.[0] ?? 'flag';
    return new ManifestError(flag, FLAGS[flag.slice(2) as keyof typeof FLAGS]?.type === 'boolean' ? 'takes no value' : 'needs a value');
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const positional = /'([^']*)'/.exec(message)?.[1] ?? '';
    return new ManifestError(JSON.stringify(positional), `is not a flag; every option is --name value (allowed: ${allowed})`);
  }
  return new ManifestError('flag', message);
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
