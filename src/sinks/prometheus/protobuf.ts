/**
 * A minimal protocol-buffers writer: the wire types the Prometheus exposition needs (varint, zigzag, 64-bit
 * double, length-delimited strings and nested messages), into one growing buffer. Hand-written rather than
 * protobufjs at run time: the exposition uses six message types, and this stays a small file with no
 * dependency and no reflection (bench/prometheus-render.ts measures it against the text format).
 *
 * A nested message reserves one length byte and is shifted in place when its length turns out to need more,
 * which is rare (messages under 128 bytes) and one memmove otherwise.
 */

const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;

export class ProtoWriter {
  private buffer: Buffer;
  private position = 0;
  private readonly starts: number[] = [];

  constructor(initialSize = 64 * 1024) {
    this.buffer = Buffer.allocUnsafe(initialSize);
  }

  /** The bytes written so far (a copy: the writer may be reused). */
  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.position));
  }

  reset(): void {
    this.position = 0;
    this.starts.length = 0;
  }

  /** Field tag: field number and wire type. */
  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** Unsigned varint of a non-negative integer up to 2^53. */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buffer;
    let pos = this.position;
    if (value < 0x80000000) {
      // The common case with integer shifts; above 2^31 they would wrap.
      while (value > 0x7f) {
        buf[pos++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
    } else {
      while (value >= 0x80) {
        buf[pos++] = (value % 0x80) | 0x80;
        value = Math.floor(value / 0x80);
      }
    }
    buf[pos++] = value;
    this.position = pos;
  }

  /** Bytes written before (e.g. a cached encoding of a label set). */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }

  uint64Field(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  uint32Field(field: number, value: number): void {
    this.uint64Field(field, value);
  }

  /** sint32 / sint64: zigzag, so small negative numbers stay short. */
  sintField(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(zigzag(value));
  }

  /** A zigzag varint without a tag (an element of a packed repeated sint field). */
  sint(value: number): void {
    this.varint(zigzag(value));
  }

  enumField(field: number, value: number): void {
    this.uint64Field(field, value);
  }

  doubleField(field: number, value: number): void {
    this.tag(field, FIXED64);
    this.ensure(8);
    this.buffer.writeDoubleLE(value, this.position);
    this.position += 8;
  }

  stringField(field: number, value: string): void {
    this.tag(field, LENGTH_DELIMITED);
    // Worst case 3 bytes per UTF-16 unit (a lone surrogate becomes U+FFFD, 3 bytes).
    const max = value.length * 3;
    this.ensure(max + 5);
    if (value.length < 128 && isAscii(value)) {
      this.buffer[this.position++] = value.length;
      for (let i = 0; i < value.length; i++) this.buffer[this.position++] = value.charCodeAt(i);
      return;
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.varint(length);
    this.position += this.buffer.write(value, this.position, 'utf8');
  }

  /** Opens a nested message (or a delimited top-level one with `field` 0: no tag, length only). */
  begin(field: number): void {
    if (field !== 0) this.tag(field, LENGTH_DELIMITED);
    this.ensure(1);
    this.starts.push(this.position);
    this.position++; // one length byte reserved
  }

  end(): void {
    const start = this.starts.pop()!;
    const length = this.position - start - 1;
    const extra = varintSize(length) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buffer.copyWithin(start + 1 + extra, start + 1, this.position);
      this.position += extra;
    }
    const saved = this.position;
    this.position = start;
    this.varint(length);
    this.position = saved;
  }

  private ensure(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.position + bytes));
    this.buffer.copy(next, 0, 0, this.position);
    this.buffer = next;
  }
}

function zigzag(value: number): number {
  // Exact for integers up to 2^52 in magnitude (plain arithmetic: bit operators would cut at 32 bits).
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

function isAscii(value: string): boolean {
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) return false;
  return true;
}
