/**
 * Paced HTTP load: requests at a steady rate, spread over every millisecond, on keep-alive connections.
 *
 * Why not autocannon's `overallRate`: it gives each connection a quota per second and resets it on a 1 s
 * interval, so every second starts with a burst at full speed and ends idle. A server's CPU per request then
 * depends on how each burst happens to batch into event-loop turns: the same process measured twice in a row
 * differed by up to 2x (bench:http, Fastify realistic at 3,000 req/s), which buried any few-percent difference.
 * Here arrivals are uniform (a 1 ms pacer sends what is due), as a service behind a load balancer sees them.
 * autocannon still makes the flat-out (--rate 0) load and the warm-up.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export interface PacedLoadOptions {
  readonly url: string;
  /** Requests per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Keep-alive connections; a request due while all are busy waits for one (counted in `queuedMax`). */
  readonly connections: number;
  /** Called with each response's duration (ms, from when it was due) and status. */
  readonly onResponse: (ms: number, status: number) => void;
}

export interface PacedLoadResult {
  readonly sent: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Most requests that were due but waiting for a free connection at once. */
  readonly queuedMax: number;
}

export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.connections });
  const { rate, seconds, onResponse } = options;
  const url = new URL(options.url);
  const total = Math.round(rate * seconds);
  let sent = 0;
  let inFlight = 0;
  let errors = 0;
  let non2xx = 0;
  let queuedMax = 0;
  const start = performance.now();

  return new Promise<PacedLoadResult>((resolve) => {
    let done = false;
    const finishIfDone = () => {
      if (done || sent < total || inFlight > 0) return;
      done = true;
      clearInterval(pacer);
      agent.destroy();
      resolve({ sent, errors, non2xx, queuedMax });
    };
    const send = (dueAt: number) => {
      inFlight++;
      const request = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname + url.search, method: 'GET' }, (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.once('end', () => {
          inFlight--;
          if (status < 200 || status >= 300) non2xx++;
          onResponse(performance.now() - dueAt, status);
          finishIfDone();
        });
      });
      request.once('error', () => {
        inFlight--;
        errors++;
        finishIfDone();
      });
      request.end();
    };
    const pacer = setInterval(() => {
      const elapsed = performance.now() - start;
      const due = Math.min(total, Math.floor((elapsed / 1000) * rate));
      while (sent < due) {
        // Each request is timed from its due time, so a request that waited for a connection is charged for it.
        send(start + ((sent + 1) / rate) * 1000);
        sent++;
      }
      // The agent queues requests beyond maxSockets; how many wait shows whether the server kept up.
      queuedMax = Math.max(queuedMax, inFlight - options.connections);
      finishIfDone();
    }, 1);
  });
}
