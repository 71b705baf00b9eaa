/**
 * What KEDA accepts in a trigger's `metadata`, for the trigger types the generator writes. The ScaledObject CRD
 * only says `metadata` is a map of strings; KEDA checks the rest when it builds the scaler, so a typo there passes
 * `kubectl apply` and fails at run time. The table is read off the `keda:"..."` struct tags and `Validate()`
 * methods in kedacore/keda at 8b4f083ca8c8c2baf8477e322bd4d16ac4dfa09a:
 *   pkg/scalers/metrics_api_scaler.go, prometheus_scaler.go, aws_cloudwatch_scaler.go, aws_sqs_queue_scaler.go,
 *   rabbitmq_scaler.go, authentication/authentication_types.go; `GetMetricTargetType` in scaler.go.
 * Stricter than KEDA in one way: a key KEDA does not know is an error here (KEDA ignores it silently, which is
 * how a misspelt option goes unnoticed).
 */

type Kind = 'string' | 'float' | 'int' | 'bool' | 'duration';

interface Param {
  readonly kind: Kind;
  /** Must be in the trigger's metadata (not satisfiable from a TriggerAuthentication). */
  readonly required?: boolean;
  /** Required, but may come from the TriggerAuthentication (`authParams`) instead. */
  readonly requiredOrAuth?: boolean;
  readonly enum?: readonly string[];
}

const AUTH_MODES: Record<string, Param> = {
  authModes: { kind: 'string' },
  authMode: { kind: 'string' },
  apiKey: { kind: 'string' },
  method: { kind: 'string', enum: ['header', 'query'] },
  keyParamName: { kind: 'string' },
};

export const TRIGGER_PARAMS: Readonly<Record<string, Readonly<Record<string, Param>>>> = {
  'metrics-api': {
    targetValue: { kind: 'float', required: true }, // required unless the trigger only feeds scalingModifiers
    activationTargetValue: { kind: 'float' },
    url: { kind: 'string', required: true },
    format: { kind: 'string', enum: ['prometheus', 'json', 'xml', 'yaml'] },
    valueLocation: { kind: 'string', required: true },
    unsafeSsl: { kind: 'bool' },
    aggregateFromKubeServiceEndpoints: { kind: 'bool' },
    aggregationType: { kind: 'string', enum: ['average', 'sum', 'max', 'min'] },
    timeout: { kind: 'duration' },
    ...AUTH_MODES,
  },
  prometheus: {
    serverAddress: { kind: 'string', required: true },
    query: { kind: 'string', required: true },
    queryParameters: { kind: 'string' },
    threshold: { kind: 'float', required: true },
    activationThreshold: { kind: 'float' },
    namespace: { kind: 'string' },
    customHeaders: { kind: 'string' },
    ignoreNullValues: { kind: 'bool' },
    unsafeSsl: { kind: 'bool' },
    awsRegion: { kind: 'string' },
    timeout: { kind: 'duration' },
    identityOwner: { kind: 'string' },
    ...AUTH_MODES,
  },
  'aws-cloudwatch': {
    namespace: { kind: 'string' },
    metricName: { kind: 'string' },
    dimensionName: { kind: 'string' },
    dimensionValue: { kind: 'string' },
    expression: { kind: 'string' },
    targetMetricValue: { kind: 'float', required: true },
    activationTargetMetricValue: { kind: 'float' },
    minMetricValue: { kind: 'float', required: true },
    ignoreNullValues: { kind: 'bool' },
    metricCollectionTime: { kind: 'int' },
    metricStat: { kind: 'string' },
    metricUnit: { kind: 'string' },
    metricStatPeriod: { kind: 'int' },
    metricEndTimeOffset: { kind: 'int' },
    awsAccountId: { kind: 'string' },
    awsRegion: { kind: 'string', requiredOrAuth: true },
    awsEndpoint: { kind: 'string' },
    identityOwner: { kind: 'string' },
  },
  'aws-sqs-queue': {
    queueLength: { kind: 'int' },
    activationQueueLength: { kind: 'int' },
    queueURL: { kind: 'string', required: true },
    awsRegion: { kind: 'string', requiredOrAuth: true },
    awsEndpoint: { kind: 'string' },
    scaleOnInFlight: { kind: 'bool' },
    scaleOnDelayed: { kind: 'bool' },
    identityOwner: { kind: 'string' },
  },
  rabbitmq: {
    queueName: { kind: 'string', required: true },
    mode: { kind: 'string', enum: ['QueueLength', 'MessageRate', 'DeliverGetRate', 'PublishedToDeliveredRatio', 'ExpectedQueueConsumptionTime', 'Unknown'] },
    queueLength: { kind: 'float' },
    value: { kind: 'float' },
    activationValue: { kind: 'float' },
    host: { kind: 'string', requiredOrAuth: true },
    protocol: { kind: 'string', enum: ['auto', 'amqp', 'http'] },
    vhostName: { kind: 'string' },
    useRegex: { kind: 'bool' },
    excludeUnacknowledged: { kind: 'bool' },
    pageSize: { kind: 'int' },
    operation: { kind: 'string', enum: ['sum', 'max', 'avg'] },
    timeout: { kind: 'duration' },
    unsafeSsl: { kind: 'bool' },
  },
};

/** The parameters a TriggerAuthentication may supply for a trigger (`authParams`), for `requiredOrAuth`. */
export interface AuthSupply {
  readonly podIdentity?: string;
  readonly parameters: readonly string[];
}

/** Problems with one trigger, as KEDA would report them when it builds the scaler. */
export function triggerProblems(trigger: Record<string, unknown>, auth: AuthSupply | undefined): string[] {
  const problems: string[] = [];
  const type = String(trigger.type);
  const spec = TRIGGER_PARAMS[type];
  if (spec === undefined) return [`trigger type "${type}" is not one the generator writes (${Object.keys(TRIGGER_PARAMS).join(', ')})`];
  const metricType = trigger.metricType;
  if (metricType !== undefined && metricType !== 'AverageValue' && metricType !== 'Value') {
    problems.push(`metricType ${String(metricType)}: KEDA scalers take AverageValue or Value (Utilization only for cpu/memory)`);
  }
  const meta = (trigger.metadata ?? {}) as Record<string, unknown>;
  for (const [key, raw] of Object.entries(meta)) {
    const param = spec[key];
    if (param === undefined) {
      problems.push(`${type}: unknown metadata key "${key}"`);
      continue;
    }
    if (typeof raw !== 'string') {
      problems.push(`${type}.${key}: metadata values are strings`);
      continue;
    }
    const bad = kindProblem(param.kind, raw);
    if (bad !== undefined) problems.push(`${type}.${key}: ${bad}, got ${JSON.stringify(raw)}`);
    if (param.enum !== undefined && !param.enum.includes(raw)) problems.push(`${type}.${key} must be one of ${param.enum.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  for (const [key, param] of Object.entries(spec)) {
    if (param.required && meta[key] === undefined) problems.push(`${type}: missing required parameter "${key}"`);
    if (param.requiredOrAuth && meta[key] === undefined && !(auth?.parameters.includes(key) ?? false)) {
      problems.push(`${type}: "${key}" is neither in metadata nor supplied by the TriggerAuthentication`);
    }
  }
  problems.push(...typeRules(type, meta, auth));
  return problems;
}

function kindProblem(kind: Kind, raw: string): string | undefined {
  switch (kind) {
    case 'float':
      return Number.isFinite(Number(raw)) && raw.trim() !== '' ? undefined : 'not a number';
    case 'int':
      return /^-?\d+$/.test(raw) ? undefined : 'not an integer';
    case 'bool':
      // strconv.ParseBool
      return ['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw) ? undefined : 'not a boolean';
    case 'duration':
      return /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(raw) || /^\d+$/.test(raw) ? undefined : 'not a duration';
    default:
      return undefined;
  }
}

/** The `Validate()` rules of each scaler. */
function typeRules(type: string, meta: Record<string, unknown>, auth: AuthSupply | undefined): string[] {
  const out: string[] = [];
  const s = (k: string) => (typeof meta[k] === 'string' ? (meta[k] as string) : undefined);
  switch (type) {
    case 'aws-cloudwatch': {
      if (s('expression') === undefined) {
        for (const k of ['namespace', 'metricName', 'dimensionName', 'dimensionValue']) if (s(k) === undefined) out.push(`aws-cloudwatch: ${k} not given`);
        const names = (s('dimensionName') ?? '').split(';');
        const values = (s('dimensionValue') ?? '').split(';');
        if (names.length !== values.length) out.push('aws-cloudwatch: dimensionName and dimensionValue are not matching in size');
      }
      const period = Number(s('metricStatPeriod') ?? '300');
      if (period < 1 || (period <= 60 && ![1, 5, 10, 30, 60].includes(period)) || (period > 60 && period % 60 !== 0)) {
        out.push(`aws-cloudwatch: metricStatPeriod ${period} must be 1, 5, 10, 30 or a multiple of 60`);
      }
      const collection = Number(s('metricCollectionTime') ?? '300');
      if (collection < 0 || collection % period !== 0) out.push(`aws-cloudwatch: metricCollectionTime ${collection} must be a multiple of metricStatPeriod ${period}`);
      if (auth?.podIdentity === undefined && !(auth?.parameters.includes('awsAccessKeyID') ?? false) && !(auth?.parameters.includes('awsRoleArn') ?? false)) {
        out.push('aws-cloudwatch: no AWS credentials: a TriggerAuthentication with podIdentity or keys is needed');
      }
      break;
    }
    case 'aws-sqs-queue':
      if (auth?.podIdentity === undefined && !(auth?.parameters.includes('awsAccessKeyID') ?? false) && !(auth?.parameters.includes('awsRoleArn') ?? false)) {
        out.push('aws-sqs-queue: no AWS credentials: a TriggerAuthentication with podIdentity or keys is needed');
      }
      break;
    case 'rabbitmq': {
      const mode = s('mode') ?? 'Unknown';
      const queueLength = Number(s('queueLength') ?? '0');
      const value = Number(s('value') ?? '0');
      if (queueLength !== 0 && (mode !== 'Unknown' || value !== 0)) out.push('rabbitmq: queueLength is deprecated; use mode and value');
      if (queueLength === 0 && !(mode === 'Unknown' && value === 0)) {
        if (mode === 'Unknown') out.push('rabbitmq: mode must be specified');
        if (value === 0) out.push('rabbitmq: value must be specified');
      }
      const protocol = s('protocol') ?? 'auto';
      if (mode !== 'QueueLength' && mode !== 'Unknown' && protocol !== 'http') out.push(`rabbitmq: mode ${mode} needs protocol http`);
      if (protocol === 'amqp' && s('timeout') !== undefined) out.push("rabbitmq: AMQP protocol doesn't support custom timeouts");
      break;
    }
    case 'metrics-api':
      if (s('aggregateFromKubeServiceEndpoints') === 'true') {
        const host = (() => {
          try {
            return new URL(s('url') ?? '').hostname;
          } catch {
            return '';
          }
        })();
        if (host.split('.').length < 2) out.push('metrics-api: with aggregateFromKubeServiceEndpoints the url host must be <service>.<namespace>...');
      }
      break;
  }
  return out;
}
