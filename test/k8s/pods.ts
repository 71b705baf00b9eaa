/**
 * A "pod" for the k8s tests: the SDK started exactly as a generated Deployment configures it. The container's env
 * is resolved the way the kubelet does (downward-API `fieldRef`s filled in, `$(VAR)` expanded from variables
 * defined earlier), a few values are replaced so everything stays on loopback and free ports (named per call),
 * and `createMetrics()` gets the sinks the SDK itself builds from that environment (`sinksFromEnv`), plus a
 * collecting sink so a test can see the windows that were sealed. A node:http server instrumented with
 * `instrumentHttpServer` serves requests that can be held open (in flight) and SSE streams.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics, instrumentHttpServer, type Metrics, type Sink, type Window } from '../../src/index.js';
import { sinksFromEnv } from '../../src/wiring/sinks-from-env.js';

type Json = Record<string, any>;

export interface PodIdentity {
  readonly name: string;
  readonly namespace: string;
  readonly nodeName: string;
  readonly hostIP: string;
}

const FIELD_REFS: Readonly<Record<string, (p: PodIdentity) => string>> = {
  'metadata.name': (p) => p.name,
  'metadata.namespace': (p) => p.namespace,
  'spec.nodeName': (p) => p.nodeName,
  'status.hostIP': (p) => p.hostIP,
};

/** The first container's environment as the kubelet would give it to the process. */
export function containerEnv(deployment: Json, pod: PodIdentity): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of deployment.spec.template.spec.containers[0].env as Json[]) {
    if (e.valueFrom !== undefined) {
      const path = e.valueFrom.fieldRef?.fieldPath as string;
      const get = FIELD_REFS[path];
      if (get === undefined) throw new Error(`env ${e.name}: unsupported valueFrom ${JSON.stringify(e.valueFrom)}`);
      env[e.name] = get(pod);
    } else {
      // $(VAR) from variables defined earlier; $$ is a literal $; anything else stays as written.
      env[e.name] = String(e.value ?? '').replace(/\$\$|\$\(([^)]+)\)/g, (m, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? m)));
    }
  }
  return env;
}

export interface Pod {
  readonly name: string;
  readonly metrics: Metrics;
  /** The SDK's /metrics (what Prometheus and KEDA's metrics-api read). */
  readonly metricsUrl: string;
  readonly metricsAddress: string;
  readonly httpUrl: string;
  readonly windows: Window[];
  /** Opens `n` requests the server does not answer until `close()`: `n` more in flight. */
  hold(n: number): Promise<void>;
  /** Opens `n` SSE streams (head written, kept open). */
  openSse(n: number): Promise<void>;
  /** One finished request. */
  request(method: string, path: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts a pod from `env` (containerEnv's output, with the test's loopback replacements applied by the caller).
 * `process.env` is swapped for the pod's environment while the SDK reads it, then restored.
 */
export async function startPod(name: string, env: Record<string, string>, extraSinks: readonly Sink[] = []): Promise<Pod> {
  const saved = { ...process.env };
  const windows: Window[] = [];
  const collect: Sink = { name: 'collect', export: (batch) => void windows.push(...batch) };
  let metrics: Metrics;
  try {
    for (const key of Object.keys(process.env)) if (!key.startsWith('AWS_') && key !== 'PATH' && key !== 'HOME') delete process.env[key];
    Object.assign(process.env, env);
    const logger = { warn: (m: string) => process.stderr.write(`[${name}] ${m}\n`) };
    metrics = createMetrics({ sinks: [...sinksFromEnv(process.env, logger), collect, ...extraSinks], logger });
    // Env-named sinks load through the package's subpaths and read their variables when they are created: keep
    // the pod's environment until a flush has gone through every one of them.
    await metrics.flush();
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
  const port = Number(env.OTEL_EXPORTER_PROMETHEUS_PORT);
  const host = env.OTEL_EXPORTER_PROMETHEUS_HOST ?? '127.0.0.1';
  const metricsUrl = `http://${host}:${port}/metrics`;
  await waitFor(async () => (await fetch(metricsUrl)).ok, `${name}: /metrics on ${metricsUrl}`);

  const held: ServerResponse[] = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/hold') {
      held.push(res); // never answered until close(): the request stays in flight
      return;
    }
    if (req.url === '/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(': open\n\n');
      held.push(res);
      return;
    }
    res.end('ok');
  });
  const stopTracking = instrumentHttpServer(server, metrics, {
    route: (req) => (req.url === '/pay' ? '/pay' : req.url?.startsWith('/orders/') ? '/orders/:orderId' : req.url === '/events' ? '/events' : undefined),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const httpUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const clientRequests: http.ClientRequest[] = [];

  const open = (path: string, n: number, until: (res?: http.IncomingMessage) => boolean) =>
    Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = http.get(`${httpUrl}${path}`, { agent }, (res) => {
              res.on('error', () => undefined);
              if (until(res)) resolve();
            });
            req.on('error', (e) => (until() ? undefined : reject(e)));
            clientRequests.push(req);
            if (until()) setImmediate(resolve);
          }),
      ),
    ).then(() => undefined);

  return {
    name,
    metrics,
    metricsUrl,
    metricsAddress: `${host}:${port}`,
    httpUrl,
    windows,
    async hold(n) {
      const before = held.length;
      await open('/hold', n, () => true);
      await waitFor(() => held.length >= before + n, `${name}: ${n} held requests`);
    },
    async openSse(n) {
      await open('/events', n, (res) => res !== undefined);
    },
    request(method, path) {
      return new Promise((resolve, reject) => {
        const req = http.request(`${httpUrl}${path}`, { method, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    },
    async close() {
      stopTracking();
      for (const r of clientRequests) r.destroy();
      for (const r of held) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
      await metrics.shutdown();
    },
  };
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
