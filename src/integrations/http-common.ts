/**
 * The request tracker shared by the Express, Fastify and node:http integrations.
 *
 * - `http.server.active_requests` (gauge): requests in flight; the Window carries each window's max and last.
 * - `http.server.requests` (counter): labels `method`, `route` (the framework's template, never the raw URL),
 *   `status_class` (`2xx`..., `none` when no header was sent) and `outcome`: `ok`, `5xx` (answered 5xx),
 *   `thrown` (an error reached the framework's error handling), `aborted` (closed before the response finished).
 * - `http.server.request.duration` (histogram, ms): labels `method`, `route`.
 * - `sse.active_connections` (gauge): open responses with `Content-Type: text/event-stream`. A stream moves out of
 *   active_requests when its head is written, so long-lived streams do not mask the in-flight count, and its
 *   lifetime is not recorded as a request duration.
 *
 * Each request ends exactly once on the response's 'close' event, which Node emits once for every response
 * (after 'finish', or when the socket closes or the response is destroyed first). Per request the hot path adds
 * a few symbol-keyed properties to the response and one shared listener: no closures, no label objects. Bound
 * handles are resolved once per (method, route) and (status class, outcome) and cached.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { BoundCounter, BoundGauge, BoundHistogram, Counter, Histogram, Metrics } from '../core/api.js';

export const ACTIVE_REQUESTS = 'http.server.active_requests';
export const REQUESTS = 'http.server.requests';
export const REQUEST_DURATION = 'http.server.request.duration';
export const SSE_CONNECTIONS = 'sse.active_connections';

/** Label value shared by requests no route matched. */
export const UNMATCHED_ROUTE = 'unmatched';
/** Label value of routes beyond `maxRoutes` distinct templates. */
export const OTHER_ROUTE = 'other';

export interface HttpMetricsOptions {
  /** Count `text/event-stream` responses in `sse.active_connections`. Default true. */
  sse?: boolean;
  /** Route label of requests no route matched. Default `unmatched`. */
  unmatchedRoute?: string;
  /**
   * Distinct route labels kept before further ones share the label `other`; guards against templates that embed
   * raw values (e.g. an Express router mounted on a path with parameters). Default 1000.
   */
  maxRoutes?: number;
}

export type Outcome = 'ok' | '5xx' | 'thrown' | 'aborted';
const OUTCOMES: readonly Outcome[] = ['ok', '5xx', 'thrown', 'aborted'];
const OK = 0;
const SERVER_ERROR = 1;
const THROWN = 2;
const ABORTED = 3;

const STATUS_CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx', '6xx', '7xx', '8xx', '9xx'];

/** Methods outside the standard set share `_OTHER` (OTel's convention), so a client cannot mint label values. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', '_OTHER'];
export const METHOD_COUNT = METHODS.length;

export function methodIndex(method: string | undefined): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'DELETE':
      return 4;
    case 'CONNECT':
      return 5;
    case 'OPTIONS':
      return 6;
    case 'TRACE':
      return 7;
    case 'PATCH':
      return 8;
    default:
      return 9;
  }
}

/** The handles of one (method, route): a duration histogram and counters bound lazily per status class x outcome. */
export class RouteEntry {
  private duration: BoundHistogram | undefined;
  private readonly counters: Array<BoundCounter | undefined> = new Array(STATUS_CLASSES.length * OUTCOMES.length).fill(undefined);

  constructor(
    private readonly tracker: HttpTracker,
    readonly method: string,
    readonly route: string,
  ) {}

  record(statusClass: number, outcome: number, elapsedMs: number, sse: boolean): void {
    const i = statusClass * OUTCOMES.length + outcome;
    (this.counters[i] ??= this.tracker.requests.bind({
      method: this.method,
      route: this.route,
      status_class: STATUS_CLASSES[statusClass],
      outcome: OUTCOMES[outcome],
    })).add(1);
    if (!sse) (this.duration ??= this.tracker.duration.bind({ method: this.method, route: this.route })).record(elapsedMs);
  }
}

/** One route label and its entries per method, created lazily. */
export class RouteLabel {
  private readonly byMethod: Array<RouteEntry | undefined> = new Array(METHOD_COUNT).fill(undefined);
  constructor(
    private readonly tracker: HttpTracker,
    readonly route: string,
  ) {}

  entry(method: number): RouteEntry {
    return (this.byMethod[method] ??= new RouteEntry(this.tracker, METHODS[method], this.route));
  }
}

// Per-response state, kept on the response itself so the hot path allocates nothing.
const kState = Symbol('scalesignal.http.state');
const kStart = Symbol('scalesignal.http.start');
const kTracker = Symbol('scalesignal.http.tracker');
const kRoute = Symbol('scalesignal.http.route');
const kWriteHead = Symbol('scalesignal.http.writeHead');
const kSocketClose = Symbol('scalesignal.http.socketClose');

const TRACKED = 1; // request accounting by kTracker
const FAILED = 2; // an error reached the framework's error handling
const SSE_ARMED = 4; // writeHead is wrapped to detect text/event-stream
const SSE_OPEN = 8; // counted in sse.active_connections
const DONE = 16;

interface TrackedResponse extends ServerResponse {
  [kState]?: number;
  [kStart]: number;
  [kTracker]: HttpTracker;
  /** The route label, or what the resolver needs to find it at the end (Fastify's request). */
  [kRoute]: RouteLabel | object | undefined;
  [kWriteHead]: ServerResponse['writeHead'];
  [kSocketClose]?: () => void;
}

/**
 * Finds the route label of a finished request the integration did not label on the way: gets what begin() was
 * given (Fastify's request), else the IncomingMessage (Express reads req.route there).
 */
export type RouteResolver = (source: object, tracker: HttpTracker) => RouteLabel;

export interface TrackerOptions extends HttpMetricsOptions {
  /** Count requests (false: only SSE connections, see trackSse). Default true. */
  countRequests?: boolean;
  resolveRoute?: RouteResolver;
}

export class HttpTracker {
  readonly requests: Counter;
  readonly duration: Histogram;
  readonly unmatched: RouteLabel;
  private readonly other: RouteLabel;
  private readonly routes = new Map<string, RouteLabel>();
  private readonly active: BoundGauge;
  private readonly sseGauge: BoundGauge;
  private readonly sse: boolean;
  private readonly countRequests: boolean;
  private readonly maxRoutes: number;
  private readonly resolveRoute: RouteResolver | undefined;
  /** The response listener, created once: `this` is the response. */
  private readonly onClose: (this: ServerResponse) => void;

  constructor(metrics: Metrics, options: TrackerOptions = {}) {
    this.sse = options.sse ?? true;
    this.countRequests = options.countRequests ?? true;
    this.resolveRoute = options.resolveRoute;
    this.maxRoutes = options.maxRoutes ?? 1000;
    const unmatched = options.unmatchedRoute ?? UNMATCHED_ROUTE;
    if (!Number.isInteger(this.maxRoutes) || this.maxRoutes < 1) {
      throw new TypeError('scalesignal: option "maxRoutes" must be a positive integer');
    }
    if (typeof unmatched !== 'string' || unmatched === '') {
      throw new TypeError('scalesignal: option "unmatchedRoute" must be a non-empty string');
    }
    this.unmatched = new RouteLabel(this, unmatched);
    this.other = new RouteLabel(this, OTHER_ROUTE);
    this.requests = metrics.counter(REQUESTS, {
      unit: '{request}',
      description: 'Finished HTTP requests by method, route template, status class and outcome',
    });
    this.duration = metrics.histogram(REQUEST_DURATION, {
      unit: 'ms',
      description: 'HTTP request duration by method and route template (SSE streams excluded)',
    });
    ({ active: this.active, sse: this.sseGauge } = sharedGauges(metrics));
    const tracker = this;
    this.onClose = function onClose(this: ServerResponse) {
      tracker.end(this as TrackedResponse);
    };
  }

  /** The label for a route template, created on first sight; past `maxRoutes` templates, the shared `other`. */
  label(route: string): RouteLabel {
    let label = this.routes.get(route);
    if (label === undefined) {
      if (this.routes.size >= this.maxRoutes) return this.other;
      label = new RouteLabel(this, route);
      this.routes.set(route, label);
    }
    return label;
  }

  /**
   * Starts tracking a response. `route` is its label when already known, or what the resolver will need at the
   * end. A response already tracked (two integrations on one server) stays with its first tracker, so nothing is
   * counted twice: returns false then.
   */
  begin(res: ServerResponse, route?: RouteLabel | object): boolean {
    const r = res as TrackedResponse;
    if (r[kState] !== undefined) return false;
    r[kState] = this.countRequests ? TRACKED : 0;
    r[kStart] = this.countRequests ? performance.now() : 0;
    r[kTracker] = this;
    r[kRoute] = route;
    if (this.countRequests) this.active.add(1);
    res.on('close', this.onClose);
    // A pipelined request's response waits for the ones before it without a socket; if the socket dies first,
    // Node never emits 'close' on it. Rare, so the closure is only paid for here.
    if (res.socket === null && res.req?.socket) this.watchSocket(r, res.req.socket);
    if (this.sse) armSse(r);
    return true;
  }

  /** Labels a response this tracker began (Fastify's per-route hook). */
  setRoute(res: ServerResponse, label: RouteLabel): void {
    const r = res as TrackedResponse;
    if (r[kTracker] === this) r[kRoute] = label;
  }

  /** Marks a tracked request as failed: an error reached the framework's error handling. */
  static fail(res: ServerResponse): void {
    const r = res as TrackedResponse;
    const state = r[kState];
    if (state !== undefined) r[kState] = state | FAILED;
  }

  /** Watches a response some tracker already began for SSE; false when none did. */
  static watchSse(res: ServerResponse): boolean {
    const r = res as TrackedResponse;
    if (r[kState] === undefined) return false;
    armSse(r);
    return true;
  }

  /** Called from writeHead when the response turns out to be an event stream. */
  openSse(res: ServerResponse): void {
    const r = res as TrackedResponse;
    const state = r[kState] as number;
    if (state & (SSE_OPEN | DONE)) return;
    r[kState] = state | SSE_OPEN;
    this.sseGauge.add(1);
    if (state & TRACKED) this.active.add(-1);
  }

  private watchSocket(res: TrackedResponse, socket: NonNullable<IncomingMessage['socket']>): void {
    const onSocketClose = () => this.end(res);
    res[kSocketClose] = onSocketClose;
    socket.once('close', onSocketClose);
  }

  private end(res: TrackedResponse): void {
    const state = res[kState] as number;
    if (state & DONE) return;
    res[kState] = state | DONE;
    const onSocketClose = res[kSocketClose];
    if (onSocketClose !== undefined) res.req?.socket?.removeListener('close', onSocketClose);
    const sse = (state & SSE_OPEN) !== 0;
    if (sse) this.sseGauge.add(-1);
    if (!(state & TRACKED)) return;
    const elapsed = performance.now() - res[kStart];
    if (!sse) this.active.add(-1);
    const req = res.req as IncomingMessage | undefined;
    const slot = res[kRoute];
    let label: RouteLabel;
    if (slot instanceof RouteLabel) label = slot;
    else if (this.resolveRoute === undefined) label = this.unmatched;
    else {
      const source = slot ?? req;
      label = source === undefined ? this.unmatched : this.resolveRoute(source, this);
    }
    let outcome: number;
    if (state & FAILED) outcome = THROWN;
    else if (!res.writableFinished && !(res.writableEnded && isInjected(res))) outcome = ABORTED;
    else if (res.statusCode >= 500) outcome = SERVER_ERROR;
    else outcome = OK;
    let statusClass = 0;
    if (res.headersSent) {
      statusClass = (res.statusCode / 100) | 0;
      if (statusClass < 1 || statusClass > 9) statusClass = 0;
    }
    label.entry(methodIndex(req?.method)).record(statusClass, outcome, elapsed, sse);
  }
}

/**
 * The two gauges, bound and zeroed once per Metrics: several trackers (an app and trackSse, two apps) then add to
 * the same handles, and a new tracker never resets a count another one holds. Zeroed so they read 0, not "no data".
 */
const gauges = new WeakMap<Metrics, { active: BoundGauge; sse: BoundGauge }>();

function sharedGauges(metrics: Metrics): { active: BoundGauge; sse: BoundGauge } {
  let shared = gauges.get(metrics);
  if (shared === undefined) {
    shared = {
      active: metrics.gauge(ACTIVE_REQUESTS, { unit: '{request}', description: 'HTTP requests in flight' }).bind(),
      sse: metrics.gauge(SSE_CONNECTIONS, { unit: '{connection}', description: 'Open text/event-stream responses' }).bind(),
    };
    shared.active.set(0);
    shared.sse.set(0);
    gauges.set(metrics, shared);
  }
  return shared;
}

const EVENT_STREAM = /^\s*text\/event-stream/i;
const SENT_EVENT_STREAM = /\r\ncontent-type:\s*text\/event-stream/i;

function armSse(res: TrackedResponse): void {
  const state = res[kState] as number;
  if (state & (SSE_ARMED | DONE)) return;
  res[kState] = state | SSE_ARMED;
  if (res.headersSent) {
    // Already committed (trackSse called late): decide from what was sent. Headers given to writeHead() are not
    // kept for getHeader(), only in the serialized head (`_header`, there since Node 0.x).
    const head = (res as unknown as { _header?: unknown })._header;
    const sent = isEventStream(res.getHeader('content-type')) || (typeof head === 'string' && SENT_EVENT_STREAM.test(head));
    if (isSuccess(res.statusCode) && sent) res[kTracker].openSse(res);
    return;
  }
  res[kWriteHead] = res.writeHead;
  (res as ServerResponse).writeHead = writeHeadWatchingSse as unknown as ServerResponse['writeHead'];
}

/**
 * Replaces writeHead on watched responses. Node's implicit head (first write, flushHeaders, end) also goes
 * through `this.writeHead`, so hand-written SSE, Express, Fastify, @fastify/sse and better-sse are all seen.
 */
function writeHeadWatchingSse(this: TrackedResponse, statusCode: number): ServerResponse {
  const original = this[kWriteHead];
  // Content type from the headers argument (object or flat array, after an optional status message) or setHeader.
  const headers = typeof arguments[1] === 'string' ? arguments[2] : arguments[1];
  // eslint-disable-next-line prefer-rest-params
  const result = original.apply(this, arguments as unknown as Parameters<ServerResponse['writeHead']>);
  if (isSuccess(statusCode) && isEventStream(contentTypeOf(this, headers))) this[kTracker].openSse(this);
  return result;
}

function contentTypeOf(res: ServerResponse, headers: unknown): unknown {
  if (headers !== null && typeof headers === 'object') {
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
    } else {
      const record = headers as Record<string, unknown>;
      const direct = record['content-type'];
      if (direct !== undefined) return direct;
      for (const name in record) if (isContentTypeName(name)) return record[name];
    }
  }
  return res.getHeader('content-type');
}

/** Fastify's inject() (light-my-request) never reaches writableFinished: its fake socket keeps what was written. */
const isInjected = (res: ServerResponse) => (res as unknown as { _lightMyRequest?: unknown })._lightMyRequest !== undefined;

const isSuccess = (status: number) => status >= 200 && status < 300;

function isContentTypeName(name: unknown): boolean {
  return typeof name === 'string' && name.length === 12 && name.toLowerCase() === 'content-type';
}

function isEventStream(value: unknown): boolean {
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' && EVENT_STREAM.test(value);
}
