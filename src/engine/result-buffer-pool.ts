/**
 * Buffers for read results that go round between the main thread and the read workers, instead of one new buffer
 * per page.
 *
 * A catch-up subscription reads thousands of pages a second. When a read worker allocated each result and moved
 * it to the main thread, every page was a new ArrayBuffer there, and V8 answers that much new external memory with
 * a full mark-compact every few tens of milliseconds (measured: some 60 over a million-event catch-up, with the
 * concurrent marking costing about a quarter of all CPU). Now the main thread moves a buffer from this pool with
 * the task, the worker collects the records into it and moves it back, and whoever consumed the page gives it
 * back here: the same few buffers cross between the threads, and moving a buffer out detaches it, so the main
 * thread's external memory stays flat.
 *
 * A buffer is given back only by the one code path that knows nobody reads the page any more (EventPage.release);
 * a page that is dropped instead is simply collected. Buffers a worker outgrew (a page of large events) are not
 * of the pool's size and are not kept.
 */
export interface ResultBufferStats {
  /** Reads that got a buffer back from the pool, and reads that needed a new one. */
  reused: number;
  allocated: number;
  /** Buffers waiting in the pool now. */
  pooled: number;
}

export class ResultBufferPool {
  readonly bufferBytes: number;
  readonly buffersMax: number;
  readonly #free: ArrayBuffer[] = [];
  /** Buffers taken from the pool, and newly allocated, for tests. */
  reused = 0;
  allocated = 0;

  constructor(bufferBytes: number, buffersMax: number) {
    this.bufferBytes = bufferBytes;
    this.buffersMax = buffersMax;
  }

  get size(): number {
    return this.#free.length;
  }

  stats(): ResultBufferStats {
    return { reused: this.reused, allocated: this.allocated, pooled: this.#free.length };
  }

  take(): ArrayBuffer {
    const b = this.#free.pop();
    if (b !== undefined) {
      this.reused++;
      return b;
    }
    this.allocated++;
    return new ArrayBuffer(this.bufferBytes);
  }

  /**
   * Tests set this to fill every buffer handed back with 0xdd, so that a page read after its buffer was given back
   * shows as garbage at once instead of only when a later read happens to overwrite it.
   */
  static poisonOnGive = false;

  /** Hands back a buffer nobody uses any more. Detached ones (moved away), other sizes and extras are dropped. */
  give(b: ArrayBuffer): void {
    if (b.byteLength !== this.bufferBytes) return;
    if (ResultBufferPool.poisonOnGive) new Uint8Array(b).fill(0xdd);
    if (this.#free.length >= this.buffersMax) return;
    this.#free.push(b);
  }
}
