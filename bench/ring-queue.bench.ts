/**
 * Ring queue round trip between the main thread and a worker (the shape of main → bucket writer → main):
 * the main thread pushes 16-byte request frames, the worker copies each into the reply ring, the main thread
 * waits with Atomics.waitAsync and reads the replies. Two tasks: one frame at a time (latency: both sides
 * sleep and are woken on every frame) and 64 frames pipelined (throughput).
 *
 *   node bench/ring-queue.bench.ts            # 1 s per task
 *   RING_BENCH_TIME_MS=100 node bench/ring-queue.bench.ts   # a quick run, as in CI
 *
 * This file is also the worker: run in a worker thread it becomes the echo loop.
 */
import { isMainThread, workerData, Worker } from 'node:worker_threads';
import { RingQueue } from '../src/threads/ring-queue.ts';

interface EchoData {
  requests: SharedArrayBuffer;
  replies: SharedArrayBuffer;
}

const frameBytes = 16;
const pipelineDepth = 64;
const ringCapacityBytes = 64 * 1024;

function echoLoop({ requests: requestBuffer, replies: replyBuffer }: EchoData): void {
  const requests = RingQueue.attach(requestBuffer);
  const replies = RingQueue.attach(replyBuffer);
  const answer = (frame: Buffer): void => {
    let out = replies.tryReserve(frame.length);
    while (out === undefined) {
      if (!replies.waitForSpace(frame.length)) return;
      out = replies.tryReserve(frame.length);
    }
    frame.copy(out);
    replies.commit();
  };
  while (requests.waitForData()) requests.drain(answer);
  replies.close();
}

async function main(): Promise<void> {
  const { Bench } = await import('tinybench');
  const timeMs = Number(process.env.RING_BENCH_TIME_MS ?? 1000);
  const requests = RingQueue.create(ringCapacityBytes);
  const replies = RingQueue.create(ringCapacityBytes);
  const data: EchoData = { requests: requests.buffer, replies: replies.buffer };
  const worker = new Worker(new URL(import.meta.url), { workerData: data });
  const exited = new Promise((resolve) => worker.once('exit', resolve));

  const request = Buffer.alloc(frameBytes);
  let sequence = 0;
  let checksum = 0;
  const onReply = (frame: Buffer): void => {
    checksum = (checksum + frame.readUInt32LE(0)) >>> 0;
  };

  /** Sends `frames` requests and resolves when all their replies are read. The request ring never fills. */
  async function roundTrip(frames: number): Promise<void> {
    for (let i = 0; i < frames; i++) {
      request.writeUInt32LE(sequence++ >>> 0, 0);
      if (!requests.tryPush(request)) throw new Error('request ring full');
    }
    let received = replies.drain(onReply);
    while (received < frames) {
      if (!(await replies.waitForDataAsync())) throw new Error('reply ring closed');
      received += replies.drain(onReply);
    }
  }

  const bench = new Bench({ name: 'ring queue round trip', time: timeMs, warmupTime: Math.min(250, timeMs), throws: true });
  // `async` arrows on purpose: tinybench calls a plain function once at add() to find out whether it returns a
  // promise, and that unawaited call would overlap the first measured one.
  bench.add(`1 frame of ${frameBytes} B at a time`, async () => roundTrip(1));
  bench.add(`${pipelineDepth} frames of ${frameBytes} B pipelined`, async () => roundTrip(pipelineDepth));
  await bench.run();

  requests.close();
  await exited;
  for (const task of bench.tasks) {
    const result = task.result;
    if (result.state !== 'completed') throw new Error(`${task.name}: ${result.state}`);
    const frames = task.name.startsWith('1 frame') ? 1 : pipelineDepth;
    // Runs over time, not tinybench's mean of per-sample rates (which over-weights the fastest samples).
    const opsPerSecond = 1000 / result.latency.mean;
    console.log(
      `${task.name.padEnd(32)} ${Math.round(opsPerSecond).toString().padStart(9)} ops/s ` +
        `${Math.round(opsPerSecond * frames).toString().padStart(10)} frames/s  ` +
        `(mean ${(result.latency.mean * 1000).toFixed(1)} µs, p99 ${(result.latency.p99 * 1000).toFixed(1)} µs)`,
    );
  }
  console.log(
    `frames: ${sequence}, checksum ${checksum.toString(16)}; ` +
      `notifies to worker ${requests.stats.consumerWakeups}, main slept ${replies.stats.sleeps} times`,
  );
}

if (isMainThread) await main();
else echoLoop(workerData as EchoData);
