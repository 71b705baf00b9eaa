/** Heap of the document strings the EMF sink holds in its backlog (windows: core/window-size.ts). */

/** Heap per part of a string V8 built piece by piece: a part's header and padding plus the cons cell joining it. */
const BYTES_PER_PART = 56;
/** V8's JSON.stringify and string builders start with a 32-character part and double it up to 16 K characters. */
const FIRST_PART = 32;
const LARGEST_PART = 16 * 1024;

/**
 * Heap of a one-byte (ASCII) string made by JSON.stringify: its characters, the string header and the slot referring
 * to it, plus the tree of parts V8 keeps until the string is first flattened (~200 B on a 1 KB document, measured in
 * test/sinks/emf-backlog.test.ts), rounded up.
 */
export function stringBytes(text: string): number {
  let parts = 0;
  for (let covered = 0, part = FIRST_PART; covered < text.length; parts++) {
    covered += part;
    if (part < LARGEST_PART) part *= 2;
  }
  return text.length + 64 + BYTES_PER_PART * parts;
}
