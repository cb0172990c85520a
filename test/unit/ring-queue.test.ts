import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { frameRecordBytes, ringHeaderBytes } from '../../src/threads/ring-layout.ts';
import { RingQueue } from '../../src/threads/ring-queue.ts';
import type { RingEchoWorkerData, RingEchoWorkerStats } from './fixtures/ring-echo-worker.ts';

/** mulberry32: a small seeded PRNG, so that every run sends the same frames. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The bytes of frame number `index`: a pattern that differs per frame and per position. */
function fillFrame(index: number, out: Uint8Array): void {
  const base = Math.imul(index, 0x9e3779b1);
  for (let i = 0; i < out.length; i++) out[i] = (base >>> (i & 24)) ^ (i * 7);
}

function frameBytesOf(index: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  fillFrame(index, out);
  return out;
}

/** What the echo worker answers: the bytes reversed and XORed with 0xa5. */
function echoMatches(index: number, reply: Uint8Array, expectedLength: number, scratch: Buffer): boolean {
  if (reply.length !== expectedLength) return false;
  const request = scratch.subarray(0, expectedLength);
  fillFrame(index, request);
  const last = expectedLength - 1;
  for (let i = 0; i <= last; i++) if (reply[i] !== (request[last - i] ^ 0xa5)) return false;
  return true;
}

describe('RingQueue in one thread', () => {
  it('pushes, peeks and releases frames in order', () => {
    const ring = RingQueue.create(1024);
    expect(ring.peek()).toBeUndefined();
    expect(ring.tryPush(Buffer.from('hello'))).toBe(true);
    expect(ring.tryPush(Buffer.from(''))).toBe(true);
    expect(ring.tryPush(Buffer.from('world!'))).toBe(true);
    expect(ring.peek()?.toString()).toBe('hello');
    expect(ring.peek()?.toString()).toBe('hello'); // peek is idempotent until release
    ring.release();
    expect(ring.peek()?.length).toBe(0);
    ring.release();
    const seen: string[] = [];
    expect(ring.drain((frame) => seen.push(frame.toString()))).toBe(1);
    expect(seen).toEqual(['world!']);
    expect(ring.peek()).toBeUndefined();
    expect(() => ring.release()).toThrow(/release\(\) without peek/);
  });

  it('carries frames of every size from 0 to maxFrameBytes', () => {
    const ring = RingQueue.create(1024);
    expect(ring.maxFrameBytes).toBe(1020);
    let skips = 0;
    for (let length = 0; length <= ring.maxFrameBytes; length++) {
      if (!ring.tryPush(frameBytesOf(length, length))) {
        // The frame did not fit before the end: the producer published a SKIP, which the consumer must pass
        // before the frame fits at offset 0.
        skips++;
        expect(ring.peek()).toBeUndefined();
        expect(ring.tryPush(frameBytesOf(length, length))).toBe(true);
      }
      const frame = ring.peek();
      expect(frame?.equals(frameBytesOf(length, length))).toBe(true);
      ring.release();
    }
    expect(skips).toBeGreaterThan(0);
  });

  it('lets the producer write straight into the reserved view, and commit fewer bytes', () => {
    const ring = RingQueue.create(256);
    const view = ring.tryReserve(100);
    expect(view?.length).toBe(100);
    view!.write('abc');
    expect(() => ring.tryReserve(4)).toThrow(/before commit/);
    expect(ring.peek()).toBeUndefined(); // nothing visible before commit
    expect(() => ring.commit(101)).toThrow(RangeError);
    ring.commit(3);
    expect(ring.peek()?.toString()).toBe('abc');
    ring.release();
    expect(() => ring.commit()).toThrow(/without tryReserve/);
  });

  for (const startCounter of [0, 0xffff_ff00, 0x7fff_ff80]) {
    it(`wraps around a 256-byte ring over 100,000 frames (counters start at 0x${startCounter.toString(16)})`, () => {
      const ring = RingQueue.create(256, { startCounter });
      const random = prng(startCounter ^ 42);
      const model: Buffer[] = [];
      let pushed = 0;
      let popped = 0;
      let fullSeen = 0;
      let index = 0;
      while (popped < 100_000) {
        // Push a random number of frames (stopping when full), then pop a random number: every fill level,
        // every offset and every wrap case comes up.
        for (let n = Math.floor(random() * 8); n > 0; n--) {
          const length = random() < 0.05 ? Math.floor(random() * (ring.maxFrameBytes + 1)) : Math.floor(random() * 40);
          const frame = frameBytesOf(index, length);
          if (!ring.tryPush(frame)) {
            fullSeen++;
            break;
          }
          model.push(frame);
          index++;
          pushed++;
        }
        for (let n = Math.floor(random() * 8); n > 0; n--) {
          const frame = ring.peek();
          if (frame === undefined) {
            expect(model.length).toBe(0);
            break;
          }
          const expected = model.shift()!;
          if (!frame.equals(expected)) expect(frame).toEqual(expected);
          ring.release();
          popped++;
        }
      }
      expect(pushed).toBeGreaterThanOrEqual(popped);
      expect(fullSeen).toBeGreaterThan(1000);
    });
  }

  it('returns undefined when full and succeeds once a frame is released', () => {
    const ring = RingQueue.create(256);
    expect(frameRecordBytes(60)).toBe(64);
    for (let i = 0; i < 4; i++) expect(ring.tryPush(frameBytesOf(i, 60))).toBe(true);
    expect(ring.tryReserve(0)).toBeUndefined();
    expect(ring.tryPush(frameBytesOf(4, 60))).toBe(false);
    expect(ring.peek()?.equals(frameBytesOf(0, 60))).toBe(true);
    expect(ring.tryReserve(0)).toBeUndefined(); // peeked is not released
    ring.release();
    expect(ring.tryPush(frameBytesOf(4, 60))).toBe(true);
    expect(ring.tryPush(Buffer.alloc(0))).toBe(false);
    for (let i = 1; i <= 4; i++) {
      expect(ring.peek()?.equals(frameBytesOf(i, 60))).toBe(true);
      ring.release();
    }
    expect(ring.peek()).toBeUndefined();
  });

  it('rejects a frame larger than maxFrameBytes with a RangeError, and fits one of exactly maxFrameBytes', () => {
    const ring = RingQueue.create(256);
    expect(ring.maxFrameBytes).toBe(252);
    expect(() => ring.tryReserve(253)).toThrow(RangeError);
    expect(() => ring.tryPush(new Uint8Array(1000))).toThrow(/can never fit: maxFrameBytes is 252/);
    expect(() => ring.tryReserve(-1)).toThrow(RangeError);
    expect(() => ring.tryReserve(1.5)).toThrow(RangeError);
    expect(() => ring.waitForSpace(253)).toThrow(RangeError);
    // A whole-ring frame from a non-zero offset: the SKIP is published at once, the consumer steps over it,
    // then the frame fits at offset 0.
    expect(ring.tryPush(Buffer.from('x'))).toBe(true);
    ring.peek();
    ring.release();
    expect(ring.tryReserve(252)).toBeUndefined();
    expect(ring.peek()).toBeUndefined();
    const big = frameBytesOf(7, 252);
    expect(ring.tryPush(big)).toBe(true);
    expect(ring.peek()?.equals(big)).toBe(true);
    ring.release();
  });

  it('validates capacity and refuses a buffer that is not a ring', () => {
    expect(() => RingQueue.create(1000)).toThrow(RangeError);
    expect(() => RingQueue.create(32)).toThrow(RangeError);
    expect(() => RingQueue.attach(new SharedArrayBuffer(ringHeaderBytes + 256))).toThrow(/not a ring queue/);
    const ring = RingQueue.create(4096);
    expect(ring.buffer.byteLength).toBe(ringHeaderBytes + 4096);
    const other = RingQueue.attach(ring.buffer);
    expect(other.capacityBytes).toBe(4096);
    ring.tryPush(Buffer.from('through the other handle'));
    expect(other.peek()?.toString()).toBe('through the other handle');
  });

  it('times out waiting, and reports closed rings', () => {
    const ring = RingQueue.create(256);
    expect(ring.waitForData(5)).toBe(false);
    for (let i = 0; i < 4; i++) ring.tryPush(new Uint8Array(60));
    expect(ring.waitForSpace(60, 5)).toBe(false);
    expect(ring.waitForData(5)).toBe(true);
    ring.close();
    expect(ring.closed).toBe(true);
    expect(ring.waitForSpace(60)).toBe(false);
    expect(ring.drain(() => {})).toBe(4);
    expect(ring.waitForData()).toBe(false);
  });

  it('wakes an async producer only once enough space is free', async () => {
    const ring = RingQueue.create(256);
    for (let i = 0; i < 4; i++) ring.tryPush(new Uint8Array(60));
    let resolved: boolean | undefined;
    const waiting = ring.waitForSpaceAsync(124).then((ok) => (resolved = ok));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(resolved).toBeUndefined();
    ring.peek();
    ring.release(); // 64 bytes free: not enough for a 128-byte record, so no wake-up
    expect(ring.stats.producerWakeups).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(resolved).toBeUndefined();
    ring.peek();
    ring.release(); // 128 bytes free
    expect(ring.stats.producerWakeups).toBe(1);
    await waiting;
    expect(resolved).toBe(true);
    expect(ring.tryReserve(124)).toBeDefined();
  });

  it('wakes an async consumer with one notify, and releases it on close', async () => {
    const ring = RingQueue.create(256);
    const waiting = ring.waitForDataAsync();
    expect(ring.waitForDataAsync()).toBe(waiting); // concurrent callers share one wait
    await new Promise((resolve) => setTimeout(resolve, 5));
    ring.tryPush(Buffer.from('a'));
    ring.tryPush(Buffer.from('b'));
    expect(await waiting).toBe(true);
    expect(ring.stats.consumerWakeups).toBe(1);
    ring.drain(() => {});
    const closing = ring.waitForDataAsync();
    ring.close();
    expect(await closing).toBe(false);
  });
});

interface EchoWorker {
  requests: RingQueue;
  replies: RingQueue;
  /** Closes the request ring and resolves with the worker's statistics once it has exited. */
  finish(): Promise<RingEchoWorkerStats>;
}

function startEchoWorker(capacityBytes: number): EchoWorker {
  const requests = RingQueue.create(capacityBytes);
  const replies = RingQueue.create(capacityBytes);
  const workerData: RingEchoWorkerData = { requests: requests.buffer, replies: replies.buffer };
  const worker = new Worker(new URL('./fixtures/ring-echo-worker.ts', import.meta.url), { workerData });
  const exited = new Promise<RingEchoWorkerStats>((resolve, reject) => {
    let stats: RingEchoWorkerStats | undefined;
    worker.on('message', (message: RingEchoWorkerStats) => (stats = message));
    worker.on('error', (error) => {
      replies.close(); // release the main thread's waiters
      reject(error);
    });
    worker.on('exit', (code) => (code === 0 && stats ? resolve(stats) : reject(new Error(`echo worker exited with ${code}`))));
  });
  return {
    requests,
    replies,
    finish: () => {
      requests.close();
      return exited;
    },
  };
}

/**
 * Sends `lengths.length` frames through the echo worker, pipelined: push until the request ring is full, take
 * every reply there is, and only when neither made progress await either a reply or request space. Checks every
 * reply in order; returns the number of times the main thread had to wait.
 */
async function pipeline(echo: EchoWorker, lengths: Int32Array): Promise<number> {
  const { requests, replies } = echo;
  const count = lengths.length;
  const scratch = Buffer.alloc(requests.maxFrameBytes);
  let sent = 0;
  let received = 0;
  let awaits = 0;
  const onReply = (frame: Buffer): void => {
    if (!echoMatches(received, frame, lengths[received], scratch)) {
      throw new Error(`reply ${received} is wrong: ${frame.length} bytes, expected ${lengths[received]}`);
    }
    received++;
  };
  while (received < count) {
    let progressed = false;
    while (sent < count) {
      const view = requests.tryReserve(lengths[sent]);
      if (view === undefined) break;
      fillFrame(sent, view);
      requests.commit();
      sent++;
      progressed = true;
    }
    if (replies.drain(onReply) > 0) progressed = true;
    if (!progressed) {
      awaits++;
      const waits = [replies.waitForDataAsync()];
      if (sent < count) waits.push(requests.waitForSpaceAsync(lengths[sent]));
      if (!(await Promise.race(waits)) && replies.closed && replies.peek() === undefined) {
        throw new Error('reply ring closed early');
      }
    }
  }
  return awaits;
}

describe('RingQueue across threads', () => {
  it('echoes 1,000,000 frames of random lengths through a 64 KiB ring, every reply in order and byte-exact', async () => {
    const seed = 0x5eed;
    const random = prng(seed);
    const echo = startEchoWorker(64 * 1024);
    const lengths = new Int32Array(1_000_000);
    for (let i = 0; i < lengths.length; i++) {
      const r = random();
      lengths[i] =
        r < 0.9 ? Math.floor(random() * 64)
        : r < 0.99 ? 64 + Math.floor(random() * 960)
        : r < 0.9999 ? 1024 + Math.floor(random() * 15 * 1024)
        : echo.requests.maxFrameBytes - Math.floor(random() * 16); // near-whole-ring frames
    }
    const startedMs = performance.now();
    const awaits = await pipeline(echo, lengths);
    const elapsedMs = performance.now() - startedMs;
    const stats = await echo.finish();
    expect(stats.frames).toBe(lengths.length);
    console.log(
      `ring echo, seed ${seed}: ${lengths.length} frames of 0..${echo.requests.maxFrameBytes} B in ${elapsedMs.toFixed(0)} ms ` +
        `(${Math.round(lengths.length / (elapsedMs / 1000))} frames/s); main awaited ${awaits} times, ` +
        `worker slept ${stats.requestSleeps} times, notifies: ${echo.requests.stats.consumerWakeups} to the worker, ` +
        `${stats.replyWakeups + stats.requestSpaceWakeups} to the main thread`,
    );
  });

  it('wakes a sleeping worker on the first push after an idle gap, 1,000 times (no lost wake-up)', async () => {
    const echo = startEchoWorker(4096);
    const random = prng(7);
    const scratch = Buffer.alloc(64);
    for (let i = 0; i < 1000; i++) {
      // Idle gaps of three kinds: none, a short busy spin (to land inside the worker's way to sleep), a timer.
      const kind = i % 3;
      if (kind === 1) {
        const untilMs = performance.now() + random() * 0.2;
        while (performance.now() < untilMs);
      } else if (kind === 2) {
        await new Promise((resolve) => setTimeout(resolve, random() * 2));
      }
      const length = 1 + Math.floor(random() * 63);
      expect(echo.requests.tryPush(frameBytesOf(i, length))).toBe(true);
      expect(await echo.replies.waitForDataAsync()).toBe(true);
      const reply = echo.replies.peek()!;
      expect(echoMatches(i, reply, length, scratch)).toBe(true);
      echo.replies.release();
    }
    const stats = await echo.finish();
    expect(stats.frames).toBe(1000);
    // The test is only meaningful if the worker really went to sleep and had to be woken.
    expect(stats.requestSleeps).toBeGreaterThan(300);
    expect(echo.requests.stats.consumerWakeups).toBeGreaterThan(300);
  });

  it('reports the round-trip rate of pipelined small frames', async () => {
    const echo = startEchoWorker(64 * 1024);
    const lengths = new Int32Array(1_000_000).fill(16);
    const startedMs = performance.now();
    const awaits = await pipeline(echo, lengths);
    const elapsedMs = performance.now() - startedMs;
    const stats = await echo.finish();
    expect(stats.frames).toBe(lengths.length);
    console.log(
      `ring echo, pipelined 16 B frames: ${Math.round(lengths.length / (elapsedMs / 1000))} frames/s round trip ` +
        `(${lengths.length} in ${elapsedMs.toFixed(0)} ms; main awaited ${awaits} times, worker slept ${stats.requestSleeps} times)`,
    );
  });
});
