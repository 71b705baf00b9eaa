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
 * (after 'finish', or when the socket closes or the response is destroyed first).
 *
 * Hot path: per request one small state object and its 'close' listener, two clock reads, no label objects (bound
 * handles are resolved once per method x route and status class x outcome, then cached). Nothing is written to
 * the request or response: Express re-prototypes both per request, which gives every one of them its own hidden
 * class after its next property add, so each write there costs microseconds and every read a megamorphic miss
 * (measured: ~4 us per write, ~0.35 us per read on Node 20). The state is found again from a response only on
 * rare paths (an error, an SSE head) through the listener, see `Tracked.of`.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { BoundCounter, BoundGauge, BoundHistogram, Counter, Histogram, Metrics } from '../core/api.js';
import { forgetPending, headAnnouncedEventStream, watchEventStreams } from './sse-detection.js';

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

const FAILED = 1; // an error reached the framework's error handling
const SSE_ARMED = 2; // an event-stream head opens an SSE connection
const SSE_OPEN = 4; // counted in sse.active_connections
const DONE = 8;

/** Shared by every copy of this module, so a copy never mistakes another's listener for a foreign one. */
const PROBE = Symbol.for('scalesignal.http.probe');
const kListener = Symbol.for('scalesignal.http.listener');

type CloseListener = ((probe?: unknown) => unknown) & { [kListener]?: true };

/** One tracked response: its state lives here, never on the request or response (see the module comment). */
export class Tracked {
  flags = 0;
  /** methodIndex() of the request, read at the start (before a framework reshapes the request). */
  readonly method: number;
  /** The route label, or what the resolver needs to find it at the end (Fastify's request). */
  route: RouteLabel | object | undefined;
  readonly listener: CloseListener;
  /** Set on the rare path of a pipelined response waiting without a socket. */
  socketListener: (() => void) | undefined = undefined;

  constructor(
    readonly tracker: HttpTracker,
    readonly res: ServerResponse,
    readonly req: IncomingMessage | undefined,
    route: RouteLabel | object | undefined,
    readonly counted: boolean,
    readonly start: number,
  ) {
    this.route = route;
    this.method = methodIndex((req ?? res.req)?.method);
    // Marked so that Tracked.of() can recognise it; called with PROBE it only answers. An anonymous arrow
    // assigned to a member: tools that keep function names (tsx, esbuild keepNames) wrap named function
    // expressions in a defineProperty call, which would cost ~0.4 us per request.
    this.listener = (probe?: unknown) => {
      if (probe === PROBE) return this;
      this.tracker.end(this, false);
      return undefined;
    };
    this.listener[kListener] = true;
  }

  /** Marks the request as failed: an error reached the framework's error handling. */
  fail(): void {
    this.flags |= FAILED;
  }

  /** The Tracked of a response, found through its 'close' listener; for rare paths only. */
  static of(res: ServerResponse): Tracked | undefined {
    for (const listener of res.listeners('close')) {
      if (typeof listener === 'function' && (listener as CloseListener)[kListener] === true) {
        const found = (listener as CloseListener)(PROBE);
        if (found instanceof Tracked) return found;
      }
    }
    return undefined;
  }
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

/** instrumentHttpServer() hooks installed: only then can a response reach a second tracker. */
let serverHooks = 0;
export const serverHookInstalled = (delta: number) => {
  serverHooks += delta;
};

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
    if (this.sse) watchEventStreams(openEventStream);
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
   * end. A response some tracker already follows (a server hook and a framework integration on one server) stays
   * with the first one, so nothing is counted twice: returns undefined then.
   */
  begin(res: ServerResponse, req: IncomingMessage | undefined, route?: RouteLabel | object): Tracked | undefined {
    if (serverHooks > 0 && Tracked.of(res) !== undefined) return undefined;
    const tracked = new Tracked(this, res, req, route, this.countRequests, this.countRequests ? performance.now() : 0);
    if (this.sse) tracked.flags = SSE_ARMED;
    if (this.countRequests) this.active.add(1);
    res.on('close', tracked.listener);
    // A pipelined request's response waits for the ones before it without a socket; if the socket dies first,
    // Node never emits 'close' on it. Rare, so its listener is only paid for here.
    if (res.socket === null && req?.socket) {
      const socket = req.socket;
      tracked.socketListener = () => this.end(tracked, true);
      socket.once('close', tracked.socketListener);
    }
    return tracked;
  }

  /** Watches a tracked response for SSE (trackSse on a response tracked without it). */
  armSse(tracked: Tracked): void {
    if (tracked.flags & (SSE_OPEN | DONE)) return;
    tracked.flags |= SSE_ARMED;
    // Already committed (trackSse called late): decide from what was sent.
    if (tracked.res.headersSent && headAnnouncedEventStream(tracked.res)) this.openSse(tracked);
  }

  /** The response's head announced an event stream. */
  openSse(tracked: Tracked): void {
    const flags = tracked.flags;
    if (!(flags & SSE_ARMED) || flags & (SSE_OPEN | DONE)) return;
    tracked.flags = flags | SSE_OPEN;
    this.sseGauge.add(1);
    if (tracked.counted) this.active.add(-1);
  }

  /** `socketDied`: called from the socket of a pipelined response that never got to write. */
  end(tracked: Tracked, socketDied: boolean): void {
    const flags = tracked.flags;
    if (flags & DONE) return;
    tracked.flags = flags | DONE;
    const { res, req } = tracked;
    if (tracked.socketListener !== undefined) req?.socket?.removeListener('close', tracked.socketListener);
    const sse = (flags & SSE_OPEN) !== 0;
    if (sse) this.sseGauge.add(-1);
    else if (flags & SSE_ARMED) forgetPending(res);
    if (!tracked.counted) return;
    const elapsed = performance.now() - tracked.start;
    if (!sse) this.active.add(-1);
    const slot = tracked.route;
    let label: RouteLabel;
    if (slot instanceof RouteLabel) label = slot;
    else if (this.resolveRoute === undefined) label = this.unmatched;
    else {
      const source = slot ?? req ?? res.req;
      label = source === undefined || source === null ? this.unmatched : this.resolveRoute(source, this);
    }
    const statusCode = res.statusCode;
    // After 'finish' Node detaches the socket before emitting 'close'; a response closed any other way (client
    // gone, destroyed, socket died) still holds it. inject() responses keep a fake socket: ended means finished.
    const finished = !socketDied && (res.socket === null || (res.writableEnded && isInjected(res)));
    let outcome: number;
    if (flags & FAILED) outcome = THROWN;
    else if (!finished) outcome = ABORTED;
    else if (statusCode >= 500) outcome = SERVER_ERROR;
    else outcome = OK;
    let statusClass = 0;
    if (finished || res.headersSent) {
      statusClass = (statusCode / 100) | 0;
      if (statusClass < 1 || statusClass > 9) statusClass = 0;
    }
    label.entry(tracked.method).record(statusClass, outcome, elapsed, sse);
  }
}

/**
 * Early start: Node publishes `http.server.request.start` with the request and response before the server's
 * 'request' handlers run, that is before Express re-prototypes them. A tracker that knows the server (an
 * integration saw one request of it) begins every later request there, on objects where listeners and reads
 * are cheap; the integration then only has to recognise them (see `startedEarly`).
 */
const earlyServers = new WeakMap<Server, HttpTracker>();
let subscribed = false;
let lastStarted: IncomingMessage | undefined;

interface RequestStart {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly server: Server;
}

function onRequestStart(message: unknown): void {
  const { request, response, server } = message as RequestStart;
  const tracker = earlyServers.get(server);
  if (tracker === undefined) return;
  lastStarted = request;
  tracker.begin(response, request);
}

/** From now on `tracker` begins every request of `server` as it starts; the first tracker of a server keeps it. */
export function beginEarly(server: Server | undefined | null, tracker: HttpTracker): void {
  if (server === undefined || server === null || earlyServers.has(server)) return;
  earlyServers.set(server, tracker);
  if (!subscribed) {
    subscribed = true;
    diagnostics.subscribe('http.server.request.start', onRequestStart);
  }
}

/**
 * Whether this request was begun at its start. Free when the integration runs in the same tick as the server's
 * 'request' event (a middleware registered first); otherwise one read of the request's socket.
 */
export function startedEarly(req: IncomingMessage): boolean {
  if (req === lastStarted) return true;
  const server = (req.socket as (Socket & { server?: Server }) | null | undefined)?.server;
  return server !== undefined && earlyServers.has(server);
}

/** The server a request arrived on, for beginEarly(); undefined for requests without a socket (tests, inject). */
export function serverOf(req: IncomingMessage): Server | undefined {
  return (req.socket as (Socket & { server?: Server }) | null | undefined)?.server;
}

function openEventStream(res: ServerResponse): void {
  const tracked = Tracked.of(res);
  if (tracked !== undefined) tracked.tracker.openSse(tracked);
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

/** Fastify's inject() (light-my-request) keeps a fake socket attached after the response ended. */
const isInjected = (res: ServerResponse) => (res as unknown as { _lightMyRequest?: unknown })._lightMyRequest !== undefined;
