/**
 * Early start, a start-time optimisation for Express: Node publishes `http.server.request.start` with the request
 * and response before the server's 'request' listeners run, that is before Express re-prototypes them (after
 * which every property access on them is a megamorphic lookup). For each server an Express middleware has seen,
 * every later request is begun here, on the objects Node created, and the middleware only claims it. A request
 * that never reaches a middleware (mounted on another path) is never claimed and ends uncounted: the early start
 * changes what a request costs, never what is counted or measured (durations start at the claim).
 *
 * State is owned by one RequestStarts object: the servers and their trackers, the channel subscription (held only
 * while some server is registered) and the last request begun, which a middleware running in the same tick as the
 * server's 'request' event (the usual case) recognises by identity, without a property read.
 */
import diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpTracker, Tracked } from './tracker.js';

const CHANNEL = 'http.server.request.start';

interface RequestStart {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
  readonly server: Server;
}

export class RequestStarts {
  /** Per server, the trackers that registered it; the first live one begins its requests. */
  private readonly servers = new WeakMap<Server, HttpTracker[]>();
  private registered = 0;
  private lastRequest: IncomingMessage | undefined = undefined;
  private lastTracked: Tracked | undefined = undefined;

  private readonly onStart = (message: unknown): void => {
    const { request, response, server } = message as RequestStart;
    const trackers = this.servers.get(server);
    if (trackers === undefined) return;
    this.lastTracked = trackers[0].begin(response, request);
    this.lastRequest = request;
  };

  /** From now on the requests of `server` are begun as they start, by `tracker` (or an earlier one) until it stops. */
  register(server: Server, tracker: HttpTracker): void {
    let trackers = this.servers.get(server);
    if (trackers === undefined) this.servers.set(server, (trackers = []));
    if (trackers.includes(tracker) || tracker.isStopped) return;
    trackers.push(tracker);
    if (this.registered++ === 0) diagnostics.subscribe(CHANNEL, this.onStart);
    tracker.whenStopped(() => {
      trackers.splice(trackers.indexOf(tracker), 1);
      if (trackers.length === 0) this.servers.delete(server);
      if (--this.registered === 0) {
        diagnostics.unsubscribe(CHANNEL, this.onStart);
        this.lastRequest = undefined;
        this.lastTracked = undefined;
      }
    });
  }

  /** Whether `server`'s requests are begun early. */
  covers(server: Server | undefined): boolean {
    return server !== undefined && this.servers.has(server);
  }

  /** The Tracked begun for `req` if it was the last request to start (same tick): no property access needed. */
  justStarted(req: IncomingMessage): Tracked | undefined {
    return req === this.lastRequest ? this.lastTracked : undefined;
  }

  /** Whether the channel is subscribed (for tests: it must be released when the last middleware stops). */
  get subscribed(): boolean {
    return this.registered > 0;
  }
}

/** The server a request arrived on; undefined for requests without a socket (tests, inject). */
export function serverOf(req: IncomingMessage): Server | undefined {
  return (req.socket as (Socket & { server?: Server }) | null | undefined)?.server;
}

/** The process's request starts (one subscription for every Express middleware). */
export const requestStarts = new RequestStarts();
