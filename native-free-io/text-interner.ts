/**
 * Strings for byte ranges that come again and again, such as stream ids: a record's stream id is decoded on every
 * append (the writer stages it), on every record a reader or a recovery indexes, and a store with a million events
 * may hold a thousand streams. Decoding makes a new string each time; this returns the one made before for the same
 * bytes.
 *
 * One table per thread, direct-mapped: a hash of the bytes picks a slot, and the string there is used if it spells
 * exactly those bytes (compared character by byte, so only ASCII ranges are kept; anything else is decoded as
 * usual). A different range that hashes to the same slot takes it over. Nothing is copied but the string, and a miss
 * costs a pass over the bytes on top of the decoding.
 */
const SLOTS = 8192;
const MASK = SLOTS - 1;
/** Ranges longer than this are decoded without the table (stream ids are at most 64 bytes). */
const INTERNED_BYTES_MAX = 64;

const strings: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

/** The UTF-8 text of `bytes[start .. end)`, the same string as last time for ASCII ranges seen before. */
export function internedText(bytes: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length > INTERNED_BYTES_MAX) return Buffer.prototype.toString.call(bytes, 'utf8', start, end);
  let h = 0x811c9dc5 ^ length;
  let high = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    high |= b;
    h = Math.imul(h ^ b, 0x01000193);
  }
  if (high >= 0x80) return Buffer.prototype.toString.call(bytes, 'utf8', start, end);
  const slot = (h ^ (h >>> 15)) & MASK;
  const known = strings[slot];
  if (known !== undefined && known.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (known.charCodeAt(i) !== bytes[start + i]) {
        same = false;
        break;
      }
    }
    if (same) return known;
  }
  const text = Buffer.prototype.toString.call(bytes, 'latin1', start, end);
  strings[slot] = text;
  return text;
}
