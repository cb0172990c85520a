/**
 * The opening sequence all three index files share: check the file can hold a header and a checksum, read and
 * decode the header, then stream the whole file once to verify its CRC32C while capturing the sections that stay
 * in memory (fan-out table, bloom filter, partition table). Record sections are read later, by positioned reads.
 */
import { BloomFilter } from './bloom-filter.ts';
import type { FileHandle, FileIo } from './file-io.ts';
import { INDEX_CRC_BYTES, IndexFileCorruptError, readExactly, verifyIndexChecksum } from './index-file-error.ts';
import { isValidFanOut } from './key-hash.ts';

export interface OpenedIndexFile<L> {
  handle: FileHandle;
  layout: L;
  /** The captured sections, in the order asked for. */
  sections: Buffer[];
}

/**
 * Opens and verifies `path`. `sections` names, from the decoded layout, the byte ranges to keep. Throws
 * IndexFileCorruptError if the file is damaged (the handle is closed); file-system errors pass through.
 */
export function openIndexFile<L>(
  io: FileIo,
  path: string,
  headerBytes: number,
  decodeHeader: (path: string, header: Buffer, fileBytes: number) => L,
  sections: (layout: L) => readonly { position: number; length: number }[],
): OpenedIndexFile<L> {
  const handle = io.open(path, 'read');
  try {
    const size = handle.size();
    if (size < headerBytes + INDEX_CRC_BYTES) throw new IndexFileCorruptError(path, `file of ${size} bytes is shorter than a header`);
    const header = Buffer.alloc(headerBytes);
    readExactly(handle, header, 0, header.length, 0);
    const layout = decodeHeader(path, header, size);
    const captures = sections(layout).map((s) => ({ position: s.position, target: Buffer.alloc(s.length) }));
    verifyIndexChecksum(handle, size, captures);
    return { handle, layout, sections: captures.map((c) => c.target) };
  } catch (error) {
    handle.close();
    throw error;
  }
}

/** Decodes a captured fan-out table (u32 LE entries) and bloom filter, checking both. */
export function decodeFanOutAndBloom(path: string, fanOutBytes: Buffer, bloomBytes: Buffer, recordCount: number): { fanOut: Uint32Array; bloom: BloomFilter } {
  const fanOut = new Uint32Array(fanOutBytes.length / 4);
  for (let i = 0; i < fanOut.length; i++) fanOut[i] = fanOutBytes.readUInt32LE(4 * i);
  if (!isValidFanOut(fanOut, recordCount)) throw new IndexFileCorruptError(path, 'fan-out table is not monotonic');
  try {
    return { fanOut, bloom: BloomFilter.deserialize(bloomBytes) };
  } catch (cause) {
    throw new IndexFileCorruptError(path, `bad bloom filter: ${(cause as Error).message}`, { cause });
  }
}
