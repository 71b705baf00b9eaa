/**
 * What scalesignal costs a process that does nothing: CPU per second of idle processes, side by side.
 *
 * Setups (each a child process that imports the SDK built like the published package and then idles):
 *   bare          node with a timer keeping it alive, no scalesignal
 *   scalesignal   createMetrics() with its defaults (the event-loop sampler on) and a sink that discards
 *   no-eventloop  the same with `eventLoop: false`
 *   before        (--base <git ref>) scalesignal's defaults built from that commit's src/
 * Every setup runs --reps processes at once, all idle, for --seconds; CPU is each child's process.cpuUsage() over
 * that span. Idle processes barely compete, so running them together is fair; the spread across reps shows it.
 *
 *   npm run bench:idle
 *   npm run bench:idle -- --base main --seconds 30
 *
 * Writes bench/results/idle.json.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleScalesignal } from './bundle.js';

const here = dirname(fileURLToPath(import.meta.url));
type Setup = 'bare' | 'scalesignal' | 'no-eventloop' | 'before';

/**
 * The child, plain JavaScript run by plain node: a loader such as tsx keeps its own machinery busy (~3 ms of CPU a
 * second here), which would blur what is measured.
 */
const CHILD = `
const setup = process.argv[2];
if (setup !== 'bare') {
  const bundle = setup === 'before' ? process.env.SCALESIGNAL_BASE_BUNDLE : process.env.SCALESIGNAL_BUNDLE;
  const { pathToFileURL } = await import('node:url');
  const lib = await import(pathToFileURL(bundle).href);
  const metrics = lib.createMetrics({ service: 'idle', sinks: [{ name: 'discard', export() {} }], ...(setup === 'no-eventloop' ? { eventLoop: false } : {}) });
  metrics.counter('work').add(1);
}
setInterval(() => {}, 1 << 30);
let mark = process.cpuUsage();
process.on('message', (message) => {
  if (message === 'mark') mark = process.cpuUsage();
  const used = process.cpuUsage(mark);
  process.send({ cpuMicros: used.user + used.system });
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
`;

function ask(child: ChildProcess, message: string): Promise<{ cpuMicros: number }> {
  return new Promise((resolve) => {
    child.once('message', resolve as (m: unknown) => void);
    child.send(message);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '20' },
      reps: { type: 'string', default: '3' },
      base: { type: 'string' },
      out: { type: 'string', default: join(here, 'results/idle.json') },
    },
  });
  const seconds = Number(values.seconds);
  const reps = Number(values.reps);
  const env = { ...process.env, SCALESIGNAL_SINKS: '', SCALESIGNAL_BUNDLE: await bundleScalesignal(), SCALESIGNAL_BASE_BUNDLE: values.base === undefined ? '' : await bundleScalesignal(values.base) };
  const setups: Setup[] = ['bare', 'scalesignal', 'no-eventloop', ...(values.base === undefined ? [] : ['before' as const])];
  const childFile = join(dirname(env.SCALESIGNAL_BUNDLE), 'idle-child.mjs');
  await writeFile(childFile, CHILD);
  const children: Array<{ setup: Setup; child: ChildProcess }> = [];
  for (let r = 0; r < reps; r++) {
    for (const setup of setups) {
      const child = fork(childFile, [setup], { execArgv: [], env });
      await new Promise((resolve) => child.once('message', resolve));
      children.push({ setup, child });
    }
  }
  // Start-up work (module loading, the first windows) is over before measuring.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await Promise.all(children.map(({ child }) => ask(child, 'mark')));
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const msPerSecond: Record<string, number[]> = {};
  for (const { setup, child } of children) (msPerSecond[setup] ??= []).push(Number(((await ask(child, 'sample')).cpuMicros / 1000 / seconds).toFixed(2)));
  for (const { child } of children) child.kill();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const summary = Object.fromEntries(Object.entries(msPerSecond).map(([setup, xs]) => [setup, { cpuMsPerSecond: median(xs), reps: xs }]));
  for (const [setup, { cpuMsPerSecond, reps: xs }] of Object.entries(summary)) {
    console.log(`${setup.padEnd(13)} ${cpuMsPerSecond.toFixed(2).padStart(6)} ms CPU per second idle (median; ${xs.join(', ')})`);
  }
  const result = { bench: 'idle', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), seconds, base: values.base ?? null, summary };
  await writeFile(values.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify({ summary }));
}

await main();
