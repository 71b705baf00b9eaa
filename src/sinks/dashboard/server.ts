/**
 * The dashboard's own HTTP server: the page at `path`, its assets under `path + assets/`, the SSE feed at
 * `path + events` and the current snapshot as JSON at `path + data.json`. GET and HEAD only; never throws into
 * the host (a failed listen is reported, and `url` stays undefined).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ChartLibrary } from './assets.js';
import type { EventStreams } from './events.js';
import { CSS, HTML, SCRIPT } from './page.js';

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

export interface Routes {
  readonly path: string;
  readonly library: Promise<ChartLibrary | undefined>;
  readonly streams: EventStreams;
  readonly snapshot: () => string;
  readonly onError: (key: string, error: unknown) => void;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, cache = 'no-store'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': cache, ...SECURITY_HEADERS });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function handler(routes: Routes): (req: IncomingMessage, res: ServerResponse) => void {
  const { path } = routes;
  const html = HTML;
  return (req, res) => {
    res.on('error', () => {});
    try {
      const url = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' }).end();
        return;
      }
      if (url === path || url === path + 'index.html') return send(res, 200, 'text/html; charset=utf-8', html);
      if (url === path + 'assets/dashboard.js') return send(res, 200, 'text/javascript; charset=utf-8', SCRIPT, 'no-cache');
      if (url === path + 'assets/dashboard.css') return send(res, 200, 'text/css; charset=utf-8', CSS, 'no-cache');
      if (url === path + 'data.json') return send(res, 200, 'application/json', routes.snapshot());
      if (url === path + 'events') {
        routes.streams.open(res, routes.snapshot());
        return;
      }
      if (url === path + 'assets/uplot.min.js' || url === path + 'assets/uplot.min.css') {
        routes.library.then(
          (library) => {
            if (library === undefined) return send(res, 503, 'text/plain; charset=utf-8', 'uplot is not installed\n');
            if (url.endsWith('.js')) send(res, 200, 'text/javascript; charset=utf-8', library.script, 'public, max-age=86400');
            else send(res, 200, 'text/css; charset=utf-8', library.style, 'public, max-age=86400');
          },
          () => send(res, 503, 'text/plain; charset=utf-8', 'uplot is not available\n'),
        );
        return;
      }
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    } catch (error) {
      routes.onError('handler', error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    }
  };
}

export interface Listening {
  readonly server: Server;
  readonly ready: Promise<AddressInfo | undefined>;
}

/**
 * Starts the page's server. Unref'd, and so is every accepted socket (an open tab holds an SSE stream): the page
 * never keeps the process running. A listen error resolves `ready` with undefined, never rejects.
 */
export function listen(
  requestHandler: (req: IncomingMessage, res: ServerResponse) => void,
  port: number,
  host: string,
  onError: (key: string, error: unknown) => void,
): Listening {
  const server = createServer(requestHandler);
  server.unref();
  server.on('connection', (socket: Socket) => socket.unref());
  server.on('clientError', (_error, socket) => socket.destroy());
  const ready = new Promise<AddressInfo | undefined>((resolve) => {
    const onListenError = (error: NodeJS.ErrnoException): void => {
      const hint = error.code === 'EADDRINUSE' ? ' (port in use: set `port`, 0 for any free one)' : '';
      onError('listen', new Error(`dashboard sink: cannot listen on ${host}:${port}: ${error.message}${hint}`, { cause: error }));
      resolve(undefined);
    };
    server.once('error', onListenError);
    server.listen(port, host, () => {
      server.off('error', onListenError);
      server.on('error', (error) => onError('server', error));
      resolve(server.address() as AddressInfo);
    });
  });
  return { server, ready };
}

export async function closeServer(server: Server): Promise<void> {
  if (!server.listening) return;
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
