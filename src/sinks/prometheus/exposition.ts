/**
 * The scrape body cache. A new window only invalidates; the first scrape after it renders (once per content type,
 * shared by every concurrent scrape through one promise), later scrapes reuse the bytes until the next window.
 */
import { performance } from 'node:perf_hooks';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type * as PromClient from 'prom-client';
import type { Family } from './families.js';
import { encodeFamilies } from './protobuf-exposition.js';
import { renderFamilies, type ContentKind } from './render.js';

const gzipAsync = promisify(gzip);

export interface Body {
  readonly kind: ContentKind;
  readonly gzip: boolean;
  readonly bytes: Buffer;
}

export class Exposition {
  private generation = 0;
  private families: { generation: number; list: Family[] } | undefined;
  private readonly cache = new Map<string, Promise<Body>>();
  renders = 0;
  lastRenderMs = 0;
  lastBytes = 0;

  constructor(
    private readonly prom: Promise<typeof PromClient>,
    private readonly snapshot: () => Family[],
  ) {}

  /** A new window arrived: the next scrape renders again. */
  invalidate(): void {
    this.generation++;
    this.families = undefined;
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
    return { kind, gzip: true, bytes: await gzipAsync(plain.bytes) };
  }

  private async render(kind: ContentKind): Promise<Body> {
    // The protobuf encoder is ours: a scrape for it never waits for (or depends on) prom-client.
    const prom = kind === 'protobuf' ? undefined : await this.prom;
    const t0 = performance.now();
    // Taken synchronously: a window applied while prom-client formats cannot tear this render.
    if (this.families?.generation !== this.generation) {
      this.families = { generation: this.generation, list: this.snapshot() };
    }
    // Native histograms read the live buckets: encoded in this same turn, within this generation.
    const bytes = prom === undefined ? encodeFamilies(this.families.list) : Buffer.from(await renderFamilies(prom, this.families.list, kind as Exclude<ContentKind, 'protobuf'>), 'utf8');
    this.renders++;
    this.lastRenderMs = performance.now() - t0;
    this.lastBytes = bytes.length;
    return { kind, gzip: false, bytes };
  }
}
