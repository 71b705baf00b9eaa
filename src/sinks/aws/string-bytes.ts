/** Heap of the document strings the EMF sink holds in its backlog (windows: core/window-size.ts). */
/** Heap of a one-byte (ASCII) string: its characters, the string header and the slot referring to it, rounded up. */
export function stringBytes(text: string): number {
  return text.length + 64;
}
