/**
 * The connection's ordered reply queue, batching and backpressure, deterministically: a fake socket records every
 * write and pause, and a fake database resolves appends when the test says so.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ServerCounters, ServerInfo } from '../../src/commands/command.ts';
import { configFromTable } from '../../src/config/load-config.ts';
import type { AppendCallback, Database } from '../../src/database.ts';
import type { EventRequest } from '../../src/engine/bucket-writer.ts';
import type { AppendSink, InPlaceAppend } from '../../src/engine/in-place-append.ts';
import { parseUuid } from '../../src/ids/partition-key.ts';
import { pino } from 'pino';
import { Connection, connectionLimitsDefault, replySlabs, type ConnectionLimits } from '../../src/server/connection.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';
import { encodeCommand } from '../integration/helpers/raw-client.ts';

class FakeSocket extends EventEmitter {
  writes: Buffer[] = [];
  /**
   * With `holdWrites`, a write keeps the caller's bytes (no copy) and its callback until complete() "sends" them:
   * as a real socket may, so that bytes changed before their write completed show up in `writes`.
   */
  holdWrites = false;
  held: { bytes: Buffer; callback?: () => void }[] = [];
  paused = false;
  ended = false;
  destroyed = false;
  writableLength = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 5555;
  setNoDelay(): this {
    return this;
  }
  write(b: Buffer, callback?: () => void): boolean {
    if (this.holdWrites) {
      this.held.push({ bytes: b, callback });
      this.writableLength += b.length;
      return false;
    }
    this.writes.push(Buffer.from(b));
    if (callback !== undefined) process.nextTick(callback);
    return true;
  }
  /** Sends the oldest `n` held writes (copies their bytes now) and runs their callbacks, in order. */
  complete(n = this.held.length): void {
    for (const w of this.held.splice(0, n)) {
      this.writes.push(Buffer.from(w.bytes));
      this.writableLength -= w.bytes.length;
      w.callback?.();
    }
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      this.emit('close');
    }
    return this;
  }
  text(): string {
    return Buffer.concat(this.writes).toString('latin1');
  }
}

interface PendingAppend {
  streamId: string;
  resolve: (version: number) => void;
}

function setup(limits: Partial<ConnectionLimits> = {}, table: Record<string, unknown> = {}) {
  const socket = new FakeSocket();
  const appends: PendingAppend[] = [];
  const eventId = parseUuid('00000000-0000-4000-8000-000000000000')!;
  const partitionKey = parseUuid('00000000-0000-4000-8000-000000000001')!;
  const db = {
    partitionCount: 32,
    // The in-place path (EAPPEND without unusual options), as Database does it: ids at submission, the
    // sequence and version at completion.
    prepareAppendInPlace: (): boolean => true,
    submitAppendInPlace(o: InPlaceAppend, sink: AppendSink): void {
      sink.ids.set(eventId, 0);
      sink.ids.set(partitionKey, 16);
      sink.partitionId = 0;
      sink.timestampMs = 1;
      appends.push({ streamId: o.streamId.buffer.toString('utf8', o.streamId.start, o.streamId.end), resolve: (version) => sink.appended(version, version) });
    },
    appendWith(streamId: Buffer | string, _eventName: unknown, _options: unknown, done: AppendCallback): void {
      appends.push({
        streamId: streamId.toString(),
        resolve: (version) =>
          done(undefined, {
            partitionKey,
            partitionId: 0,
            event: { eventId, timestampMs: 1 } as EventRequest,
            partitionSequence: version,
            streamVersion: version,
          }),
      });
    },
  } as unknown as Database;
  const loaded = configFromTable({ dir: '/nowhere', ...table });
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const counters: ServerCounters = { connectionsReceived: 0, connectionsRejected: 0, commandsProcessed: 0, errorReplies: 0, netInputBytes: 0, netOutputBytes: 0 };
  const server: ServerInfo = {
    version: '0.0.0',
    peerId: '12D3KooWtest',
    startedAtMs: 0,
    port: 0,
    connectedClients: () => 1,
    totalCommands: () => counters.commandsProcessed,
    counters: () => counters,
  };
  let closed = 0;
  const connection = new Connection({
    id: 7,
    socket: socket as unknown as Socket,
    db,
    config: loaded.config,
    server,
    counters,
    logger: pino({ level: 'silent' }),
    limits: {
      ...connectionLimitsDefault,
      queryBufferBytesMax: 1 << 20,
      pushOutputBytesMax: 1 << 20,
      bulkBytesMax: 1 << 20,
      ...limits,
    },
    onClosed: () => closed++,
  });
  const feed = (...commands: (string[] | string)[]) =>
    socket.emit('data', Buffer.concat(commands.map((c) => (typeof c === 'string' ? Buffer.from(c, 'latin1') : encodeCommand(c)))));
  return { socket, appends, connection, feed, closedCount: () => closed, counters };
}

/** Two event-loop turns: the reply settles in the first, the connection's once-per-turn flush runs in the second. */
const turn = async () => {
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
};
const ack = (v: number) => `%6\r\n+event_id\r\n+00000000-0000-4000-8000-000000000000\r\n+partition_key\r\n+00000000-0000-4000-8000-000000000001\r\n+partition_id\r\n:0\r\n+partition_sequence\r\n:${v}\r\n+stream_version\r\n:${v}\r\n+timestamp\r\n:1\r\n`;

describe('Connection', () => {
  it('answers a pipelined batch of synchronous commands with one write', () => {
    const { socket, feed } = setup();
    feed(['PING'], ['PING', 'a'], ['ping'], 'PING\r\n', ['NOPE']);
    expect(socket.writes.length).toBe(1);
    expect(socket.text()).toBe("+PONG\r\n$1\r\na\r\n+PONG\r\n+PONG\r\n-INVALIDARG unknown command 'NOPE'\r\n");
  });

  it('keeps request order: a quick reply waits for a slower one before it', async () => {
    const { socket, feed, appends } = setup();
    feed(['EAPPEND', 'a', 'E'], ['PING', '1'], ['EAPPEND', 'b', 'E'], ['PING', '2']);
    expect(socket.writes.length).toBe(0);
    appends[1].resolve(5);
    await turn();
    expect(socket.writes.length).toBe(0);
    appends[0].resolve(4);
    await turn();
    expect(socket.writes.length).toBe(1);
    expect(socket.text()).toBe(`${ack(4)}$1\r\n1\r\n${ack(5)}$1\r\n2\r\n`);
  });

  it('reuses append slots only after their replies are out: rounds of appends completed out of order', async () => {
    const { socket, feed, appends } = setup();
    const random = seededRandom(7);
    let expected = '';
    let held: { resolve: () => void } | undefined;
    for (let round = 0; round < 5; round++) {
      const first = appends.length;
      // EAPPENDs in place and through the generic path (a repeated option is left to it), mixed with PINGs.
      if (round < 4) {
        feed(...Array.from({ length: 40 }, (_, i) => (i % 7 === 3 ? ['PING', `p${round}-${i}`] : i % 5 === 1 ? ['EAPPEND', `s${i}`, 'E', 'PAYLOAD', 'x', 'PAYLOAD', 'y'] : ['EAPPEND', `s${i}`, 'E'])));
        for (let i = 0; i < 40; i++) {
          if (i % 7 === 3) expected += `$${`p${round}-${i}`.length}\r\np${round}-${i}\r\n`;
          else if (i % 5 === 1) expected += '-INVALIDARG PAYLOAD already specified\r\n';
          else expected += ack(round * 100 + i);
        }
      }
      // The previous round's first append completes only now: until then none of the replies behind it can go
      // out, so their slots must not be handed to this round's appends.
      held?.resolve();
      const mine = appends.slice(first).map((a) => ({ resolve: () => a.resolve(round * 100 + Number(a.streamId.slice(1))) }));
      held = mine.shift();
      for (let k = mine.length - 1; k > 0; k--) {
        const j = Math.floor(random() * (k + 1));
        [mine[k], mine[j]] = [mine[j], mine[k]];
      }
      for (const m of mine) {
        m.resolve();
        if (random() < 0.3) await turn();
      }
      await turn();
    }
    expect(socket.text()).toBe(expected);
  });

  it('answers appends completed together (one group commit) with one write', async () => {
    const { socket, feed, appends } = setup();
    feed(...Array.from({ length: 16 }, (_, i) => ['EAPPEND', `s${i}`, 'E']));
    appends.forEach((a, i) => a.resolve(i));
    await turn();
    expect(socket.writes.length).toBe(1);
    expect(socket.text()).toBe(Array.from({ length: 16 }, (_, i) => ack(i)).join(''));
  });

  it('stops reading at pendingCommandsMax unanswered commands and resumes at pendingCommandsResume', async () => {
    const { socket, feed, appends } = setup({ pendingCommandsMax: 4, pendingCommandsResume: 2 });
    feed(['EAPPEND', 'a', 'E'], ['EAPPEND', 'a', 'E'], ['EAPPEND', 'a', 'E']);
    expect(socket.paused).toBe(false);
    feed(['EAPPEND', 'a', 'E'], ['EAPPEND', 'a', 'E'], ['EAPPEND', 'a', 'E']);
    expect(socket.paused).toBe(true);
    for (let i = 0; i < 3; i++) appends[i].resolve(i);
    await turn();
    expect(socket.paused).toBe(true); // 3 left > 2
    appends[3].resolve(3);
    await turn();
    expect(socket.paused).toBe(false);
  });

  it('stops reading while unsent output is over its limit, until the socket drains', () => {
    const { socket, feed } = setup({ outputPausedBytes: 100 });
    socket.writableLength = 1000;
    feed(['PING']);
    expect(socket.paused).toBe(true);
    socket.writableLength = 0;
    socket.emit('drain');
    expect(socket.paused).toBe(false);
  });

  it('QUIT: replies OK after every earlier reply, executes nothing after it, then closes', async () => {
    const { socket, feed, appends } = setup();
    feed(['EAPPEND', 'a', 'E'], ['QUIT'], ['EAPPEND', 'b', 'E']);
    expect(appends.length).toBe(1);
    await turn();
    expect(socket.ended).toBe(false);
    appends[0].resolve(0);
    await turn();
    expect(socket.text()).toBe(`${ack(0)}+OK\r\n`);
    expect(socket.ended).toBe(true);
  });

  it('a protocol error is answered after the replies before it, then the connection closes', async () => {
    const { socket, feed, appends } = setup();
    feed(['EAPPEND', 'a', 'E'], '*1\r\n$x\r\n', ['PING']);
    expect(socket.writes.length).toBe(0);
    appends[0].resolve(0);
    await turn();
    expect(socket.text()).toBe(`${ack(0)}-ERR Protocol error: invalid bulk length\r\n`);
    expect(socket.ended).toBe(true);
  });

  it('closes when an incomplete request exceeds the query buffer limit', async () => {
    const { socket, feed } = setup({ queryBufferBytesMax: 1000 });
    feed(`*3\r\n$3\r\nSET\r\n$2000\r\n${'x'.repeat(1500)}`);
    await turn();
    expect(socket.text()).toMatch(/^-ERR Protocol error: query buffer limit reached/);
    expect(socket.ended).toBe(true);
  });

  it('push() waits behind replies still pending and is written at once otherwise', async () => {
    const { socket, feed, appends, connection } = setup();
    expect(connection.push((e) => e.simpleString('pushed-1'))).toBe(true);
    await turn();
    expect(socket.text()).toBe('+pushed-1\r\n');
    feed(['EAPPEND', 'a', 'E']);
    connection.push((e) => e.simpleString('pushed-2'));
    feed(['PING']);
    await turn();
    expect(socket.text()).toBe('+pushed-1\r\n');
    appends[0].resolve(0);
    await turn();
    expect(socket.text()).toBe(`+pushed-1\r\n${ack(0)}+pushed-2\r\n+PONG\r\n`);
  });

  it('reply slabs go round: bytes a write still holds are never overwritten, and slabs come back to the pool', async () => {
    const { socket, connection } = setup({ pushOutputBytesMax: 1 << 30, outputPausedBytes: 1 << 30 });
    socket.holdWrites = true;
    const reusedBefore = replySlabs.reused;
    let expected = '';
    const next = seededRandom(11);
    for (let i = 0; i < 3000; i++) {
      // Pushes of 20 B to 6 KB, each byte telling which push it belongs to, so a slab reused too early shows.
      const text = String.fromCharCode(97 + (i % 26)).repeat(Math.floor(next() * (next() < 0.2 ? 6000 : 300)));
      connection.push((e) => e.bulkString(text));
      expected += `$${text.length}\r\n${text}\r\n`;
      if (next() < 0.3) await new Promise((r) => setImmediate(r)); // the once-per-turn flush
      if (next() < 0.05) socket.complete(Math.floor(next() * (socket.held.length + 1)));
    }
    await turn();
    socket.complete();
    expect(socket.text()).toBe(expected);
    expect(replySlabs.reused - reusedBefore).toBeGreaterThan(10);
  });

  it('onClose callbacks run once; pushes after close are refused', () => {
    const { socket, connection, closedCount } = setup();
    let calls = 0;
    connection.onClose(() => calls++);
    socket.destroy();
    socket.emit('close');
    expect(calls).toBe(1);
    expect(closedCount()).toBe(1);
    expect(connection.closed).toBe(true);
    expect(connection.push((e) => e.simpleString('x'))).toBe(false);
  });

  it('HELLO 2 after a pending append: the append is answered in RESP3, HELLO and later replies in RESP2', async () => {
    const { socket, feed, appends } = setup();
    feed(['EAPPEND', 'a', 'E'], ['HELLO', '2'], ['CLIENT', 'GETNAME']);
    appends[0].resolve(0);
    await turn();
    const text = socket.text();
    expect(text.startsWith(ack(0))).toBe(true);
    expect(text.slice(ack(0).length).startsWith('*18\r\n$6\r\nserver\r\n')).toBe(true);
    expect(text.endsWith('$14\r\nnum_partitions\r\n:32\r\n$-1\r\n')).toBe(true);
  });

  it('requires AUTH when a password is set', () => {
    const { socket, feed } = setup({}, { server: { requirepass: 'pw' } });
    feed(['PING'], ['AUTH', 'pw'], ['PING']);
    expect(socket.text()).toBe('-NOAUTH Authentication required.\r\n+OK\r\n+PONG\r\n');
  });
});
