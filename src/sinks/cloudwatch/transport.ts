/**
 * PutMetricData over `@aws-sdk/client-cloudwatch` (an optional peer dependency, loaded with `import()` only when
 * a CloudWatch sink is created), and the classification of what comes back.
 *
 * Clients this sink creates use `maxAttempts: 1`: the pacer owns retries, because the SDK's own retries would
 * spend requests of the fleet's quota behind the pacer's back. Credentials come from the SDK's default chain
 * (environment, IRSA web identity, EKS Pod Identity, instance role); gzip of bodies >= 10240 bytes is the SDK's
 * default for PutMetricData and is left on. The SDK's serializer writes each body in slices (sdk-body.ts), so a
 * 1 MB request never holds the host's event loop for the ~10 ms it takes in one piece.
 *
 * Those slices take turns of the event loop, so a busy host can make the request timeout pass before the request
 * was written. The SDK path reports the moment it hands the request to the HTTP handler (`SendOptions.trackWrite`):
 * a timeout before it is retried (nothing reached CloudWatch), a timeout after it is an unknown outcome.
 *
 * A given client may retry (`maxAttempts` > 1): the write gate hands the written attempt's failure back so that the
 * SDK does not retry it, and the request is classified by that failure at once, exactly as with `maxAttempts: 1`.
 * Whenever the sliced body cannot be used, `onSdkBodyFallback` says why, once, and the SDK's own body is sent from
 * then on.
 */
import { SinkError } from '../../core/sink.js';
import { nextTurn } from '../../core/turns.js';
import { gateCommand, SdkBodyMismatch, slicedBodyFor, WrittenAttemptFailed, type SdkBodyModule, type SlicedBody, type WriteGate, type YieldTurn } from './sdk-body.js';
import type { CloudWatchTransport, PutMetricDataInput } from './types.js';

/** What this sink needs from a CloudWatchClient: `send`. */
export interface CloudWatchClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

interface SdkModule extends SdkBodyModule {
  CloudWatchClient: new (config: Record<string, unknown>) => CloudWatchClientLike;
}

export interface TransportOptions {
  readonly transport?: CloudWatchTransport;
  readonly client?: CloudWatchClientLike;
  readonly region?: string;
  readonly endpoint?: string;
  readonly clientConfig?: Readonly<Record<string, unknown>>;
  /** Turns of the event loop between slices: the sink clock's yield (a microtask in fake-time tests). */
  readonly yieldTurn?: YieldTurn;
  /** The sliced body cannot be used (the message says why): called once, the SDK serializes every body from then on. */
  readonly onSdkBodyFallback?: (message: string) => void;
}

/** What the publisher passes with each request, beyond the public `signal`. */
export interface SendOptions {
  readonly signal: AbortSignal;
  /**
   * Declares that the request has not been written yet and returns the call to make right before it may be. Until
   * that call a timeout is retried (nothing can have reached CloudWatch); after it, a timeout is an unknown outcome.
   * A transport that never declares it: every timeout is an unknown outcome.
   */
  readonly trackWrite?: () => () => void;
}

export const MISSING_SDK_MESSAGE =
  'the CloudWatch sink needs the AWS SDK: run `npm install @aws-sdk/client-cloudwatch` (datapoints are dropped until it is installed)';

export class MissingSdkError extends Error {
  constructor(cause: unknown) {
    super(MISSING_SDK_MESSAGE, { cause });
    this.name = 'MissingSdkError';
  }
}

async function loadSdk(): Promise<SdkModule> {
  try {
    const sdk = (await import('@aws-sdk/client-cloudwatch')) as unknown as SdkModule & { default?: SdkModule };
    // CJS interop can put the exports under `default`.
    return typeof sdk.CloudWatchClient === 'function' ? sdk : (sdk.default as SdkModule);
  } catch (error) {
    throw new MissingSdkError(error);
  }
}

/** Resolves the transport: a custom one as is, else an SDK client (given or created) behind PutMetricDataCommand. */
export async function createTransport(options: TransportOptions): Promise<CloudWatchTransport> {
  if (options.transport !== undefined) return options.transport;
  const sdk = await loadSdk();
  const client =
    options.client ??
    new sdk.CloudWatchClient({
      maxAttempts: 1,
      ...(options.region !== undefined ? { region: options.region } : {}),
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...options.clientConfig,
    });
  const yieldTurn = options.yieldTurn ?? nextTurn;
  /** The SDK serializes the whole input itself; the command still goes through the write gate. */
  const sendWhole = (input: PutMetricDataInput, gate: WriteGate): Promise<unknown> => {
    const command = new sdk.PutMetricDataCommand(withOwnDimensions(input));
    gateCommand(command, gate, yieldTurn);
    return client.send(command, { abortSignal: gate.signal });
  };
  let sliced: SlicedBody | undefined;
  let fellBack = false;
  // The SDK's own body from now on, said once.
  const fallBack = (error: unknown): void => {
    if (!(error instanceof SdkBodyMismatch)) throw error;
    sliced = undefined;
    if (fellBack) return;
    fellBack = true;
    options.onSdkBodyFallback?.(error.message);
  };
  try {
    sliced = slicedBodyFor(client, sdk, yieldTurn);
  } catch (error) {
    fallBack(error);
    // No schema serializer to slice with, but the command is still gated (an SDK retry is never sent).
    return (input, send: SendOptions) => sendWhole(input, { signal: send.signal, writing: send.trackWrite?.() ?? noop });
  }
  return async (input, send: SendOptions) => {
    const { signal } = send;
    const gate = { signal, writing: send.trackWrite?.() ?? noop };
    const path = sliced;
    if (path !== undefined) {
      try {
        const body = await path.body(input);
        // Timed out while serializing: nothing was sent, and nothing will be.
        signal.throwIfAborted();
        return await client.send(path.command(body, gate), { abortSignal: signal });
      } catch (error) {
        // Thrown before the write gate: nothing was sent. The SDK's own body from now on.
        fallBack(error);
        signal.throwIfAborted();
      }
    }
    return sendWhole(input, gate);
  };
}

const noop = (): void => undefined;

/**
 * The input with each datum's Dimensions copied. A series' dimensions are built once and shared by its datums of
 * every second; a client middleware that edits them in place (`d.Dimensions.push(...)`) must change this request
 * only, never the series' later datums (a dimension added twice is a rejected request).
 */
function withOwnDimensions(input: PutMetricDataInput): PutMetricDataInput {
  return {
    Namespace: input.Namespace,
    MetricData: input.MetricData.map((d) => (d.Dimensions === undefined ? d : { ...d, Dimensions: d.Dimensions.map((x) => ({ Name: x.Name, Value: x.Value })) })),
  };
}

/**
 * - throttled: CloudWatch refused for rate (AIMD slows the pod, the datums are sent again);
 * - transient: the request did not store anything (a connection never made, credentials not ready, a timeout
 *   before it was written; an answer with 5xx, taken as CloudWatch saying it did not process the request, the rule
 *   the AWS SDK's own retries follow: a server that stores and then answers 5xx gets that request twice): sent
 *   again after a backoff;
 * - tooLarge: the body was over the limit: sent again in smaller requests;
 * - fatal: rejected (4xx): never sent again;
 * - unknown: the request may have been stored (no answer within the timeout, connection reset after sending):
 *   never sent again, because a duplicate datum doubles CloudWatch's Sum and SampleCount for that second.
 */
export type FailureKind = 'throttled' | 'transient' | 'tooLarge' | 'fatal' | 'unknown';

export interface Failure {
  readonly kind: FailureKind;
  /** Error code as CloudWatch names it (awsQuery code when present), e.g. `Throttling`, `InvalidParameterValue`. */
  readonly code: string;
  readonly status: number | undefined;
  readonly message: string;
  /** How long the backend asked us to wait (a custom transport's `SinkError.retryAfterMs`), ms. */
  readonly retryAfterMs?: number;
}

// The AWS SDK's own lists (@smithy/service-error-classification), so this sink agrees with it.
const THROTTLING = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);
const TRANSIENT_CODES = new Set([
  // Sent by the server: it stopped reading the request, so nothing was stored.
  'RequestTimeout',
  'RequestTimeoutException',
  'InternalServiceError',
  'InternalServiceFault',
  'InternalFailure',
  'ServiceUnavailable',
  // The SDK corrects its clock offset from the failed response, so the next attempt signs correctly.
  'RequestExpired',
  'RequestInTheFuture',
  'RequestTimeTooSkewed',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  // IRSA / Pod Identity credentials can appear after the pod starts.
  'CredentialsProviderError',
]);
/** The connection was never made: nothing reached CloudWatch. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** Our timeout, an abort, or a connection lost mid-request: CloudWatch may have stored the request. */
const UNKNOWN_OUTCOME = new Set(['TimeoutError', 'AbortError', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  Error?: { Code?: unknown };
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: { throttling?: unknown };
  cause?: unknown;
}

export function classify(error: unknown): Failure {
  // Wrapped by the write gate so the SDK would not retry it: the request is what its written attempt's failure says.
  if (error instanceof WrittenAttemptFailed && error.failure !== undefined) return classify(error.failure.error);
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorShape;
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const name = typeof e.name === 'string' ? e.name : '';
  const awsCode =
    typeof e.Code === 'string' ? e.Code : typeof e.Error?.Code === 'string' ? e.Error.Code : name !== 'Error' ? name : '';
  const netCode = typeof e.code === 'string' ? e.code : typeof (e.cause as ErrorShape | undefined)?.code === 'string' ? String((e.cause as ErrorShape).code) : '';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const code = awsCode || netCode || name || 'Error';
  const retryAfter = (e as { retryAfterMs?: unknown }).retryAfterMs;
  const retryAfterMs = typeof retryAfter === 'number' && retryAfter >= 0 && Number.isFinite(retryAfter) ? retryAfter : undefined;
  const failure = (kind: FailureKind): Failure => ({ kind, code, status, message, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });

  if (error instanceof SinkError) return failure(error.retryable ? 'transient' : 'fatal');
  if (status === 429 || THROTTLING.has(awsCode) || THROTTLING.has(name) || e.$retryable?.throttling === true) return failure('throttled');
  if (status === 413 || awsCode === 'RequestEntityTooLarge') return failure('tooLarge');
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return failure('transient');
  if (TRANSIENT_CODES.has(awsCode) || TRANSIENT_CODES.has(name) || NOT_CONNECTED.has(netCode)) return failure('transient');
  if (status !== undefined) return failure('fatal');
  if (UNKNOWN_OUTCOME.has(name) || UNKNOWN_OUTCOME.has(awsCode) || UNKNOWN_OUTCOME.has(netCode)) return failure('unknown');
  // A bug, not an outage: retrying would repeat it forever.
  if (PROGRAMMING.has(name)) return failure('fatal');
  // No HTTP response at all (socket, DNS, TLS, credentials): it may succeed later.
  return failure('transient');
}

const PROGRAMMING = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError']);
