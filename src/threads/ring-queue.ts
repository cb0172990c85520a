/**
 * A single-producer single-consumer byte ring in a SharedArrayBuffer, carrying variable-length frames between
 * two threads without postMessage: main → bucket writer (requests) and bucket writer → main (completions).
 * The layout, every slot index and the frame format are in `ring-layout.ts`.
 *
 * ## Frames and wrap-around
 * A frame is a 4-byte length word and its payload, padded to 4 bytes. `tryReserve()` hands the producer a view
 * of exactly the payload bytes, which is why a payload must be contiguous: when a frame does not fit between
 * the tail and the end of the data region, the producer writes a SKIP length word there (the rest of the region
 * is dead space until the consumer passes it) and the frame starts at offset 0. A split copy would avoid the
 * dead space but would force a copy on both sides and could not hand out one writable view; the cost of SKIP
 * is at most one frame's worth of space per lap. The SKIP word is published on its own as soon as it fits, so
 * that the consumer can step over it even when the frame after it needs the whole ring; this is why any frame
 * up to `capacity - 4` bytes (`maxFrameBytes`) fits eventually.
 *
 * ## Counters
 * HEAD (next byte to read) and TAIL (next byte to write) only grow, wrapping modulo 2^32. Only the consumer
 * stores HEAD and only the producer stores TAIL. Each side keeps its own counter in a local variable and a
 * cached copy of the other side's counter, and reloads the other's only when the cache says empty (consumer)
 * or full (producer), so an uncontended frame costs one `Atomics.store` and one `Atomics.load` of a flag.
 *
 * ## Atomics protocol
 * Memory order. The producer writes the payload and the length word with plain stores and then publishes them
 * with `Atomics.store(TAIL)`; the consumer reads TAIL with `Atomics.load` before it reads the frame with plain
 * loads. Atomics are sequentially consistent, so a store/load pair of the same slot orders everything before
 * the store ahead of everything after the load. The same pairing on HEAD tells the producer that the consumer
 * has finished reading the bytes it is about to overwrite.
 *
 * Sleeping consumer. The consumer never sleeps on TAIL directly: it announces that it is about to sleep by
 * storing CONSUMER_SLEEPING = 1, re-checks TAIL (and CLOSED), and only if the ring is still empty calls
 * `Atomics.wait(CONSUMER_SLEEPING, 1)` (or `Atomics.waitAsync` on the main thread). After publishing TAIL the
 * producer loads CONSUMER_SLEEPING, and only if it is 1 does it `compareExchange` it to 0 and `Atomics.notify`.
 * So a busy consumer costs the producer one load per frame and no notify; a sleeping one gets exactly one
 * notify per sleep, from whichever commit clears the flag.
 *
 * Why no wake-up is lost: all these operations are sequentially consistent, so they fall in one total order.
 *   - If the producer's load of CONSUMER_SLEEPING returns 0, that load comes before the consumer's store of 1,
 *     so the producer's earlier store of TAIL comes before the consumer's re-check of TAIL: the consumer sees
 *     the frame and does not sleep.
 *   - If it returns 1, the producer flips the flag to 0 and notifies. The consumer's `Atomics.wait(flag, 1)`
 *     either runs after the flip (it sees 0 and returns "not-equal" at once) or it was already queued as a
 *     waiter when `notify` ran (wait compares and enqueues atomically with respect to notify).
 * The consumer always stores 0 after waking (timeouts and spurious wake-ups are fine: it loops and re-checks).
 *
 * Waiting producer. Symmetrically, a producer that finds the ring full computes the HEAD value at which its
 * frame will fit, stores it in SPACE_WANTED_HEAD, stores PRODUCER_WAITING = 1, re-checks HEAD, and waits on
 * PRODUCER_WAITING. After publishing HEAD the consumer loads PRODUCER_WAITING; if it is 1 and HEAD has reached
 * SPACE_WANTED_HEAD, it flips the flag to 0 and notifies. The same argument holds: if the consumer saw 0, the
 * producer's re-check sees the new HEAD; if it saw 1, it also sees the SPACE_WANTED_HEAD stored before it. A
 * stale SPACE_WANTED_HEAD can only cause a spurious wake-up, never a missed one. Waking only once enough space
 * is free means a producer waiting for a large frame is not woken by every small release.
 *
 * Closing. `close()` (either side) stores CLOSED = 1 and then wakes both sides as above; both waits re-check
 * CLOSED after announcing themselves, so the argument covers it too.
 *
 * Main thread. It must never block, so it uses `waitForDataAsync()` / `waitForSpaceAsync()` (Atomics.waitAsync).
 * A pending `Atomics.waitAsync` does not keep a Node process alive by itself; the worker thread does.
 */
import {
  RingSlot,
  frameHeaderBytes,
  frameRecordBytes,
  frameSkipMarker,
  ringCapacityBytesMax,
  ringCapacityBytesMin,
  ringHeaderBytes,
  ringLayoutVersion,
  ringMagic,
} from './ring-layout.ts';

export interface RingQueueCreateOptions {
  /**
   * Initial value of HEAD and TAIL (any 32-bit integer; default 0). Tests start just below 2^32 so that the
   * counters wrap after a few frames.
   */
  startCounter?: number;
}

/** Wake-up traffic sent by this side of the ring; plain local counters for tests and benchmarks. */
export interface RingQueueStats {
  /** `Atomics.notify` calls made to wake a sleeping consumer. */
  consumerWakeups: number;
  /** `Atomics.notify` calls made to wake a producer waiting for space. */
  producerWakeups: number;
  /** Times this side went to sleep (sync or async) waiting for data or space. */
  sleeps: number;
}

export class RingQueue {
  readonly buffer: SharedArrayBuffer;
  readonly capacityBytes: number;
  /** Largest payload that can ever fit: the whole data region minus one length word. */
  readonly maxFrameBytes: number;
  readonly stats: RingQueueStats = { consumerWakeups: 0, producerWakeups: 0, sleeps: 0 };

  /** The whole buffer as Int32: control slots and the frame length words. */
  readonly #words: Int32Array;
  /**
   * The whole buffer as bytes: payload views are cut from it, and the `...At` methods give offsets into it (for
   * callers that read or write a frame in place without a view object per frame: the append hot path).
   */
  readonly #bytes: Buffer;
  readonly #mask: number;

  // Producer-side state. #tail is authoritative (only the producer stores TAIL).
  #tail: number;
  #headSeen: number;
  /** Byte offset (in the buffer) of the reserved frame's length word, or -1. */
  #reservedStart = -1;
  #reservedBytes = 0;
  #spaceWaiter: Promise<boolean> | undefined;

  // Consumer-side state. #head is authoritative (only the consumer stores HEAD).
  #head: number;
  #tailSeen: number;
  /** Record bytes of the frame returned by peek(), or 0. */
  #peekedRecordBytes = 0;
  #peekedFrameBytes = 0;
  #dataWaiter: Promise<boolean> | undefined;

  private constructor(buffer: SharedArrayBuffer) {
    const words = new Int32Array(buffer);
    if (words.length < ringHeaderBytes / 4 || words[RingSlot.MAGIC] !== ringMagic) {
      throw new TypeError('RingQueue.attach: the buffer is not a ring queue (bad magic)');
    }
    if (words[RingSlot.LAYOUT_VERSION] !== ringLayoutVersion) {
      throw new TypeError(`RingQueue.attach: layout version ${words[RingSlot.LAYOUT_VERSION]}, expected ${ringLayoutVersion}`);
    }
    const capacityBytes = words[RingSlot.CAPACITY_BYTES];
    assert(buffer.byteLength === ringHeaderBytes + capacityBytes, 'ring buffer size does not match its capacity');
    this.buffer = buffer;
    this.capacityBytes = capacityBytes;
    this.maxFrameBytes = capacityBytes - frameHeaderBytes;
    this.#words = words;
    this.#bytes = Buffer.from(buffer, 0, buffer.byteLength);
    this.#mask = capacityBytes - 1;
    this.#tail = Atomics.load(words, RingSlot.TAIL);
    this.#headSeen = Atomics.load(words, RingSlot.HEAD);
    this.#head = this.#headSeen;
    this.#tailSeen = this.#tail;
  }

  /** Allocates a ring with a data region of `capacityBytes` (a power of two, 64 B .. 1 GiB). */
  static create(capacityBytes: number, options: RingQueueCreateOptions = {}): RingQueue {
    if (
      !Number.isInteger(capacityBytes) ||
      capacityBytes < ringCapacityBytesMin ||
      capacityBytes > ringCapacityBytesMax ||
      (capacityBytes & (capacityBytes - 1)) !== 0
    ) {
      throw new RangeError(
        `RingQueue capacity must be a power of two in [${ringCapacityBytesMin}, ${ringCapacityBytesMax}], got ${capacityBytes}`,
      );
    }
    const startCounter = options.startCounter ?? 0;
    if (!Number.isInteger(startCounter) || startCounter < -(2 ** 31) || startCounter >= 2 ** 32) {
      throw new RangeError(`RingQueue startCounter must be a 32-bit integer, got ${startCounter}`);
    }
    const buffer = new SharedArrayBuffer(ringHeaderBytes + capacityBytes);
    const words = new Int32Array(buffer);
    words[RingSlot.CAPACITY_BYTES] = capacityBytes;
    words[RingSlot.LAYOUT_VERSION] = ringLayoutVersion;
    words[RingSlot.HEAD] = startCounter | 0;
    words[RingSlot.TAIL] = startCounter | 0;
    // The buffer reaches the other thread through postMessage/workerData after this, which orders these stores.
    Atomics.store(words, RingSlot.MAGIC, ringMagic);
    return new RingQueue(buffer);
  }

  /** The other side of a ring made by `create()`, usually in another thread. */
  static attach(buffer: SharedArrayBuffer): RingQueue {
    return new RingQueue(buffer);
  }

  /** The whole ring as bytes; `tryReserveAt()` and `peekAt()` return offsets into it. */
  get bytes(): Buffer {
    return this.#bytes;
  }

  /** True once either side called `close()`. */
  get closed(): boolean {
    return Atomics.load(this.#words, RingSlot.CLOSED) !== 0;
  }

  /**
   * Shuts the ring: the consumer's waits return false once it has read every frame, the producer's waits for
   * space return false. Frames pushed after close may never be read. Either side may call it (the main thread
   * closes a dead worker's rings to release its own waiters).
   */
  close(): void {
    Atomics.store(this.#words, RingSlot.CLOSED, 1);
    this.#wakeConsumer();
    if (Atomics.compareExchange(this.#words, RingSlot.PRODUCER_WAITING, 1, 0) === 1) {
      this.stats.producerWakeups++;
      Atomics.notify(this.#words, RingSlot.PRODUCER_WAITING);
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Producer side

  /**
   * A writable view of exactly `frameBytes` contiguous bytes in the ring, or undefined when the ring is too
   * full right now. Nothing is visible to the consumer until `commit()`. Only one reservation at a time.
   * Throws RangeError when the frame can never fit (`frameBytes > maxFrameBytes`).
   */
  tryReserve(frameBytes: number): Buffer | undefined {
    const at = this.tryReserveAt(frameBytes);
    return at === -1 ? undefined : this.#bytes.subarray(at, at + frameBytes);
  }

  /**
   * `tryReserve()` without a view: the offset in `bytes` of the reserved payload's first byte, or -1 when the ring
   * is too full right now. The caller writes `bytes[at .. at + frameBytes)` and then commits.
   */
  tryReserveAt(frameBytes: number): number {
    this.#checkFrameBytes(frameBytes);
    assert(this.#reservedStart === -1, 'tryReserve() called again before commit()');
    if (!this.#makeRoom(frameRecordBytes(frameBytes))) return -1;
    const start = ringHeaderBytes + (this.#tail & this.#mask);
    this.#reservedStart = start;
    this.#reservedBytes = frameBytes;
    return start + frameHeaderBytes;
  }

  /**
   * Publishes the reserved frame. `frameBytes` may shrink it (an encoder that reserved an upper bound); the
   * default is the reserved size. Wakes the consumer only if it announced that it is going to sleep.
   */
  commit(frameBytes: number = this.#reservedBytes): void {
    const start = this.#reservedStart;
    assert(start !== -1, 'commit() without tryReserve()');
    if (!Number.isInteger(frameBytes) || frameBytes < 0 || frameBytes > this.#reservedBytes) {
      throw new RangeError(`commit(${frameBytes}): must be an integer in [0, ${this.#reservedBytes}] (the reserved size)`);
    }
    this.#words[start >> 2] = frameBytes;
    this.#reservedStart = -1;
    this.#publishTail((this.#tail + frameRecordBytes(frameBytes)) | 0);
  }

  /**
   * Publishes the reserved frame like `commit()` but does not wake a sleeping consumer: the producer promises to
   * call `wakeConsumer()` after its last frame of a burst, so the consumer wakes once and sees the whole burst
   * (the write worker then makes it one batch, one fdatasync). Until that call a sleeping consumer stays asleep.
   */
  commitQuiet(frameBytes: number = this.#reservedBytes): void {
    const start = this.#reservedStart;
    assert(start !== -1, 'commitQuiet() without tryReserve()');
    if (!Number.isInteger(frameBytes) || frameBytes < 0 || frameBytes > this.#reservedBytes) {
      throw new RangeError(`commitQuiet(${frameBytes}): must be an integer in [0, ${this.#reservedBytes}] (the reserved size)`);
    }
    this.#words[start >> 2] = frameBytes;
    this.#reservedStart = -1;
    this.#tail = (this.#tail + frameRecordBytes(frameBytes)) | 0;
    Atomics.store(this.#words, RingSlot.TAIL, this.#tail);
  }

  /** Wakes the consumer if it announced that it sleeps (after `commitQuiet()` frames). */
  wakeConsumer(): void {
    this.#wakeConsumer();
  }

  /** Reserve, copy, commit. False when the ring is too full right now. */
  tryPush(frame: Uint8Array): boolean {
    const view = this.tryReserve(frame.length);
    if (view === undefined) return false;
    view.set(frame);
    this.commit();
    return true;
  }

  /**
   * Blocks (Atomics.wait) until `tryReserve(frameBytes)` will succeed. For a producer in a worker. Returns false
   * on timeout or when the ring is closed without room.
   */
  waitForSpace(frameBytes: number, timeoutMs: number = Infinity): boolean {
    this.#checkFrameBytes(frameBytes);
    assert(this.#reservedStart === -1, 'waitForSpace() while a reservation is pending');
    const recordBytes = frameRecordBytes(frameBytes);
    const deadlineMs = performance.now() + timeoutMs;
    for (;;) {
      if (this.#makeRoom(recordBytes)) return true;
      if (this.closed) return false;
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) return false;
      if (!this.#announceProducerWaiting(recordBytes)) continue;
      this.stats.sleeps++;
      Atomics.wait(this.#words, RingSlot.PRODUCER_WAITING, 1, remainingMs);
      Atomics.store(this.#words, RingSlot.PRODUCER_WAITING, 0);
    }
  }

  /**
   * Resolves (true) once `tryReserve(frameBytes)` will succeed, or false when the ring is closed first. Never
   * blocks: for the main thread. Concurrent callers are served one after another (one waiter on the flag).
   */
  waitForSpaceAsync(frameBytes: number): Promise<boolean> {
    this.#checkFrameBytes(frameBytes);
    assert(this.#reservedStart === -1, 'waitForSpaceAsync() while a reservation is pending');
    const recordBytes = frameRecordBytes(frameBytes);
    if (this.#spaceWaiter === undefined && this.#makeRoom(recordBytes)) return Promise.resolve(true);
    const run = (): Promise<boolean> => this.#waitForSpaceLoop(recordBytes);
    const waiter = this.#spaceWaiter === undefined ? run() : this.#spaceWaiter.then(run, run);
    this.#spaceWaiter = waiter;
    const clear = (): void => {
      if (this.#spaceWaiter === waiter) this.#spaceWaiter = undefined;
    };
    waiter.then(clear, clear);
    return waiter;
  }

  async #waitForSpaceLoop(recordBytes: number): Promise<boolean> {
    for (;;) {
      if (this.#makeRoom(recordBytes)) return true;
      if (this.closed) return false;
      if (!this.#announceProducerWaiting(recordBytes)) continue;
      this.stats.sleeps++;
      const result = Atomics.waitAsync(this.#words, RingSlot.PRODUCER_WAITING, 1);
      if (result.async) await result.value;
      Atomics.store(this.#words, RingSlot.PRODUCER_WAITING, 0);
    }
  }

  /**
   * Steps 1-3 of the producer's side of the protocol: SPACE_WANTED_HEAD, PRODUCER_WAITING = 1, re-check.
   * True when the caller should now wait on PRODUCER_WAITING; false (flag cleared) when it should retry.
   */
  #announceProducerWaiting(recordBytes: number): boolean {
    const tailBefore = this.#tail;
    Atomics.store(this.#words, RingSlot.SPACE_WANTED_HEAD, this.#wantedHead(recordBytes));
    Atomics.store(this.#words, RingSlot.PRODUCER_WAITING, 1);
    // #makeRoom reloads HEAD because the cached copy said "no room"; it may publish a SKIP (tail moves), after
    // which the wanted head is stale, so start over.
    if (this.#makeRoom(recordBytes) || this.#tail !== tailBefore || this.closed) {
      Atomics.store(this.#words, RingSlot.PRODUCER_WAITING, 0);
      return false;
    }
    return true;
  }

  /**
   * True when `recordBytes` contiguous bytes are free at the tail. If the record has to wrap, first publishes a
   * SKIP over the rest of the data region (when that much is free), so the consumer can step over it.
   */
  #makeRoom(recordBytes: number): boolean {
    const offset = this.#tail & this.#mask;
    const untilEndBytes = this.capacityBytes - offset;
    if (recordBytes > untilEndBytes) {
      if (this.#freeBytes(untilEndBytes) < untilEndBytes) return false;
      this.#words[(ringHeaderBytes + offset) >> 2] = frameSkipMarker;
      this.#publishTail((this.#tail + untilEndBytes) | 0);
    }
    return this.#freeBytes(recordBytes) >= recordBytes;
  }

  /** The HEAD value at which the next step of `#makeRoom(recordBytes)` succeeds (after it returned false). */
  #wantedHead(recordBytes: number): number {
    const untilEndBytes = this.capacityBytes - (this.#tail & this.#mask);
    // A wrapping record first needs room for its SKIP; the loop then comes back for the record itself.
    const neededBytes = recordBytes > untilEndBytes ? untilEndBytes : recordBytes;
    return (this.#tail + neededBytes - this.capacityBytes) | 0;
  }

  /** Free bytes by the cached HEAD, reloading HEAD only when the cache says fewer than `wantedBytes`. */
  #freeBytes(wantedBytes: number): number {
    let freeBytes = this.capacityBytes - ((this.#tail - this.#headSeen) >>> 0);
    if (freeBytes < wantedBytes) {
      this.#headSeen = Atomics.load(this.#words, RingSlot.HEAD);
      freeBytes = this.capacityBytes - ((this.#tail - this.#headSeen) >>> 0);
      assert(freeBytes >= 0 && freeBytes <= this.capacityBytes, 'HEAD is ahead of TAIL');
    }
    return freeBytes;
  }

  #publishTail(tail: number): void {
    this.#tail = tail;
    Atomics.store(this.#words, RingSlot.TAIL, tail);
    this.#wakeConsumer();
  }

  #wakeConsumer(): void {
    if (
      Atomics.load(this.#words, RingSlot.CONSUMER_SLEEPING) !== 0 &&
      Atomics.compareExchange(this.#words, RingSlot.CONSUMER_SLEEPING, 1, 0) === 1
    ) {
      this.stats.consumerWakeups++;
      Atomics.notify(this.#words, RingSlot.CONSUMER_SLEEPING);
    }
  }

  #checkFrameBytes(frameBytes: number): void {
    if (!Number.isInteger(frameBytes) || frameBytes < 0 || frameBytes > this.maxFrameBytes) {
      throw new RangeError(
        `RingQueue frame of ${frameBytes} bytes can never fit: maxFrameBytes is ${this.maxFrameBytes} (capacity ${this.capacityBytes})`,
      );
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Consumer side

  /**
   * A view of the next frame's payload, or undefined when the ring is empty. The view stays valid until
   * `release()`; calling `peek()` again before that returns the same frame.
   */
  peek(): Buffer | undefined {
    const at = this.peekAt();
    return at === -1 ? undefined : this.#bytes.subarray(at, at + this.#peekedFrameBytes);
  }

  /**
   * `peek()` without a view: the offset in `bytes` of the next frame's payload (its length is `peekedBytes`), or
   * -1 when the ring is empty. Valid until `release()`.
   */
  peekAt(): number {
    const start = this.#nextFrameStart();
    if (start === -1) return -1;
    const frameBytes = this.#words[start >> 2];
    this.#peekedFrameBytes = frameBytes;
    this.#peekedRecordBytes = frameRecordBytes(frameBytes);
    return start + frameHeaderBytes;
  }

  /** Payload bytes of the frame found by the last `peek()` / `peekAt()`. */
  get peekedBytes(): number {
    return this.#peekedFrameBytes;
  }

  /** Frees the frame returned by `peek()`; its view must not be used after this. */
  release(): void {
    assert(this.#peekedRecordBytes !== 0, 'release() without peek()');
    const recordBytes = this.#peekedRecordBytes;
    this.#peekedRecordBytes = 0;
    this.#publishHead((this.#head + recordBytes) | 0);
  }

  /** Calls `onFrame` for up to `maxFrames` frames, releasing each after its call. Returns the frames consumed. */
  drain(onFrame: (frame: Buffer) => void, maxFrames: number = Infinity): number {
    let frames = 0;
    while (frames < maxFrames) {
      const frame = this.peek();
      if (frame === undefined) break;
      onFrame(frame);
      this.release();
      frames++;
    }
    return frames;
  }

  /** `drain()` without a view per frame: `onFrame(bytes, at, length)` reads the frame in place. */
  drainAt(onFrame: (bytes: Buffer, at: number, length: number) => void, maxFrames: number = Infinity): number {
    let frames = 0;
    const bytes = this.#bytes;
    while (frames < maxFrames) {
      const at = this.peekAt();
      if (at === -1) break;
      onFrame(bytes, at, this.#peekedFrameBytes);
      this.release();
      frames++;
    }
    return frames;
  }

  /**
   * Blocks (Atomics.wait) until a frame can be peeked. For a consumer in a worker. Returns true at once when a
   * frame is there; false on timeout, or when the ring is closed and empty.
   */
  waitForData(timeoutMs: number = Infinity): boolean {
    const deadlineMs = performance.now() + timeoutMs;
    for (;;) {
      if (this.#nextFrameStart() !== -1) return true;
      if (this.closed) return false;
      const remainingMs = deadlineMs - performance.now();
      if (remainingMs <= 0) return false;
      if (!this.#announceConsumerSleeping()) continue;
      this.stats.sleeps++;
      Atomics.wait(this.#words, RingSlot.CONSUMER_SLEEPING, 1, remainingMs);
      Atomics.store(this.#words, RingSlot.CONSUMER_SLEEPING, 0);
    }
  }

  /**
   * Resolves true once a frame can be peeked, or false when the ring is closed and empty. Never blocks: for
   * the main thread. Concurrent callers share one wait.
   */
  waitForDataAsync(): Promise<boolean> {
    if (this.#dataWaiter !== undefined) return this.#dataWaiter;
    if (this.#nextFrameStart() !== -1) return Promise.resolve(true);
    const waiter = this.#waitForDataLoop();
    this.#dataWaiter = waiter;
    const clear = (): void => {
      this.#dataWaiter = undefined;
    };
    waiter.then(clear, clear);
    return waiter;
  }

  async #waitForDataLoop(): Promise<boolean> {
    for (;;) {
      if (this.#nextFrameStart() !== -1) return true;
      if (this.closed) return false;
      if (!this.#announceConsumerSleeping()) continue;
      this.stats.sleeps++;
      const result = Atomics.waitAsync(this.#words, RingSlot.CONSUMER_SLEEPING, 1);
      if (result.async) await result.value;
      Atomics.store(this.#words, RingSlot.CONSUMER_SLEEPING, 0);
    }
  }

  /**
   * The consumer's side of the protocol: CONSUMER_SLEEPING = 1, then re-check TAIL and CLOSED. True when the
   * caller should now wait on CONSUMER_SLEEPING; false (flag cleared) when it should retry.
   */
  #announceConsumerSleeping(): boolean {
    Atomics.store(this.#words, RingSlot.CONSUMER_SLEEPING, 1);
    // #nextFrameStart reloads TAIL because the cached copy said "empty".
    if (this.#nextFrameStart() !== -1 || this.closed) {
      Atomics.store(this.#words, RingSlot.CONSUMER_SLEEPING, 0);
      return false;
    }
    return true;
  }

  /**
   * Byte offset (in the buffer) of the next frame's length word, or -1 when the ring is empty. Steps over a
   * SKIP (publishing HEAD past it). Checks the length word right after reading it: a bad one is a bug, so crash.
   */
  #nextFrameStart(): number {
    for (;;) {
      let usedBytes = (this.#tailSeen - this.#head) >>> 0;
      if (usedBytes === 0) {
        this.#tailSeen = Atomics.load(this.#words, RingSlot.TAIL);
        usedBytes = (this.#tailSeen - this.#head) >>> 0;
        if (usedBytes === 0) return -1;
        assert(usedBytes <= this.capacityBytes, 'TAIL is more than a capacity ahead of HEAD');
      }
      const offset = this.#head & this.#mask;
      const start = ringHeaderBytes + offset;
      const frameBytes = this.#words[start >> 2];
      const untilEndBytes = this.capacityBytes - offset;
      if (frameBytes === frameSkipMarker) {
        assert(untilEndBytes <= usedBytes, 'SKIP published without the bytes it covers');
        this.#publishHead((this.#head + untilEndBytes) | 0);
        continue;
      }
      const recordBytes = frameRecordBytes(frameBytes);
      // The message is made only on failure: a template literal evaluated for every frame (three numbers turned into
      // text) was ~5% of a write worker's CPU under load.
      if (!(frameBytes >= 0 && frameBytes <= this.maxFrameBytes && recordBytes <= usedBytes && recordBytes <= untilEndBytes)) {
        assert(false, `corrupt frame length ${frameBytes} at offset ${offset} (${usedBytes} bytes in use)`);
      }
      return start;
    }
  }

  #publishHead(head: number): void {
    this.#head = head;
    Atomics.store(this.#words, RingSlot.HEAD, head);
    if (Atomics.load(this.#words, RingSlot.PRODUCER_WAITING) !== 0) {
      const wantedHead = Atomics.load(this.#words, RingSlot.SPACE_WANTED_HEAD);
      if (
        ((head - wantedHead) | 0) >= 0 &&
        Atomics.compareExchange(this.#words, RingSlot.PRODUCER_WAITING, 1, 0) === 1
      ) {
        this.stats.producerWakeups++;
        Atomics.notify(this.#words, RingSlot.PRODUCER_WAITING);
      }
    }
  }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`RingQueue assertion failed: ${message}`);
}
