/**
 * node:http (and https) servers without a framework: `instrumentHttpServer(server, metrics)` counts every request
 * and SSE stream the server handles (see http/names.ts for the metrics). Without a `route` option every request
 * carries the route label `unmatched`: a raw URL would make a series per URL. Returns a function that stops
 * tracking new requests and releases the hooks (the SSE head wrapper when it was the last user).
 *
 * With a framework integration on the same server, a request is counted once, by the first to claim it: this hook
 * runs before any 'request' handler, so it wins.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import type { HttpMetricsOptions } from './http/names.js';
import { HttpTracker, type RouteResolver } from './http/tracker.js';

export interface HttpServerMetricsOptions extends HttpMetricsOptions {
  /** Route template of a finished request (`/users/:id`); undefined for `unmatched`. Never return the raw URL. */
  route?: (req: IncomingMessage) => string | undefined;
}

/** Any server emitting node:http's 'request' event. */
type RequestEmitter = Pick<Server, 'prependListener' | 'removeListener'>;

export function instrumentHttpServer(server: RequestEmitter, metrics: Metrics, options: HttpServerMetricsOptions = {}): () => void {
  const { route, ...rest } = options;
  if (route !== undefined && typeof route !== 'function') throw new TypeError('scalesignal: option "route" must be a function');
  const resolveRoute: RouteResolver | undefined =
    route === undefined
      ? undefined
      : (tracked) => {
          const name = tracked.req === undefined ? undefined : route(tracked.req);
          return typeof name === 'string' && name !== '' ? tracker.routes.label(name) : tracker.routes.unmatched;
        };
  const tracker = new HttpTracker(metrics, { ...rest, resolveRoute });
  // Prepended, so the response is claimed before any handler can write its head.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    tracker.track(res, req);
  };
  server.prependListener('request', onRequest);
  return () => {
    if (tracker.isStopped) return;
    server.removeListener('request', onRequest);
    tracker.stop();
  };
}
