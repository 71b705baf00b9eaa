/**
 * The PutMetricData body, written by the AWS SDK's own serializer a few datums at a time with a turn of the event
 * loop after each ~1 ms, then handed to the SDK in place of the body it would write itself.
 *
 * Why: a 1 MB request (~600 histogram datums of 150 values) is ~7-13 ms of serialization inside `client.send`, in
 * one piece, and after the response the SDK's logger middleware walks the whole input again (~3 ms) to filter
 * sensitive members, even with no logger configured. So the command carries the namespace and an empty
 * MetricData (cheap to serialize and to filter), and a middleware placed right after the SDK's serializer puts
 * the sliced body in. Everything after it (gzip, Content-Length, SigV4, HTTP, errors) is the SDK's. The body is
 * byte for byte what the SDK would have written: each slice is a complete `{"Namespace":…,"MetricData":[…]}` from
 * its serializer, and the slices' MetricData items are joined into one array (test/sinks/aws-sliced.test.ts
 * compares the two). A client's own logger therefore sees the request with `MetricData: []`.
 *
 * The swap happens only when the SDK's body for that command is exactly, byte for byte, the serializer's
 * `{"Namespace":…,"MetricData":[]}`: anything else (an SDK whose protocol rewrites or wraps the serializer's output)
 * throws `SdkBodyMismatch` before anything is written, and the caller sends the SDK's own body instead.
 *
 * The rest of the SDK's pipeline is split by turns of the loop too, between its steps: gzip (itself on libuv's
 * thread pool) and the build middlewares; SigV4 (a SHA-256 of the compressed body); the HTTP write. Without the
 * turns those run as one ~1.5 ms stretch, right after the previous request's response. The last turn is also the
 * write gate: a request whose timeout passed before it is never handed to the HTTP handler, and one that passes it
 * is reported written (see `WriteGate`).
 *
 * When the client or the SDK does not look as expected (no schema serializer: an older SDK, a client-like object;
 * a body not of the joinable shape: a future protocol such as CBOR), the SDK serializes the whole request itself.
 */
import { performance } from 'node:perf_hooks';
import { nextTurn } from '../../core/turns.js';
import type { PutMetricDataInput } from './types.js';

/** Longest stretch of serialization between turns of the event loop, as the sink's other slices. */
export const SLICE_MS = 1;
/** Datums per serializer call: ~0.2 ms for histograms with 150 values, a few microseconds for counters. */
const DATUMS_PER_STEP = 8;
const SLICED_BODY = 'scalesignalSlicedBody';
const TURN_BEFORE_SIGNING = { step: 'build', priority: 'low', name: 'scalesignalTurnBeforeSigning', override: true } as const;
/** The innermost middleware: nothing but the HTTP handler runs after it. */
const WRITE_GATE = { step: 'deserialize', priority: 'low', name: 'scalesignalTurnBeforeHttp', override: true } as const;
const CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');

export type YieldTurn = () => Promise<void>;

interface ShapeSerializer {
  write(schema: unknown, value: unknown): void;
  flush(): Uint8Array;
}

type Handler = (args: { request?: unknown }) => Promise<unknown>;

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
  /** The serializer's body for this namespace and no datums: what the SDK must have written before the swap. */
  readonly empty: Uint8Array;
}

/** The SDK's body for the empty command is not the serializer's: the sliced body would not be what it writes. */
export class SdkBodyMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdkBodyMismatch';
  }
}

export interface SlicedBody {
  /** The body, serialized in slices of about `sliceMs`; undefined when it cannot be joined (send `input` as it is). */
  body(input: PutMetricDataInput, sliceMs?: number): Promise<SlicedRequestBody | undefined>;
  /** A command that sends `body` (from `body()`) for this namespace, through `gate`. */
  command(namespace: string, body: SlicedRequestBody, gate: WriteGate): unknown;
}

/**
 * The sliced path for this client, or undefined when the client has no schema serializer to slice with or the
 * SDK's commands have no middleware stack. `yieldTurn` is the sink clock's yield (the shared turn queue by default).
 */
export function slicedBodyFor(client: unknown, sdk: SdkBodyModule, yieldTurn: YieldTurn = nextTurn): SlicedBody | undefined {
  const serializer = (client as { config?: { protocol?: { serializer?: Partial<ShapeSerializer> } } } | undefined)?.config?.protocol?.serializer;
  const schema = sdk.PutMetricDataInput$;
  if (schema === undefined || typeof serializer?.write !== 'function' || typeof serializer.flush !== 'function') return undefined;
  if (stackOf(new sdk.PutMetricDataCommand({ Namespace: 'probe', MetricData: [] })) === undefined) return undefined;
  const shape = serializer as ShapeSerializer;
  const serialize = (value: PutMetricDataInput): Uint8Array => {
    // write + flush in one synchronous stretch: the serializer is the client's, shared with its other requests.
    shape.write(schema, value);
    const out = shape.flush();
    // A plain view: the SDK's buffer type turns into a string when Buffer.from() calls its valueOf().
    return out instanceof Uint8Array ? new Uint8Array(out.buffer, out.byteOffset, out.byteLength) : new Uint8Array(0);
  };
  return {
    async body(input, sliceMs = SLICE_MS) {
      // Infinity: never yields (the unsliced path, for benchmarks).
      const turn = sliceMs === Number.POSITIVE_INFINITY ? noTurn : yieldTurn;
      // On a turn of its own: the caller is usually still handling the previous request's response.
      await turn();
      let body: SlicedRequestBody | undefined;
      try {
        const empty = serialize({ Namespace: input.Namespace, MetricData: [] });
        const bytes = await joinedBody(serialize, input, sliceMs, yieldTurn);
        body = bytes === undefined ? undefined : { bytes, empty };
      } catch {
        // A serializer that does not take this schema (a client from another SDK version): the SDK's own path.
        body = undefined;
      }
      // And the SDK's first stretch (up to its serializer) on another.
      await turn();
      return body;
    },
    command(namespace, body, gate) {
      const command = new sdk.PutMetricDataCommand({ Namespace: namespace, MetricData: [] });
      stackOf(command)?.add(
        (next) => async (args) => {
          const request = args.request as { body?: unknown } | undefined;
          if (!sameBytes(request?.body, body.empty)) throw new SdkBodyMismatch(mismatch(request?.body, body.empty));
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

/**
 * Adds the turns between the SDK's steps and the write gate to a command (sliced or not): after the last turn, a
 * request whose timeout passed is not written (it throws the abort reason), else `gate.writing()` is called and
 * the request goes to the HTTP handler. False when the command has no middleware stack (nothing gated).
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
  stack.add(
    (next) => async (args) => {
      await yieldTurn();
      // The timeout passed during the steps before: nothing was written, and nothing will be.
      gate.signal.throwIfAborted();
      // A second pass is the SDK retrying a request that may already be stored (a client with maxAttempts > 1):
      // refused with an error the SDK does not retry and the sink counts as an unknown outcome, never resent.
      if (passed) throw Object.assign(new Error('PutMetricData request already sent once; not resent'), { name: 'AbortError' });
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
  const shown = bytes === undefined ? `a ${typeof body} body` : `${bytes.length} bytes (${JSON.stringify(Buffer.from(bytes.subarray(0, 80)).toString('utf8'))})`;
  return `the AWS SDK wrote ${shown} for an empty PutMetricData, not the ${expected.length} bytes of its serializer (${JSON.stringify(Buffer.from(expected).toString('utf8'))})`;
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
