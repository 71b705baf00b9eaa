/**
 * What the HTTP integrations emit (Express, Fastify, node:http, trackSse) and the options they share.
 *
 * - `http.server.active_requests` (gauge): requests in flight; the Window carries each window's max and last.
 * - `http.server.requests` (counter): labels `method`, `route` (the framework's template, never the raw URL),
 *   `status_class` (`2xx`..., `none` when no head was sent) and `outcome`: `ok`, `5xx` (answered 5xx),
 *   `thrown` (an error reached the framework's error handling), `aborted` (closed before the response finished).
 * - `http.server.request.duration` (histogram, ms): labels `method`, `route`.
 * - `sse.active_connections` (gauge): open responses with `Content-Type: text/event-stream`. A stream moves out of
 *   active_requests when its head is written, so long-lived streams do not mask the in-flight count, and its
 *   lifetime is not recorded as a request duration.
 */
export const ACTIVE_REQUESTS = 'http.server.active_requests';
export const REQUESTS = 'http.server.requests';
export const REQUEST_DURATION = 'http.server.request.duration';
export const SSE_CONNECTIONS = 'sse.active_connections';

/** Label value shared by requests no route matched. */
export const UNMATCHED_ROUTE = 'unmatched';
/** Label value of routes beyond `maxRoutes` distinct templates. */
export const OTHER_ROUTE = 'other';

export type Outcome = 'ok' | '5xx' | 'thrown' | 'aborted';

export interface HttpMetricsOptions {
  /** Count `text/event-stream` responses in `sse.active_connections`. Default true. */
  sse?: boolean;
  /** Route label of requests no route matched. Default `unmatched`. */
  unmatchedRoute?: string;
  /** Distinct route labels kept before further ones share the label `other` (a guard, not a budget). Default 1000. */
  maxRoutes?: number;
}
