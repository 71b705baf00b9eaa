/**
 * SSE connections on node:http without a framework integration: `const track = trackSse(metrics)`, then
 * `track(res)` in the handler, before or after the head is written. The response counts in
 * `sse.active_connections` once its head says `Content-Type: text/event-stream` (status 2xx) and is released
 * exactly once when it closes, however it ends (server end, client gone, destroy, error). `track.stop()` releases
 * the SSE head wrapper when it was the last user; streams already open are still released when they close.
 *
 * The Express and Fastify integrations and instrumentHttpServer() already count the SSE responses they claim;
 * calling track(res) on one of them only makes sure it is watched.
 */
import type { ServerResponse } from 'node:http';
import type { Metrics } from '../core/api.js';
import { HttpTracker, Tracked } from './http/tracker.js';

export interface SseTracker {
  (res: ServerResponse): void;
  stop(): void;
}

export function trackSse(metrics: Metrics): SseTracker {
  const tracker = new HttpTracker(metrics, { sse: true, countRequests: false });
  const track = (res: ServerResponse) => {
    if (tracker.isStopped) return;
    let tracked = Tracked.of(res);
    if (tracked === undefined) {
      // Ended (or ending) without state: nothing to count, and its end may have been published already.
      if (res.writableEnded || res.destroyed) return;
      tracked = tracker.begin(res, undefined);
    }
    // A response some integration claimed stays with it (same gauge); otherwise this tracker takes it for SSE only.
    (tracked.claimed ? tracked.tracker : tracker).armSse(tracked);
  };
  return Object.assign(track, { stop: () => tracker.stop() });
}
