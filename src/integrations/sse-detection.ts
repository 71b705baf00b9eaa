/**
 * Detects responses whose head announces `Content-Type: text/event-stream` (status 2xx), by wrapping
 * `http.ServerResponse.prototype.setHeader` and `writeHead` once, the first time an SSE-counting tracker is
 * created. Node's implicit head (first write, flushHeaders, end) calls `this.writeHead` too, so hand-written SSE,
 * Express, Fastify, @fastify/sse, better-sse and Fastify's inject() all pass through here.
 *
 * Why prototypes and why arguments only: Express gives every response its own hidden class, so an own
 * `writeHead` per response, or reading the response's headers at every head, costs per request (see
 * http-common.ts). The wrappers only look at their arguments; a response whose content type was set to an event
 * stream is remembered (a WeakSet, rare) until its head is written.
 */
import http, { type OutgoingHttpHeader, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

type Handler = (res: ServerResponse) => void;

const handlers = new Set<Handler>();
/** Responses whose Content-Type was set to an event stream and whose head is not written yet. */
const pending = new WeakSet<ServerResponse>();
let installed = false;

const EVENT_STREAM = /^\s*text\/event-stream/i;
const SENT_EVENT_STREAM = /\r\ncontent-type:\s*text\/event-stream/i;

export function watchEventStreams(handler: Handler): void {
  handlers.add(handler);
  if (installed) return;
  installed = true;
  const proto = http.ServerResponse.prototype;
  const writeHead = proto.writeHead;
  const setHeader = proto.setHeader;
  const getHeader = proto.getHeader;

  proto.setHeader = function scalesignalSetHeader(this: ServerResponse, name: string, value: number | string | readonly string[]) {
    const result = setHeader.call(this, name, value);
    if (isContentTypeName(name)) {
      if (isEventStream(value)) pending.add(this);
      else pending.delete(this);
    }
    return result;
  } as ServerResponse['setHeader'];

  // Named parameters, not `arguments`: writeHead treats a missing argument and an undefined one alike.
  proto.writeHead = function scalesignalWriteHead(this: ServerResponse, statusCode: number, reason?: unknown, headers?: unknown) {
    const result = (writeHead as (status: number, reason?: unknown, headers?: unknown) => ServerResponse).call(this, statusCode, reason, headers);
    const wasPending = pending.delete(this);
    if (statusCode >= 200 && statusCode < 300) {
      // Headers given here (object or array, after an optional status message) override those set before.
      const given = typeof reason === 'string' ? headers : reason;
      let type = given === undefined || given === null ? undefined : contentTypeIn(given);
      if (type === undefined && wasPending) type = getHeader.call(this, 'content-type');
      if (isEventStream(type)) for (const handle of handlers) handle(this);
    }
    return result;
  } as ServerResponse['writeHead'];
}

/** A tracked response closed: forget it if its head never came. */
export function forgetPending(res: ServerResponse): void {
  pending.delete(res);
}

/** For a head already written: what it announced. writeHead() headers are kept only in the serialized head. */
export function headAnnouncedEventStream(res: ServerResponse): boolean {
  if (!(res.statusCode >= 200 && res.statusCode < 300)) return false;
  if (isEventStream(res.getHeader('content-type'))) return true;
  const head = (res as unknown as { _header?: unknown })._header;
  return typeof head === 'string' && SENT_EVENT_STREAM.test(head);
}

function contentTypeIn(headers: OutgoingHttpHeaders | OutgoingHttpHeader[] | unknown): unknown {
  if (typeof headers !== 'object' || headers === null) return undefined;
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

/** `content-type` in any case, without allocating (setHeader is called several times per response). */
function isContentTypeName(name: unknown): boolean {
  if (typeof name !== 'string' || name.length !== 12) return false;
  for (let i = 0; i < 12; i++) {
    const c = name.charCodeAt(i);
    if ((c >= 65 && c <= 90 ? c + 32 : c) !== CONTENT_TYPE.charCodeAt(i)) return false;
  }
  return true;
}
const CONTENT_TYPE = 'content-type';

function isEventStream(value: unknown): boolean {
  if (Array.isArray(value)) value = value[0];
  // Most content types are ruled out by their first letter before the expression runs.
  return typeof value === 'string' && value.length >= 17 && (value.charCodeAt(0) | 32) !== 97 && EVENT_STREAM.test(value);
}
