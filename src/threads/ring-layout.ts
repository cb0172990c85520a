/**
 * The shared-memory layout of a ring queue (`ring-queue.ts`): every Int32 slot index is named here, once.
 *
 * One SharedArrayBuffer holds a 384-byte control block followed by the data region:
 *
 *   byte   slot  name                 written by            read by
 *   ----   ----  -------------------  --------------------  -----------------------------------------
 *      0     0   MAGIC                create()              attach() (is this buffer a ring at all?)
 *      4     1   LAYOUT_VERSION       create()              attach()
 *      8     2   CAPACITY_BYTES       create()              attach()
 *    128    32   TAIL                 producer (store)      consumer (load)
 *    132    33   CONSUMER_SLEEPING    consumer (store 1/0)  producer (load, compareExchange 1 → 0)
 *    136    34   CLOSED               producer (store 1)    consumer (load)
 *    256    64   HEAD                 consumer (store)      producer (load)
 *    260    65   PRODUCER_WAITING     producer (store 1/0)  consumer (load, compareExchange 1 → 0)
 *    264    66   SPACE_WANTED_HEAD    producer (store)      consumer (load, only after seeing WAITING 1)
 *    384     -   data region: capacity bytes of frames (capacity a power of two)
 *
 * The producer's words and the consumer's words sit 128 bytes apart (two 64-byte cache lines, because x86's
 * adjacent-line prefetcher pulls lines in pairs), so the producer storing TAIL on every frame does not steal
 * the line on which the consumer stores HEAD on every frame. Each flag lives on the line of the side that reads
 * it on every frame and writes it rarely: the producer loads CONSUMER_SLEEPING after each commit, the consumer
 * loads PRODUCER_WAITING after each release.
 *
 * HEAD and TAIL are byte counters that only ever grow, modulo 2^32 (they wrap through negative Int32 values;
 * all arithmetic on them is `| 0` or `>>> 0`). The byte offset of a counter in the data region is
 * `counter & (capacity - 1)`, which stays correct across the 2^32 wrap because the capacity divides 2^32.
 * `(TAIL - HEAD) >>> 0` is the number of bytes in use, from 0 (empty) to capacity (full): no slot is wasted to
 * tell full from empty. This needs capacity <= 2^30, far below 2^31.
 *
 * A frame in the data region, starting at a 4-byte-aligned offset:
 *
 *   offset  size            field
 *   ------  --------------  ------------------------------------------------------------
 *        0  4               length: payload bytes as an Int32 in host byte order, or SKIP
 *        4  length          payload
 *   4+length  0..3          padding to the next multiple of 4 (contents undefined)
 *
 * A SKIP length (-1) says: nothing more until the end of the data region, continue at offset 0. Its "frame"
 * covers the rest of the region. Both threads run on one machine, so host byte order is the same on both sides.
 */

/** Int32 slot indexes in the control block. See the table above. */
export const RingSlot = {
  MAGIC: 0,
  LAYOUT_VERSION: 1,
  CAPACITY_BYTES: 2,
  TAIL: 32,
  CONSUMER_SLEEPING: 33,
  CLOSED: 34,
  HEAD: 64,
  PRODUCER_WAITING: 65,
  SPACE_WANTED_HEAD: 66,
} as const;

/** "RING" in ASCII, in MAGIC: `attach()` refuses any other buffer. */
export const ringMagic = 0x52494e47;
export const ringLayoutVersion = 1;

/** Bytes between the producer's and the consumer's control words. */
export const ringFalseSharingGapBytes = 128;
/** Size of the control block; the data region starts here. */
export const ringHeaderBytes = 3 * ringFalseSharingGapBytes;

/** Smallest and largest data region. The largest keeps `TAIL - HEAD` far from 2^31 (see above). */
export const ringCapacityBytesMin = 64;
export const ringCapacityBytesMax = 2 ** 30;

/** The length word in front of every frame. Frames start on multiples of this. */
export const frameHeaderBytes = 4;
export const frameAlignBytes = 4;
/** A length word with this value means: skip to offset 0 of the data region. */
export const frameSkipMarker = -1;

/** Bytes a frame with `payloadBytes` of payload occupies in the data region. */
export function frameRecordBytes(payloadBytes: number): number {
  return frameHeaderBytes + ((payloadBytes + frameAlignBytes - 1) & ~(frameAlignBytes - 1));
}
