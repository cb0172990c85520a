// scratch: writer CPU per event without fsync
import fs from 'node:fs';
import { BucketWriter, type TransactionRequest } from '../src/engine/bucket-writer.ts';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { openMeta } from '../native-free-io/data-layout.ts';
import { appendRequestBytes, encodeAppendRequest } from '../src/threads/write-messages.ts';
import { partitionKeyForStream, partitionHash } from '../src/ids/partition-key.ts';
import { generateEventId, generateTransactionId } from '../src/ids/event-id.ts';
const dir = '/tmp/wb/d'; fs.rmSync(dir, { recursive: true, force: true });
const io = new Proxy(nodeFileIo, { get(t: any, k) { if (k === 'open') return (p: string, m: any) => { const h = t.open(p, m); return new Proxy(h, { get(hh: any, kk) { if (kk === 'datasync') return () => {}; const v = hh[kk]; return typeof v === 'function' ? v.bind(hh) : v; } }); }; const v = t[k]; return typeof v === 'function' ? v.bind(t) : v; } }) as any;
openMeta(nodeFileIo, dir, { bucketCount: 1, partitionCount: 32, segmentSizeBytes: 256 * 1024 * 1024 });
const w = BucketWriter.open({ io, dir, bucketId: 0, partitionCount: 32, bucketCount: 1, segmentSizeBytes: 256 * 1024 * 1024, streamCacheEntries: 1000 });
const payload = Buffer.alloc(200, 120);
const frames: Buffer[] = [];
for (let i = 0; i < 1000; i++) {
  const sid = Buffer.from(`stream-${i % 1000}`);
  const pk = partitionKeyForStream(sid); const h = partitionHash(pk);
  const t: TransactionRequest = { partitionKey: pk, partitionId: h % 32, transactionId: generateTransactionId(1), events: [{ eventId: generateEventId(h), streamId: sid, eventName: Buffer.from('Ev'), expectedKind: 0, expectedVersion: 0, timestampMs: Date.now(), metadata: Buffer.alloc(0), payload }] };
  const f = Buffer.alloc(appendRequestBytes(t)); encodeAppendRequest(f, 0, i, t); frames.push(f);
}
const N = Number(process.argv[2] ?? 300);
let t0 = performance.now(); let events = 0;
for (let r = 0; r < N; r++) {
  for (let k = 0; k < 200; k++) { const f = frames[(r * 200 + k) % 1000]; w.stageFrame(f); }
  w.commitBatch(); events += 200;
  if (r === 20) { t0 = performance.now(); events = 0; }
}
const us = (performance.now() - t0) * 1000 / events;
console.log(`${us.toFixed(2)} us/event`);
w.stageFrame(frames[5]); console.log(w.commitBatch()[0]);
