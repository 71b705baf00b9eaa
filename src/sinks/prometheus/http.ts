/** The scrape endpoint: content negotiation, the request handler, and the sink's own unref'd HTTP server. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Body } from './exposition.js';
import type { ContentKind } from './render.js';

export type ScrapeHandler = (req: IncomingMessage, res: ServerResponse) => void;

interface MediaRange {
  readonly type: string;
  readonly q: number;
  /** Parameters other than q, names lower-cased. */
  readonly params: Readonly<Record<string, string>>;
}

function parseList(header: string): MediaRange[] {
  const out: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [type, ...rest] = part.split(';').map((p) => p.trim());
    if (type === undefined || type === '') continue;
    let q = 1;
    const params: Record<string, string> = {};
    for (const param of rest) {
      const eq = param.indexOf('=');
      if (eq === -1) continue;
      const name = param.slice(0, eq).trim().toLowerCase();
      const value = param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (name === 'q') {
        const parsed = Number(value);
        q = Number.isFinite(parsed) ? parsed : 0;
      } else {
        params[name] = value;
      }
    }
    out.push({ type: type.toLowerCase(), q, params });
  }
  return out;
}

/** The protobuf exposition as Prometheus asks for it: delimited MetricFamily messages. */
function isProtobuf({ type, params }: MediaRange): boolean {
  return (
    type === 'application/vnd.google.protobuf' &&
    params.proto === 'io.prometheus.client.MetricFamily' &&
    (params.encoding ?? '').toLowerCase() === 'delimited'
  );
}

/**
 * The format the client prefers, by q value: the protobuf exposition (Prometheus with native histograms enabled
 * asks for it first, q=1), OpenMetrics (Prometheus' default first choice, text/plain at q=0.5), else the 0.0.4
 * text format, also for no Accept header and `*\/*`. On a tie the richer format wins.
 */
export function negotiate(accept: string | undefined): ContentKind {
  if (accept === undefined || accept === '') return 'text';
  let protobuf = 0;
  let openMetrics = 0;
  let text = 0;
  for (const range of parseList(accept)) {
    const { type, q } = range;
    if (isProtobuf(range)) protobuf = Math.max(protobuf, q);
    else if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, q);
    else if (type === 'text/plain' || type === 'text/*' || type === '*/*') text = Math.max(text, q);
  }
  if (protobuf > 0 && protobuf >= openMetrics && protobuf >= text) return 'protobuf';
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'text';
}

export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (acceptEncoding === undefined) return false;
  return parseList(acceptEncoding).some((r) => (r.type === 'gzip' || r.type === 'x-gzip') && r.q > 0);
}

/**
 * Scrape authentication, as Prometheus' scrape config sends it: `authorization: { credentials }` (Bearer) or
 * `basic_auth`. Checked in the handler, so a mounted `handler` is protected too.
 */
export type ScrapeAuth = { readonly bearer: string } | { readonly username: string; readonly password: string };

/** A configuration error's message, or undefined when `auth` is usable. */
export function invalidAuth(auth: unknown): string | undefined {
  if (typeof auth !== 'object' || auth === null) return 'auth must be { bearer } or { username, password }';
  const a = auth as Record<string, unknown>;
  if ('bearer' in a) {
    if (typeof a.bearer !== 'string' || a.bearer === '' || /[\s]/.test(a.bearer)) return 'auth.bearer must be a non-empty token without whitespace';
    return undefined;
  }
  if (typeof a.username !== 'string' || a.username === '' || a.username.includes(':')) return 'auth.username must be a non-empty string without ":"';
  if (typeof a.password !== 'string' || a.password === '') return 'auth.password must be a non-empty string';
  return undefined;
}

/** Compares digests, so neither the length nor the content of the secret leaks through timing. */
function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function authorizer(auth: ScrapeAuth | undefined): ((req: IncomingMessage) => boolean) | undefined {
  if (auth === undefined) return undefined;
  const expected = digest(
    'bearer' in auth ? `Bearer ${auth.bearer}` : `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`,
  );
  const scheme = 'bearer' in auth ? 'bearer' : 'basic';
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== 'string') return false;
    // The scheme is case-insensitive (RFC 9110); the credentials are not.
    const space = header.indexOf(' ');
    if (space === -1 || header.slice(0, space).toLowerCase() !== scheme) return false;
    const normalized = `${scheme === 'bearer' ? 'Bearer' : 'Basic'} ${header.slice(space + 1).trim()}`;
    return timingSafeEqual(digest(normalized), expected);
  };
}

export interface HandlerDeps {
  readonly body: (kind: ContentKind, gzip: boolean) => Promise<Body>;
  readonly contentType: (kind: ContentKind) => Promise<string>;
  readonly gzip: boolean;
  readonly counters: { scrapes: number; rejected: number; failed: number };
  readonly onError: (key: string, error: unknown) => void;
  readonly auth?: ScrapeAuth;
}

function send(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${message}\n`);
}

/** Serves the exposition regardless of path (the framework routes); GET and HEAD only. Never throws. */
export function createHandler(deps: HandlerDeps): ScrapeHandler {
  const authorized = authorizer(deps.auth);
  const challenge = deps.auth === undefined ? '' : 'bearer' in deps.auth ? 'Bearer realm="metrics"' : 'Basic realm="metrics", charset="UTF-8"';
  return (req, res) => {
    try {
      res.on('error', () => {}); // a scraper that hangs up is not our problem
      if (authorized !== undefined && !authorized(req)) {
        deps.counters.rejected++;
        send(res, 401, 'Unauthorized', { 'WWW-Authenticate': challenge });
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        deps.counters.rejected++;
        send(res, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
        return;
      }
      deps.counters.scrapes++;
      const kind = negotiate(req.headers.accept);
      const gzip = deps.gzip && acceptsGzip(req.headers['accept-encoding']);
      Promise.all([deps.body(kind, gzip), deps.contentType(kind)]).then(
        ([body, type]) => {
          if (res.headersSent || res.destroyed) return;
          const headers: Record<string, string | number> = {
            'Content-Type': type,
            'Content-Length': body.bytes.length,
            'Cache-Control': 'no-store',
            Vary: 'Accept, Accept-Encoding',
          };
          if (body.gzip) headers['Content-Encoding'] = 'gzip';
          res.writeHead(200, headers);
          res.end(req.method === 'HEAD' ? undefined : body.bytes);
        },
        (error: unknown) => {
          deps.counters.failed++;
          deps.onError('render', error);
          send(res, 500, 'metrics unavailable');
        },
      );
    } catch (error) {
      deps.counters.failed++;
      deps.onError('handler', error);
      try {
        send(res, 500, 'metrics unavailable');
      } catch {
        res.destroy();
      }
    }
  };
}

export interface ListenOptions {
  readonly port: number;
  readonly host: string | undefined;
  readonly path: string;
  /** Longest a client may take to send the request headers (slow-loris guard). */
  readonly headersTimeoutMs: number;
  /** Longest a client may take to send the whole request. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_HEADERS_TIMEOUT_MS = 5_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

export interface Listening {
  readonly server: Server;
  /** Resolves with the bound address, or undefined when listening failed (already reported). */
  readonly ready: Promise<AddressInfo | undefined>;
}

/**
 * Starts the sink's own server. Unref'd, and so is every accepted socket (Prometheus keeps connections alive):
 * the endpoint never keeps the process running. A listen error resolves `ready` with undefined, never rejects.
 */
export function listen(
  handler: ScrapeHandler,
  options: ListenOptions,
  counters: { rejected: number },
  onError: (key: string, error: unknown) => void,
): Listening {
  // Node's defaults (60 s / 300 s, checked every 30 s) let half-open scrapers hold sockets for minutes; a scrape
  // is one small GET. The check runs on an unref'd timer.
  const serverOptions = {
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(options.headersTimeoutMs / 4))),
  };
  const server = createServer(serverOptions, (req, res) => {
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://localhost').pathname;
    } catch {
      counters.rejected++;
      send(res, 400, 'Bad Request');
      return;
    }
    if (path !== options.path) {
      counters.rejected++;
      send(res, 404, `Not Found: metrics are at ${options.path}`);
      return;
    }
    handler(req, res);
  });
  server.unref();
  server.on('connection', (socket: Socket) => socket.unref());
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    counters.rejected++;
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
    else socket.destroy();
  });
  const ready = new Promise<AddressInfo | undefined>((resolve) => {
    const onListenError = (error: NodeJS.ErrnoException): void => {
      const where = `${options.host ?? '*'}:${options.port}`;
      const hint = error.code === 'EADDRINUSE' ? ' (port in use; set `port`, or `server: false` and mount `handler`)' : '';
      onError('listen', new Error(`prometheus sink cannot listen on ${where}: ${error.message}${hint}`, { cause: error }));
      resolve(undefined);
    };
    server.once('error', onListenError);
    server.listen({ port: options.port, host: options.host }, () => {
      server.off('error', onListenError);
      server.on('error', (error) => onError('server', error));
      resolve(server.address() as AddressInfo);
    });
  });
  return { server, ready };
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
