/**
 * Express 4 and 5 middleware: `app.use(expressMetrics(metrics))`. See http/names.ts for the metrics.
 *
 * What is counted: exactly the requests that pass through the middleware, wherever it is mounted (`app.use(m)`
 * counts every request the app receives, including 404s; `router.use(m)` on an `/api` router only those that
 * reach that router). Requests answered before it (by a middleware registered earlier) are not counted, so
 * register it first.
 *
 * The route label is the route's template with every mount's pattern (`/orgs/:org/users/:id`), rebuilt from the
 * app's layer stack when the response closes (http/express-routes.ts); requests no route handled share
 * `unmatched`.
 *
 * Express gives middleware no way to see errors raised after it, so `thrown` needs the error hook too:
 *   const http = expressMetrics(metrics); app.use(http); ...routes...; app.use(http.errorHandler); ...your handlers
 * Without it, an error Express answers with 500 counts as outcome `5xx`. `http.stop()` stops counting new requests
 * and releases what the middleware holds (the SSE head wrapper when it was the last user, the early start).
 *
 * Express is not imported: the types here are structural, the user brings the framework.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import { requestStarts, serverOf } from './http/early-start.js';
import { ExpressRoutes, type ExpressRequestLike } from './http/express-routes.js';
import type { RouteLabel } from './http/labels.js';
import type { HttpMetricsOptions } from './http/names.js';
import { HttpTracker, Tracked, type RouteResolver } from './http/tracker.js';

type Next = (err?: unknown) => void;

export interface ExpressMetricsOptions extends HttpMetricsOptions {
  /**
   * Route label of a finished request instead of the route's template, e.g. to name static mounts. Return
   * undefined for `unmatched`. Must return a template, never the raw URL.
   */
  route?: (req: IncomingMessage) => string | undefined;
}

export interface ExpressMetricsMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: Next): void;
  /** Error middleware that classifies errors as outcome `thrown`; register it before your own error handlers. */
  readonly errorHandler: (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;
  /** Stops counting new requests (those in flight still finish and count); releases the middleware's hooks. */
  stop(): void;
}

export function expressMetrics(metrics: Metrics, options: ExpressMetricsOptions = {}): ExpressMetricsMiddleware {
  const custom = options.route;
  if (custom !== undefined && typeof custom !== 'function') throw new TypeError('scalesignal: option "route" must be a function');
  let templates: ExpressRoutes<RouteLabel> | undefined;

  const resolveRoute: RouteResolver = (tracked) => {
    const req = tracked.req as ExpressRequestLike;
    if (custom !== undefined) {
      const name = custom(req);
      return typeof name === 'string' && name !== '' ? tracker.routes.label(name) : tracker.routes.unmatched;
    }
    const route = req.route;
    if (typeof route !== 'object' || route === null) return tracker.routes.unmatched;
    return templates!.resolve(req, route);
  };

  const tracker = new HttpTracker(metrics, { ...options, resolveRoute });
  templates = new ExpressRoutes((template) => tracker.routes.label(template));

  const middleware = function scalesignalMetrics(req: IncomingMessage, res: ServerResponse, next: Next): void {
    if (!tracker.isStopped) {
      // Usually begun as the request started, on the objects Node created (early-start.ts): found by identity.
      let tracked = requestStarts.justStarted(req) ?? Tracked.of(res);
      if (tracked === undefined) {
        tracked = tracker.begin(res, req);
        // The first request of a server teaches us the server; its later requests start early.
        const server = serverOf(req);
        if (server !== undefined) requestStarts.register(server, tracker);
      }
      tracker.claim(tracked);
    }
    next();
  };
  const errorHandler = function scalesignalErrors(err: unknown, _req: IncomingMessage, res: ServerResponse, next: Next): void {
    Tracked.of(res)?.fail();
    next(err);
  };
  return Object.assign(middleware, { errorHandler, stop: () => tracker.stop() });
}
