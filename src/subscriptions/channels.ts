/**
 * Channel names for the Redis-style live tail (`SUBSCRIBE`), which generic Redis clients and `redis-cli` can
 * consume (they cannot consume SierraDB's ESUB pushes):
 *
 *   channel                         events
 *   sierradb:all                    every partition
 *   sierradb:partition:<id|uuid>    one partition, by id (0..count-1) or by a UUID partition key
 *   sierradb:stream:<stream_id>     one stream (under its default partition key, derived from the stream id)
 *
 * Each message's payload is the event as one line of JSON (event-encoding.ts). A channel is a live tail: it
 * starts with the events appended after the SUBSCRIBE, has no window and no acknowledgements; a subscriber too
 * slow to read them is disconnected at the output limit, as Redis does with pubsub clients. For replay, flow
 * control and exactly-once resumption use ESUB/EPSUB.
 */
import { STREAM_ID_BYTES_MAX } from '../../native-free-io/segment-format.ts';
import { partitionIdForKey, partitionKeyForStream } from '../ids/partition-key.ts';
import { ReplyError, errorCode } from '../protocol/reply-error.ts';
import { parsePartition } from './subscribe-args.ts';
import type { SourceSpec } from './subscription.ts';

export const CHANNEL_PREFIX = 'sierradb:';
export const CHANNEL_ALL = 'sierradb:all';
export const CHANNEL_PARTITION_PREFIX = 'sierradb:partition:';
export const CHANNEL_STREAM_PREFIX = 'sierradb:stream:';

export function channelForStream(streamId: string): string {
  return CHANNEL_STREAM_PREFIX + streamId;
}

export function channelForPartition(partitionId: number): string {
  return CHANNEL_PARTITION_PREFIX + partitionId;
}

/** The sources a channel stands for (all starting at LATEST), or a `-ERR unknown channel` error. */
export function channelSources(channel: string, partitionCount: number): SourceSpec[] {
  if (channel === CHANNEL_ALL) {
    return Array.from({ length: partitionCount }, (_, partitionId) => ({ kind: 'partition', partitionId, from: 'latest' }));
  }
  if (channel.startsWith(CHANNEL_PARTITION_PREFIX)) {
    const partitionId = parsePartition(channel.slice(CHANNEL_PARTITION_PREFIX.length), partitionCount);
    return [{ kind: 'partition', partitionId, from: 'latest' }];
  }
  if (channel.startsWith(CHANNEL_STREAM_PREFIX)) {
    const streamId = channel.slice(CHANNEL_STREAM_PREFIX.length);
    const length = Buffer.byteLength(streamId, 'utf8');
    if (length === 0 || length > STREAM_ID_BYTES_MAX || streamId.includes('\0')) {
      throw new ReplyError(errorCode.ERR, `invalid stream id in channel '${channel}'`);
    }
    const partitionKey = partitionKeyForStream(streamId);
    return [{ kind: 'stream', streamId, partitionKey, partitionId: partitionIdForKey(partitionKey, partitionCount), from: 'latest' }];
  }
  throw new ReplyError(
    errorCode.ERR,
    `unknown channel '${channel}': channels are ${CHANNEL_ALL}, ${CHANNEL_PARTITION_PREFIX}<id>, ${CHANNEL_STREAM_PREFIX}<stream_id>`,
  );
}
