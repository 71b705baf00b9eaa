/**
 * Before/after side by side in one process: another checkout's recording path (BEFORE, its src/index.ts) and this
 * one's, on bench/hotpath.ts's scalesignal cases plus each case's empty loop, rounds alternating the order; per
 * case the fastest round (on a shared machine other processes only add time; STAT=median for medians).
 *
 *   git archive <base> src package.json tsconfig.json | tar -x -C /tmp/before && ln -s $PWD/node_modules /tmp/before/
 *   BEFORE=/tmp/before/src/index.ts ROUNDS=301 node --expose-gc --import tsx bench/hotpath-compare.ts
 */
import { pathToFileURL } from 'node:url';
import * as afterLib from '../src/index.js';

if (process.env.BEFORE === undefined) throw new Error('set BEFORE to the src/index.ts of the checkout to compare with');
const beforeLib = (await import(pathToFileURL(process.env.BEFORE).href)) as typeof afterLib;

const values = new Float64Array(1024);
for (let i = 0; i < values.length; i++) values[i] = Math.exp(Math.random() * 6);
let cursor = 0;
const next = () => values[(cursor = (cursor + 1) & 1023)];
const routes = ['/pay', '/users/:id', '/cart'];
const route = () => routes[cursor % 3];
const keep = (value: number, labels?: object): unknown => labels ?? value;

function cases(lib: typeof afterLib) {
  const ss = lib.createMetrics({ service: 'bench', sinks: [], eventLoop: false });
  const c = ss.counter('requests');
  const g = ss.gauge('inflight');
  const h = ss.histogram('latency', { unit: 'ms' });
  const cb = c.bind({ method: 'GET', route: '/pay', status: '2xx' });
  const gb = g.bind({ route: '/pay' });
  const hb = h.bind({ method: 'GET', route: '/pay', status: '2xx' });
  return {
    ss,
    list: {
      'counter.add bound': () => cb.add(1),
      'counter.add bound, varying value': () => cb.add(next()),
      'gauge.set bound': () => gb.set(next()),
      'histogram.record bound': () => hb.record(next()),
      'counter.add unbound 3 labels': () => c.add(1, { method: 'GET', route: route(), status: '2xx' }),
      'gauge.set unbound 3 labels': () => g.set(next(), { method: 'GET', route: route(), status: '2xx' }),
      'histogram.record unbound 3 labels': () => h.record(next(), { method: 'GET', route: route(), status: '2xx' }),
    } as Record<string, () => unknown>,
  };
}
const empties: Record<string, () => unknown> = {
  'counter.add bound': () => keep(1),
  'counter.add bound, varying value': () => keep(next()),
  'gauge.set bound': () => keep(next()),
  'histogram.record bound': () => keep(next()),
  'counter.add unbound 3 labels': () => keep(1, { method: 'GET', route: route(), status: '2xx' }),
  'gauge.set unbound 3 labels': () => keep(next(), { method: 'GET', route: route(), status: '2xx' }),
  'histogram.record unbound 3 labels': () => keep(next(), { method: 'GET', route: route(), status: '2xx' }),
};

let sinkValue: unknown;
// One loop function per case and side, so each call site stays monomorphic (as mitata does).
const loopFor = () => new Function('fn', 'n', 'let r; for (let i = 0; i < n; i++) r = fn(); return r;') as (fn: () => unknown, n: number) => unknown;

const before = cases(beforeLib);
const after = cases(afterLib);
const names = Object.keys(after.list);
const runners = names.map((name) => ({
  name,
  sides: [
    { side: 'empty', fn: empties[name], loop: loopFor() },
    { side: 'before', fn: before.list[name], loop: loopFor() },
    { side: 'after', fn: after.list[name], loop: loopFor() },
  ],
}));
const N = Number(process.env.N ?? 50_000);
const ROUNDS = Number(process.env.ROUNDS ?? 41);
const samples = new Map<string, number[]>();
for (const r of runners) for (const s of r.sides) { s.loop(s.fn, 50_000); samples.set(`${r.name}|${s.side}`, []); }
for (let round = 0; round < ROUNDS; round++) {
  for (const r of runners) {
    const order = round % 2 === 0 ? r.sides : [...r.sides].reverse();
    for (const s of order) {
      const t0 = process.hrtime.bigint();
      sinkValue = s.loop(s.fn, N);
      const ns = Number(process.hrtime.bigint() - t0) / N;
      samples.get(`${r.name}|${s.side}`)!.push(ns);
    }
  }
}
// The fastest round: on a shared machine other processes only ever add time (STAT=median for the median).
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return process.env.STAT === 'median' ? s[Math.floor(s.length / 2)] : s[0]; };
const rows = names.map((name) => {
  const e = median(samples.get(`${name}|empty`)!);
  const b = median(samples.get(`${name}|before`)!);
  const a = median(samples.get(`${name}|after`)!);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { case: name, emptyNs: r2(e), beforeRaw: r2(b), afterRaw: r2(a), beforeNet: r2(b - e), afterNet: r2(a - e), rawRatio: r2(a / b), netRatio: r2((a - e) / (b - e)) };
});
console.table(rows);
console.log(JSON.stringify({ node: process.version, rounds: ROUNDS, callsPerRound: N, rows }));
void sinkValue;
await before.ss.shutdown();
await after.ss.shutdown();
