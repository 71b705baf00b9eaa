/**
 * Fastify 4 and 5 plugin: `fastify.register(fastifyMetrics, { metrics })`. See http/names.ts for the metrics.
 *
 * What is counted: every request of the instance, including 404s and requests a later hook answers (auth, rate
 * limits). The plugin skips encapsulation, so its hooks reach every route, declared before or after it, in child
 * plugins too (Fastify attaches hooks to routes when the instance gets ready). Register it before hooks that may
 * answer early: onRequest hooks run in the order they were added, and one that answers stops the others.
 *
 * One global onRequest hook begins the request and labels it with its route's template, prefix included
 * (`/api/users/:id`), read from the route's context (one per route: the hot path builds no `routeOptions`
 * object); 404s share `unmatched`. A global onError hook marks errors as outcome `thrown`; onClose stops the
 * tracker (and releases the SSE head wrapper when it was the last user).
 *
 * The plugin metadata fastify-plugin would set is set here directly (the same three registered symbols), so
 * neither fastify nor fastify-plugin becomes a runtime dependency: it declares `fastify: '4.x || 5.x'` and
 * skips encapsulation so its hooks reach every context.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import type { RouteLabel, RouteTable } from './http/labels.js';
import type { HttpMetricsOptions } from './http/names.js';
import { HttpTracker, Tracked } from './http/tracker.js';

export interface FastifyMetricsOptions extends HttpMetricsOptions {
  metrics: Metrics;
}

/** The parts of Fastify's request and reply used here (v4 and v5). */
interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  readonly routeOptions?: { readonly url?: string };
  readonly [key: symbol]: unknown;
}
interface FastifyReplyLike {
  readonly raw: ServerResponse;
}
type Done = (err?: Error) => void;

/** What the plugin calls on the instance; typed loosely so both majors' FastifyInstance types are accepted. */
interface FastifyInstanceLike {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  addHook(name: string, hook: (...args: any[]) => unknown): unknown;
}

/**
 * Fastify keeps a request's route context (one object per route, `config.url` its template with prefix; 404s
 * have none) under a private symbol, `Symbol('fastify.context')` in v4 and v5. It is looked up once by its
 * description; without it each request pays for `request.routeOptions`.
 */
const CONTEXT = 'fastify.context';

function plugin(fastify: FastifyInstanceLike, options: FastifyMetricsOptions, done: Done): void {
  const { metrics, ...rest } = options ?? ({} as FastifyMetricsOptions);
  if (metrics === undefined || metrics === null || typeof metrics.counter !== 'function') {
    done(new TypeError('scalesignal: fastifyMetrics needs { metrics }, the object createMetrics() returned'));
    return;
  }
  let tracker: HttpTracker;
  try {
    tracker = new HttpTracker(metrics, rest);
  } catch (error) {
    done(error as Error);
    return;
  }
  const routes = tracker.routes;
  let kContext: symbol | null | undefined;

  // The last route context seen and its label: a run of requests to one route skips the template lookup.
  let lastContext: unknown = undefined;
  let lastLabel: RouteLabel = routes.unmatched;

  const labelOf = (request: FastifyRequestLike): RouteLabel => {
    if (kContext === undefined) kContext = Object.getOwnPropertySymbols(request).find((s) => s.description === CONTEXT) ?? null;
    if (kContext === null) return routeOptionsLabel(request, routes);
    const context = request[kContext] as { config?: { url?: unknown } } | undefined;
    if (context === lastContext && context !== undefined) return lastLabel;
    const url = context?.config?.url;
    const label = typeof url === 'string' ? routes.label(url) : routes.unmatched;
    lastContext = context;
    lastLabel = label;
    return label;
  };

  fastify.addHook('onRequest', function scalesignalRequest(request: FastifyRequestLike, reply: FastifyReplyLike, next: Done) {
    const tracked = tracker.track(reply.raw, request.raw);
    if (tracked !== undefined) tracked.route = labelOf(request);
    next();
  });

  fastify.addHook('onError', function scalesignalError(_request: FastifyRequestLike, reply: FastifyReplyLike, _error: unknown, next: Done) {
    Tracked.of(reply.raw)?.fail();
    next();
  });

  fastify.addHook('onClose', function scalesignalClose(_instance: unknown, next: Done) {
    tracker.stop();
    next();
  });

  done();
}

/** Without the context symbol: v5 and late v4 `routeOptions.url` (404s have none). */
function routeOptionsLabel(request: FastifyRequestLike, routes: RouteTable): RouteLabel {
  let url: unknown;
  try {
    url = request.routeOptions?.url;
  } catch {
    url = undefined;
  }
  return typeof url === 'string' ? routes.label(url) : routes.unmatched;
}

const meta = { fastify: '4.x || 5.x', name: 'scalesignal' };
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: meta.name,
  [Symbol.for('plugin-meta')]: meta,
});

/** `fastify.register(fastifyMetrics, { metrics })` */
export const fastifyMetrics = plugin;
