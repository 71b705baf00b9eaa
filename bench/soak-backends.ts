/**
 * bench:soak's loopback backends (OTLP receiver, CloudWatch PutMetricData server, CloudWatch-agent TCP listener)
 * in a child process, driven over IPC. Why not in the soak's own process: the backends decode every body (a
 * 1.3 MB OTLP request is concatenated and JSON-parsed, PutMetricData bodies gunzipped and validated), and in the
 * same process their garbage, their Buffers and the malloc arenas those leave behind were counted as the SDK's
 * RSS. A service does not host its collector; the soak's process should hold what a service's would.
 *
 * Messages: { id, op: 'fault', otlp: ReceiverMode | 'refuse' } | { id, op: 'recover' } | { id, op: 'lines' } |
 * { id, op: 'close' }; every one is answered with { id, ... }. The first message sent is { ready: urls }.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { startCloudWatchServer } from '../test/helpers/cloudwatch-server.js';
import { startOtlpReceiver, type ReceiverMode } from '../test/helpers/otlp-receiver.js';

export interface BackendUrls {
  readonly otlpUrl: string;
  readonly cloudWatchUrl: string;
  readonly agentPort: number;
}

export type BackendRequest =
  | { readonly op: 'fault'; readonly otlp: ReceiverMode | 'refuse' }
  | { readonly op: 'recover' }
  | { readonly op: 'lines' }
  | { readonly op: 'close' };

async function startTcpAgent() {
  let lines = 0;
  let refusing = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    if (refusing) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 10) lines++;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    lines: () => lines,
    fault(on: boolean) {
      refusing = on;
      if (on) for (const s of sockets) s.destroy();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

async function main(): Promise<void> {
  const send = (msg: object) => process.send?.(msg);
  const otlp = await startOtlpReceiver();
  const cw = await startCloudWatchServer();
  const agent = await startTcpAgent();
  // Keep the backends' own records from growing: they are not what the soak measures.
  const trim = setInterval(() => {
    otlp.requests.length = 0;
    otlp.arrivals.length = 0;
    otlp.bodyBytes.length = 0;
    cw.requests.length = 0;
    cw.accepted.length = 0;
  }, 1000);
  process.on('message', async (msg: BackendRequest & { id: number }) => {
    switch (msg.op) {
      case 'fault':
        if (msg.otlp === 'refuse') await otlp.refuse();
        else otlp.mode = msg.otlp;
        agent.fault(true);
        cw.setInject(() => ({ status: 400, code: 'Throttling', message: 'Rate exceeded' }));
        send({ id: msg.id });
        break;
      case 'recover':
        otlp.mode = { kind: 'ok' };
        await otlp.listen().catch(() => {});
        agent.fault(false);
        cw.setInject(undefined);
        send({ id: msg.id });
        break;
      case 'lines':
        send({ id: msg.id, lines: agent.lines() });
        break;
      case 'close':
        clearInterval(trim);
        await Promise.all([otlp.close(), cw.close(), agent.close()]);
        send({ id: msg.id });
        process.disconnect?.();
        break;
    }
  });
  const urls: BackendUrls = { otlpUrl: otlp.url, cloudWatchUrl: cw.url, agentPort: agent.port };
  send({ ready: urls });
}

await main();
