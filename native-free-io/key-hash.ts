/**
 * The 32-bit hash that orders the keys of the sealed-segment indexes (event ids in `index.eidx`, stream ids in
 * `stream.sidx`), and the fan-out table built over it.
 *
 * The hash is MurmurHash3 x86_32 over the key bytes, seed 0. Event ids we generate start with a millisecond clock,
 * so their leading bytes are nearly equal within a segment: ordering by raw bytes would put every key in a few
 * fan-out buckets. Murmur3's per-block mixing and final avalanche spread any one-bit difference over all 32 bits.
 *
 * Fan-out table: 2^b entries of u32, b = clamp(ceil(log2(n)), 0, 16) for n records sorted by (hash, key bytes).
 * Entry i is the index of the first record whose hash's top b bits are ≥ i, so bucket i holds the records
 * [fanOut[i], fanOut[i + 1]) (the last bucket ends at n). With 2^b ≥ n a bucket holds about one record on average
 * up to 65,536 records, and n / 65,536 beyond; a lookup is one step in the in-memory table and one small read.
 */

/** MurmurHash3 x86_32 of `data[start .. start + length]` with `seed`; an unsigned 32-bit integer. */
export function murmur3x32(data: Uint8Array, seed: number, start = 0, length = data.length - start): number {
  const blocksEnd = start + (length & ~3);
  let h = seed | 0;
  let i = start;
  for (; i < blocksEnd; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = length & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= data[i + 2] << 16;
    if (tail >= 2) k ^= data[i + 1] << 8;
    k ^= data[i];
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The ordering hash of an index key (event id bytes, or a stream id's UTF-8 bytes), optionally a range of `key`. */
export function keyHash32(key: Uint8Array, start = 0, length = key.length - start): number {
  return murmur3x32(key, 0, start, length);
}

export const FAN_OUT_BITS_MAX = 16;

/** b = clamp(ceil(log2(recordCount)), 0, 16). */
export function fanOutBits(recordCount: number): number {
  if (recordCount <= 1) return 0;
  if (recordCount > 1 << FAN_OUT_BITS_MAX) return FAN_OUT_BITS_MAX;
  return 32 - Math.clz32(recordCount - 1);
}

/** The fan-out bucket of `hash`: its top `bits` bits (a shift by 32 would be a shift by 0 in JavaScript). */
export function fanOutBucket(hash: number, bits: number): number {
  return bits === 0 ? 0 : hash >>> (32 - bits);
}

/** Builds the fan-out table over hashes already sorted ascending. */
export function buildFanOut(sortedHashes: ArrayLike<number>, bits: number): Uint32Array {
  const buckets = 1 << bits;
  const fanOut = new Uint32Array(buckets);
  let record = 0;
  for (let bucket = 0; bucket < buckets; bucket++) {
    while (record < sortedHashes.length && fanOutBucket(sortedHashes[record], bits) < bucket) record++;
    fanOut[bucket] = record;
  }
  return fanOut;
}

/** True if `fanOut` could have been built over `recordCount` records: starts at 0, never decreases, ≤ n. */
export function isValidFanOut(fanOut: Uint32Array, recordCount: number): boolean {
  if (fanOut.length === 0 || fanOut[0] !== 0) return false;
  for (let i = 1; i < fanOut.length; i++) {
    if (fanOut[i] < fanOut[i - 1]) return false;
  }
  return fanOut[fanOut.length - 1] <= recordCount;
}

/** The record index range [start, end) of the bucket that `hash` falls in. */
export function fanOutRange(fanOut: Uint32Array, bits: number, recordCount: number, hash: number): [number, number] {
  const bucket = fanOutBucket(hash, bits);
  const start = fanOut[bucket];
  const end = bucket + 1 < fanOut.length ? fanOut[bucket + 1] : recordCount;
  return [start, end];
}

/** Compares two byte strings (memcmp order, shorter first on a common prefix). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}
