/**
 * Real Redis and RabbitMQ servers for the queue e2e suites, from Debian's packages, each on free loopback ports
 * with its data in a temporary directory, started by the test and stopped with their whole process group.
 * RabbitMQ gets its own epmd on a free port, so nothing is left running and nothing clashes with a system broker.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = '/usr/bin/redis-server';
const RABBITMQ_CANDIDATES = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'];
export const RABBITMQ_SERVER = RABBITMQ_CANDIDATES.find((p) => existsSync(p)) ?? RABBITMQ_CANDIDATES[0];
const EPMD = ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd'].find((p) => existsSync(p)) ?? '/usr/bin/epmd';

export const redisAvailable = existsSync(REDIS_SERVER);
export const rabbitmqAvailable = existsSync(RABBITMQ_SERVER) && existsSync(EPMD);
export const e2eRequired = process.env.SCALESIGNAL_E2E_REQUIRED === '1';
export const INSTALL_HINT = 'bash scripts/provision-e2e.sh (or: apt-get install -y --no-install-recommends redis-server rabbitmq-server)';

export interface Running {
  readonly port: number;
  readonly log: () => string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Spawns in its own process group, so stop() reaches every descendant (beam.smp, erl_child_setup...). */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): { child: ChildProcess; log: () => string } {
  let output = '';
  const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { child, log: () => output };
}

async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), sig);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  // Descendants that outlived the group leader (RabbitMQ's beam) get the same signal.
  signal('SIGKILL');
}

async function waitFor(ready: () => Promise<boolean>, timeoutMs: number, what: string, log: () => string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${log().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms: ${log().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedis(): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'scalesignal-redis-'));
  const port = await freePort();
  const { child, log } = start(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    process.env,
    dir,
  );
  try {
    await waitFor(() => portOpen(port), 15_000, 'redis-server', log, child);
  } catch (error) {
    await stopGroup(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    log,
    async stop() {
      await stopGroup(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** RabbitMQ takes a few seconds to boot; `ready` should try an AMQP connection. */
export async function startRabbitmq(ready: (port: number) => Promise<boolean>): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'scalesignal-rabbitmq-'));
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir, // the Erlang cookie goes here
    ERL_EPMD_PORT: String(epmdPort),
    RABBITMQ_NODENAME: `scalesignal${port}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
  };
  // Our own epmd in the foreground: the broker registers there instead of starting a daemon that outlives us.
  const epmd = start(EPMD, ['-port', String(epmdPort), '-address', '127.0.0.1'], env, dir);
  const broker = start(RABBITMQ_SERVER, [], env, dir);
  const log = () => `${broker.log()}\n[epmd] ${epmd.log()}`;
  const stop = async () => {
    await stopGroup(broker.child);
    await stopGroup(epmd.child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => portOpen(port), 90_000, 'rabbitmq-server', log, broker.child);
    await waitFor(() => ready(port), 30_000, 'rabbitmq-server (AMQP)', log, broker.child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, log, stop };
}
