/** The last `capacity` points, oldest first: a fixed ring, so memory stays bounded however long the page runs. */
import type { Point } from './indicators.js';

export class History {
  private readonly ring: Array<Point | undefined>;
  private next = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    this.ring = new Array<Point | undefined>(capacity).fill(undefined);
  }

  push(point: Point): void {
    this.ring[this.next] = point;
    this.next = (this.next + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
  }

  get length(): number {
    return this.size;
  }

  points(): Point[] {
    const out: Point[] = [];
    const first = (this.next - this.size + this.capacity) % this.capacity;
    for (let i = 0; i < this.size; i++) out.push(this.ring[(first + i) % this.capacity] as Point);
    return out;
  }
}
