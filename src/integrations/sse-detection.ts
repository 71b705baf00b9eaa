/**
 * Detects responses whose head announces `Content-Type: text/event-stream` (status 2xx), by wrapping
 * `http.ServerResponse.prototype.writeHead` while at least one integration counts SSE connections. Node's implicit
 * head (first write, flushHeaders, end) calls `this.writeHead` too, so hand-written SSE, Express, Fastify,
 * @fastify/sse, better-sse and Fastify's inject() all pass through here.
 *
 * Why the prototype: Express gives every response its own prototype chain, so an own `writeHead` per response or
 * an event-stream check at every `setHeader` costs on every request. Per head the wrapper costs one status test,
 * then the content type from the headers given to writeHead (Fastify) or one getHeader() (Express, node:http),
 * and two character tests that rule out every other type.
 *
 * Removable: `acquire()` installs the wrapper for its first user and the last `release()` restores the original.
 * If another library wrapped writeHead after us, restoring would drop its wrapper: ours then stays in place as a
 * pass-through (one branch) and comes back to life on the next acquire().
 */
import http, { type OutgoingHttpHeader, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

type WriteHead = (this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown) => ServerResponse;

/** Owns the writeHead wrapper of one prototype: its users, the original, and whether the wrapper is live. */
export class EventStreamWatch {
  private users = 0;
  private live = false;
  private original: WriteHead | undefined = undefined;
  private wrapper: WriteHead | undefined = undefined;

  constructor(
    private readonly proto: { writeHead: unknown },
    /** Called with each response whose head announced an event stream. */
    private readonly onOpen: (res: ServerResponse) => void,
  ) {}

  /** Installs the wrapper if this is the first user; returns the user's release function (idempotent). */
  acquire(): () => void {
    if (this.users++ === 0) this.install();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.users === 0) this.uninstall();
    };
  }

  /** Whether heads are being watched (for tests and diagnostics). */
  get watching(): boolean {
    return this.live;
  }

  private install(): void {
    this.live = true;
    if (this.wrapper !== undefined) return; // still on the prototype as a pass-through
    const original = this.proto.writeHead as WriteHead;
    const onOpen = this.onOpen;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const watch = this;
    // Named parameters, not `arguments`: writeHead treats a missing argument and an undefined one alike.
    const wrapper: WriteHead = function scalesignalWriteHead(this: ServerResponse, statusCode, reason, headers) {
      const result = original.call(this, statusCode, reason, headers);
      if (watch.live && statusCode >= 200 && statusCode < 300 && announcesEventStream(this, reason, headers)) onOpen(this);
      return result;
    };
    this.original = original;
    this.wrapper = wrapper;
    this.proto.writeHead = wrapper;
  }

  private uninstall(): void {
    this.live = false;
    if (this.proto.writeHead !== this.wrapper) return; // wrapped again by someone else: stay, inert
    this.proto.writeHead = this.original;
    this.original = undefined;
    this.wrapper = undefined;
  }
}

/** The head just written: headers given to writeHead win over those set before (Node merges them that way). */
function announcesEventStream(res: ServerResponse, reason: unknown, headers: unknown): boolean {
  const given = typeof reason === 'string' ? headers : reason;
  if (typeof given === 'object' && given !== null) {
    const type = contentTypeIn(given);
    if (type !== undefined) return isEventStream(type);
  }
  return isEventStream(res.getHeader('content-type'));
}

/** For a head already written (an SSE tracker armed late): what it announced. */
export function headAnnouncedEventStream(res: ServerResponse): boolean {
  if (!(res.statusCode >= 200 && res.statusCode < 300)) return false;
  if (isEventStream(res.getHeader('content-type'))) return true;
  // Headers passed to writeHead() without setHeader() are kept only in the serialized head.
  const head = (res as unknown as { _header?: unknown })._header;
  return typeof head === 'string' && SENT_EVENT_STREAM.test(head);
}

const EVENT_STREAM = /^\s*text\/event-stream/i;
const SENT_EVENT_STREAM = /\r\ncontent-type:\s*text\/event-stream/i;

function contentTypeIn(headers: OutgoingHttpHeaders | readonly OutgoingHttpHeader[] | object): unknown {
  if (Array.isArray(headers)) {
    // Flat [name, value, ...] or [[name, value], ...].
    for (let i = 0; i < headers.length; i++) {
      const item: unknown = headers[i];
      if (Array.isArray(item)) {
        if (isContentTypeName(item[0])) return item[1];
      } else if (i % 2 === 0 && isContentTypeName(item)) {
        return headers[i + 1];
      }
    }
    return undefined;
  }
  const record = headers as Record<string, unknown>;
  const direct = record['content-type'];
  if (direct !== undefined) return direct;
  for (const name in record) if (isContentTypeName(name)) return record[name];
  return undefined;
}

const CONTENT_TYPE = 'content-type';

/** `content-type` in any case, without allocating. */
function isContentTypeName(name: unknown): boolean {
  if (typeof name !== 'string' || name.length !== 12) return false;
  for (let i = 0; i < 12; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== CONTENT_TYPE.charCodeAt(i)) return false;
  }
  return true;
}

export function isEventStream(value: unknown): boolean {
  if (typeof value !== 'string') {
    if (!Array.isArray(value)) return false;
    value = value[0];
    if (typeof value !== 'string') return false;
  }
  const type = value as string;
  if (type.length < 17) return false;
  // `t`...`e` (text/event-stream) or leading whitespace; every common type fails one of the two tests.
  const first = type.charCodeAt(0) | 32;
  if (first === 116) {
    if ((type.charCodeAt(5) | 32) !== 101) return false;
  } else if (first !== 32 && first !== 41 && first !== 42 && first !== 45) {
    return false; // space, \t (9|32=41), \n (10|32=42), \r (13|32=45)
  }
  return EVENT_STREAM.test(type);
}

/** The watch of node:http's responses (https's too: same class; http2's compatibility API is not watched). */
export function eventStreamWatch(onOpen: (res: ServerResponse) => void): EventStreamWatch {
  return new EventStreamWatch(http.ServerResponse.prototype, onOpen);
}
