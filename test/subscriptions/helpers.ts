/** Shared pieces of the in-process subscription tests: a database on the simulated disk, and a collecting sink. */
import { randomUUID } from 'node:crypto';
import { SimulatedFileIo } from '../../native-free-io/simulated-file-io.ts';
import { open, type Database, type EventRecord } from '../../src/database.ts';
import type { EventPage } from '../../src/subscriptions/page-reader.ts';
import { SubscriptionHub } from '../../src/subscriptions/subscription-hub.ts';
import { Subscription, type SourceSpec, type SubscriptionSink } from '../../src/subscriptions/subscription.ts';

export function openSimulated(): Promise<Database> {
  return open('/db', { threads: false, io: new SimulatedFileIo() });
}

export interface Received {
  cursor: number;
  event: EventRecord;
}

export class CollectingSink implements SubscriptionSink {
  readonly received: Received[] = [];
  endedWith: string | undefined;
  /** What send() answers (false: "over the output limit"). */
  accept = true;
  onSend: ((first: number, last: number) => void) | undefined;

  send(page: EventPage, start: number, end: number, firstCursor: number): boolean {
    for (let i = start; i < end; i++) this.received.push({ cursor: firstCursor + i - start, event: page.event(i) });
    this.onSend?.(firstCursor, firstCursor + end - start - 1);
    return this.accept;
  }

  ended(reason: string): void {
    this.endedWith = reason;
  }
}

export function subscribe(db: Database, sources: SourceSpec[], window = 1000, sink = new CollectingSink()): { sub: Subscription; sink: CollectingSink } {
  const sub = new Subscription({ hub: SubscriptionHub.of(db), id: randomUUID(), window, sources, sink });
  sub.start();
  return { sub, sink };
}

export function allPartitions(db: Database, from: number | 'latest'): SourceSpec[] {
  return Array.from({ length: db.partitionCount }, (_, partitionId) => ({ kind: 'partition' as const, partitionId, from }));
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Lets the event loop turn a few times (appends, publishes and deliveries settle). */
export async function settle(ms = 30): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Checks per-partition sequences are gapless from `from` and there are no duplicates; returns counts per partition. */
export function checkPartitions(received: readonly Received[], from: (pid: number) => number = () => 0): Map<number, number> {
  const next = new Map<number, number>();
  const seen = new Set<string>();
  for (const { event } of received) {
    if (seen.has(event.eventId)) throw new Error(`event ${event.eventId} delivered twice`);
    seen.add(event.eventId);
    const expected = next.get(event.partitionId) ?? from(event.partitionId);
    if (event.partitionSequence !== expected) {
      throw new Error(`partition ${event.partitionId}: got sequence ${event.partitionSequence}, expected ${expected}`);
    }
    next.set(event.partitionId, expected + 1);
  }
  return next;
}

/** Checks per-stream versions are gapless from 0 (or `from`). */
export function checkStreams(received: readonly Received[], from: (streamId: string) => number = () => 0): Map<string, number> {
  const next = new Map<string, number>();
  for (const { event } of received) {
    const expected = next.get(event.streamId) ?? from(event.streamId);
    if (event.streamVersion !== expected) throw new Error(`stream ${event.streamId}: got version ${event.streamVersion}, expected ${expected}`);
    next.set(event.streamId, expected + 1);
  }
  return next;
}

export function checkCursors(received: readonly Received[]): void {
  received.forEach((r, i) => {
    if (r.cursor !== i) throw new Error(`cursor ${r.cursor} at position ${i}`);
  });
}
