/**
 * The scrape body cache. A new window only invalidates; the first scrape after it renders (once per content type,
 * shared by every concurrent scrape through one promise), later scrapes reuse the bytes until the next window.
 *
 * Everything a render does runs in slices of about `sliceMs` (see slicer.ts): the snapshot (which waits for a
 * window being applied, see state.ts), the format, and gzip on libuv's threadpool.
 */
import { performance } from 'node:perf_hooks';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type * as PromClient from 'prom-client';
import type { Family } from './families.js';
import { encodeFamilies } from './protobuf-exposition.js';
import { renderFamilies, renderInOnePiece, type ContentKind, type TextKind } from './render.js';
import { Slicer } from './slicer.js';

const gzipAsync = promisify(gzip);

export interface Body {
  readonly kind: ContentKind;
  readonly gzip: boolean;
  readonly bytes: Buffer;
}

/** Families of the state after every window applied before the call (state.ts `snapshot`). */
export type Snapshot = (native: boolean, slicer: Slicer) => Promise<Family[]>;

export class Exposition {
  private generation = 0;
  private readonly cache = new Map<string, Promise<Body>>();
  renders = 0;
  /** From the start of the last render to its bytes, turns given back to the host included. */
  lastRenderMs = 0;
  lastBytes = 0;

  constructor(
    private readonly prom: Promise<typeof PromClient>,
    private readonly snapshot: Snapshot,
    private readonly sliceMs: number,
  ) {}

  /**
   * Call when a window is handed over, before it is applied: scrapes from then on render the state with it (they
   * wait for the apply); scrapes already rendering finish with the state before it. Either is complete.
   */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  body(kind: ContentKind, compress: boolean): Promise<Body> {
    const key = `${kind}|${compress}`;
    let body = this.cache.get(key);
    if (body === undefined) {
      body = compress ? this.compressed(kind) : this.render(kind);
      this.cache.set(key, body);
      // A failed render is not cached: the next scrape tries again.
      const generation = this.generation;
      body.catch(() => {
        if (this.generation === generation && this.cache.get(key) === body) this.cache.delete(key);
      });
    }
    return body;
  }

  private async compressed(kind: ContentKind): Promise<Body> {
    const plain = await this.body(kind, false);
    // zlib's async API deflates on the threadpool; the event loop only sees its callbacks.
    return { kind, gzip: true, bytes: await gzipAsync(plain.bytes) };
  }

  private async render(kind: ContentKind): Promise<Body> {
    // The protobuf encoder is ours: a scrape for it never waits for (or depends on) prom-client.
    const prom = kind === 'protobuf' ? undefined : await this.prom;
    const t0 = performance.now();
    const slicer = new Slicer(this.sliceMs);
    const families = await this.snapshot(prom === undefined, slicer);
    const bytes =
      prom === undefined
        ? await encodeFamilies(families, slicer)
        : this.sliceMs === Infinity
          ? await renderInOnePiece(prom, families, kind as TextKind) // one Registry.metrics() call, the path before slicing
          : await renderFamilies(prom, families, kind as TextKind, slicer);
    this.renders++;
    this.lastRenderMs = performance.now() - t0;
    this.lastBytes = bytes.length;
    return { kind, gzip: false, bytes };
  }
}
