/**
 * Newline-delimited EMF documents to the CloudWatch agent's EMF listener (`tcp://host:25888`, `udp://host:25888`).
 *
 * The agent protocol has no acknowledgement. Over TCP a document is `written` once the kernel has it; it counts
 * as sent when the agent has not closed the connection within `graceMs` of that write, as seen by a poll of the
 * socket that began after the grace period (the delivery loop asks): an agent that accepts and closes (or resets)
 * right away is caught, its documents counted failed and not sent again, since they may have been read. The
 * limit: an agent that holds bytes in its socket buffer without reading them and later dies loses them after
 * they were counted sent; nothing on the wire can tell. UDP is fire-and-forget: a datagram handed to the kernel
 * counts as sent.
 *
 * Sockets are unref'd while idle (they never keep a process alive) and ref'd while a write is pending (so a final
 * flush at shutdown completes). An unhandled socket 'error' would crash the process: a listener is always attached.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import type { DocumentWriter, Written } from './writer.js';

/** Largest UDP payload we send; the IPv4 maximum is 65,507 bytes. */
export const MAX_UDP_BYTES = 65_000;
/** How long an agent has to close on us before a write counts as delivered. */
export const PEER_CLOSE_GRACE_MS = 50;

export interface AgentEndpoint {
  readonly protocol: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
}

export function parseAgentEndpoint(endpoint: string): AgentEndpoint {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new RangeError(`emfSink: agent endpoint must look like tcp://host:25888 or udp://host:25888, got "${endpoint}"`);
  }
  const protocol = url.protocol.slice(0, -1);
  if (protocol !== 'tcp' && protocol !== 'udp') {
    throw new RangeError(`emfSink: agent endpoint protocol must be tcp or udp, got "${url.protocol}"`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { protocol, host: host === '' ? '127.0.0.1' : host, port: url.port === '' ? 25888 : Number(url.port) };
}

export function agentWriter(endpoint: AgentEndpoint): DocumentWriter {
  return endpoint.protocol === 'tcp' ? new TcpWriter(endpoint.host, endpoint.port) : new UdpWriter(endpoint.host, endpoint.port);
}

/** Errors by which a connected peer tells us it is gone. */
const PEER_GONE = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

class TcpWriter implements DocumentWriter {
  readonly graceMs = PEER_CLOSE_GRACE_MS;
  private socket: Socket | undefined;
  private connection = 0;
  /** Recent connections the peer closed. */
  private readonly peerClosed = new Set<number>();

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  write(document: string): Promise<Written> {
    return new Promise<Written>((resolve) => {
      const socket = this.open();
      const connection = this.connection;
      socket.ref();
      let done = false;
      const finish = (written: Written): void => {
        if (done) return;
        done = true;
        socket.off('close', onClose);
        if (!socket.destroyed) socket.unref();
        resolve(written);
      };
      // A destroyed socket may not call back a pending write: 'close' settles it.
      const onClose = (): void => finish({ result: 'retry', reason: `connection to ${this.host}:${this.port} closed` });
      socket.once('close', onClose);
      socket.write(`${document}\n`, (error) => {
        // Node calls back a write cancelled by destroy() without an error: a destroyed socket means the bytes
        // did not all reach the kernel (a completed write is called back before anything can destroy it).
        if (error || socket.destroyed) finish({ result: 'retry', reason: `${this.host}:${this.port}: ${error?.message ?? 'write abandoned'}` });
        else finish({ result: 'written', connection, at: performance.now() });
      });
    });
  }

  abandon(): boolean {
    // A half-written line cannot be resumed: the next write starts over on a fresh connection.
    this.socket?.destroy();
    this.socket = undefined;
    return true;
  }

  confirm(written: Written, observedThrough: number): 'sent' | 'failed' | 'wait' {
    // A close seen before the verdict may have come within the grace period: a busy loop reads it late.
    if (written.connection !== undefined && this.peerClosed.has(written.connection)) return 'failed';
    return observedThrough - (written.at ?? 0) >= this.graceMs ? 'sent' : 'wait';
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const current = this.socket;
    if (current !== undefined && !current.destroyed && current.writable) return current;
    const connection = ++this.connection;
    // Only recent connections can still have documents waiting for confirmation.
    for (const id of this.peerClosed) if (id < connection - 16) this.peerClosed.delete(id);
    const socket = connect({ host: this.host, port: this.port });
    let connected = false;
    const onPeerClosed = (): void => {
      if (connected) this.peerClosed.add(connection);
      socket.destroy();
    };
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    socket.once('connect', () => {
      connected = true;
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== undefined && PEER_GONE.has(error.code)) onPeerClosed();
      else socket.destroy();
    });
    socket.on('data', () => {}); // the agent sends nothing meaningful; reading is how its FIN reaches us
    socket.on('end', onPeerClosed);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    socket.unref();
    this.socket = socket;
    return socket;
  }
}

class UdpWriter implements DocumentWriter {
  private socket: UdpSocket | undefined;
  private pending: ((written: Written) => void) | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  write(document: string): Promise<Written> {
    return new Promise<Written>((settle) => {
      let done = false;
      const resolve = (written: Written): void => {
        if (done) return;
        done = true;
        this.pending = undefined;
        settle(written);
      };
      this.pending = resolve;
      const socket = this.open();
      socket.ref();
      try {
        socket.send(`${document}\n`, this.port, this.host, (error) => {
          socket.unref();
          if (!error) resolve({ result: 'sent' });
          // Too big never fits; anything else (no route, no buffer) may pass later.
          else resolve({ result: (error as NodeJS.ErrnoException).code === 'EMSGSIZE' ? 'failed' : 'retry', reason: error.message });
        });
      } catch (error) {
        socket.unref();
        resolve({ result: 'retry', reason: String(error) });
      }
    });
  }

  abandon(): boolean {
    this.close();
    this.pending?.({ result: 'retry', reason: `UDP send to ${this.host}:${this.port} did not complete` });
    return true;
  }

  close(): void {
    const socket = this.socket;
    this.socket = undefined;
    try {
      socket?.close();
    } catch {
      // already closed
    }
  }

  private open(): UdpSocket {
    if (this.socket !== undefined) return this.socket;
    const socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => {
      if (this.socket === socket) this.close();
    });
    socket.unref();
    this.socket = socket;
    return socket;
  }
}
