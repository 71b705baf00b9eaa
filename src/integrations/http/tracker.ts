/**
 * The request tracker shared by the Express, Fastify and node:http integrations and trackSse (metrics: names.ts).
 *
 * A response goes through two steps:
 * - begun: its state (a Tracked) is attached under a registered symbol and its end is watched (response-ends.ts:
 *   the finish channel, or its connection's close; a 'close' listener off node:http's path). It ends exactly
 *   once, finished or not. Begun alone, a response is never counted.
 * - claimed: an integration the request passed through takes it; the first claim wins, so a server hook and a
 *   framework integration on one server never count a request twice. Only claimed requests are counted (from
 *   the claim to 'close') and watched for SSE.
 * The Express integration begins requests early (early-start.ts) and claims them in its middleware; the others
 * begin and claim in one step.
 *
 * Hot path per request: one Tracked, one property store, no listener and no closure (one listener per connection),
 * two clock reads, four typed-array records (bound handles resolved once per method x route and status class x
 * outcome). Nothing else is written to the request or response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { BoundGauge, Counter, Histogram, Metrics } from '../../core/api.js';
import { eventStreamWatch, headAnnouncedEventStream } from '../sse-detection.js';
import { ABORTED, methodIndex, OK, RouteTable, SERVER_ERROR, THROWN, type RouteLabel } from './labels.js';
import { ACTIVE_REQUESTS, REQUEST_DURATION, REQUESTS, SSE_CONNECTIONS, UNMATCHED_ROUTE, type HttpMetricsOptions } from './names.js';
import { CLOSED, FINISHED, ResponseEnds, SOCKET_CLOSED, type Ending } from './response-ends.js';

const CLAIMED = 1; // an integration took the request
const COUNTED = 2; // ... and counts it in the request metrics (not trackSse)
const FAILED = 4; // an error reached the framework's error handling
const SSE_ARMED = 8; // an event-stream head opens an SSE connection
const SSE_OPEN = 16; // counted in sse.active_connections
const DONE = 32;
const ON_CHANNEL = 64; // ended through response-ends.ts's channel path

/**
 * Where a response's Tracked lives. Registered, so that two copies of this module (the ESM and the CJS build in
 * one process) see each other's responses and still count each once.
 */
export const kTracked = Symbol.for('scalesignal.http.tracked');

type TrackedResponse = ServerResponse & { [kTracked]?: Tracked };

/**
 * One begun response; its state lives here, never in more properties on the request or response. Fields are
 * assigned in the constructor, in one order (one hidden class, plain stores rather than class-field defines).
 */
export class Tracked {
  declare flags: number;
  /** Set at the claim: performance.now(). */
  declare start: number;
  /** The route label, when the integration knows it before the end (Fastify); else resolved at the end. */
  declare route: RouteLabel | undefined;
  /** Set on the rare path of a pipelined response waiting without a socket. */
  declare socketListener: (() => void) | undefined;
  /** methodIndex() of the request, read at the start (before a framework reshapes the request). */
  declare readonly method: number;
  /** The tracker that began it, then the one that claimed it. */
  declare tracker: HttpTracker;
  declare readonly res: ServerResponse;
  declare readonly req: IncomingMessage | undefined;

  constructor(tracker: HttpTracker, res: ServerResponse, req: IncomingMessage | undefined, flags: number) {
    this.flags = flags;
    this.start = 0;
    this.route = undefined;
    this.socketListener = undefined;
    this.method = methodIndex((req ?? res.req)?.method);
    this.tracker = tracker;
    this.res = res;
    this.req = req;
  }

  get claimed(): boolean {
    return (this.flags & CLAIMED) !== 0;
  }

  /** Marks the request as failed: an error reached the framework's error handling. */
  fail(): void {
    this.flags |= FAILED;
  }

  /** The Tracked of a response, if some tracker began it. */
  static of(res: ServerResponse): Tracked | undefined {
    return (res as TrackedResponse)[kTracked];
  }
}

/** Ends the response's Tracked, if it has one. */
function endResponse(res: ServerResponse, ending: Ending): void {
  const tracked = (res as TrackedResponse)[kTracked];
  if (tracked !== undefined) tracked.tracker.end(tracked, ending);
}

/** The 'close' listener of responses off node:http's server path (`this` is the response). */
function onResponseClose(this: ServerResponse): void {
  endResponse(this, CLOSED);
}

/** Owner of the finish-channel subscription and the connections' 'close' listeners. */
const responseEnds = new ResponseEnds(endResponse);

/** Whether the finish channel is subscribed (for tests: released once no tracker and no response needs it). */
export const watchingResponseEnds = (): boolean => responseEnds.active;

/** The response's head announced an event stream (called by the writeHead wrapper). */
function onEventStream(res: ServerResponse): void {
  const tracked = (res as TrackedResponse)[kTracked];
  if (tracked !== undefined) tracked.tracker.openSse(tracked);
}

/** Owner of the ServerResponse.prototype.writeHead wrapper: installed while some tracker counts SSE. */
const eventStreams = eventStreamWatch(onEventStream);

/** Whether the SSE head wrapper is installed and live (for tests: it must go when the last integration stops). */
export const watchingEventStreams = (): boolean => eventStreams.watching;

/** Finds the route label of a claimed request at its end when the integration did not set `route`. */
export type RouteResolver = (tracked: Tracked) => RouteLabel;

export interface TrackerOptions extends HttpMetricsOptions {
  /** Count requests (false: only SSE connections, see trackSse). Default true. */
  countRequests?: boolean;
  resolveRoute?: RouteResolver;
}

export class HttpTracker {
  readonly routes: RouteTable;
  readonly sse: boolean;
  private readonly countRequests: boolean;
  private readonly resolveRoute: RouteResolver | undefined;
  private readonly active: BoundGauge;
  private readonly sseGauge: BoundGauge;
  private readonly requests: Counter;
  private readonly duration: Histogram;
  private releaseEventStreams: (() => void) | undefined = undefined;
  private releaseResponseEnds: (() => void) | undefined;
  private readonly onStop: Array<() => void> = [];
  private stopped = false;

  constructor(metrics: Metrics, options: TrackerOptions = {}) {
    this.sse = options.sse ?? true;
    this.countRequests = options.countRequests ?? true;
    this.resolveRoute = options.resolveRoute;
    const maxRoutes = options.maxRoutes ?? 1000;
    const unmatched = options.unmatchedRoute ?? UNMATCHED_ROUTE;
    if (typeof this.sse !== 'boolean') throw new TypeError('scalesignal: option "sse" must be a boolean');
    if (!Number.isInteger(maxRoutes) || maxRoutes < 1) throw new TypeError('scalesignal: option "maxRoutes" must be a positive integer');
    if (typeof unmatched !== 'string' || unmatched === '') throw new TypeError('scalesignal: option "unmatchedRoute" must be a non-empty string');
    this.requests = metrics.counter(REQUESTS, {
      unit: '{request}',
      description: 'Finished HTTP requests by method, route template, status class and outcome',
    });
    this.duration = metrics.histogram(REQUEST_DURATION, {
      unit: 'ms',
      description: 'HTTP request duration by method and route template (SSE streams excluded)',
    });
    this.routes = new RouteTable({ requests: this.requests, duration: this.duration }, unmatched, maxRoutes);
    // Unlabelled gauges bind to one series per Metrics, so trackers sharing a Metrics add to the same count;
    // add(0), not set(0): it makes them read 0 instead of "no data" without resetting what another tracker holds.
    this.active = metrics.gauge(ACTIVE_REQUESTS, { unit: '{request}', description: 'HTTP requests in flight' }).bind();
    this.sseGauge = metrics.gauge(SSE_CONNECTIONS, { unit: '{connection}', description: 'Open text/event-stream responses' }).bind();
    this.active.add(0);
    this.sseGauge.add(0);
    if (this.sse) this.releaseEventStreams = eventStreams.acquire();
    this.releaseResponseEnds = responseEnds.acquire();
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Attaches state and the 'close' listener to a response, without claiming it. Returns the response's existing
   * Tracked if some tracker began it already.
   */
  begin(res: ServerResponse, req: IncomingMessage | undefined): Tracked {
    const existing = (res as TrackedResponse)[kTracked];
    if (existing !== undefined) return existing;
    const tracked = new Tracked(this, res, req, responseEnds.watch(res, req, onResponseClose) ? ON_CHANNEL : 0);
    (res as TrackedResponse)[kTracked] = tracked;
    // A pipelined request's response waits for the ones before it without a socket; if the socket dies first,
    // Node never finishes nor closes it. Rare, so its listener is only paid for here. Waiting means: no socket yet
    // and the connection busy with another response (begun early, at the request start, every response still
    // lacks its socket: Node assigns it right after, so an idle connection means no wait).
    const socket = req?.socket as (Socket & { _httpMessage?: ServerResponse | null }) | null | undefined;
    if (res.socket === null && socket && socket._httpMessage != null && socket._httpMessage !== res) {
      tracked.socketListener = () => tracked.tracker.end(tracked, SOCKET_CLOSED);
      socket.once('close', tracked.socketListener);
    }
    return tracked;
  }

  /** Takes a begun request: counted by this tracker from now on. False if another integration claimed it first. */
  claim(tracked: Tracked): boolean {
    let flags = tracked.flags;
    if (flags & (CLAIMED | DONE) || this.stopped) return false;
    tracked.tracker = this;
    flags |= CLAIMED;
    if (this.sse) flags |= SSE_ARMED;
    if (this.countRequests) {
      flags |= COUNTED;
      tracked.start = performance.now();
      this.active.add(1);
    }
    tracked.flags = flags;
    return true;
  }

  /** begin() and claim() in one; the Tracked if this tracker now counts the request, else undefined. */
  track(res: ServerResponse, req: IncomingMessage | undefined): Tracked | undefined {
    const tracked = this.begin(res, req);
    return this.claim(tracked) ? tracked : undefined;
  }

  /** Watches a response for SSE (trackSse); claims it for SSE only when nothing did. */
  armSse(tracked: Tracked): void {
    if (!tracked.claimed) this.claim(tracked);
    const flags = tracked.flags;
    if (flags & (SSE_OPEN | DONE)) return;
    tracked.flags = flags | SSE_ARMED;
    // Already committed (trackSse called late): decide from what was sent.
    if (tracked.res.headersSent && headAnnouncedEventStream(tracked.res)) tracked.tracker.openSse(tracked);
  }

  /** The response's head announced an event stream. */
  openSse(tracked: Tracked): void {
    const flags = tracked.flags;
    if (!(flags & SSE_ARMED) || flags & (SSE_OPEN | DONE)) return;
    tracked.flags = flags | SSE_OPEN;
    this.sseGauge.add(1);
    if (flags & COUNTED) this.active.add(-1);
  }

  /** The response finished, closed, or its connection closed first (see response-ends.ts). */
  end(tracked: Tracked, ending: Ending): void {
    const flags = tracked.flags;
    if (flags & DONE) return;
    tracked.flags = flags | DONE;
    const res = tracked.res;
    if (flags & ON_CHANNEL) responseEnds.ended();
    if (tracked.socketListener !== undefined) tracked.req?.socket?.removeListener('close', tracked.socketListener);
    const sse = (flags & SSE_OPEN) !== 0;
    if (sse) this.sseGauge.add(-1);
    if (!(flags & COUNTED)) return;
    const elapsed = performance.now() - tracked.start;
    if (!sse) this.active.add(-1);
    let label = tracked.route;
    if (label === undefined) label = this.resolveRoute === undefined ? this.routes.unmatched : this.labelAtEnd(tracked);
    const statusCode = res.statusCode;
    // On 'close' (off the channel path): after 'finish' Node detaches the socket before emitting 'close', a response
    // closed any other way still holds it; inject() responses keep a fake socket: ended means finished.
    const finished =
      ending === FINISHED ||
      (ending === CLOSED && (res.writableFinished === true || res.socket === null || (res.writableEnded && isInjected(res))));
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

  /** The resolver's label; a throwing resolver (a user's `route` option) must not throw into Node's finish path. */
  private labelAtEnd(tracked: Tracked): RouteLabel {
    try {
      return this.resolveRoute!(tracked);
    } catch {
      return this.routes.unmatched;
    }
  }

  /** Runs `release` when the tracker stops (early-start registrations, hooks). */
  whenStopped(release: () => void): void {
    if (this.stopped) release();
    else this.onStop.push(release);
  }

  /**
   * Stops claiming new requests and releases what the tracker holds (the SSE head wrapper when it was the last
   * user, early-start subscriptions). Requests already claimed still end and are counted.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.releaseEventStreams?.();
    this.releaseEventStreams = undefined;
    this.releaseResponseEnds?.();
    this.releaseResponseEnds = undefined;
    for (const release of this.onStop.splice(0)) release();
  }
}

/** Fastify's inject() (light-my-request) keeps a fake socket attached after the response ended. */
const isInjected = (res: ServerResponse) => (res as unknown as { _lightMyRequest?: unknown })._lightMyRequest !== undefined;
