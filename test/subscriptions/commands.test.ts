/**
 * ESUB, EPSUB, EACK, EUNSUB, SUBSCRIBE and UNSUBSCRIBE through their descriptors, against a fake connection that
 * writes replies and pushes into one encoder, in order, as the server's connection does; the bytes are read back
 * with the reply parser. Wire frames are checked byte for byte where SierraDB fixes them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandContext, CommandDescriptor, ConnectionState, PendingReply, Reply } from '../../src/commands/command.ts';
import { eack } from '../../src/commands/eack.ts';
import { epsub } from '../../src/commands/epsub.ts';
import { esub } from '../../src/commands/esub.ts';
import { eunsub } from '../../src/commands/eunsub.ts';
import { subscribe } from '../../src/commands/subscribe.ts';
import { unsubscribe } from '../../src/commands/unsubscribe.ts';
import type { Config } from '../../src/config/config-schema.ts';
import type { Database } from '../../src/database.ts';
import { ReplyError } from '../../src/protocol/reply-error.ts';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { RespPush, RespReplyParser, type RespValue } from '../../src/protocol/resp-reply-parser.ts';
import { openSimulated, settle, waitFor } from './helpers.ts';

class FakeConnection implements ConnectionState {
  readonly id = 1;
  protocol: 2 | 3 = 3;
  name: string | undefined;
  authenticated = true;
  closed = false;
  readonly encoder = new RespEncoder();
  readonly values: RespValue[] = [];
  readonly #parser = new RespReplyParser();
  readonly #closers: (() => void)[] = [];
  /** Bytes the fake "socket" may hold before push() reports the limit. */
  limitBytes = Infinity;
  pending = 0;

  closeAfterReply(): void {}

  /** The PendingReply of the command being run, settled into a promise of its reply. */
  lastLater: { pending: PendingReply; reply: Promise<Reply> } | undefined;

  later(): PendingReply {
    let pending!: PendingReply;
    const reply = new Promise<Reply>((resolve, reject) => {
      pending = { resolve: (write, value) => resolve((e) => write(e, value)), reject };
    });
    this.lastLater = { pending, reply };
    return pending;
  }

  laterAppend(): never {
    throw new Error('these tests run commands through execute(), which never asks for an append slot');
  }

  write(reply: Reply): void {
    reply(this.encoder);
    this.#drain();
  }

  push(write: Reply): boolean {
    if (this.closed) return false;
    write(this.encoder);
    const bytes = this.encoder.length;
    this.#drain();
    this.pending += bytes;
    if (this.pending > this.limitBytes) {
      this.close();
      return false;
    }
    return true;
  }

  /** The client reads everything written so far. */
  read(): void {
    this.pending = 0;
  }

  #drain(): void {
    const err = this.#parser.feed(Buffer.from(this.encoder.take()), (v) => this.values.push(v));
    if (err) throw err;
  }

  onClose(callback: () => void): void {
    this.#closers.push(callback);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.#closers) c();
  }

  /** Pushes of kind `kind` received so far. */
  pushes(kind: string): RespValue[][] {
    return this.values.filter((v): v is RespPush => v instanceof RespPush).map((p) => p.data).filter((d) => d[0] === kind || Buffer.isBuffer(d[0]) && d[0].toString() === kind);
  }
}

const dbs: Database[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.close();
});

async function setup(): Promise<{ db: Database; conn: FakeConnection; run: (d: CommandDescriptor, ...args: string[]) => Promise<RespValue> }> {
  const db = await openSimulated();
  dbs.push(db);
  const conn = new FakeConnection();
  const ctx = { db, config: {} as Config, connection: conn, server: {} as CommandContext['server'] } satisfies CommandContext;
  const run = async (d: CommandDescriptor, ...args: string[]): Promise<RespValue> => {
    const before = conn.values.length;
    try {
      const result = d.execute(ctx, args.map((a) => Buffer.from(a)));
      conn.write(result === conn.lastLater?.pending ? await conn.lastLater.reply : await (result as Reply | Promise<Reply>));
    } catch (err) {
      if (err instanceof ReplyError) return err;
      throw err;
    }
    return conn.values[before];
  };
  return { db, conn, run };
}

const asMap = (v: RespValue) => Object.fromEntries(v as Map<string, RespValue>) as Record<string, RespValue>;

describe('subscription commands (fake connection)', () => {
  it('ESUB replies +<id>, then >3 subscribe <id> <count>, then >4 message <id> <cursor> <%11 event>', async () => {
    const { db, conn, run } = await setup();
    await db.append('user-123', 'UserRegistered', { payload: '{"n":0}', metadata: 'm' });
    const id = await run(esub, 'user-123', 'FROM', '0');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(conn.values[1]).toEqual(new RespPush(['subscribe', id, 1]));
    await waitFor(() => conn.pushes('message').length === 1, 'a message');
    const [kind, subId, cursor, event] = conn.pushes('message')[0];
    expect([kind, subId, cursor]).toEqual(['message', id, 0]);
    const e = asMap(event);
    expect(Object.keys(e)).toEqual([
      'event_id',
      'partition_key',
      'partition_id',
      'transaction_id',
      'partition_sequence',
      'stream_version',
      'timestamp',
      'stream_id',
      'event_name',
      'metadata',
      'payload',
    ]);
    expect(e.partition_key).toBe('7e124fe8-fe28-5398-bb95-53973100148f');
    expect(e.partition_id).toBe(21);
    expect([e.partition_sequence, e.stream_version]).toEqual([0, 0]);
    expect([String(e.stream_id), String(e.event_name), String(e.metadata), String(e.payload)]).toEqual(['user-123', 'UserRegistered', 'm', '{"n":0}']);

    // A second subscription on the connection: the count says 2.
    const id2 = await run(epsub, '21', 'FROM', 'LATEST');
    expect(conn.values.at(-1)).toEqual(new RespPush(['subscribe', id2, 2]));
  });

  it('the exact bytes of the reply, the subscribe push and a message push', async () => {
    const { db, conn } = await setup();
    await db.append('s', 'E');
    const ctx = { db, config: {} as Config, connection: conn, server: {} as CommandContext['server'] };
    const reply = (await esub.execute(ctx, [Buffer.from('s'), Buffer.from('FROM'), Buffer.from('0')])) as Reply;
    const encoder = new RespEncoder();
    reply(encoder);
    const text = encoder.take().toString('latin1');
    expect(text).toMatch(/^\+([0-9a-f-]{36})\r\n>3\r\n\+subscribe\r\n\+\1\r\n:1\r\n$/);
    const id = text.slice(1, 37);
    let pushed = '';
    (conn as { push: ConnectionState['push'] }).push = (write) => {
      const e = new RespEncoder();
      write(e);
      pushed += e.take().toString('latin1');
      return true;
    };
    await waitFor(() => pushed.length > 0, 'a push');
    expect(pushed.startsWith(`>4\r\n+message\r\n+${id}\r\n:0\r\n%11\r\n+event_id\r\n+`)).toBe(true);
    expect(pushed.endsWith('+stream_id\r\n$1\r\ns\r\n+event_name\r\n$1\r\nE\r\n+metadata\r\n$0\r\n\r\n+payload\r\n$0\r\n\r\n')).toBe(true);
  });

  it('RESP2: pushes are arrays and the event map is flattened', async () => {
    const { db, conn, run } = await setup();
    conn.encoder.protocol = 2;
    await db.append('s', 'E');
    const id = await run(epsub, '*', 'FROM', '0');
    expect(conn.values[1]).toEqual(['subscribe', id, 1]);
    await waitFor(() => conn.values.length >= 3, 'a message');
    const message = conn.values[2] as RespValue[];
    expect(message.slice(0, 3)).toEqual(['message', id, 0]);
    expect((message[3] as RespValue[]).length).toBe(22);
  });

  it('EACK opens the window; unknown ids get NOTFOUND; EUNSUB stops the pushes', async () => {
    const { db, conn, run } = await setup();
    for (let i = 0; i < 20; i++) await db.append('w', 'E', { payload: String(i) });
    const id = (await run(esub, 'w', 'FROM', '0', 'WINDOW', '5')) as string;
    await waitFor(() => conn.pushes('message').length === 5, '5 messages');
    await settle();
    expect(conn.pushes('message').length).toBe(5);
    expect(await run(eack, id, '4')).toBe('OK');
    await waitFor(() => conn.pushes('message').length === 10, '10 messages');
    expect(conn.pushes('message').map((m) => m[2])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const notFound = await run(eack, '00000000-0000-4000-8000-000000000000', '1');
    expect(String(notFound)).toBe('NOTFOUND subscription not found');
    expect(String(await run(eack, id, 'x'))).toMatch(/^INVALIDARG /);
    expect(await run(eunsub, id)).toBe('OK');
    await run(eack, id, '9');
    await settle();
    expect(conn.pushes('message').length).toBe(10);
    expect(String(await run(eunsub, id))).toBe('NOTFOUND subscription not found');
  });

  it('argument errors', async () => {
    const { run } = await setup();
    const err = async (d: CommandDescriptor, ...args: string[]) => String(await run(d, ...args));
    expect(await err(esub, 'FROM', '0')).toMatch(/^INVALIDARG expected at least one stream id/);
    expect(await err(esub, 's', 'FROM')).toMatch(/^INVALIDARG FROM needs/);
    expect(await err(esub, 's', 'FROM', 'x')).toMatch(/^INVALIDARG /);
    expect(await err(esub, 's', 'WINDOW', '0')).toMatch(/^INVALIDARG window size/);
    expect(await err(esub, 's', 'FROM', 'MAP', 't=1')).toMatch(/^INVALIDARG FROM MAP names stream 't'/);
    expect(await err(esub, 's', 'PARTITION_KEY', 'nope')).toMatch(/^INVALIDARG PARTITION_KEY needs a UUID/);
    expect(await err(epsub, '32')).toBe('CLUSTERDOWN partition unavailable');
    expect(await err(epsub, '0-40')).toBe('CLUSTERDOWN partition unavailable');
    expect(await err(epsub, '5-3')).toMatch(/^INVALIDARG partition range 5-3 is empty/);
    expect(await err(epsub, 'abc')).toMatch(/^INVALIDARG /);
    expect(await err(epsub, '*', 'FROM', 'MAP', '40=1')).toBe('CLUSTERDOWN partition unavailable');
    expect(await err(epsub, '1,2', 'FROM', 'MAP', '3=1')).toMatch(/^INVALIDARG FROM MAP names partition '3'/);
    expect(await err(epsub, '*', 'WINDOW', '1', 'WINDOW', '2')).toMatch(/^INVALIDARG WINDOW already specified/);
    expect(await err(epsub, '*', 'BOGUS')).toMatch(/^INVALIDARG unexpected argument/);
  });

  it('EPSUB selectors: comma lists, ranges, UUID keys; FROM MAP with DEFAULT; keywords in any case', async () => {
    const { db, conn, run } = await setup();
    // Partition 21 is user-123's, 6 is my-stream's, 31 is orders' (reference test vectors).
    for (const s of ['user-123', 'my-stream', 'orders']) for (let i = 0; i < 4; i++) await db.append(s, 'E');
    const id = await run(epsub, '7e124fe8-fe28-5398-bb95-53973100148f,5-6,31', 'from', 'map', '21=2', '31=3', 'default', '1', 'window', '100');
    expect(typeof id).toBe('string');
    await waitFor(() => conn.pushes('message').length === 6, '6 messages');
    await settle();
    const got = conn.pushes('message').map((m) => asMap(m[3])).map((e) => `${e.partition_id}:${e.partition_sequence}`);
    expect(got.sort()).toEqual(['21:2', '21:3', '31:3', '6:1', '6:2', '6:3'].sort());
  });

  it('multi-stream ESUB with PARTITION_KEY and FROM MAP; FROM/WINDOW end the stream list', async () => {
    const { db, conn, run } = await setup();
    const key = '550e8400-e29b-41d4-a716-446655440000';
    for (let i = 0; i < 3; i++) {
      await db.append('a', 'E');
      await db.append('b', 'E', { partitionKey: key });
    }
    await run(esub, 'a', 'b', 'PARTITION_KEY', key, 'FROM', 'MAP', 'a=1', 'DEFAULT', '0', 'WINDOW', '10');
    await waitFor(() => conn.pushes('message').length === 5, '5 messages');
    const got = conn.pushes('message').map((m) => asMap(m[3])).map((e) => `${String(e.stream_id)}:${e.stream_version}`);
    expect(got.sort()).toEqual(['a:1', 'a:2', 'b:0', 'b:1', 'b:2']);
  });

  it('closing the connection ends its subscriptions', async () => {
    const { db, conn, run } = await setup();
    await run(epsub, '*');
    await run(subscribe, 'sierradb:all');
    conn.close();
    await db.append('x', 'E');
    await settle();
    expect(conn.pushes('message').length).toBe(0);
  });

  it('a subscriber over the output limit is disconnected; appends go on', async () => {
    const { db, conn, run } = await setup();
    conn.limitBytes = 4096;
    await run(epsub, '*', 'FROM', 'LATEST', 'WINDOW', '100000');
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.append(`s${i}`, 'E', { payload: 'x'.repeat(100) })));
    await waitFor(() => conn.closed, 'the connection to be closed');
    const r = await db.append('after', 'E');
    expect(r.streamVersion).toBe(0);
  });

  it('SUBSCRIBE: subscribe pushes per channel, then message pushes with the event as JSON; UNSUBSCRIBE', async () => {
    const { db, conn, run } = await setup();
    await db.append('user-123', 'Old');
    await run(subscribe, 'sierradb:stream:user-123', 'sierradb:partition:21', 'sierradb:stream:user-123');
    const subs = conn.pushes('subscribe').map((d) => d.map((x) => (Buffer.isBuffer(x) ? x.toString() : x)));
    expect(subs).toEqual([
      ['subscribe', 'sierradb:stream:user-123', 1],
      ['subscribe', 'sierradb:partition:21', 2],
      ['subscribe', 'sierradb:stream:user-123', 2],
    ]);
    await db.append('user-123', 'UserRenamed', { payload: '{"name":"x"}' });
    await db.append('other', 'E', { payload: Buffer.from([0xff, 0xfe]) });
    await waitFor(() => conn.pushes('message').length === 2, '2 messages');
    const messages = conn.pushes('message').map((d) => [String(d[1]), JSON.parse(String(d[2]))]);
    for (const [, json] of messages) {
      expect(json).toMatchObject({ stream_id: 'user-123', event_name: 'UserRenamed', stream_version: 1, partition_id: 21, payload: '{"name":"x"}', metadata: '' });
    }
    expect(messages.map((m) => m[0]).sort()).toEqual(['sierradb:partition:21', 'sierradb:stream:user-123']);

    expect(String(await run(subscribe, 'nope'))).toMatch(/^ERR unknown channel 'nope'/);

    await run(unsubscribe, 'sierradb:partition:21');
    await run(unsubscribe);
    const unsubs = conn.pushes('unsubscribe').map((d) => d.map((x) => (Buffer.isBuffer(x) ? x.toString() : x)));
    expect(unsubs).toEqual([
      ['unsubscribe', 'sierradb:partition:21', 1],
      ['unsubscribe', 'sierradb:stream:user-123', 0],
    ]);
    await run(unsubscribe);
    expect(conn.pushes('unsubscribe').at(-1)).toEqual([Buffer.from('unsubscribe'), null, 0]);
  });

  it('SUBSCRIBE sierradb:all: binary payloads travel as base64', async () => {
    const { db, conn, run } = await setup();
    await run(subscribe, 'sierradb:all');
    await db.append('bin', 'E', { payload: Buffer.from([0xff, 0xfe, 0x00]) });
    await waitFor(() => conn.pushes('message').length === 1, 'a message');
    const json = JSON.parse(String(conn.pushes('message')[0][2]));
    expect(json.payload).toBeUndefined();
    expect(json.payload_base64).toBe(Buffer.from([0xff, 0xfe, 0x00]).toString('base64'));
  });
});
