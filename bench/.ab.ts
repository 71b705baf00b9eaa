import { BoundHistogramHandle, BoundCounterHandle } from '../src/core/handles.js';
import { SequencedHistogramHandle, SequencedCounterHandle } from '../src/workers/sequenced-handles.js';
import { allocatePage, allocateBuckets, PAGE_SIZE } from '../src/core/pages.js';
import { bucketMapping } from '../src/core/exponential-histogram.js';
const m = bucketMapping(6);
const clock = new Int32Array(new SharedArrayBuffer(8), 4, 1);
const drops = { drop() {} };
const begun = new Float64Array(new SharedArrayBuffer(4 * PAGE_SIZE * 8));
const p1 = allocatePage(4, true), p2 = allocatePage(4, true);
const h1 = new BoundHistogramHandle(clock, p1, 4, allocateBuckets(4, m.size, true), m.tables, m.size, 'h', drops);
const h2 = new SequencedHistogramHandle(clock, p2, begun, 4, allocateBuckets(4, m.size, true), m.tables, m.size, 'h', drops);
const c1 = new BoundCounterHandle(clock, p1, 5, 'c', drops);
const c2 = new SequencedCounterHandle(clock, p2, begun, 5, 'c', drops);
const values = new Float64Array(1024);
for (let i = 0; i < 1024; i++) values[i] = Math.exp(((i * 7919) % 1024) / 1024 * 6);
const N = 200_000;
const t = () => process.hrtime.bigint();
function a() { const s = t(); for (let i = 0; i < N; i++) h1.record(values[i & 1023]); return Number(t() - s) / N; }
function b() { const s = t(); for (let i = 0; i < N; i++) h2.record(values[i & 1023]); return Number(t() - s) / N; }
function c() { const s = t(); for (let i = 0; i < N; i++) c1.add(1); return Number(t() - s) / N; }
function d() { const s = t(); for (let i = 0; i < N; i++) c2.add(1); return Number(t() - s) / N; }
function z() { let x = 0; const s = t(); for (let i = 0; i < N; i++) x += values[i & 1023]; const r = Number(t() - s) / N; if (x === 1) console.log(x); return r; }
const best = [Infinity, Infinity, Infinity, Infinity, Infinity];
for (let r = 0; r < 300; r++) { best[0] = Math.min(best[0], a()); best[1] = Math.min(best[1], b()); best[2] = Math.min(best[2], c()); best[3] = Math.min(best[3], d()); best[4] = Math.min(best[4], z()); }
console.log('hist core', best[0].toFixed(2), 'seq', best[1].toFixed(2), 'net ratio', ((best[1] - best[4]) / (best[0] - best[4])).toFixed(2), '| counter core', best[2].toFixed(2), 'seq', best[3].toFixed(2), (best[3] / best[2]).toFixed(2), '| base', best[4].toFixed(2));
