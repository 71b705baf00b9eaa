/**
 * The same small API on Express 4, Express 5, Fastify 4 and Fastify 5, each instrumented by its integration and
 * listening on 127.0.0.1. Handlers that must stay open (held requests, SSE streams) hand their raw response to
 * the test, which ends, destroys or lets the client abort them.
 */
import { EventEmitter } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import express5 from 'express';
import express4 from 'express4';
import Fastify5 from 'fastify';
import Fastify4 from 'fastify4';
import type { Metrics } from '../../src/core/api.js';
import { expressMetrics } from '../../src/integrations/express.js';
import { fastifyMetrics } from '../../src/integrations/fastify.js';
import { close, listen } from './support.js';

export interface Open {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The `n` query parameter the client sent. */
  readonly n: number;
  /** Ends the response the way its framework expects (the raw end(), or the stream fed to the reply). */
  end(): void;
}

export interface App {
  readonly url: string;
  /** Requests held open by /hold and streams opened by /events, in arrival order; 'open' is emitted for each. */
  readonly open: Open[];
  readonly events: EventEmitter;
  close(): Promise<void>;
}

export interface AppOptions {
  /** Express: register the integration's errorHandler (outcome `thrown`). Default true. */
  errorHook?: boolean;
}

export interface Framework {
  readonly name: string;
  start(metrics: Metrics, options?: AppOptions): Promise<App>;
}

/** Route labels the API must produce, whatever the framework. */
export const ROUTES = ['/users/:id', '/users', '/api/items/:itemId', '/boom', '/unavailable', '/hold', '/events'];

export function opener() {
  const open: Open[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const add = (req: IncomingMessage, res: ServerResponse, end: () => void = () => res.end()) => {
    const n = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('n') ?? -1);
    const item = { req, res, n, end };
    open.push(item);
    events.emit('open', item);
  };
  return { open, events, add };
}

/** /hold: keeps the request open; with ?head=1 the head and part of the body are written first. */
function hold(req: IncomingMessage, res: ServerResponse, add: (req: IncomingMessage, res: ServerResponse) => void): void {
  if (req.url?.includes('head=1')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('partial');
  }
  add(req, res);
}

/** /events: hand-written SSE on the raw response (setHeader then flushHeaders: the implicit head path). */
function stream(req: IncomingMessage, res: ServerResponse, add: (req: IncomingMessage, res: ServerResponse) => void): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  res.setHeader('Cache-Control', 'no-cache');
  res.flushHeaders();
  res.write(': open\n\n');
  add(req, res);
}

function expressFramework(name: string, express: typeof express5): Framework {
  return {
    name,
    async start(metrics, options = {}) {
      const { open, events, add } = opener();
      const app = express();
      const tracking = expressMetrics(metrics);
      app.use(tracking);
      app.get('/users/:id', (_req, res) => {
        res.send('user');
      });
      app.post('/users', (_req, res) => {
        res.status(201).send('created');
      });
      const api = express.Router();
      api.get('/items/:itemId', (_req, res) => {
        res.send('item');
      });
      app.use('/api', api);
      app.get('/boom', () => {
        throw new Error('boom');
      });
      app.get('/unavailable', (_req, res) => {
        res.status(503).send('unavailable');
      });
      app.get('/hold', (req, res) => hold(req, res, add));
      app.get('/events', (req, res) => stream(req, res, add));
      if (options.errorHook ?? true) {
        app.use(tracking.errorHandler);
        app.use((_err: unknown, _req: express5.Request, res: express5.Response, _next: express5.NextFunction) => {
          res.status(500).send('error');
        });
      }
      const server = http.createServer(app);
      const url = await listen(server);
      return { url, open, events, close: () => close(server) };
    },
  };
}

function fastifyFramework(name: string, Fastify: typeof Fastify5): Framework {
  return {
    name,
    async start(metrics) {
      const { open, events, add } = opener();
      const app = Fastify({ logger: false });
      await app.register(fastifyMetrics, { metrics });
      app.get('/users/:id', async () => 'user');
      app.post('/users', async (_request, reply) => {
        reply.code(201);
        return 'created';
      });
      await app.register(
        async (child) => {
          child.get('/items/:itemId', async () => 'item');
        },
        { prefix: '/api' },
      );
      app.get('/boom', async () => {
        throw new Error('boom');
      });
      app.get('/unavailable', async (_request, reply) => {
        reply.code(503);
        return 'unavailable';
      });
      app.get('/hold', (request, reply) => {
        reply.hijack();
        hold(request.raw, reply.raw, add);
      });
      // SSE the Fastify way: headers on the reply, a stream as payload (writeHead gets a headers object).
      app.get('/events', (request, reply) => {
        const body = new PassThrough();
        reply.header('content-type', 'text/event-stream').send(body);
        body.write(': open\n\n');
        add(request.raw, reply.raw, () => body.end());
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      return {
        url: `http://127.0.0.1:${port}`,
        open,
        events,
        close: async () => {
          app.server.closeAllConnections?.();
          await app.close();
        },
      };
    },
  };
}

export const FRAMEWORKS: readonly Framework[] = [
  expressFramework('express 4', express4),
  expressFramework('express 5', express5),
  fastifyFramework('fastify 4', Fastify4 as unknown as typeof Fastify5),
  fastifyFramework('fastify 5', Fastify5),
];

export { expressFramework };
