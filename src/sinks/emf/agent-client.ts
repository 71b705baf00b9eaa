import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { SinkError } from '../../core/sink.js';

/**
 * Newline-delimited EMF documents to the CloudWatch agent's EMF listener (`tcp://host:25888` or `udp://host:25888`).
 * Every failure is a retryable SinkError: an agent that is down, restarting or slow usually comes back.
 * The socket is unref'd while idle (it never keeps a process alive) and ref'd while a send is pending
 * (so a final flush at shutdown completes).
 */
export interface AgentClient {
  readonly protocol: 'tcp' | 'udp';
  /** Sends the documents; settles within `timeoutMs`. */
  send(documents: readonly string[]): Promise<void>;
  close(): void;
}

/** Largest UDP payload we send; the IPv4 maximum is 65,507 bytes. */
export const MAX_UDP_BYTES = 65_000;

export function parseAgentEndpoint(endpoint: string): { protocol: 'tcp' | 'udp'; host: string; port: number } {
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

export function createAgentClient(endpoint: string, timeoutMs: number): AgentClient {
  const target = parseAgentEndpoint(endpoint);
  return target.protocol === 'tcp' ? new TcpAgentClient(target.host, target.port, timeoutMs) : new UdpAgentClient(target.host, target.port, timeoutMs);
}

const agentError = (message: string, cause?: unknown) => new SinkError(`CloudWatch agent: ${message}`, { retryable: true, cause });

class TcpAgentClient implements AgentClient {
  readonly protocol = 'tcp';
  private socket: Socket | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  send(documents: readonly string[]): Promise<void> {
    if (documents.length === 0) return Promise.resolve();
    const payload = documents.join('\n') + '\n';
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const socket = this.open();
      socket.ref();
      const finish = (error?: SinkError) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        socket.off('error', onError);
        if (!socket.destroyed) socket.unref();
        if (error === undefined) resolve();
        else reject(error);
      };
      const onError = (error: Error) => finish(agentError(`${this.host}:${this.port}: ${error.message}`, error));
      const timer = setTimeout(() => {
        // A half-written payload cannot be resumed: start over on a fresh connection.
        socket.destroy();
        finish(agentError(`no progress within ${this.timeoutMs} ms to ${this.host}:${this.port}`));
      }, this.timeoutMs);
      socket.once('error', onError);
      // Queued until connected; the callback fires once the kernel has the bytes.
      socket.write(payload, (error) => (error ? onError(error) : finish()));
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const current = this.socket;
    if (current !== undefined && !current.destroyed && current.writable) return current;
    const socket = connect({ host: this.host, port: this.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    // A listener must always be attached: an unhandled 'error' on a socket would crash the process.
    socket.on('error', () => socket.destroy());
    socket.on('data', () => {}); // the agent sends nothing meaningful; keep the buffer drained
    socket.on('end', () => socket.destroy());
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
    });
    socket.unref();
    this.socket = socket;
    return socket;
  }
}

class UdpAgentClient implements AgentClient {
  readonly protocol = 'udp';
  private socket: UdpSocket | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly timeoutMs: number,
  ) {}

  async send(documents: readonly string[]): Promise<void> {
    if (documents.length === 0) return;
    const socket = this.open();
    socket.ref();
    try {
      // One datagram per document (the agent parses each as whole lines), one at a time: a burst of
      // datagrams is what overflows a receive buffer. UDP stays lossy; prefer TCP where loss matters.
      for (const doc of documents) await this.datagram(socket, `${doc}\n`);
    } finally {
      socket.unref();
    }
  }

  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private datagram(socket: UdpSocket, message: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(agentError(`UDP send to ${this.host}:${this.port} timed out`)), this.timeoutMs);
      socket.send(message, this.port, this.host, (error) => {
        clearTimeout(timer);
        if (error) reject(agentError(`${this.host}:${this.port}: ${error.message}`, error));
        else resolve();
      });
    });
  }

  private open(): UdpSocket {
    if (this.socket !== undefined) return this.socket;
    const socket = createSocket(this.host.includes(':') ? 'udp6' : 'udp4');
    socket.on('error', () => {
      if (this.socket === socket) this.socket = undefined;
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    socket.unref();
    this.socket = socket;
    return socket;
  }
}
