/**
 * One memory sample for bench:soak, split into what RSS is made of, so a growth can be attributed:
 *   heapUsed / heapTotal   V8's JS heap: live objects / pages committed (process.memoryUsage)
 *   codeAndMetadata        of heapUsed, the JIT's machine code and metadata; bytecodeAndMetadata the interpreter's
 *   heapData               heapUsed without both: the program's own objects
 *   v8Physical             every V8 space's resident pages, code space included (v8.getHeapSpaceStatistics);
 *                          newSpace of it is the young generation, sized by V8 to the allocation rate
 *   arrayBuffers           Buffer / TypedArray backing stores (malloc'd outside the JS heap)
 *   external               arrayBuffers + other embedder memory V8 is told about
 *   rssAnon / rssFile      /proc/self/status: anonymous (heap, malloc, stacks) vs file-backed (node binary, libs)
 *   mallocArenas           RSS of glibc's malloc: the main arena ([heap], brk) plus the 64 MB-aligned thread
 *                          arenas (libuv's threadpool, where zlib deflates, gets its own), from /proc/self/smaps
 *   unattributed           rssAnon - v8Physical - mallocArenas: mmap'd chunks above the mmap threshold (large
 *                          Buffers), thread stacks, V8's reservations that are not a space
 * Linux only; on other systems the /proc fields are NaN.
 */
import { readFileSync } from 'node:fs';
import { getHeapCodeStatistics, getHeapSpaceStatistics } from 'node:v8';

export interface MemorySample {
  readonly s: number;
  readonly rssMB: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly v8PhysicalMB: number;
  readonly codeSpaceMB: number;
  /**
   * Of heapUsed, compiled code and its metadata (machine code, deopt data, relocation info, source positions) and
   * bytecode with its metadata (v8.getHeapCodeStatistics): what the JIT holds, as opposed to the program's data.
   */
  readonly codeAndMetadataMB: number;
  readonly bytecodeAndMetadataMB: number;
  /** heapUsed minus both: the JS objects the program keeps. */
  readonly heapDataMB: number;
  /** Resident pages of the young generation (semi-spaces): V8 sizes them to the allocation rate, not to what lives. */
  readonly newSpaceMB: number;
  readonly externalMB: number;
  readonly arrayBuffersMB: number;
  readonly rssAnonMB: number;
  readonly rssFileMB: number;
  readonly mallocArenasMB: number;
  /** Of mallocArenasMB, the main arena (brk heap): the JS thread's allocations, Buffers below the mmap threshold. */
  readonly mainArenaMB: number;
  readonly unattributedMB: number;
  /** Open sockets, servers, timers... (process.getActiveResourcesInfo): a socket kept after a fault would pile up. */
  readonly activeResources: number;
}

const MB = 1048576;
/** glibc's HEAP_MAX_SIZE on 64-bit: every non-main arena lives in mappings of this size, aligned to it. */
const ARENA_BYTES = 64 * MB;
const round = (x: number) => Math.round(x * 10) / 10;

export function sampleMemory(s: number): MemorySample {
  const m = process.memoryUsage();
  let v8Physical = 0;
  let codeSpace = 0;
  let newSpace = 0;
  for (const space of getHeapSpaceStatistics()) {
    v8Physical += space.physical_space_size;
    if (space.space_name === 'new_space' || space.space_name === 'new_large_object_space') newSpace += space.physical_space_size;
    if (space.space_name === 'code_space' || space.space_name === 'code_large_object_space') codeSpace += space.physical_space_size;
  }
  const code = getHeapCodeStatistics();
  const status = procStatus();
  const arenas = mallocArenaBytes();
  const rssAnon = status.RssAnon ?? NaN;
  return {
    s,
    rssMB: round(m.rss / MB),
    heapUsedMB: round(m.heapUsed / MB),
    heapTotalMB: round(m.heapTotal / MB),
    v8PhysicalMB: round(v8Physical / MB),
    codeSpaceMB: round(codeSpace / MB),
    codeAndMetadataMB: round(code.code_and_metadata_size / MB),
    bytecodeAndMetadataMB: round(code.bytecode_and_metadata_size / MB),
    heapDataMB: round((m.heapUsed - code.code_and_metadata_size - code.bytecode_and_metadata_size) / MB),
    newSpaceMB: round(newSpace / MB),
    externalMB: round(m.external / MB),
    arrayBuffersMB: round(m.arrayBuffers / MB),
    rssAnonMB: round(rssAnon / MB),
    rssFileMB: round((status.RssFile ?? NaN) / MB),
    mallocArenasMB: round(arenas.all / MB),
    mainArenaMB: round(arenas.main / MB),
    unattributedMB: round((rssAnon - v8Physical - arenas.all) / MB),
    activeResources: process.getActiveResourcesInfo().length,
  };
}

/**
 * RSS and its anonymous part, read several times a second (no GC, no smaps walk), into arrays sized up front. An
 * array of reading objects grows the heap by ~100 bytes a reading (an object and three heap numbers): +0.7 MB over
 * 30 minutes at 4/s, ~40 % of the heap rise earlier 30-minute runs counted as the SDK's.
 */
export class ResidentLog {
  private readonly s: Float64Array;
  private readonly rss: Float64Array;
  private readonly rssAnon: Float64Array;
  private length = 0;

  constructor(capacity: number) {
    this.s = new Float64Array(capacity);
    this.rss = new Float64Array(capacity);
    this.rssAnon = new Float64Array(capacity);
  }

  /** Records one reading; past the capacity readings are ignored (the caller sizes it for the whole run). */
  read(s: number): void {
    if (this.length === this.s.length) return;
    this.s[this.length] = s;
    this.rss[this.length] = process.memoryUsage.rss() / MB;
    this.rssAnon[this.length] = (procStatus().RssAnon ?? NaN) / MB;
    this.length++;
  }

  points(key: 'rssMB' | 'rssAnonMB'): Array<{ s: number; v: number }> {
    const values = key === 'rssMB' ? this.rss : this.rssAnon;
    return Array.from({ length: this.length }, (_, i) => ({ s: this.s[i], v: round(values[i]) }));
  }
}

function procStatus(): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const line of readFileSync('/proc/self/status', 'utf8').split('\n')) {
      const m = /^(\w+):\s+(\d+) kB$/.exec(line);
      if (m) out[m[1]] = Number(m[2]) * 1024;
    }
  } catch {
    // not Linux
  }
  return out;
}

/**
 * Resident bytes of malloc's arenas. The main arena is the `[heap]` mapping; a thread arena is a mapping starting
 * on a 64 MB boundary whose readable part and the reserved (---p) remainder right after it add up to 64 MB.
 */
function mallocArenaBytes(): { all: number; main: number } {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return { all: NaN, main: NaN };
  }
  const maps: Array<{ start: bigint; end: bigint; perms: string; name: string; rss: number }> = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3], name: head[4], rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB$/.exec(line);
    if (rss && maps.length > 0) maps[maps.length - 1].rss = Number(rss[1]) * 1024;
  }
  let bytes = 0;
  let main = 0;
  for (let i = 0; i < maps.length; i++) {
    const map = maps[i];
    if (map.name === '[heap]') {
      bytes += map.rss;
      main += map.rss;
      continue;
    }
    if (map.name !== '' || !map.perms.startsWith('rw') || map.start % BigInt(ARENA_BYTES) !== 0n) continue;
    const next = maps[i + 1];
    const end = next !== undefined && next.name === '' && next.perms.startsWith('---') && next.start === map.end ? next.end : map.end;
    if (end - map.start === BigInt(ARENA_BYTES)) bytes += map.rss;
  }
  return { all: bytes, main };
}
