/**
 * BucketWriter-level test inputs: stream ids that land in a chosen bucket, and single-event transactions for them,
 * derived the way the database derives them (partition key → partition → bucket).
 */
import type { TransactionRequest } from '../../src/engine/bucket-writer.ts';
import { ExpectedKind } from '../../src/engine/expected-version.ts';
import { generateEventId, generateTransactionId } from '../../src/ids/event-id.ts';
import { bucketIdForPartition, partitionHash, partitionIdForKey, partitionKeyForStream } from '../../src/ids/partition-key.ts';

/** The first stream id `<name>-<i>` whose partition (of `partitionCount`) is in bucket `bucketId` (of `bucketCount`). */
export function streamOfBucket(bucketId: number, name: string, bucketCount: number, partitionCount: number): string {
  for (let i = 0; ; i++) {
    const id = `${name}-${i}`;
    if (bucketIdForPartition(partitionIdForKey(partitionKeyForStream(id), partitionCount), bucketCount) === bucketId) return id;
  }
}

/** One event `E` on `streamId` with expected version `any`. */
export function singleEventTransaction(streamId: string, payload: string, partitionCount: number): TransactionRequest {
  const partitionKey = partitionKeyForStream(streamId);
  return {
    partitionKey,
    partitionId: partitionIdForKey(partitionKey, partitionCount),
    transactionId: generateTransactionId(1),
    events: [
      {
        eventId: generateEventId(partitionHash(partitionKey)),
        streamId: Buffer.from(streamId),
        eventName: Buffer.from('E'),
        expectedKind: ExpectedKind.any,
        expectedVersion: 0,
        timestampMs: 1_700_000_000_000,
        metadata: new Uint8Array(0),
        payload: Buffer.from(payload),
      },
    ],
  };
}
