/**
 * SSE connections on node:http without a framework integration: `const track = trackSse(metrics)`, then
 * `track(res)` in the handler, before or after the head is written. The response counts in
 * `sse.active_connections` once its head says `Content-Type: text/event-stream` (status 2xx) and is released
 * exactly once when it closes, however it ends (server end, client gone, destroy, error).
 *
 * The Express and Fastify integrations and instrumentHttpServer() already count SSE responses; calling track(res)
 * on a response they track only makes sure it is watched.
 */
import type { ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import { HttpTracker, Tracked } from './http-common.js';

export type SseTracker = (res: ServerResponse) => void;

export function trackSse(metrics: Metrics): SseTracker {
  const tracker = new HttpTracker(metrics, { sse: true, countRequests: false });
  return (res) => {
    const tracked = Tracked.of(res) ?? tracker.begin(res, undefined);
    tracked?.tracker.armSse(tracked);
  };
}
