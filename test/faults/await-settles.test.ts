/**
 * A short-lived script awaiting flush() and shutdown() at top level, in a child process, with the EMF sink writing
 * to a loopback stand-in for the CloudWatch agent's TCP listener: both awaits settle (the lines after them run),
 * the process exits 0, and the agent received every recorded item.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEmfAgentListener, type EmfAgentListener } from '../helpers/emf-agent-listener.js';

const CHILD = fileURLToPath(new URL('./fixtures/await-child.ts', import.meta.url));

let agent: EmfAgentListener;
beforeAll(async () => {
  agent = await startEmfAgentListener();
});
afterAll(async () => {
  await agent.stop();
});

it('await flush() and await shutdown() settle in a script whose only handles are the SDK own, and everything arrives', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, `tcp://127.0.0.1:${agent.port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  expect({ code, stdout: stdout.split('\n').filter(Boolean), stderr }).toEqual({ code: 0, stdout: ['flushed', 'done'], stderr: '' });
  const items = agent.lines
    .map((line) => JSON.parse(line.text) as Record<string, unknown>)
    .reduce((sum, doc) => sum + (typeof doc['script.items'] === 'number' ? (doc['script.items'] as number) : 0), 0);
  expect(items).toBe(7);
});
