/**
 * The RESP codec on the server's hot path:
 *   - parse a pipelined batch of 1,000 EAPPEND requests with a 200-byte payload (one buffer, and the same bytes
 *     cut into 16 KiB reads);
 *   - encode 1,000 event maps (`%11`, reference §1.4) into one batch, in RESP3 and RESP2;
 *   - parse those 1,000 event maps back with the reply parser (the client side).
 * Prints ops/s, requests or events per second, MB/s, and a checksum of the work so it cannot be optimised away.
 *
 *   node bench/resp-codec.bench.ts                          # 1 s per task
 *   RESP_BENCH_TIME_MS=100 node bench/resp-codec.bench.ts   # a quick run, as in CI
 */
import { Bench } from 'tinybench';
import type { RequestArguments } from '../src/protocol/request-arguments.ts';
import { RespRequestParser } from '../src/protocol/resp-request-parser.ts';
import { RespEncoder, encodeSimpleString } from '../src/protocol/resp-encoder.ts';
import { RespReplyParser } from '../src/protocol/resp-reply-parser.ts';

const timeMs = Number(process.env.RESP_BENCH_TIME_MS ?? 1000);
const batchRequests = 1000;
const batchEvents = 1000;
const payloadBytes = 200;
const readBytes = 16 * 1024;

function multibulk(args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const b = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const payload = Buffer.from(`{"data":"${'x'.repeat(payloadBytes - 11)}"}`);
if (payload.length !== payloadBytes) throw new Error('payload size');
const requestBatch = Buffer.concat(
  Array.from({ length: batchRequests }, (_, k) =>
    multibulk(['EAPPEND', `user-${k}`, 'UserRegistered', 'EXPECTED_VERSION', 'any', 'PAYLOAD', payload]),
  ),
);
const requestReads: Buffer[] = [];
for (let at = 0; at < requestBatch.length; at += readBytes) requestReads.push(requestBatch.subarray(at, at + readBytes));

let checksum = 0;
const onRequest = (request: RequestArguments): void => {
  checksum = (checksum + request.count + request.length(6)) | 0;
};

function parseBatch(reads: Buffer[]): void {
  const parser = new RespRequestParser({ bulkBytesMax: 8 * 1024 * 1024 });
  for (const chunk of reads) {
    if (parser.feed(chunk, onRequest) !== undefined) throw new Error('protocol error');
  }
}

const eventIds = Array.from({ length: batchEvents }, (_, k) => `0190f3a2-7b1c-7d47-bb95-${String(k).padStart(12, '0')}`);
const partitionKey = '7e124fe8-fe28-5398-bb95-53973100148f';
const transactionId = '5b0c0f6e-2d0a-4c6f-9a53-0f3c2b1d4e5f';
const streamId = Buffer.from('user-123');
const eventName = Buffer.from('UserRegistered');
const empty = Buffer.alloc(0);

function encodeEvents(encoder: RespEncoder): Buffer {
  for (let k = 0; k < batchEvents; k++) {
    encoder.mapHeader(11);
    encoder.simpleString('event_id');
    encoder.simpleString(eventIds[k]);
    encoder.simpleString('partition_key');
    encoder.simpleString(partitionKey);
    encoder.simpleString('partition_id');
    encoder.integer(21);
    encoder.simpleString('transaction_id');
    encoder.simpleString(transactionId);
    encoder.simpleString('partition_sequence');
    encoder.integer(1_000_000 + k);
    encoder.simpleString('stream_version');
    encoder.integer(k);
    encoder.simpleString('timestamp');
    encoder.integer(1_700_000_000_000 + k);
    encoder.simpleString('stream_id');
    encoder.bulkString(streamId);
    encoder.simpleString('event_name');
    encoder.bulkString(eventName);
    encoder.simpleString('metadata');
    encoder.bulkString(empty);
    encoder.simpleString('payload');
    encoder.bulkString(payload);
  }
  const out = encoder.take();
  checksum = (checksum + out.length + out[out.length - 3]) | 0;
  return out;
}

const keys = ['event_id', 'partition_key', 'partition_id', 'transaction_id', 'partition_sequence', 'stream_version', 'timestamp', 'stream_id', 'event_name', 'metadata', 'payload'].map(encodeSimpleString);

/** The same maps with the keys pre-encoded and written with raw(). */
function encodeEventsRawKeys(encoder: RespEncoder): Buffer {
  for (let k = 0; k < batchEvents; k++) {
    encoder.mapHeader(11);
    encoder.raw(keys[0]);
    encoder.simpleString(eventIds[k]);
    encoder.raw(keys[1]);
    encoder.simpleString(partitionKey);
    encoder.raw(keys[2]);
    encoder.integer(21);
    encoder.raw(keys[3]);
    encoder.simpleString(transactionId);
    encoder.raw(keys[4]);
    encoder.integer(1_000_000 + k);
    encoder.raw(keys[5]);
    encoder.integer(k);
    encoder.raw(keys[6]);
    encoder.integer(1_700_000_000_000 + k);
    encoder.raw(keys[7]);
    encoder.bulkString(streamId);
    encoder.raw(keys[8]);
    encoder.bulkString(eventName);
    encoder.raw(keys[9]);
    encoder.bulkString(empty);
    encoder.raw(keys[10]);
    encoder.bulkString(payload);
  }
  const out = encoder.take();
  checksum = (checksum + out.length + out[out.length - 3]) | 0;
  return out;
}

const resp3 = new RespEncoder({ protocol: 3 });
const resp2 = new RespEncoder({ protocol: 2 });
const eventBatch3 = Buffer.from(encodeEvents(resp3));
const eventBatch2 = Buffer.from(encodeEvents(resp2));
if (!Buffer.from(encodeEventsRawKeys(resp3)).equals(eventBatch3)) throw new Error('raw keys encode differently');
const eventReads: Buffer[] = [];
for (let at = 0; at < eventBatch3.length; at += readBytes) eventReads.push(eventBatch3.subarray(at, at + readBytes));

function parseReplies(): void {
  const parser = new RespReplyParser();
  let replies = 0;
  for (const chunk of eventReads) {
    if (parser.feed(chunk, () => replies++) !== undefined) throw new Error('protocol error');
  }
  checksum = (checksum + replies) | 0;
}

const bench = new Bench({ name: 'RESP codec', time: timeMs, warmupTime: Math.min(250, timeMs), throws: true });
const tasks = [
  { name: `parse ${batchRequests} pipelined EAPPEND (${payloadBytes} B payload), one buffer`, fn: () => parseBatch([requestBatch]), items: batchRequests, bytes: requestBatch.length, unit: 'requests' },
  { name: `parse ${batchRequests} pipelined EAPPEND (${payloadBytes} B payload), ${readBytes / 1024} KiB reads`, fn: () => parseBatch(requestReads), items: batchRequests, bytes: requestBatch.length, unit: 'requests' },
  { name: `encode ${batchEvents} event maps %11, RESP3`, fn: () => encodeEvents(resp3), items: batchEvents, bytes: eventBatch3.length, unit: 'events' },
  { name: `encode ${batchEvents} event maps %11, RESP3, keys pre-encoded`, fn: () => encodeEventsRawKeys(resp3), items: batchEvents, bytes: eventBatch3.length, unit: 'events' },
  { name: `encode ${batchEvents} event maps *22, RESP2`, fn: () => encodeEvents(resp2), items: batchEvents, bytes: eventBatch2.length, unit: 'events' },
  { name: `reply parser: ${batchEvents} event maps, ${readBytes / 1024} KiB reads`, fn: parseReplies, items: batchEvents, bytes: eventBatch3.length, unit: 'events' },
];
for (const task of tasks) bench.add(task.name, task.fn);
await bench.run();

console.log(`RESP codec, ${timeMs} ms per task, Node ${process.version}`);
for (const task of tasks) {
  const result = bench.getTask(task.name)?.result;
  if (result === undefined || result.state !== 'completed') throw new Error(`${task.name}: ${result?.state}`);
  const opsPerSecond = result.throughput.mean;
  const itemsPerSecond = opsPerSecond * task.items;
  const megabytesPerSecond = (opsPerSecond * task.bytes) / 1e6;
  console.log(
    `${task.name.padEnd(70)} ${opsPerSecond.toFixed(0).padStart(8)} ops/s  ` +
      `${(itemsPerSecond / 1e6).toFixed(2).padStart(6)} M ${task.unit}/s  ${megabytesPerSecond.toFixed(0).padStart(6)} MB/s  ` +
      `(±${result.latency.rme.toFixed(1)}%)`,
  );
}
console.log(`checksum ${checksum >>> 0}`);
