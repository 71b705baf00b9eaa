/**
 * A loopback CloudWatch PutMetricData endpoint for tests and the fleet bench.
 *
 * CloudWatch cannot run here, so this server speaks the real wire protocol and enforces the documented limits.
 * Protocol, as `@aws-sdk/client-cloudwatch` >= 3.949 sends it (checked against node_modules: AwsJson1_0Protocol
 * with `awsQueryCompatible: true`, compression plugin with gzip):
 *   POST /   Content-Type: application/x-amz-json-1.0   X-Amz-Target: GraniteServiceVersion20100801.PutMetricData
 *   x-amzn-query-mode: true, SigV4 `Authorization`, `Content-Encoding: gzip` when the body is >= 10240 bytes.
 *   Body: {"Namespace": "...", "MetricData": [{"MetricName", "Dimensions": [{"Name","Value"}], "Timestamp": <epoch
 *   seconds>, "Value" | "StatisticValues" | "Values"+"Counts", "Unit", "StorageResolution"}]}; NaN and Infinity are
 *   written as the strings "NaN", "Infinity", "-Infinity".
 *   Success: 200 `{}`. Errors: `{"__type": "<namespace>#<Shape>", "message": "..."}` plus the header
 *   `x-amzn-query-error: <awsQueryCode>;Sender|Receiver`, from which the SDK takes the error code
 *   (`Throttling`, `InvalidParameterValue`, ...), exactly what the client parses.
 * Limits (PutMetricData API reference and quotas page): <= 1000 datums, <= 1 MB body (checked on the uncompressed
 * JSON, the strict reading), <= 30 dimensions (name 1..255, value 1..1024 printable ASCII), <= 150 Values, Counts
 * as long as Values, Value / StatisticValues / Values mutually exclusive, no NaN / +-Infinity, |v| <= 2^360,
 * timestamps within 2 weeks past / 2 hours future, StorageResolution 1 or 60, namespace not `AWS/...`.
 * Request-rate quota: at most `quotaTps` requests in each 1-second window (by arrival), the rest get HTTP 400
 * `Throttling` "Rate exceeded", as CloudWatch does.
 * Signing time (SigV4): a request whose `X-Amz-Date` is more than 5 minutes off the server's clock (`clockOffsetMs`)
 * is refused with 400 `SignatureDoesNotMatch` "Signature expired", from which the SDK corrects its clock.
 * Faults: `inject` refuses a request before anything of it is stored (CloudWatch's throttling and 5xx answers);
 * `afterStore` answers a stored request with an error, or resets its connection without an answer (`status` 0), so
 * the client cannot tell that it was stored.
 *
 * Every well-formed body is also checked against CLOUDWATCH_MODEL below: the PutMetricData shapes of the CloudWatch
 * API model as botocore ships it (`botocore/data/cloudwatch/2010-08-01/service-2.json`, Debian's python3-botocore
 * 1.29.27), copied shape for shape; test/sinks/cloudwatch-rules.test.ts checks the copy against the installed file.
 * The model's documentation adds what its constraints do not say (1000 datums, 150 values, Counts as long as
 * Values, no NaN, +-2^360, printable ASCII in dimensions): the hand-written checks in `validate` enforce those.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export interface ReceivedDatum {
  readonly MetricName: string;
  readonly Dimensions: ReadonlyArray<{ readonly Name: string; readonly Value: string }>;
  /** Epoch ms. */
  readonly Timestamp: number;
  readonly Value?: number;
  readonly StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
  readonly Values?: number[];
  readonly Counts?: number[];
  readonly Unit?: string;
  readonly StorageResolution?: number;
}

export interface ReceivedRequest {
  /** Arrival, epoch ms. */
  readonly at: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly gzip: boolean;
  /** Bytes on the wire and after decompression. */
  readonly wireBytes: number;
  readonly bodyBytes: number;
  /** 0: the connection was reset after the datums were stored (`afterStore`), no answer. */
  readonly status: number;
  /** awsQuery error code when rejected. */
  readonly error?: string;
  readonly namespace?: string;
  readonly datums: readonly ReceivedDatum[];
  /** The decompressed body as it arrived (only with `keepBodies`). */
  readonly body?: string;
}

export interface InjectedError {
  readonly status: number;
  readonly code: string;
  readonly message?: string;
}

export interface CloudWatchServerOptions {
  /** Requests accepted per 1-second window; the rest are throttled. Default: unlimited. */
  readonly quotaTps?: number;
  /** Called for each well-formed request before it is accepted; return an error to answer with it instead. */
  readonly inject?: (request: { namespace: string; datums: readonly ReceivedDatum[] }) => InjectedError | undefined;
  /**
   * Called for each request once its datums are stored: `'reset'` destroys the connection without an answer, an
   * error answers with it (stored all the same); undefined answers 200.
   */
  readonly afterStore?: (request: { namespace: string; datums: readonly ReceivedDatum[] }) => InjectedError | 'reset' | undefined;
  /** Delay before answering, ms (the datums are stored on arrival, as a slow CloudWatch would). */
  readonly latencyMs?: number;
  /** Port to listen on (a restart on the same port); default: one the OS picks. */
  readonly port?: number;
  /** Keep each request's decompressed body text in `requests[i].body` (off: the fleet bench sends thousands). */
  readonly keepBodies?: boolean;
  /**
   * The server's clock ahead of this machine's, ms (default 0). Its `Date` header tells it, and a request signed more
   * than 5 minutes away from it is refused as SigV4 refuses it: 400 `SignatureDoesNotMatch`, "Signature expired".
   */
  readonly clockOffsetMs?: number;
}

export interface CloudWatchServer {
  readonly url: string;
  /** Every request, accepted or not, in arrival order. */
  readonly requests: ReceivedRequest[];
  /** Datums stored (accepted requests, and those `afterStore` answered otherwise), with their request's arrival time. */
  readonly accepted: Array<ReceivedDatum & { readonly receivedAt: number }>;
  /** Requests arriving in the busiest 1-second window (accepted + throttled). */
  maxTpsObserved(): number;
  /** Accepted requests in the busiest 1-second window. */
  maxTpsAccepted(): number;
  setQuota(quotaTps: number): void;
  setInject(inject: CloudWatchServerOptions['inject']): void;
  close(): Promise<void>;
}

export const MAX_BODY_BYTES = 1_048_576;
const MAX_DATUMS = 1000;
const MAX_DIMENSIONS = 30;
const MAX_VALUES = 150;
const LIMIT = Math.pow(2, 360);
const TINY = Math.pow(2, -360);
const TWO_WEEKS_MS = 14 * 24 * 3600_000;
const TWO_HOURS_MS = 2 * 3600_000;
const TARGET = 'GraniteServiceVersion20100801.PutMetricData';
/** The StandardUnit enum. */
const UNITS = new Set(
  'Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None'.split(
    ' ',
  ),
);

/** Error shapes of the CloudWatch model (schemas_0.js): JSON shape name and its awsQuery code. */
const ERRORS: Record<string, { shape: string; fault: 'Sender' | 'Receiver' }> = {
  InvalidParameterValue: { shape: 'com.amazonaws.cloudwatch#InvalidParameterValueException', fault: 'Sender' },
  InvalidParameterCombination: { shape: 'com.amazonaws.cloudwatch#InvalidParameterCombinationException', fault: 'Sender' },
  MissingParameter: { shape: 'com.amazonaws.cloudwatch#MissingRequiredParameterException', fault: 'Sender' },
  InternalServiceError: { shape: 'com.amazonaws.cloudwatch#InternalServiceFault', fault: 'Receiver' },
  Throttling: { shape: 'com.amazon.coral.availability#ThrottlingException', fault: 'Sender' },
  RequestEntityTooLarge: { shape: 'com.amazon.coral.service#RequestEntityTooLargeException', fault: 'Sender' },
  MissingAuthenticationToken: { shape: 'com.amazon.coral.service#MissingAuthenticationTokenException', fault: 'Sender' },
  UnknownOperation: { shape: 'com.amazon.coral.service#UnknownOperationException', fault: 'Sender' },
  SerializationException: { shape: 'com.amazon.coral.service#SerializationException', fault: 'Sender' },
  ServiceUnavailable: { shape: 'com.amazon.coral.availability#ServiceUnavailableException', fault: 'Receiver' },
};

/** PutMetricData's input shapes from the botocore CloudWatch model (see the header). */
export const CLOUDWATCH_MODEL = {
  PutMetricDataInput: {
    type: 'structure',
    required: ['Namespace', 'MetricData'],
    members: { Namespace: { shape: 'Namespace' }, MetricData: { shape: 'MetricData' } },
  },
  Namespace: { type: 'string', max: 255, min: 1, pattern: '[^:].*' },
  MetricData: { type: 'list', member: { shape: 'MetricDatum' } },
  MetricDatum: {
    type: 'structure',
    required: ['MetricName'],
    members: {
      MetricName: { shape: 'MetricName' },
      Dimensions: { shape: 'Dimensions' },
      Timestamp: { shape: 'Timestamp' },
      Value: { shape: 'DatapointValue' },
      StatisticValues: { shape: 'StatisticSet' },
      Values: { shape: 'Values' },
      Counts: { shape: 'Counts' },
      Unit: { shape: 'StandardUnit' },
      StorageResolution: { shape: 'StorageResolution' },
    },
  },
  MetricName: { type: 'string', max: 255, min: 1 },
  Dimensions: { type: 'list', member: { shape: 'Dimension' }, max: 30 },
  Dimension: {
    type: 'structure',
    required: ['Name', 'Value'],
    members: { Name: { shape: 'DimensionName' }, Value: { shape: 'DimensionValue' } },
  },
  DimensionName: { type: 'string', max: 255, min: 1 },
  DimensionValue: { type: 'string', max: 1024, min: 1 },
  Timestamp: { type: 'timestamp' },
  DatapointValue: { type: 'double' },
  Values: { type: 'list', member: { shape: 'DatapointValue' } },
  Counts: { type: 'list', member: { shape: 'DatapointValue' } },
  StatisticSet: {
    type: 'structure',
    required: ['SampleCount', 'Sum', 'Minimum', 'Maximum'],
    members: {
      SampleCount: { shape: 'DatapointValue' },
      Sum: { shape: 'DatapointValue' },
      Minimum: { shape: 'DatapointValue' },
      Maximum: { shape: 'DatapointValue' },
    },
  },
  StandardUnit: { type: 'string', enum: [...UNITS] },
  StorageResolution: { type: 'integer', min: 1 },
} as const;

interface ModelShape {
  readonly type: string;
  readonly required?: readonly string[];
  readonly members?: Readonly<Record<string, { readonly shape: string }>>;
  readonly member?: { readonly shape: string };
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: string;
  readonly enum?: readonly string[];
}

/** Every way `value` breaks the model's constraints for `shape`, as `path: problem`. */
export function modelProblems(value: unknown, shape: string, path = shape): string[] {
  const s = (CLOUDWATCH_MODEL as unknown as Record<string, ModelShape>)[shape];
  const out: string[] = [];
  switch (s.type) {
    case 'structure': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not a structure`];
      const o = value as Record<string, unknown>;
      for (const r of s.required ?? []) if (o[r] === undefined) out.push(`${path}.${r}: required`);
      for (const [k, v] of Object.entries(o)) {
        const member = s.members?.[k];
        if (member === undefined) out.push(`${path}.${k}: not a member of ${shape}`);
        else if (v !== undefined) out.push(...modelProblems(v, member.shape, `${path}.${k}`));
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(value)) return [`${path}: not a list`];
      if (s.max !== undefined && value.length > s.max) out.push(`${path}: ${value.length} members, max ${s.max}`);
      value.forEach((v, i) => out.push(...modelProblems(v, (s.member as { shape: string }).shape, `${path}[${i}]`)));
      return out;
    }
    case 'string': {
      if (typeof value !== 'string') return [`${path}: not a string`];
      if (s.min !== undefined && value.length < s.min) out.push(`${path}: shorter than ${s.min}`);
      if (s.max !== undefined && value.length > s.max) out.push(`${path}: longer than ${s.max}`);
      if (s.pattern !== undefined && !new RegExp(`^(?:${s.pattern})$`, 's').test(value)) out.push(`${path}: does not match ${s.pattern}`);
      if (s.enum !== undefined && !s.enum.includes(value)) out.push(`${path}: ${value} not in the enum`);
      return out;
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${path}: not an integer`];
      if (s.min !== undefined && value < s.min) out.push(`${path}: below ${s.min}`);
      return out;
    case 'double':
      // AWS JSON writes NaN and infinities as strings; CloudWatch rejects them (checked in validate()).
      return typeof value === 'number' || value === 'NaN' || value === 'Infinity' || value === '-Infinity' ? [] : [`${path}: not a double`];
    case 'timestamp':
      return typeof value === 'number' ? [] : [`${path}: not epoch seconds`];
    default:
      return [`${path}: unknown shape type ${s.type}`];
  }
}

/** How far SigV4 lets a request's signing time be from the server's clock. */
const SIGNATURE_SKEW_MS = 5 * 60_000;

/** `X-Amz-Date` (`20261129T010203Z`) as epoch ms. */
function amzDate(header: string | string[] | undefined): number | undefined {
  const m = typeof header === 'string' ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(header) : null;
  return m === null ? undefined : Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

export class Rejection extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startCloudWatchServer(options: CloudWatchServerOptions = {}): Promise<CloudWatchServer> {
  let quota = options.quotaTps ?? Infinity;
  let inject = options.inject;
  const requests: ReceivedRequest[] = [];
  const accepted: Array<ReceivedDatum & { receivedAt: number }> = [];
  const arrivals = new Map<number, number>();
  const admitted = new Map<number, number>();
  const acceptedPerSecond = new Map<number, number>();
  let requestId = 0;
  const clockOffsetMs = options.clockOffsetMs ?? 0;

  const server = http.createServer((req, res) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      const gzip = (req.headers['content-encoding'] ?? '').includes('gzip');
      let bodyBytes = wire.length;
      let bodyText: string | undefined;
      let namespace: string | undefined;
      let datums: ReceivedDatum[] = [];
      const second = Math.floor(at / 1000);
      const answer = (status: number, error?: string, message?: string): void => {
        requests.push({ at, headers: req.headers, gzip, wireBytes: wire.length, bodyBytes, status, error, namespace, datums, ...(options.keepBodies ? { body: bodyText } : {}) });
        if (status === 0) {
          // Stored, then the connection lost: the client sees a reset and cannot know the outcome.
          req.socket.destroy();
          return;
        }
        const respond = (): void => {
          const headers: http.OutgoingHttpHeaders = {
            'content-type': 'application/x-amz-json-1.0',
            'x-amzn-requestid': `req-${++requestId}`,
            date: new Date(Date.now() + clockOffsetMs).toUTCString(),
          };
          if (error === undefined) {
            res.writeHead(200, headers);
            res.end('{}');
            return;
          }
          const shape = ERRORS[error] ?? { shape: `com.amazonaws.cloudwatch#${error}`, fault: status >= 500 ? 'Receiver' : 'Sender' };
          headers['x-amzn-query-error'] = `${error};${shape.fault}`;
          res.writeHead(status, headers);
          res.end(JSON.stringify({ __type: shape.shape, message }));
        };
        if (options.latencyMs !== undefined && options.latencyMs > 0) setTimeout(respond, options.latencyMs);
        else respond();
      };
      try {
        arrivals.set(second, (arrivals.get(second) ?? 0) + 1);
        if (req.method !== 'POST' || req.url !== '/') throw new Rejection(404, 'UnknownOperation', `${req.method} ${req.url}`);
        if (req.headers['x-amz-target'] !== TARGET) throw new Rejection(400, 'UnknownOperation', `unexpected X-Amz-Target ${String(req.headers['x-amz-target'])}`);
        if (req.headers['content-type'] !== 'application/x-amz-json-1.0') {
          throw new Rejection(400, 'SerializationException', `unexpected Content-Type ${String(req.headers['content-type'])}`);
        }
        if (typeof req.headers.authorization !== 'string' || !req.headers.authorization.startsWith('AWS4-HMAC-SHA256 ')) {
          throw new Rejection(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token');
        }
        const signedAt = amzDate(req.headers['x-amz-date']);
        const serverNow = at + clockOffsetMs;
        if (signedAt !== undefined && Math.abs(signedAt - serverNow) > SIGNATURE_SKEW_MS) {
          const [signed, now] = [signedAt, serverNow].map((t) => new Date(t).toISOString().replace(/[-:]|\.\d{3}/g, ''));
          throw new Rejection(400, 'SignatureDoesNotMatch', `Signature expired: ${signed} is now earlier than ${now} (${now} - 5 min.)`);
        }
        // The rate limit sits in front of everything else, as a service front door does.
        if ((admitted.get(second) ?? 0) >= quota) throw new Rejection(400, 'Throttling', 'Rate exceeded');
        admitted.set(second, (admitted.get(second) ?? 0) + 1);
        let body: Buffer;
        try {
          body = gzip ? zlib.gunzipSync(wire, { maxOutputLength: MAX_BODY_BYTES + 1 }) : wire;
        } catch {
          throw new Rejection(413, 'RequestEntityTooLarge', 'Request body is not valid gzip or exceeds 1 MB');
        }
        bodyBytes = body.length;
        if (body.length > MAX_BODY_BYTES) throw new Rejection(413, 'RequestEntityTooLarge', `Request size ${body.length} exceeded 1048576 bytes`);
        let input: { Namespace?: unknown; MetricData?: unknown };
        bodyText = body.toString('utf8');
        try {
          input = JSON.parse(bodyText) as typeof input;
        } catch {
          throw new Rejection(400, 'SerializationException', 'Body is not JSON');
        }
        const problems = modelProblems(input, 'PutMetricDataInput');
        if (problems.length > 0) throw invalid(`The request does not satisfy the CloudWatch model: ${problems.slice(0, 5).join('; ')}`);
        const parsed = validate(input, serverNow);
        namespace = parsed.namespace;
        datums = parsed.datums;
        const injected = inject?.({ namespace: parsed.namespace, datums });
        if (injected !== undefined) throw new Rejection(injected.status, injected.code, injected.message ?? injected.code);
        acceptedPerSecond.set(second, (acceptedPerSecond.get(second) ?? 0) + 1);
        for (const d of datums) accepted.push({ ...d, receivedAt: at });
        const after = options.afterStore?.({ namespace: parsed.namespace, datums });
        if (after === 'reset') answer(0, 'ConnectionReset');
        else if (after !== undefined) answer(after.status, after.code, after.message ?? after.code);
        else answer(200);
      } catch (error) {
        if (error instanceof Rejection) answer(error.status, error.code, error.message);
        else answer(500, 'InternalServiceError', String(error));
      }
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const busiest = (m: Map<number, number>): number => Math.max(0, ...m.values());
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    accepted,
    maxTpsObserved: () => busiest(arrivals),
    maxTpsAccepted: () => busiest(acceptedPerSecond),
    setQuota: (q) => {
      quota = q;
    },
    setInject: (fn) => {
      inject = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function invalid(message: string): Rejection {
  return new Rejection(400, 'InvalidParameterValue', message);
}

/** A JSON number CloudWatch accepts; the SDK writes non-finite doubles as strings, which are rejected here. */
function number(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`The value ${JSON.stringify(value)} for parameter ${where} is invalid.`);
  if (Math.abs(value) > LIMIT || (value !== 0 && Math.abs(value) < TINY)) {
    throw invalid(`The value ${value} for parameter ${where} is out of the range 2^-360 to 2^360.`);
  }
  return value;
}

function text(value: unknown, where: string, max: number, asciiOnly: boolean): string {
  if (typeof value !== 'string' || value.length === 0) throw new Rejection(400, 'MissingParameter', `The parameter ${where} is required.`);
  if (value.length > max) throw invalid(`The parameter ${where} must be shorter than ${max + 1} characters.`);
  if (asciiOnly && (!/^[\x20-\x7e]+$/.test(value) || value.trim() === '')) {
    throw invalid(`The parameter ${where} must contain only printable ASCII characters and at least one non-whitespace character.`);
  }
  return value;
}

/**
 * What CloudWatch would answer to a PutMetricData input (as JSON), without a server: for tests in fake time. Returns
 * the datums as the server would store them, or throws `{ status, code, message }`.
 */
export function validatePutMetricData(input: unknown, now: number): { namespace: string; datums: ReceivedDatum[] } {
  // As the SDK writes it: timestamps in epoch seconds (the replacer sees a Date after toJSON, so read the holder).
  const json = JSON.parse(
    JSON.stringify(input, function (this: Record<string, unknown>, key: string, value: unknown) {
      const raw = this[key];
      return raw instanceof Date ? raw.getTime() / 1000 : value;
    }),
  ) as { Namespace?: unknown; MetricData?: unknown };
  const problems = modelProblems(json, 'PutMetricDataInput');
  if (problems.length > 0) throw invalid(`The request does not satisfy the CloudWatch model: ${problems.slice(0, 5).join('; ')}`);
  return validate(json, now);
}

function validate(input: { Namespace?: unknown; MetricData?: unknown }, now: number): { namespace: string; datums: ReceivedDatum[] } {
  const namespace = text(input.Namespace, 'Namespace', 255, false);
  if (namespace.startsWith('AWS/')) throw invalid('The value AWS/ for parameter Namespace is invalid.');
  if (!Array.isArray(input.MetricData) || input.MetricData.length === 0) throw new Rejection(400, 'MissingParameter', 'The parameter MetricData is required.');
  if (input.MetricData.length > MAX_DATUMS) {
    throw invalid(`The collection MetricData must not have a size greater than ${MAX_DATUMS}.`);
  }
  const datums = input.MetricData.map((raw: unknown, i): ReceivedDatum => {
    const where = `MetricData.member.${i + 1}`;
    if (typeof raw !== 'object' || raw === null) throw invalid(`${where} is not a structure`);
    const d = raw as Record<string, unknown>;
    const MetricName = text(d.MetricName, `${where}.MetricName`, 255, false);
    const dims = d.Dimensions ?? [];
    if (!Array.isArray(dims)) throw invalid(`${where}.Dimensions is not a list`);
    if (dims.length > MAX_DIMENSIONS) throw invalid(`The collection ${where}.Dimensions must not have a size greater than ${MAX_DIMENSIONS}.`);
    const names = new Set<string>();
    const Dimensions = dims.map((dim: unknown, j) => {
      const dw = `${where}.Dimensions.member.${j + 1}`;
      const o = (dim ?? {}) as Record<string, unknown>;
      const Name = text(o.Name, `${dw}.Name`, 255, true);
      if (Name.startsWith(':')) throw invalid(`The parameter ${dw}.Name must not start with a colon.`);
      if (names.has(Name)) throw new Rejection(400, 'InvalidParameterCombination', `The dimension ${Name} is specified more than once in ${where}.`);
      names.add(Name);
      return { Name, Value: text(o.Value, `${dw}.Value`, 1024, true) };
    });
    if (typeof d.Timestamp !== 'number' || !Number.isFinite(d.Timestamp)) throw invalid(`${where}.Timestamp must be epoch seconds`);
    const Timestamp = Math.round(d.Timestamp * 1000);
    if (Timestamp < now - TWO_WEEKS_MS || Timestamp > now + TWO_HOURS_MS) {
      throw invalid(`The parameter ${where}.Timestamp must specify a time no more than two weeks in the past or two hours in the future.`);
    }
    const given = ['Value', 'StatisticValues', 'Values'].filter((k) => d[k] !== undefined);
    if (given.length > 1) {
      throw new Rejection(400, 'InvalidParameterCombination', `The parameters ${where}.${given[0]} and ${where}.${given[1]} are mutually exclusive and you have specified both.`);
    }
    if (given.length === 0) throw new Rejection(400, 'MissingParameter', `One of ${where}.Value, StatisticValues or Values is required.`);
    if (d.Counts !== undefined && d.Values === undefined) throw new Rejection(400, 'InvalidParameterCombination', `${where}.Counts requires Values.`);
    const out: {
      MetricName: string;
      Dimensions: Array<{ Name: string; Value: string }>;
      Timestamp: number;
      Value?: number;
      StatisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
      Values?: number[];
      Counts?: number[];
      Unit?: string;
      StorageResolution?: number;
    } = { MetricName, Dimensions, Timestamp };
    if (d.Value !== undefined) out.Value = number(d.Value, `${where}.Value`);
    if (d.StatisticValues !== undefined) {
      const s = d.StatisticValues as Record<string, unknown>;
      const set = {
        SampleCount: number(s.SampleCount, `${where}.StatisticValues.SampleCount`),
        Sum: number(s.Sum, `${where}.StatisticValues.Sum`),
        Minimum: number(s.Minimum, `${where}.StatisticValues.Minimum`),
        Maximum: number(s.Maximum, `${where}.StatisticValues.Maximum`),
      };
      if (!(set.SampleCount > 0)) throw invalid(`The parameter ${where}.StatisticValues.SampleCount must be greater than 0.`);
      if (set.Minimum > set.Maximum) throw invalid(`The parameter ${where}.StatisticValues.Minimum must not exceed Maximum.`);
      out.StatisticValues = set;
    }
    if (d.Values !== undefined) {
      if (!Array.isArray(d.Values) || d.Values.length === 0) throw invalid(`${where}.Values must be a non-empty list`);
      if (d.Values.length > MAX_VALUES) throw invalid(`The collection ${where}.Values must not have a size greater than ${MAX_VALUES}.`);
      out.Values = d.Values.map((v: unknown, k) => number(v, `${where}.Values.member.${k + 1}`));
      if (d.Counts !== undefined) {
        if (!Array.isArray(d.Counts) || d.Counts.length !== d.Values.length) {
          throw invalid(`The parameters ${where}.Values and ${where}.Counts must be of the same size.`);
        }
        out.Counts = d.Counts.map((c: unknown, k) => {
          const n = number(c, `${where}.Counts.member.${k + 1}`);
          if (n < 0) throw invalid(`The parameter ${where}.Counts.member.${k + 1} must not be negative.`);
          return n;
        });
      }
    }
    if (d.Unit !== undefined) {
      if (typeof d.Unit !== 'string' || !UNITS.has(d.Unit)) throw invalid(`The value ${String(d.Unit)} for parameter ${where}.Unit is invalid.`);
      out.Unit = d.Unit;
    }
    if (d.StorageResolution !== undefined) {
      if (d.StorageResolution !== 1 && d.StorageResolution !== 60) throw invalid(`The value ${String(d.StorageResolution)} for parameter ${where}.StorageResolution is invalid.`);
      out.StorageResolution = d.StorageResolution;
    }
    return out;
  });
  return { namespace, datums };
}

/** Options that point a real cloudWatchSink (the AWS SDK client) at this loopback server as one pod of one. */
export function loopbackSinkOptions(url: string) {
  return {
    endpoint: url,
    region: 'us-east-1',
    clientConfig: { credentials: { accessKeyId: 'x', secretAccessKey: 'y' } },
    fleetSize: 1,
    identity: 'api-0',
  };
}
