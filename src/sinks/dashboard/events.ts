/**
 * The page's live feed: Server-Sent Events to at most `maxClients` browsers. A client that stops reading is cut off
 * once `MAX_BUFFERED_BYTES` are queued for it (it reconnects and gets a fresh snapshot), so a stalled tab cannot
 * grow the process' memory. A comment line every 15 s keeps idle proxies from closing the stream.
 */
import type { ServerResponse } from 'node:http';

const MAX_BUFFERED_BYTES = 256 * 1024;
const HEARTBEAT_MS = 15_000;

export class EventStreams {
  private readonly clients = new Set<ServerResponse>();
  private readonly heartbeat: NodeJS.Timeout;
  dropped = 0;

  constructor(private readonly maxClients: number) {
    this.heartbeat = setInterval(() => this.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Opens a stream starting with `snapshot`; false (and a 503) when the client limit is reached. */
  open(res: ServerResponse, snapshot: string): boolean {
    if (this.clients.size >= this.maxClients) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' });
      res.end('too many dashboard clients\n');
      return false;
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: 2000\n\nevent: snapshot\ndata: ${snapshot}\n\n`);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    return true;
  }

  send(event: string, data: string): void {
    this.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  private write(chunk: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        this.dropped++;
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(chunk);
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
