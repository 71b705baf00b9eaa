/**
 * The PutMetricData body, written by the AWS SDK's own serializer a few datums at a time with a turn of the event
 * loop after each ~1 ms, then handed to the SDK in place of the body it would write itself.
 *
 * Why: a 1 MB request (~600 histogram datums of 150 values) is ~7-13 ms of serialization inside `client.send`, in
 * one piece, and after the response the SDK's logger middleware walks the whole input again (~3 ms) to filter
 * sensitive members, even with no logger configured. So the command carries the namespace and one small datum
 * (the probe, below: cheap to serialize and to filter), and a middleware placed right after the SDK's serializer
 * puts the sliced body in. Everything after it (gzip, Content-Length, SigV4, HTTP, errors) is the SDK's. The body is
 * byte for byte what the SDK would have written: each slice is a complete `{"Namespace":…,"MetricData":[…]}` from
 * its serializer, and the slices' MetricData items are joined into one array (test/sinks/aws-sliced.test.ts
 * compares the two).
 *
 * A client middleware that runs before serialization (initialize or serialize step) would be handed only the
 * probe, and what it does by content (filter datums, rewrite some) would not reach the others. So a client whose
 * `middlewareStack.identify()` lists one that is not the SDK's own is never sliced: the SDK's own body goes out for
 * the whole input, and the middleware sees every datum.
 *
 * The probe is a copy of the first datum with its Values and Counts cut to their first pair (~6 µs to serialize,
 * where a 150-value histogram takes ~20 µs), not an empty MetricData: it is what shows a rewrite that the check
 * above cannot see (the SDK's own middlewares, a protocol that rewrites or wraps the serializer's output). The swap
 * happens only when, after the SDK's serializer, the input still holds that probe (same array, same object, nothing
 * added) and the SDK's body is exactly, byte for byte, the serializer's body for it. Anything else throws
 * `SdkBodyMismatch` before anything is written, and the caller sends the SDK's own body for the whole input from then
 * on. A client's own logger sees the request with the probe only.
 *
 * The rest of the SDK's pipeline is split by turns of the loop too, between its steps: gzip (itself on libuv's
 * thread pool) and the build middlewares; SigV4 (a SHA-256 of the compressed body); the HTTP write. Without the
 * turns those run as one ~1.5 ms stretch, right after the previous request's response. The last turn is also the
 * write gate: a request whose timeout passed before it is never handed to the HTTP handler, and one that passes it
 * is reported written (see `WriteGate`). The gate lets a request through once: the written attempt's failure comes
 * back wrapped in `WrittenAttemptFailed`, which the SDK never retries, so a client with `maxAttempts` > 1 behaves
 * as with `maxAttempts: 1`, at once (no SDK backoff to sit out before the sink's own timeout): the sink resends by
 * its own pacing when that answer says nothing was stored, else the outcome is unknown and never resent. A second
 * pass all the same (an SDK that retries anyway) is refused the same way.
 *
 * When the client or the SDK does not look as expected (no schema serializer: an older SDK, a client-like object;
 * a serializer that throws or writes neither bytes nor text; a body not of the joinable shape: a future protocol
 * such as CBOR), `SdkBodyMismatch` says why and the SDK serializes the whole request itself. (A serializer whose
 * `flush()` returns the JSON as a string, as the SDK's first JSON codec does, is used: its UTF-8 bytes are the body.)
 */
import { performance } from 'node:perf_hooks';
import { nextTurn } from '../../core/turns.js';
import type { MetricDatum, PutMetricDataInput } from './types.js';

/** Longest stretch of serialization between turns of the event loop, as the sink's other slices. */
export const SLICE_MS = 1;
/** Datums per serializer call: ~0.2 ms for histograms with 150 values, a few microseconds for counters. */
const DATUMS_PER_STEP = 8;
const SLICED_BODY = 'scalesignalSlicedBody';
const TURN_BEFORE_SIGNING = { step: 'build', priority: 'low', name: 'scalesignalTurnBeforeSigning', override: true } as const;
/** The innermost middleware: nothing but the HTTP handler runs after it. */
const WRITE_GATE = { step: 'deserialize', priority: 'low', name: 'scalesignalTurnBeforeHttp', override: true } as const;
/** Around the SDK's deserializer: sees each attempt's failure as the SDK's error (a ThrottlingException, a reset). */
const ATTEMPT_FAILURE = { step: 'deserialize', priority: 'high', name: 'scalesignalAttemptFailure', override: true } as const;
const CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');

export type YieldTurn = () => Promise<void>;

interface ShapeSerializer {
  write(schema: unknown, value: unknown): void;
  /** Bytes (the SDK's JSON codec v2), or the JSON text (codec v1). */
  flush(): unknown;
}

type Handler = (args: { request?: unknown; input?: unknown }) => Promise<unknown>;

interface MiddlewareStackLike {
  add(middleware: (next: Handler) => Handler, options: Record<string, unknown>): void;
}

/** The parts of `@aws-sdk/client-cloudwatch` this needs. */
export interface SdkBodyModule {
  PutMetricDataCommand: new (input: PutMetricDataInput) => unknown;
  PutMetricDataInput$?: unknown;
}

/** One request's timeout and the call that marks it written. */
export interface WriteGate {
  /** Aborted when the request's timeout passes. */
  readonly signal: AbortSignal;
  /** Called right before the request is handed to the HTTP handler: from then on its bytes may reach CloudWatch. */
  readonly writing: () => void;
}

export interface SlicedRequestBody {
  readonly bytes: Uint8Array;
  /** The command's input: the namespace and a copy of the first datum (the probe). */
  readonly probe: PutMetricDataInput;
  /** The serializer's body for `probe`: what the SDK must have written before the swap. */
  readonly probeBytes: Uint8Array;
}

/**
 * The sliced body cannot stand in for the SDK's (the message says why: the SDK wrote another body, a middleware
 * changed the input, the serializer is not one this path can slice with): the SDK's own body is sent instead.
 */
export class SdkBodyMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdkBodyMismatch';
  }
}

/**
 * The failure of a request's written attempt, as the SDK reported it (`failure.error`), or undefined for a second
 * pass whose first failure was not seen. Named `AbortError` because the SDK's retry strategy never retries one. No
 * `cause`: some retry strategies look through it and would retry the wrapped throttle or reset.
 */
export class WrittenAttemptFailed extends Error {
  /** The answer, as the SDK's signer reads it to correct the client's clock from a skewed 4xx (its Date header). */
  readonly $response?: unknown;
  readonly ServerTime?: unknown;

  constructor(readonly failure: { readonly error: unknown } | undefined) {
    super(`PutMetricData request failed after it was written${failure === undefined ? '' : ` (${String(failure.error)})`}; not retried by the SDK`);
    this.name = 'AbortError';
    // Not `$metadata`: with it the SDK's retry strategy would classify (and may retry) the wrapper.
    const answer = failure?.error as { $response?: unknown; ServerTime?: unknown } | undefined;
    if (answer?.$response !== undefined) this.$response = answer.$response;
    if (answer?.ServerTime !== undefined) this.ServerTime = answer.ServerTime;
  }
}

export interface SlicedBody {
  /** The body, serialized in slices of about `sliceMs`; throws `SdkBodyMismatch` when it cannot be built. */
  body(input: PutMetricDataInput, sliceMs?: number): Promise<SlicedRequestBody>;
  /** A command that sends `body` (from `body()`) through `gate`; it throws `SdkBodyMismatch` before any write. */
  command(body: SlicedRequestBody, gate: WriteGate): unknown;
}

/**
 * The sliced path for this client. Throws `SdkBodyMismatch` when the client has no schema serializer to slice with
 * or the SDK's commands have no middleware stack. `yieldTurn` is the sink clock's yield (the shared turn queue by
 * default).
 */
export function slicedBodyFor(client: unknown, sdk: SdkBodyModule, yieldTurn: YieldTurn = nextTurn): SlicedBody {
  const serializer = (client as { config?: { protocol?: { serializer?: Partial<ShapeSerializer> } } } | undefined)?.config?.protocol?.serializer;
  const schema = sdk.PutMetricDataInput$;
  if (schema === undefined || typeof serializer?.write !== 'function' || typeof serializer.flush !== 'function') {
    throw new SdkBodyMismatch('the client has no schema serializer (an older @aws-sdk/client-cloudwatch, or a client-like object), so it serializes each body in one piece');
  }
  if (stackOf(new sdk.PutMetricDataCommand({ Namespace: 'probe', MetricData: [] })) === undefined) {
    throw new SdkBodyMismatch("the SDK's PutMetricDataCommand has no middleware stack, so the client serializes each body in one piece");
  }
  const shape = serializer as ShapeSerializer;
  const serialize = (value: PutMetricDataInput): Uint8Array => {
    // write + flush in one synchronous stretch: the serializer is the client's, shared with its other requests.
    shape.write(schema, value);
    return bytesFromSerializer(shape.flush());
  };
  return {
    async body(input, sliceMs = SLICE_MS) {
      // Checked on every request: a middleware can be added to the client at any time.
      const foreign = foreignInputMiddlewares(client, sdk);
      if (foreign.length > 0) {
        throw new SdkBodyMismatch(
          `the client has middleware that sees the PutMetricData input before serialization (${foreign.join(', ')}); it would see only the first datum of a sliced body`,
        );
      }
      // Infinity: never yields (the unsliced path, for benchmarks).
      const turn = sliceMs === Number.POSITIVE_INFINITY ? noTurn : yieldTurn;
      // On a turn of its own: the caller is usually still handling the previous request's response.
      await turn();
      let body: SlicedRequestBody;
      try {
        const first = input.MetricData[0];
        const probe = { Namespace: input.Namespace, MetricData: first === undefined ? [] : [probeOf(first)] };
        const probeBytes = serialize(probe);
        const bytes = await joinedBody(serialize, input, sliceMs, yieldTurn);
        if (bytes === undefined) {
          throw new SdkBodyMismatch(`the client's serializer writes ${shown(probeBytes)}, not {"Namespace":…,"MetricData":[…]}, so its bodies cannot be joined from slices`);
        }
        body = { bytes, probe, probeBytes };
      } catch (error) {
        if (error instanceof SdkBodyMismatch) throw error;
        // A serializer that does not take this schema (a client from another SDK version).
        throw new SdkBodyMismatch(`the client's serializer failed on a PutMetricData input (${String(error)})`);
      }
      // And the SDK's first stretch (up to its serializer) on another.
      await turn();
      return body;
    },
    command(body, gate) {
      const probe = body.probe;
      const datums = probe.MetricData;
      const datum = datums[0];
      const command = new sdk.PutMetricDataCommand(probe);
      stackOf(command)?.add(
        (next) => async (args) => {
          const input = args.input as Partial<PutMetricDataInput> | undefined;
          // A middleware replaced the datums, added, removed or swapped one, or changed the namespace.
          if (input?.Namespace !== probe.Namespace || input.MetricData !== datums || datums.length !== 1 || datums[0] !== datum) {
            throw new SdkBodyMismatch('a middleware of the client changed the PutMetricData input before serialization, which the sliced body would undo');
          }
          const request = args.request as { body?: unknown } | undefined;
          // The SDK's protocol rewrote its serializer's output, or a middleware changed the probe datum in place.
          if (!sameBytes(request?.body, body.probeBytes)) throw new SdkBodyMismatch(mismatch(request?.body, body.probeBytes));
          (request as { body?: unknown }).body = body.bytes;
          return next(args);
        },
        { step: 'serialize', priority: 'low', name: SLICED_BODY, override: true },
      );
      gateCommand(command, gate, yieldTurn);
      return command;
    },
  };
}

interface IdentifiableStack {
  identify(): unknown;
  concat?(other: unknown): IdentifiableStack;
}

/** The client's stack merged with a throw-away command's own (resolved as `client.send` resolves it; nothing is sent). */
function resolvedStack(client: { middlewareStack: IdentifiableStack; config?: unknown }, sdk: SdkBodyModule): IdentifiableStack {
  const stack = client.middlewareStack;
  const command = new sdk.PutMetricDataCommand({ Namespace: 'probe', MetricData: [] }) as {
    middlewareStack?: unknown;
    resolveMiddleware?: (stack: unknown, config: unknown, options: unknown) => unknown;
  };
  if (typeof stack.concat !== 'function' || typeof command.resolveMiddleware !== 'function' || command.middlewareStack === undefined) return stack;
  command.resolveMiddleware(stack, client.config, {});
  return stack.concat(command.middlewareStack);
}

/** The SDK's own middlewares that see the input before serialization: none of them changes a datum. */
const SDK_INPUT_MIDDLEWARES = new Set(['loggerMiddleware', 'serializerMiddleware', 'endpointV2Middleware', 'httpAuthSchemeMiddleware']);
const INPUT_STEPS = new Set(['initialize', 'serialize']);

/**
 * The client's middlewares (as `middlewareStack.identify()` names them) that run before serialization and are not
 * the SDK's own: a user's or a library's middleware there may filter or rewrite datums by their content, and it would
 * be handed only the probe. Read from the stack a PutMetricData command really runs (the client's and the command's
 * own, resolved as `send` does; ~0.1 ms a request): identify() on the client's alone leaves out a middleware placed
 * relative to one the command adds (`before endpointV2Middleware`). One placed relative to a middleware this cannot
 * place counts as running before.
 */
function foreignInputMiddlewares(client: unknown, sdk: SdkBodyModule): string[] {
  const stack = (client as { middlewareStack?: { identify?: unknown; concat?: unknown } } | undefined)?.middlewareStack;
  if (typeof stack?.identify !== 'function') return [];
  let entries: unknown;
  try {
    entries = resolvedStack(client as { middlewareStack: IdentifiableStack; config?: unknown }, sdk).identify();
  } catch (error) {
    return [`identify() failed: ${String(error)}`];
  }
  if (!Array.isArray(entries)) return [];
  // "name - step", "name (a.k.a. alias,alias) - step", "name - before other" / "name - after other".
  const placed = entries.map((entry) => {
    const text = String(entry);
    const at = text.lastIndexOf(' - ');
    const head = at < 0 ? text : text.slice(0, at);
    const aka = / \(a\.k\.a\. ([^)]*)\)$/.exec(head);
    const name = aka === null ? head : head.slice(0, aka.index);
    return { text, names: [name, ...(aka === null ? [] : aka[1].split(','))], where: at < 0 ? '' : text.slice(at + 3) };
  });
  const stepOf = (where: string, depth: number): string | undefined => {
    const relation = /^(?:before|after) (.+)$/.exec(where);
    if (relation === null) return where;
    const target = placed.find((p) => p.names.includes(relation[1]));
    return target === undefined || depth > 8 ? undefined : stepOf(target.where, depth + 1);
  };
  return placed
    .filter((p) => {
      if (SDK_INPUT_MIDDLEWARES.has(p.names[0]) || p.names[0].startsWith('scalesignal')) return false;
      const step = stepOf(p.where, 0);
      return step === undefined || INPUT_STEPS.has(step);
    })
    .map((p) => p.text);
}

/**
 * A copy of `datum` with at most one Values/Counts pair: what a middleware changes in every datum shows on it. A
 * copy all through, so a middleware that changes it in place leaves the datum sent after a fallback as it was.
 */
function probeOf(datum: MetricDatum): MetricDatum {
  return {
    ...datum,
    Timestamp: new Date(datum.Timestamp.getTime()),
    ...(datum.Dimensions !== undefined ? { Dimensions: datum.Dimensions.map((d) => ({ Name: d.Name, Value: d.Value })) } : {}),
    ...(datum.StatisticValues !== undefined ? { StatisticValues: { ...datum.StatisticValues } } : {}),
    ...(datum.Values !== undefined ? { Values: datum.Values.slice(0, 1) } : {}),
    ...(datum.Counts !== undefined ? { Counts: datum.Counts.slice(0, 1) } : {}),
  };
}

/** The serializer's output as bytes: a plain view of its buffer, or the UTF-8 of its JSON text. */
function bytesFromSerializer(out: unknown): Uint8Array {
  // A plain view: the SDK's buffer type turns into a string when Buffer.from() calls its valueOf().
  if (out instanceof Uint8Array) return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  // What the HTTP handler writes for a string body.
  if (typeof out === 'string') return Buffer.from(out, 'utf8');
  throw new SdkBodyMismatch(`the client's serializer wrote ${out === null ? 'null' : `a ${typeof out}`}, neither bytes nor text`);
}

/**
 * Adds the turns between the SDK's steps and the write gate to a command (sliced or not): after the last turn, a
 * request whose timeout passed is not written (it throws the abort reason), else `gate.writing()` is called and
 * the request goes to the HTTP handler. The written attempt's failure, and a second pass (an SDK retry), throw
 * `WrittenAttemptFailed`. False when the command has no middleware stack (nothing gated).
 */
export function gateCommand(command: unknown, gate: WriteGate, yieldTurn: YieldTurn = nextTurn): boolean {
  const stack = stackOf(command);
  if (stack === undefined) return false;
  stack.add(
    (next) => async (args) => {
      await yieldTurn();
      return next(args);
    },
    TURN_BEFORE_SIGNING,
  );
  let passed = false;
  let written: { error: unknown } | undefined;
  stack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        // Before the gate: nothing was written, the SDK may retry. After: the written attempt's failure (after the
        // SDK's deserializer: a ThrottlingException, a reset), wrapped so the SDK does not retry it.
        if (!passed || error instanceof WrittenAttemptFailed) throw error;
        written ??= { error };
        throw new WrittenAttemptFailed(written);
      }
    },
    ATTEMPT_FAILURE,
  );
  stack.add(
    (next) => async (args) => {
      await yieldTurn();
      // The timeout passed during the steps before: nothing was written, and nothing will be.
      gate.signal.throwIfAborted();
      // A second pass is the SDK retrying a request that was written once: never written again.
      if (passed) throw new WrittenAttemptFailed(written);
      passed = true;
      gate.writing();
      return next(args);
    },
    WRITE_GATE,
  );
  return true;
}

/**
 * `{"Namespace":…,"MetricData":[` + the items of every slice, comma-separated + `]}`; undefined when a slice does
 * not have that shape. `sliceMs` Infinity never yields (the unsliced path, for benchmarks).
 */
export async function joinedBody(
  serialize: (value: PutMetricDataInput) => Uint8Array,
  input: PutMetricDataInput,
  sliceMs = SLICE_MS,
  yieldTurn: YieldTurn = nextTurn,
): Promise<Uint8Array | undefined> {
  const empty = serialize({ Namespace: input.Namespace, MetricData: [] });
  if (!endsWith(empty, Buffer.from('[]}'))) return undefined;
  const prefix = empty.subarray(0, empty.length - CLOSE.length);
  const datums = input.MetricData;
  const parts: Uint8Array[] = [prefix];
  let sliceStart = performance.now();
  for (let from = 0; from < datums.length; from += DATUMS_PER_STEP) {
    if (performance.now() - sliceStart > sliceMs) {
      await yieldTurn();
      sliceStart = performance.now();
    }
    const slice = serialize({ Namespace: input.Namespace, MetricData: datums.slice(from, from + DATUMS_PER_STEP) });
    if (!startsWith(slice, prefix) || !endsWith(slice, CLOSE)) return undefined;
    if (parts.length > 1) parts.push(COMMA);
    parts.push(slice.subarray(prefix.length, slice.length - CLOSE.length));
  }
  parts.push(CLOSE);
  // Copying ~1 MB together is a piece of its own.
  if (performance.now() - sliceStart > sliceMs / 2) await yieldTurn();
  return Buffer.concat(parts);
}

const noTurn: YieldTurn = () => Promise.resolve();

function stackOf(command: unknown): MiddlewareStackLike | undefined {
  const stack = (command as { middlewareStack?: Partial<MiddlewareStackLike> } | undefined)?.middlewareStack;
  return typeof stack?.add === 'function' ? (stack as MiddlewareStackLike) : undefined;
}

function bytesOf(body: unknown): Uint8Array | undefined {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  return body instanceof Uint8Array ? body : undefined;
}

function sameBytes(body: unknown, expected: Uint8Array): boolean {
  const bytes = bytesOf(body);
  return bytes !== undefined && bytes.length === expected.length && startsWith(bytes, expected);
}

function mismatch(body: unknown, expected: Uint8Array): string {
  const bytes = bytesOf(body);
  return (
    `the AWS SDK wrote ${bytes === undefined ? `a ${typeof body} body` : shown(bytes)} for a one-datum PutMetricData, not the ${shown(expected)} ` +
    "of its serializer (its protocol rewrites the serializer's output, or a middleware of the client changed the datum)"
  );
}

/** Length and the first 80 bytes, for a log line. */
function shown(bytes: Uint8Array): string {
  return `${bytes.length} bytes (${JSON.stringify(Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(80, bytes.byteLength)).toString('utf8'))})`;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

function endsWith(bytes: Uint8Array, tail: Uint8Array): boolean {
  if (bytes.length < tail.length) return false;
  const at = bytes.length - tail.length;
  for (let i = 0; i < tail.length; i++) if (bytes[at + i] !== tail[i]) return false;
  return true;
}
