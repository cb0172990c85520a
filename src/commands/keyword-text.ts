/**
 * A keyword argument (a command name, an option name) as upper-case text, without a new string for the ones seen
 * before: every EAPPEND would otherwise make two (`EAPPEND`, `PAYLOAD`) just to look them up.
 *
 * Keywords are short ASCII; latin1 maps bytes one to one and never throws. The texts are kept by a hash of the
 * case-folded bytes and checked byte for byte, so a collision only costs the string it would have cost anyway.
 * At most KEYWORDS_KEPT_MAX distinct texts are kept (clients can send anything as a command name; past the limit
 * new ones are simply not kept).
 */
const KEYWORD_BYTES_MAX = 32;
const KEYWORDS_KEPT_MAX = 512;

interface Kept {
  /** The upper-case bytes. */
  readonly bytes: Uint8Array;
  readonly text: string;
}

const kept = new Map<number, Kept>();

/** ASCII a-z to A-Z; everything else as is (as String#toUpperCase does for latin1 text below 0x80). */
function upper(b: number): number {
  return b >= 0x61 && b <= 0x7a ? b - 0x20 : b;
}

/** `arg` as upper-case latin1 text; '' for arguments longer than any keyword. */
export function keywordText(arg: Uint8Array): string {
  return keywordTextAt(arg, 0, arg.length);
}

/** keywordText of `bytes[start .. end)` (an argument read in place, RequestArguments). */
export function keywordTextAt(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > KEYWORD_BYTES_MAX) return '';
  let h = length;
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    if (b >= 0x80) ascii = false;
    h = Math.imul(h ^ upper(b), 0x01000193);
  }
  // Non-ASCII is no keyword we know: made afresh, and not kept.
  const hit = ascii ? kept.get(h) : undefined;
  if (hit !== undefined && hit.bytes.length === length) {
    let same = true;
    for (let i = 0; i < length && same; i++) same = hit.bytes[i] === upper(bytes[start + i]);
    if (same) return hit.text;
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('latin1').toUpperCase();
  if (ascii && hit === undefined && kept.size < KEYWORDS_KEPT_MAX) kept.set(h, { bytes: Buffer.from(text, 'latin1'), text });
  return text;
}
