/**
 * Fastify 4 and 5 plugin: `fastify.register(fastifyMetrics, { metrics })`, registered before your routes and
 * before plugins whose hooks may answer early (auth, rate limits), like every hook-based Fastify plugin.
 * See http-common.ts for the metrics.
 *
 * - A global onRequest hook starts tracking every request, including 404s and requests another hook answers;
 *   the request's state sits in a request decorator, so Fastify's request shape never changes.
 * - An onRoute hook gives every route declared afterwards its own onRequest hook holding its label, the route
 *   template with prefix (`/api/users/:id`), so the hot path reads no `request.routeOptions` (a fresh object per
 *   access). A request answered before its route hook ran is labelled at the end from `routeOptions.url`.
 * - A global onError hook marks errors as outcome `thrown`.
 *
 * The plugin metadata fastify-plugin would set is set here directly (the same three registered symbols), so
 * neither fastify nor fastify-plugin becomes a runtime dependency: it declares `fastify: '4.x || 5.x'` and
 * skips encapsulation so its hooks reach every context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import { HttpTracker, type HttpMetricsOptions, type RouteLabel, type Tracked } from './http-common.js';

export interface FastifyMetricsOptions extends HttpMetricsOptions {
  metrics: Metrics;
}

/** The request decorator holding the request's state (declared up front, so setting it changes no shape). */
const kTracked = Symbol.for('scalesignal.fastify.tracked');

/** The parts of Fastify's request and reply used here (v4 and v5). */
interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly is404?: boolean;
  readonly routeOptions?: { readonly url?: string };
  readonly routerPath?: string;
  [kTracked]?: Tracked | null;
}
interface FastifyReplyLike {
  readonly raw: ServerResponse;
}
type Done = (err?: Error) => void;
type RequestHook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: Done) => void;
interface RouteOptionsLike {
  url?: string;
  path?: string;
  onRequest?: RequestHook | RequestHook[];
}

/** What the plugin calls on the instance; typed loosely so both majors' FastifyInstance types are accepted. */
interface FastifyInstanceLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addHook(name: string, hook: (...args: any[]) => unknown): unknown;
  decorateRequest(name: string | symbol, value: unknown): unknown;
  hasRequestDecorator(name: string | symbol): boolean;
}

const kOwner = Symbol('scalesignal.fastify.owner');

function plugin(fastify: FastifyInstanceLike, options: FastifyMetricsOptions, done: Done): void {
  const { metrics, ...rest } = options ?? ({} as FastifyMetricsOptions);
  if (metrics === undefined || metrics === null || typeof metrics.counter !== 'function') {
    done(new TypeError('scalesignal: fastifyMetrics needs { metrics }, the object createMetrics() returned'));
    return;
  }
  let tracker: HttpTracker;
  try {
    tracker = new HttpTracker(metrics, { ...rest, resolveRoute: (request, t) => labelAtEnd(request as FastifyRequestLike, t) });
    // Registered twice on one instance, the second registration finds the decorator and the first tracker wins.
    if (!fastify.hasRequestDecorator(kTracked)) fastify.decorateRequest(kTracked, null);
  } catch (error) {
    done(error as Error);
    return;
  }

  fastify.addHook('onRequest', function scalesignalBegin(request: FastifyRequestLike, reply: FastifyReplyLike, next: Done) {
    if (request[kTracked] == null) request[kTracked] = tracker.begin(reply.raw, request.raw, request) ?? null;
    next();
  });

  fastify.addHook('onRoute', function scalesignalRoute(route: RouteOptionsLike) {
    const url = route.url ?? route.path;
    if (typeof url !== 'string') return;
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    if (existing.some((hook) => (hook as { [kOwner]?: HttpTracker })[kOwner] === tracker)) return;
    const label = tracker.label(url);
    const hook: RequestHook = function scalesignalLabel(request, _reply, next) {
      const tracked = request[kTracked];
      if (tracked != null && tracked.tracker === tracker) tracked.route = label;
      next();
    };
    (hook as { [kOwner]?: HttpTracker })[kOwner] = tracker;
    route.onRequest = [hook, ...existing];
  });

  fastify.addHook('onError', function scalesignalError(request: FastifyRequestLike, _reply: FastifyReplyLike, _error: unknown, next: Done) {
    request[kTracked]?.fail();
    next();
  });

  done();
}

/** For requests answered before their route hook ran (an earlier hook replied) and 404s. */
function labelAtEnd(request: FastifyRequestLike, tracker: HttpTracker): RouteLabel {
  if (request.is404 === true) return tracker.unmatched;
  let url: string | undefined;
  try {
    // v5 and late v4: routeOptions.url; early v4: routerPath.
    url = request.routeOptions?.url ?? request.routerPath;
  } catch {
    url = undefined;
  }
  return typeof url === 'string' ? tracker.label(url) : tracker.unmatched;
}

const meta = { fastify: '4.x || 5.x', name: 'scalesignal' };
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: meta.name,
  [Symbol.for('plugin-meta')]: meta,
});

/** `fastify.register(fastifyMetrics, { metrics })` */
export const fastifyMetrics = plugin;
