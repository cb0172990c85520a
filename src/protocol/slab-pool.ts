/**
 * Reply slabs handed back once the socket is done with them, for the next slab a RespEncoder needs.
 *
 * A connection that writes faster than its peer reads (a catch-up subscription, a deep pipeline) fills a slab
 * before the socket has sent the previous ones, so its encoder keeps asking for new 64 KiB slabs. Each is a fresh
 * ArrayBuffer outside V8's heap, and V8 answers a steady stream of such external memory with a full mark-compact
 * every few tens of milliseconds. With the pool, slabs go round instead: the connection returns a slab when the
 * write callback of the last bytes taken from it has run (Connection.#onWritten), and the encoder takes slabs of
 * its usual size from here before it allocates.
 *
 * Only slabs of exactly `slabBytes` are kept (an oversized one, made for one big reply, is left to the GC), and at
 * most `slabsMax` of them, so the pool holds at most slabBytes x slabsMax bytes. One pool per thread.
 */
export class SlabPool {
  readonly slabBytes: number;
  readonly slabsMax: number;
  readonly #free: Buffer[] = [];
  /** Slabs handed out from the pool and slabs newly allocated, for tests and INFO. */
  reused = 0;
  allocated = 0;

  constructor(slabBytes: number, slabsMax: number) {
    this.slabBytes = slabBytes;
    this.slabsMax = slabsMax;
  }

  get size(): number {
    return this.#free.length;
  }

  /** A slab of `slabBytes`, from the pool if one is free. Its contents are whatever they were. */
  take(): Buffer {
    const slab = this.#free.pop();
    if (slab !== undefined) {
      this.reused++;
      return slab;
    }
    this.allocated++;
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  /** Hands back a slab nobody reads or writes any more. Slabs of another size, or past the limit, are dropped. */
  give(slab: Buffer): void {
    if (slab.length !== this.slabBytes || slab.byteOffset !== 0 || this.#free.length >= this.slabsMax) return;
    this.#free.push(slab);
  }
}
