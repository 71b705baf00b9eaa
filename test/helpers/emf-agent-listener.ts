/**
 * Loopback stand-in for the CloudWatch agent's EMF TCP listener (port 25888 in real life): newline-delimited JSON
 * documents, each kept with its arrival time. Used by the latency and signal benches and the k8s resolution test.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface EmfAgentListener {
  readonly port: number;
  /** Every line received, in order, with its arrival (epoch ms). */
  readonly lines: Array<{ at: number; text: string }>;
  /** Goes away abruptly: whatever the kernel holds unread is lost (the README's documented limit of the protocol). */
  stop(): Promise<void>;
  /** Goes away after reading what the kernel already accepted, as an agent that shuts down cleanly does. */
  stopAfterReading(): Promise<void>;
}

export async function startEmfAgentListener(): Promise<EmfAgentListener> {
  const lines: Array<{ at: number; text: string }> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const at = Date.now();
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        lines.push({ at, text: buffer.slice(0, nl) });
        buffer = buffer.slice(nl + 1);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    lines,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    async stopAfterReading() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Loopback bytes are in this side's buffer once written: two poll phases read them, then the connections go.
      for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
