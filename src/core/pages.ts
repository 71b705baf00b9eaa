/**
 * A lane is one thread's recording storage: pages of preallocated typed arrays holding, for every slot of the
 * ring and every series, count / sum / min / max / last. Exactly one thread writes a lane, so records are plain
 * typed-array stores. The layout only uses typed arrays over one buffer per page, so a worker's lane can live in
 * a SharedArrayBuffer and be read by the main thread's sealer.
 *
 * Offset of (slot, series) in each field array: slot * PAGE_SIZE + index.
 */

/** Series per page. */
export const PAGE_SIZE = 256;

export interface Page {
  readonly buffer: ArrayBufferLike;
  readonly slots: number;
  readonly count: Float64Array;
  readonly sum: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;
  readonly last: Float64Array;
  /** Gauges' current value (not slotted: it carries over from window to window). */
  readonly current: Float64Array;
}

const FIELDS = 5;

export function pageByteLength(slots: number): number {
  return (FIELDS * slots + 1) * PAGE_SIZE * Float64Array.BYTES_PER_ELEMENT;
}

export function allocatePage(slots: number, shared: boolean): Page {
  const bytes = pageByteLength(slots);
  const buffer = shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const page = viewPage(buffer, slots);
  page.min.fill(Infinity);
  page.max.fill(-Infinity);
  page.last.fill(NaN);
  return page;
}

/** Views over an existing page buffer (the main thread's view of a worker's page). */
export function viewPage(buffer: ArrayBufferLike, slots: number): Page {
  const n = slots * PAGE_SIZE;
  const at = (field: number) => new Float64Array(buffer, field * n * 8, n);
  return {
    buffer,
    slots,
    count: at(0),
    sum: at(1),
    min: at(2),
    max: at(3),
    last: at(4),
    current: new Float64Array(buffer, FIELDS * n * 8, PAGE_SIZE),
  };
}

export function clearSlot(page: Page, slot: number, index: number): void {
  const o = slot * PAGE_SIZE + index;
  page.count[o] = 0;
  page.sum[o] = 0;
  page.min[o] = Infinity;
  page.max[o] = -Infinity;
  page.last[o] = NaN;
}

/**
 * Histogram buckets of one series in one lane: per slot, `size` dense buckets followed by the zero bucket.
 */
export function allocateBuckets(slots: number, size: number, shared: boolean): Uint32Array {
  const length = slots * (size + 1);
  return shared ? new Uint32Array(new SharedArrayBuffer(length * 4)) : new Uint32Array(length);
}

/** Hands out series indexes across pages, reusing the indexes of evicted series. */
export class PageAllocator {
  readonly pages: Page[] = [];
  private next = 0;
  private readonly free: number[] = [];

  constructor(
    readonly slots: number,
    private readonly shared: boolean,
    private readonly onPage?: (page: Page, pageNumber: number) => void,
  ) {}

  allocate(): { page: Page; index: number; pageNumber: number } {
    const position = this.free.length > 0 ? (this.free.pop() as number) : this.next++;
    const pageNumber = Math.floor(position / PAGE_SIZE);
    if (pageNumber === this.pages.length) {
      const page = allocatePage(this.slots, this.shared);
      this.pages.push(page);
      this.onPage?.(page, pageNumber);
    }
    return { page: this.pages[pageNumber], index: position % PAGE_SIZE, pageNumber };
  }

  release(pageNumber: number, index: number): void {
    const page = this.pages[pageNumber];
    for (let slot = 0; slot < this.slots; slot++) clearSlot(page, slot, index);
    page.current[index] = 0;
    this.free.push(pageNumber * PAGE_SIZE + index);
  }
}
