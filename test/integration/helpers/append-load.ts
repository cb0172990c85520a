/**
 * Network append load for the crash and shutdown tests: connections keep a window of pipelined EAPPENDs (and some
 * EMAPPENDs) in flight and record every acknowledged event; they stop quietly when the server goes away.
 */
import net from 'node:net';
import { RespReplyParser, type RespValue } from '../../../src/protocol/resp-reply-parser.ts';
import { ReplyError } from '../../../src/protocol/reply-error.ts';
import { formatUuid, partitionKeyForStream } from '../../../src/ids/partition-key.ts';
import { encodeCommand } from './raw-client.ts';

export interface Ack {
  eventId: string;
  streamId: string;
  version: number;
  partitionId: number;
  sequence: number;
}

export interface LoadOptions {
  port: number;
  connections: number;
  /** Appends in flight per connection. */
  depth: number;
  streams: number;
  seed: number;
}

export interface Load {
  readonly acks: Ack[];
  /** Error replies received (must stay empty: the load never sends a failing command). */
  readonly errors: string[];
  /** Stops sending; resolves when every connection has closed or drained. */
  stop(): Promise<void>;
  /** Resolves when every connection has ended (the server closed them). */
  readonly ended: Promise<void>;
}

const field = (v: RespValue, key: string): RespValue => (v instanceof Map ? v.get(key) : undefined) as RespValue;

export function startLoad(o: LoadOptions): Load {
  const acks: Ack[] = [];
  const errors: string[] = [];
  let stopping = false;
  let state = o.seed >>> 0 || 1;
  const rand = (n: number) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
  const stopWaiters: (() => void)[] = [];
  const ended = Promise.all(
    Array.from(
      { length: o.connections },
      (_, ci) =>
        new Promise<void>((resolve) => {
          const socket = net.connect({ host: '127.0.0.1', port: o.port });
          const parser = new RespReplyParser();
          /** What each in-flight request was: one stream (EAPPEND) or the streams of an EMAPPEND. */
          const inFlight: string[][] = [];
          const sendOne = () => {
            if (rand(10) === 0) {
              const base = `load-m${rand(4)}`;
              const key = formatUuid(partitionKeyForStream(base));
              inFlight.push([base, `${base}-side`]);
              socket.write(encodeCommand(['EMAPPEND', key, base, 'M1', 'PAYLOAD', `c${ci}`, `${base}-side`, 'M2', 'PAYLOAD', `c${ci}`]));
            } else {
              const stream = `load-${rand(o.streams)}`;
              inFlight.push([stream]);
              socket.write(encodeCommand(['EAPPEND', stream, 'E', 'PAYLOAD', `c${ci} ${'x'.repeat(rand(200))}`]));
            }
          };
          socket.on('connect', () => {
            for (let k = 0; k < o.depth; k++) sendOne();
          });
          socket.on('data', (d: Buffer) => {
            parser.feed(d, (reply) => {
              const streams = inFlight.shift()!;
              if (reply instanceof ReplyError) {
                errors.push(reply.toString());
              } else if (streams.length === 1) {
                acks.push({
                  eventId: String(field(reply, 'event_id')),
                  streamId: streams[0],
                  version: field(reply, 'stream_version') as number,
                  partitionId: field(reply, 'partition_id') as number,
                  sequence: field(reply, 'partition_sequence') as number,
                });
              } else {
                const first = field(reply, 'first_partition_sequence') as number;
                const pid = field(reply, 'partition_id') as number;
                (field(reply, 'events') as RespValue[]).forEach((e, k) =>
                  acks.push({
                    eventId: String(field(e, 'event_id')),
                    streamId: String(field(e, 'stream_id')),
                    version: field(e, 'stream_version') as number,
                    partitionId: pid,
                    sequence: first + k,
                  }),
                );
              }
              if (!stopping) sendOne();
              else if (inFlight.length === 0) socket.end();
            });
          });
          socket.on('error', () => {});
          socket.on('close', () => resolve());
          stopWaiters.push(() => {
            if (inFlight.length === 0) socket.end();
          });
        }),
    ),
  ).then(() => undefined);
  return {
    acks,
    errors,
    ended,
    async stop() {
      stopping = true;
      for (const w of stopWaiters) w();
      await ended;
    },
  };
}
