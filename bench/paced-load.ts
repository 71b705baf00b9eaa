/**
 * Paced HTTP load: requests at a steady rate, spread over every millisecond, on keep-alive connections.
 *
 * Why not autocannon's `overallRate`: it gives each connection a quota per second and resets it on a 1 s
 * interval, so every second starts with a burst at full speed and ends idle. A server's CPU per request then
 * depends on how each burst happens to batch into event-loop turns: the same process measured twice in a row
 * differed by up to 2x (bench:http, Fastify realistic at 3,000 req/s), which buried any few-percent difference.
 * Here arrivals are uniform (a 1 ms pacer sends what is due), as a service behind a load balancer sees them.
 * autocannon still makes the flat-out (--rate 0) load and the warm-up.
 *
 * The client is raw sockets with one prepared request and a minimal response reader (status line and
 * Content-Length, which every bench server sends): node's http client tops out near 8,000 requests a second on
 * one core, below what a hello-world server is offered here.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface PacedLoadOptions {
  readonly url: string;
  /** Requests per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Keep-alive connections, one request in flight on each; a request due while all are busy waits. */
  readonly connections: number;
  /** Called with each response's duration (ms, from when it was due) and status. */
  readonly onResponse: (ms: number, status: number) => void;
}

export interface PacedLoadResult {
  readonly sent: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Most requests that were due but waiting for a free connection at once (0: the server kept up). */
  readonly queuedMax: number;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Reads back-to-back HTTP/1.1 responses with Content-Length bodies; calls `onResponse(status)` for each. */
class ResponseReader {
  private buffer: Buffer = Buffer.alloc(0);
  private bodyLeft = -1;
  private status = 0;

  constructor(private readonly onResponse: (status: number) => void) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      if (this.bodyLeft < 0) {
        const end = this.buffer.indexOf(HEADER_END);
        if (end < 0) return;
        const head = this.buffer.toString('latin1', 0, end);
        this.status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (length === null) throw new Error('paced load: a response without Content-Length');
        this.bodyLeft = Number(length[1]);
        this.buffer = this.buffer.subarray(end + 4);
      }
      if (this.buffer.length < this.bodyLeft) return;
      this.buffer = this.buffer.subarray(this.bodyLeft);
      this.bodyLeft = -1;
      this.onResponse(this.status);
    }
  }
}

export async function pacedLoad(options: PacedLoadOptions): Promise<PacedLoadResult> {
  const { rate, seconds, onResponse } = options;
  const url = new URL(options.url);
  const request = Buffer.from(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n\r\n`, 'latin1');
  const total = Math.round(rate * seconds);
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let non2xx = 0;
  let queuedMax = 0;
  /** Due times of requests waiting for a connection, oldest first. */
  const waiting: number[] = [];
  const idle: Socket[] = [];
  const sockets = new Set<Socket>();
  const dueOf = new Map<Socket, number>();

  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const settleIfDone = () => {
    if (sent === total && waiting.length === 0 && answered + errors >= total) finish();
  };
  const dispatch = (socket: Socket) => {
    const due = waiting.shift();
    if (due === undefined) {
      idle.push(socket);
      return;
    }
    dueOf.set(socket, due);
    socket.write(request);
  };

  let stopped = false;
  const pump = () => {
    while (waiting.length > 0 && idle.length > 0) dispatch(idle.pop()!);
  };
  /**
   * One keep-alive connection. A connection the server closes (keep-alive timeout, a reset) is replaced; a request
   * in flight on it counts as an error, never resent.
   */
  const open = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const socket = connect({ host: url.hostname, port: Number(url.port) });
      socket.setNoDelay(true);
      let connected = false;
      const reader = new ResponseReader((status) => {
        answered++;
        if (status < 200 || status >= 300) non2xx++;
        const due = dueOf.get(socket);
        dueOf.delete(socket);
        onResponse(performance.now() - (due ?? performance.now()), status);
        dispatch(socket);
        settleIfDone();
      });
      socket.on('data', (chunk: Buffer) => reader.push(chunk));
      socket.once('connect', () => {
        connected = true;
        sockets.add(socket);
        idle.push(socket);
        pump();
        resolve();
      });
      socket.on('error', (error) => {
        if (!connected) reject(error);
      });
      socket.once('close', () => {
        sockets.delete(socket);
        const at = idle.indexOf(socket);
        if (at >= 0) idle.splice(at, 1);
        if (dueOf.delete(socket)) errors++;
        if (connected && !stopped) open().catch(() => {});
        settleIfDone();
      });
    });
  await Promise.all(Array.from({ length: options.connections }, open));

  const start = performance.now();
  const pacer = setInterval(() => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
    while (sent < due) {
      // Each request is timed from its due time, so one that waited for a connection is charged for it.
      waiting.push(start + ((sent + 1) / rate) * 1000);
      sent++;
    }
    pump();
    queuedMax = Math.max(queuedMax, waiting.length);
    settleIfDone();
  }, 1);
  // A server that stops answering must not hang the bench.
  const giveUp = setTimeout(finish, (seconds + 10) * 1000);
  await finished;
  clearInterval(pacer);
  clearTimeout(giveUp);
  stopped = true;
  for (const socket of sockets) socket.destroy();
  errors += total - answered - errors;
  return { sent, errors, non2xx, queuedMax };
}
