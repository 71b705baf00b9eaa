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
 * The rest of the SDK's pipeline is split by turns of the loop too, between its steps: gzip (itself on libuv's
 * thread pool) and the build middlewares; SigV4 (a SHA-256 of the compressed body); the HTTP write. Without the
 * turns those run as one ~1.5 ms stretch, right after the previous request's response.
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
/** Where the SDK's pipeline is split by a turn of the loop: before signing, and before the HTTP request. */
const TURNS = [
  { step: 'build', priority: 'low', name: 'scalesignalTurnBeforeSigning' },
  { step: 'deserialize', priority: 'low', name: 'scalesignalTurnBeforeHttp' },
] as const;
const CLOSE = Buffer.from(']}');
const COMMA = Buffer.from(',');


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

export interface SlicedBody {
  /** The body, serialized in slices of about `sliceMs`; undefined when it cannot be joined (send `input` as it is). */
  body(input: PutMetricDataInput, sliceMs?: number): Promise<Uint8Array | undefined>;
  /** A command that sends `body` (from `body()`) for this namespace. */
  command(namespace: string, body: Uint8Array): unknown;
}

/** The sliced path for this client, or undefined when the client has no schema serializer to slice with. */
export function slicedBodyFor(client: unknown, sdk: SdkBodyModule): SlicedBody | undefined {
  const serializer = (client as { config?: { protocol?: { serializer?: Partial<ShapeSerializer> } } } | undefined)?.config?.protocol?.serializer;
  const schema = sdk.PutMetricDataInput$;
  if (schema === undefined || typeof serializer?.write !== 'function' || typeof serializer.flush !== 'function') return undefined;
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
      // On a turn of its own: the caller is usually still handling the previous request's response.
      if (sliceMs !== Number.POSITIVE_INFINITY) await nextTurn();
      let body: Uint8Array | undefined;
      try {
        body = await joinedBody(serialize, input, sliceMs);
      } catch {
        // A serializer that does not take this schema (a client from another SDK version): the SDK's own path.
        body = undefined;
      }
      // And the SDK's first stretch (up to its serializer) on another.
      if (sliceMs !== Number.POSITIVE_INFINITY) await nextTurn();
      return body;
    },
    command(namespace, body) {
      const command = new sdk.PutMetricDataCommand({ Namespace: namespace, MetricData: [] }) as { middlewareStack?: MiddlewareStackLike };
      const stack = command.middlewareStack;
      if (stack === undefined) return command;
      stack.add(
        (next) => (args) => {
          const request = args.request as { body?: unknown } | undefined;
          if (request !== undefined) request.body = body;
          return next(args);
        },
        { step: 'serialize', priority: 'low', name: SLICED_BODY, override: true },
      );
      for (const turn of TURNS) {
        stack.add(
          (next) => async (args) => {
            await nextTurn();
            return next(args);
          },
          { ...turn, override: true },
        );
      }
      return command;
    },
  };
}

/**
 * `{"Namespace":…,"MetricData":[` + the items of every slice, comma-separated + `]}`; undefined when a slice does
 * not have that shape. `sliceMs` Infinity never yields (the unsliced path, for benchmarks).
 */
export async function joinedBody(serialize: (value: PutMetricDataInput) => Uint8Array, input: PutMetricDataInput, sliceMs = SLICE_MS): Promise<Uint8Array | undefined> {
  const empty = serialize({ Namespace: input.Namespace, MetricData: [] });
  if (!endsWith(empty, Buffer.from('[]}'))) return undefined;
  const prefix = empty.subarray(0, empty.length - CLOSE.length);
  const datums = input.MetricData;
  const parts: Uint8Array[] = [prefix];
  let sliceStart = performance.now();
  for (let from = 0; from < datums.length; from += DATUMS_PER_STEP) {
    if (performance.now() - sliceStart > sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
    const slice = serialize({ Namespace: input.Namespace, MetricData: datums.slice(from, from + DATUMS_PER_STEP) });
    if (!startsWith(slice, prefix) || !endsWith(slice, CLOSE)) return undefined;
    if (parts.length > 1) parts.push(COMMA);
    parts.push(slice.subarray(prefix.length, slice.length - CLOSE.length));
  }
  parts.push(CLOSE);
  // Copying ~1 MB together is a piece of its own.
  if (performance.now() - sliceStart > sliceMs / 2) await nextTurn();
  return Buffer.concat(parts);
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
