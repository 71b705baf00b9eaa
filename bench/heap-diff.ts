/**
 * Which objects a soak retained between two heap snapshots of the same process (SOAK_SNAPSHOTS=1, bench/soak.ts).
 * V8 keeps an object's snapshot id for its whole life, so objects in the later snapshot whose id the earlier one
 * does not have were allocated in between and are still alive: on a steady load that is what grows. They are
 * grouped by type and constructor (count, self bytes), and for the largest groups the retainer chains of a few
 * samples are printed (which of our objects holds them). Also the plain per-constructor count/size diff.
 *
 *   node --import tsx bench/heap-diff.ts before.heapsnapshot after.heapsnapshot [groups=15] [chains=3]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly nodeCount: number;
  readonly type: (i: number) => string;
  readonly name: (i: number) => string;
  readonly id: (i: number) => number;
  readonly selfSize: (i: number) => number;
  /** Retainers of node i: [from node, edge type, edge name]. */
  readonly retainers: (i: number) => Array<[number, string, string]>;
  readonly ids: Set<number>;
}

function load(file: string): Snapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
    nodes: number[];
    edges: number[];
    strings: string[];
  };
  const { meta } = raw.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const [nType, nName, nId, nSize, nEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = raw;
  const nodeCount = nodes.length / nf;
  // Reverse edges, as flat arrays: first retainer index per node, then (from, edge index) pairs.
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let i = 0, e = 0; i < nodeCount; i++) {
    firstEdge[i] = e;
    e += nodes[i * nf + nEdges] * ef;
  }
  firstEdge[nodeCount] = edges.length;
  const counts = new Uint32Array(nodeCount + 1);
  for (let e = 0; e < edges.length; e += ef) counts[edges[e + eTo] / nf]++;
  const start = new Uint32Array(nodeCount + 1);
  for (let i = 0; i < nodeCount; i++) start[i + 1] = start[i] + counts[i];
  const fill = start.slice();
  const revFrom = new Uint32Array(edges.length / ef);
  const revEdge = new Uint32Array(edges.length / ef);
  for (let i = 0; i < nodeCount; i++) {
    for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += ef) {
      const to = edges[e + eTo] / nf;
      revFrom[fill[to]] = i;
      revEdge[fill[to]++] = e;
    }
  }
  const edgeName = (e: number) => {
    const t = edgeTypes[edges[e + eType]];
    return t === 'element' || t === 'hidden' ? `[${edges[e + eName]}]` : strings[edges[e + eName]];
  };
  const ids = new Set<number>();
  for (let i = 0; i < nodeCount; i++) ids.add(nodes[i * nf + nId]);
  return {
    nodeCount,
    type: (i) => nodeTypes[nodes[i * nf + nType]],
    name: (i) => strings[nodes[i * nf + nName]],
    id: (i) => nodes[i * nf + nId],
    selfSize: (i) => nodes[i * nf + nSize],
    retainers: (i) => {
      const out: Array<[number, string, string]> = [];
      for (let r = start[i]; r < start[i + 1]; r++) out.push([revFrom[r], edgeTypes[edges[revEdge[r] + eType]], edgeName(revEdge[r])]);
      return out;
    },
    ids,
  };
}

const label = (s: Snapshot, i: number) => {
  const type = s.type(i);
  const name = s.name(i);
  return type === 'object' || type === 'closure' || type === 'native' ? `${type}:${name.slice(0, 80)}` : type === 'string' || type === 'concatenated string' || type === 'sliced string' ? type : `${type}:${name.slice(0, 40)}`;
};

/** A retainer chain from node i towards a GC root, skipping weak edges, preferring retainers that are old objects. */
function chain(s: Snapshot, i: number, depth = 12): string {
  const parts: string[] = [];
  const seen = new Set<number>([i]);
  let at = i;
  for (let d = 0; d < depth; d++) {
    const rs = s.retainers(at).filter(([from, t]) => t !== 'weak' && !seen.has(from));
    if (rs.length === 0) break;
    const [from, , edge] = rs.find(([from]) => s.type(from) !== 'hidden' && s.type(from) !== 'synthetic') ?? rs[0];
    parts.push(`${edge} <- ${label(s, from)}#${s.id(from)}`);
    seen.add(from);
    at = from;
    if (s.type(from) === 'synthetic') break;
  }
  return `${label(s, i)} ${parts.join(' ')}`;
}

function byGroup(s: Snapshot, pick: (i: number) => boolean): Map<string, { count: number; bytes: number; sample: number[] }> {
  const out = new Map<string, { count: number; bytes: number; sample: number[] }>();
  for (let i = 0; i < s.nodeCount; i++) {
    if (!pick(i)) continue;
    const key = label(s, i);
    const g = out.get(key) ?? { count: 0, bytes: 0, sample: [] };
    g.count++;
    g.bytes += s.selfSize(i);
    if (g.sample.length < 50) g.sample.push(i);
    out.set(key, g);
  }
  return out;
}

const [fileA, fileB, groupsArg, chainsArg] = process.argv.slice(2);
if (fileA === undefined || fileB === undefined) throw new Error('usage: heap-diff.ts before.heapsnapshot after.heapsnapshot [groups] [chains]');
const groups = Number(groupsArg ?? 15);
const chains = Number(chainsArg ?? 3);
const a = load(fileA);
const b = load(fileB);
const all = (s: Snapshot) => byGroup(s, () => true);
const totalA = [...all(a).values()].reduce((x, g) => x + g.bytes, 0);
const totalB = [...all(b).values()].reduce((x, g) => x + g.bytes, 0);
console.log(`nodes ${a.nodeCount} -> ${b.nodeCount}, self bytes ${totalA} -> ${totalB} (${totalB - totalA >= 0 ? '+' : ''}${totalB - totalA})`);

// By V8 node type: 'code' is compiled code and its metadata (bytecode, feedback, deopt data), the JIT's share.
const byType = (s: Snapshot) => {
  const out = new Map<string, number>();
  for (let i = 0; i < s.nodeCount; i++) out.set(s.type(i), (out.get(s.type(i)) ?? 0) + s.selfSize(i));
  return out;
};
const ta = byType(a);
const tb = byType(b);
console.log('\nper node type, self bytes before -> after:');
for (const t of [...new Set([...ta.keys(), ...tb.keys()])].sort()) {
  const d = (tb.get(t) ?? 0) - (ta.get(t) ?? 0);
  console.log(`  ${t.padEnd(20)} ${ta.get(t) ?? 0} -> ${tb.get(t) ?? 0} (${d >= 0 ? '+' : ''}${d})`);
}
const ga = all(a);
const gb = all(b);
const delta = [...new Set([...ga.keys(), ...gb.keys()])]
  .map((k) => ({ k, dc: (gb.get(k)?.count ?? 0) - (ga.get(k)?.count ?? 0), db: (gb.get(k)?.bytes ?? 0) - (ga.get(k)?.bytes ?? 0) }))
  .sort((x, y) => Math.abs(y.db) - Math.abs(x.db))
  .slice(0, groups);
console.log('\nper type/constructor, count and self bytes, before -> after:');
for (const d of delta) console.log(`  ${d.db >= 0 ? '+' : ''}${d.db} B  ${d.dc >= 0 ? '+' : ''}${d.dc}  ${d.k}`);

const fresh = byGroup(b, (i) => !a.ids.has(b.id(i)));
const freshTotal = [...fresh.values()].reduce((x, g) => x + g.bytes, 0);
console.log(`\nallocated between the snapshots and still alive: ${[...fresh.values()].reduce((x, g) => x + g.count, 0)} objects, ${freshTotal} B`);
const top = [...fresh.entries()].sort(([, x], [, y]) => y.bytes - x.bytes).slice(0, groups);
for (const [k, g] of top) {
  console.log(`  ${g.bytes} B  ${g.count}x  ${k}`);
  const step = Math.max(1, Math.floor(g.sample.length / chains));
  for (let j = 0; j < Math.min(chains, g.sample.length); j++) console.log(`      ${chain(b, g.sample[j * step])}`);
}
