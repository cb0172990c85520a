import { BucketWriter } from './src/engine/bucket-writer.ts';
import { nodeFileIo } from './native-free-io/file-io.ts';
import { appendRequestBytes, encodeAppendRequest } from './src/threads/write-messages.ts';
import { partitionKeyForStream, partitionHash } from './src/ids/partition-key.ts';
import { generateEventId, generateTransactionId } from './src/ids/event-id.ts';
import fs from 'node:fs';
const dir = '/dev/shm/wb/' + Date.now(); fs.mkdirSync(dir, { recursive: true });
const w = BucketWriter.open({ io: nodeFileIo, dir, bucketId: 0, partitionCount: 32, bucketCount: 4, segmentSizeBytes: 256 << 20, streamCacheEntries: 100000 });
const payload = Buffer.alloc(200, 'x');
const frames: Buffer[] = [];
for (let s = 0; s < 1000; s++) {
  const streamId = Buffer.from(`s:${s}`);
  const pk = partitionKeyForStream(`s:${s}`);
  const hash = partitionHash(pk);
  const t = { partitionKey: pk, partitionId: (hash % 32) - ((hash % 32) % 4), transactionId: generateTransactionId(1), events: [{ eventId: generateEventId(hash), streamId, eventName: Buffer.from('E'), expectedKind: 0, expectedVersion: 0, timestampMs: Date.now(), metadata: Buffer.alloc(0), payload }] };
  const f = Buffer.alloc(appendRequestBytes(t)); encodeAppendRequest(f, 0, 1, t); frames.push(f);
}
const N = Number(process.env.N ?? 500_000), B = 46;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < N; i += B) {
  for (let j = 0; j < B; j++) w.stageFrame(frames[(i + j) % 1000]);
  w.commitBatch();
}
const cpu = process.cpuUsage(cpu0);
console.log('us/event wall', ((performance.now() - t0) * 1000 / N).toFixed(2), 'user', (cpu.user / N).toFixed(2), 'sys', (cpu.system / N).toFixed(2));
fs.rmSync(dir, { recursive: true });
