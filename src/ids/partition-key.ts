/**
 * How a stream finds its partition and bucket (SierraDB `crates/sierradb/src/id.rs`).
 *
 *   partition key  = uuid5(NAMESPACE_PARTITION_KEY, utf8(stream_id))   unless the client names one
 *   partition hash = bits 61..46 of the key's 128-bit big-endian value (no hashing, just those 16 bits)
 *   partition id   = partition hash % partition count
 *   bucket id      = partition id % bucket count
 */
import { v5 as uuidv5, parse as uuidParse } from 'uuid';

/** `uuid5(NAMESPACE_DNS, "sierradb.tqwewe.com")`, SierraDB's namespace for derived partition keys. */
export const NAMESPACE_PARTITION_KEY = '219bd637-e279-53e9-9e2b-eabe5d9120cc';
const namespaceBytes = uuidParse(NAMESPACE_PARTITION_KEY);

/** 16 raw bytes of a UUID. */
export type UuidBytes = Uint8Array;

export function partitionKeyForStream(streamId: string | Uint8Array): UuidBytes {
  const name = typeof streamId === 'string' ? Buffer.from(streamId, 'utf8') : streamId;
  const out = new Uint8Array(16);
  uuidv5(name, namespaceBytes, out);
  return out;
}

/** Bits 61..46 of the UUID: the low 6 bits of byte 8, all of byte 9, the top 2 bits of byte 10. */
export function partitionHash(uuid: UuidBytes): number {
  return ((uuid[8] & 0x3f) << 10) | (uuid[9] << 2) | (uuid[10] >>> 6);
}

/** Writes `hash` into bits 61..46 of `uuid` in place (used when generating event ids). */
export function embedPartitionHash(uuid: Uint8Array, hash: number, at = 0): void {
  uuid[at + 8] = (uuid[at + 8] & 0xc0) | ((hash >>> 10) & 0x3f);
  uuid[at + 9] = (hash >>> 2) & 0xff;
  uuid[at + 10] = (uuid[at + 10] & 0x3f) | ((hash & 0x3) << 6);
}

export function partitionIdForHash(hash: number, partitionCount: number): number {
  return hash % partitionCount;
}

export function partitionIdForKey(key: UuidBytes, partitionCount: number): number {
  return partitionHash(key) % partitionCount;
}

export function bucketIdForPartition(partitionId: number, bucketCount: number): number {
  return partitionId % bucketCount;
}

const UUID_HEX = /^[0-9a-f]{32}$/;

/**
 * Parses the UUID forms SierraDB accepts (`Uuid::parse_str` after trimming): hyphenated, simple (32 hex digits),
 * braced and urn. Returns undefined for anything else.
 */
export function parseUuid(text: string): UuidBytes | undefined {
  let s = text.trim().toLowerCase();
  if (s.startsWith('urn:uuid:')) s = s.slice(9);
  else if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  if (s.length === 36) {
    if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return undefined;
    s = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  }
  if (!UUID_HEX.test(s)) return undefined;
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

const HEX_BYTE: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * Lower-case hyphenated form of any 16 bytes. Deliberately does not validate the version nibble: generated event
 * ids put SierraDB's "7" in the low nibble of byte 7, which RFC-checking formatters reject.
 */
export function formatUuid(b: Uint8Array): string {
  return (
    HEX_BYTE[b[0]] + HEX_BYTE[b[1]] + HEX_BYTE[b[2]] + HEX_BYTE[b[3]] + '-' +
    HEX_BYTE[b[4]] + HEX_BYTE[b[5]] + '-' + HEX_BYTE[b[6]] + HEX_BYTE[b[7]] + '-' +
    HEX_BYTE[b[8]] + HEX_BYTE[b[9]] + '-' + HEX_BYTE[b[10]] + HEX_BYTE[b[11]] + HEX_BYTE[b[12]] +
    HEX_BYTE[b[13]] + HEX_BYTE[b[14]] + HEX_BYTE[b[15]]
  );
}
