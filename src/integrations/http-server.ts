/**
 * node:http (and https, http2 compat) servers without a framework: `instrumentHttpServer(server, metrics)` counts
 * every request and SSE stream the server handles (see http-common.ts for the metrics). Without a `route`
 * option every request carries the route label `unmatched`: a raw URL would make a series per URL.
 * Returns a function that stops tracking new requests.
 *
 * Use it or a framework integration on one server, not both: a response is only ever counted by the first.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import { HttpTracker, serverHookInstalled, type HttpMetricsOptions, type RouteLabel } from './http-common.js';

export interface HttpServerMetricsOptions extends HttpMetricsOptions {
  /** Route template of a finished request (`/users/:id`); undefined for `unmatched`. Never return the raw URL. */
  route?: (req: IncomingMessage) => string | undefined;
}

/** Any server emitting node:http's 'request' event. */
type RequestEmitter = Pick<Server, 'prependListener' | 'removeListener'>;

export function instrumentHttpServer(server: RequestEmitter, metrics: Metrics, options: HttpServerMetricsOptions = {}): () => void {
  const { route, ...rest } = options;
  if (route !== undefined && typeof route !== 'function') throw new TypeError('scalesignal: option "route" must be a function');
  const resolveRoute =
    route === undefined
      ? undefined
      : (req: object, tracker: HttpTracker): RouteLabel => {
          const name = route(req as IncomingMessage);
          return typeof name === 'string' && name !== '' ? tracker.label(name) : tracker.unmatched;
        };
  const tracker = new HttpTracker(metrics, { ...rest, resolveRoute });
  // Prepended, so the response is tracked before any handler can write its head.
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    tracker.begin(res, req);
  };
  server.prependListener('request', onRequest);
  serverHookInstalled(1);
  let installed = true;
  return () => {
    if (!installed) return;
    installed = false;
    server.removeListener('request', onRequest);
    serverHookInstalled(-1);
  };
}
