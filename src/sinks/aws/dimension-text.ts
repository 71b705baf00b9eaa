/**
 * Dimension names and values as CloudWatch takes them: ASCII, at least one non-whitespace character, at most
 * 250 (names) / 1024 (values) characters, names not starting with `:`.
 *
 * Printable ASCII passes unchanged, which is every value a user types into a KEDA trigger or a dashboard. Any
 * other character (controls, DEL, non-ASCII) becomes its UTF-8 bytes percent-encoded (`ü` -> `%C3%BC`, `\t` ->
 * `%09`), as in a URI: the result is readable, reversible, and keeps `ü`, `ö` and two CJK values of one length
 * apart where replacing them with `?` or `_` would fold them into one series. A value of spaces only is encoded
 * the same way (`' '` -> `%20`); the empty string becomes `(empty)`. A literal `%` is left as is, so `%C3%BC`
 * typed by hand and `ü` arrive as the same value: the series then merge (summed, counted), never overwrite.
 * Text beyond the limit is cut on a character boundary, never inside a character or an escape.
 */
import { MAX_DIMENSION_NAME_LENGTH, MAX_DIMENSION_VALUE_LENGTH } from './limits.js';

export const EMPTY_VALUE = '(empty)';
const HEX = '0123456789ABCDEF';
const PLAIN = /^[\x20-\x7e]*$/;
const HAS_VISIBLE = /[\x21-\x7e]/;

export function dimensionValue(raw: string): string {
  if (raw === '') return EMPTY_VALUE;
  return encode(raw, MAX_DIMENSION_VALUE_LENGTH);
}

/** The dimension name for a label key, or undefined when nothing is left (the label is then dropped, counted). */
export function dimensionName(raw: string): string | undefined {
  if (raw === '') return undefined;
  const name = encode(raw, MAX_DIMENSION_NAME_LENGTH);
  return name.startsWith(':') ? `%3A${name.slice(1)}`.slice(0, MAX_DIMENSION_NAME_LENGTH) : name;
}

/** True when `text` reaches CloudWatch unchanged as a dimension value (for configuration-time checks). */
export function isPlainDimensionText(text: string, max: number): boolean {
  return text.length > 0 && text.length <= max && PLAIN.test(text) && HAS_VISIBLE.test(text);
}

function encode(raw: string, max: number): string {
  if (PLAIN.test(raw)) {
    const cut = raw.length <= max ? raw : raw.slice(0, max);
    if (HAS_VISIBLE.test(cut)) return cut;
  }
  // Spaces stay readable unless they would be all there is: CloudWatch wants one non-whitespace character.
  const out = escape(raw, max, true);
  return HAS_VISIBLE.test(out) ? out : escape(raw, max, false);
}

function escape(raw: string, max: number, keepSpaces: boolean): string {
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const cp = raw.codePointAt(i) as number;
    const width = cp > 0xffff ? 2 : 1;
    i += width;
    let piece: string;
    if (cp > 0x20 && cp < 0x7f) piece = String.fromCharCode(cp);
    else if (cp === 0x20 && keepSpaces) piece = ' ';
    else piece = percentEncode(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
    if (out.length + piece.length > max) break;
    out += piece;
  }
  return out;
}

/** `%XX` per UTF-8 byte of one code point. */
function percentEncode(cp: number): string {
  const bytes =
    cp < 0x80
      ? [cp]
      : cp < 0x800
        ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)]
        : cp < 0x10000
          ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
          : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
  let s = '';
  for (const b of bytes) s += '%' + HEX[b >> 4] + HEX[b & 15];
  return s;
}
