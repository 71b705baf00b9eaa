/**
 * Express 4 and 5 middleware: `app.use(expressMetrics(metrics))` before your routes. See http-common.ts for the
 * metrics. The route label is Express's template, `req.baseUrl` + `req.route.path` (`/api/users/:id`), read when
 * the response closes; requests no route handled share `unmatched`.
 *
 * Express gives middleware no way to see errors raised after it, so `thrown` needs the error hook too:
 *   const http = expressMetrics(metrics); app.use(http); ...routes...; app.use(http.errorHandler); ...your handlers
 * Without it, an error Express answers with 500 counts as outcome `5xx`.
 *
 * Express is not imported: the types here are structural, the user brings the framework.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import { beginEarly, HttpTracker, serverOf, startedEarly, Tracked, type HttpMetricsOptions, type RouteLabel } from './http-common.js';

/** What Express adds to the request that matters here (Express 4 and 5 alike). */
interface ExpressRequest extends IncomingMessage {
  route?: { path?: unknown };
  baseUrl?: string;
}

type Next = (err?: unknown) => void;

export interface ExpressMetricsOptions extends HttpMetricsOptions {
  /**
   * Route label of a finished request instead of `req.baseUrl + req.route.path`, e.g. to name static mounts.
   * Return undefined for `unmatched`. Must return a template, never the raw URL.
   */
  route?: (req: IncomingMessage) => string | undefined;
}

export interface ExpressMetricsMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: Next): void;
  /** Error middleware that classifies errors as outcome `thrown`; register it before your own error handlers. */
  readonly errorHandler: (err: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void;
}

/** Distinct base URLs cached per route; a router mounted on a path with parameters produces raw base URLs. */
const MAX_BASES_PER_ROUTE = 64;

export function expressMetrics(metrics: Metrics, options: ExpressMetricsOptions = {}): ExpressMetricsMiddleware {
  const custom = options.route;
  if (custom !== undefined && typeof custom !== 'function') throw new TypeError('scalesignal: option "route" must be a function');
  // Route objects are created once per app.get()/router.route(): a stable key, no string building per request.
  const byRoute = new Map<object, Map<string, RouteLabel>>();

  const resolveRoute = (source: object, tracker: HttpTracker): RouteLabel => {
    const req = source as ExpressRequest;
    if (custom !== undefined) {
      const name = custom(req);
      return typeof name === 'string' && name !== '' ? tracker.label(name) : tracker.unmatched;
    }
    const { route, baseUrl = '' } = req;
    if (route === undefined || route === null) return tracker.unmatched;
    let bases = byRoute.get(route);
    if (bases === undefined) byRoute.set(route, (bases = new Map()));
    let label = bases.get(baseUrl);
    if (label === undefined) {
      label = tracker.label(template(baseUrl, route.path));
      if (bases.size < MAX_BASES_PER_ROUTE) bases.set(baseUrl, label);
    }
    return label;
  };

  const tracker = new HttpTracker(metrics, { ...options, resolveRoute });
  const middleware = function scalesignalMetrics(req: IncomingMessage, res: ServerResponse, next: Next): void {
    // After the first request of a server its requests are begun as they start (see beginEarly), on the plain
    // objects Node creates: Express re-prototypes them, after which every access costs (see http-common.ts).
    // A response another tracker owns (a server hook) leaves this server to that tracker.
    if (!startedEarly(req) && tracker.begin(res, req) !== undefined) beginEarly(serverOf(req), tracker);
    next();
  };
  const errorHandler = function scalesignalErrors(err: unknown, _req: IncomingMessage, res: ServerResponse, next: Next): void {
    Tracked.of(res)?.fail();
    next(err);
  };
  return Object.assign(middleware, { errorHandler });
}

/** `/api` + `/users/:id`; a router's own `/` is the mount path itself. Arrays and RegExps keep their source. */
function template(baseUrl: string, path: unknown): string {
  const own = Array.isArray(path) ? path.map(String).join(',') : String(path);
  if (baseUrl === '') return own;
  return own === '/' ? baseUrl : baseUrl + own;
}
