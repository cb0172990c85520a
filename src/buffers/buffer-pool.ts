/**
 * ArrayBuffers of one size that go round instead of being allocated for each use.
 *
 * V8 answers a steady stream of new ArrayBuffers (memory outside its heap) with a full mark-compact every few tens
 * of milliseconds. Two hot paths made such a stream, and both now take their buffers from a pool like this one and
 * give them back once nobody reads or writes them any more:
 *
 * - Reply slabs (Connection, `replySlabs`). A connection that writes faster than its peer reads (a catch-up
 *   subscription, a deep pipeline) fills a 64 KiB slab before the socket has sent the previous ones. A slab goes
 *   back when the write callback of the last bytes taken from it has run (Connection.#onWritten).
 * - Read results (PiscinaReadBackend). A catch-up reads thousands of partition pages a second. The main thread
 *   moves a buffer to the read worker with the task, the worker collects the records into it and moves it back, and
 *   the page's consumers give it back (EventPage.release). Moving a buffer out detaches it, so the main thread's
 *   external memory stays flat. (Measured: some 60 mark-compacts over a million-event catch-up before, 3 after.)
 *
 * Only buffers of exactly `bufferBytes` are kept: one outgrown for a big reply or a page of large events is left to
 * the collector, and so is a detached one (its length reads 0). At most `buffersMax` are kept, so a pool holds at
 * most bufferBytes x buffersMax bytes. A pool belongs to one thread.
 */
export interface BufferPoolStats {
  /** Takes answered from the pool, and takes that allocated a new buffer. */
  reused: number;
  allocated: number;
  /** Buffers waiting in the pool now. */
  pooled: number;
}

export class BufferPool {
  readonly bufferBytes: number;
  readonly buffersMax: number;
  readonly #free: ArrayBuffer[] = [];
  /** Takes answered from the pool, and takes that allocated, for tests and INFO. */
  reused = 0;
  allocated = 0;

  /**
   * Tests set this to fill every buffer handed back with 0xdd, so that a use after give-back shows as garbage at
   * once instead of only when a later user happens to overwrite it.
   */
  static poisonOnGive = false;

  constructor(bufferBytes: number, buffersMax: number) {
    this.bufferBytes = bufferBytes;
    this.buffersMax = buffersMax;
  }

  get size(): number {
    return this.#free.length;
  }

  stats(): BufferPoolStats {
    return { reused: this.reused, allocated: this.allocated, pooled: this.#free.length };
  }

  /** A buffer of `bufferBytes`, from the pool if one is free. Its contents are whatever they were. */
  take(): ArrayBuffer {
    const b = this.#free.pop();
    if (b !== undefined) {
      this.reused++;
      return b;
    }
    this.allocated++;
    return new ArrayBuffer(this.bufferBytes);
  }

  /** Hands back a buffer nobody uses any more. Detached ones, other sizes and extras past the limit are dropped. */
  give(b: ArrayBuffer): void {
    if (b.byteLength !== this.bufferBytes) return;
    if (BufferPool.poisonOnGive) new Uint8Array(b).fill(0xdd);
    if (this.#free.length >= this.buffersMax) return;
    this.#free.push(b);
  }
}
