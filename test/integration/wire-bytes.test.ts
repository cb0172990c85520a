/**
 * The exact bytes of every reply shape (reference §1.4, §1.5), over a raw socket against the real server:
 * EAPPEND's %6, the %11 event map in order, ESCAN's has_more, EMAPPEND's %5, HELLO with proto, nulls as `_`,
 * and the RESP2 forms after `HELLO 2`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReplies, RawClient } from './helpers/raw-client.ts';
import { removeTempDirs, startServer, type ServerProcess } from './helpers/server-process.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server?.stop();
  removeTempDirs();
});

const USER_123_KEY = '7e124fe8-fe28-5398-bb95-53973100148f'; // uuid5(NAMESPACE_PARTITION_KEY, "user-123"), partition 21
const parseRepliesOf = (text: string) => parseReplies(Buffer.from(text, 'latin1'), 1).values;
const s = (line: string) => `+${line}\r\n`;
const i = (n: number) => `:${n}\r\n`;
const b = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;

async function exchange(c: RawClient, expected: string, ...args: string[]): Promise<string> {
  c.send(...args);
  const got = (await c.readBytes(Buffer.byteLength(expected, 'latin1'))).toString('latin1');
  return got;
}

function eventMap(e: {
  eventId: string;
  partitionKey: string;
  partitionId: number;
  transactionId: string;
  sequence: number;
  version: number;
  timestamp: number;
  streamId: string;
  eventName: string;
  metadata: string;
  payload: string;
}, header = '%11\r\n'): string {
  return (
    header +
    s('event_id') + s(e.eventId) +
    s('partition_key') + s(e.partitionKey) +
    s('partition_id') + i(e.partitionId) +
    s('transaction_id') + s(e.transactionId) +
    s('partition_sequence') + i(e.sequence) +
    s('stream_version') + i(e.version) +
    s('timestamp') + i(e.timestamp) +
    s('stream_id') + b(e.streamId) +
    s('event_name') + b(e.eventName) +
    s('metadata') + b(e.metadata) +
    s('payload') + b(e.payload)
  );
}

describe('RESP3 reply bytes', () => {
  let c: RawClient;
  beforeAll(async () => {
    c = await RawClient.connect(server.port);
  });
  afterAll(() => c.close());

  it('EAPPEND replies %6 with simple-string keys and UUIDs', async () => {
    const expected =
      '%6\r\n' +
      s('event_id') + s('550e8400-e29b-41d4-a716-446655440000') +
      s('partition_key') + s(USER_123_KEY) +
      s('partition_id') + i(21) +
      s('partition_sequence') + i(0) +
      s('stream_version') + i(0) +
      s('timestamp') + i(1_700_000_000_123);
    const got = await exchange(c, expected, 'EAPPEND', 'user-123', 'UserRegistered', 'EVENT_ID', '550E8400-E29B-41D4-A716-446655440000', 'TIMESTAMP', '1700000000123', 'PAYLOAD', '{"name":"john"}');
    expect(got).toBe(expected);
  });

  it('EGET replies the %11 event map in fixed order, metadata empty as $0', async () => {
    c.send('EGET', '550e8400-e29b-41d4-a716-446655440000');
    const head = await c.readUntil('+transaction_id\r\n');
    const tx = (await c.readUntil('\r\n')).slice(1, -2);
    expect(tx).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const expected = eventMap({
      eventId: '550e8400-e29b-41d4-a716-446655440000',
      partitionKey: USER_123_KEY,
      partitionId: 21,
      transactionId: tx,
      sequence: 0,
      version: 0,
      timestamp: 1_700_000_000_123,
      streamId: 'user-123',
      eventName: 'UserRegistered',
      metadata: '',
      payload: '{"name":"john"}',
    });
    const rest = (await c.readBytes(expected.length - head.length - tx.length - 3)).toString('latin1');
    expect(head + `+${tx}\r\n` + rest).toBe(expected);
    expect(expected).toContain('+metadata\r\n$0\r\n\r\n');
  });

  it('nulls are _ : EGET of an unknown id, ESVER of an unknown stream, EPSEQ of an empty partition', async () => {
    expect(await exchange(c, '_\r\n', 'EGET', '00000000-0000-4000-8000-000000000000')).toBe('_\r\n');
    expect(await exchange(c, '_\r\n', 'ESVER', 'no-such-stream')).toBe('_\r\n');
    expect(await exchange(c, '_\r\n', 'EPSEQ', '0')).toBe('_\r\n');
    expect(await exchange(c, ':0\r\n', 'ESVER', 'user-123')).toBe(':0\r\n');
    expect(await exchange(c, ':0\r\n', 'EPSEQ', '21')).toBe(':0\r\n');
    expect(await exchange(c, ':0\r\n', 'EPSEQ', USER_123_KEY)).toBe(':0\r\n');
  });

  it('ESCAN replies %2 {has_more, events}, has_more exact', async () => {
    for (let v = 0; v < 3; v++) {
      c.send('EAPPEND', 'scan-me', `E${v}`, 'EVENT_ID', `00000000-0000-4000-8000-00000000000${v}`, 'TIMESTAMP', String(1000 + v), 'PAYLOAD', `p${v}`, 'METADATA', `m${v}`);
    }
    const acks = await c.readReplies(3);
    expect(acks.every((a) => a instanceof Map)).toBe(true);

    c.send('ESCAN', 'scan-me', '-', '+', 'COUNT', '2');
    const head = await c.readUntil('+events\r\n*2\r\n');
    expect(head).toBe('%2\r\n+has_more\r\n#t\r\n+events\r\n*2\r\n');
    const page = await c.readReplies(2);
    expect(page.map((e) => (e as Map<string, unknown>).get('event_id'))).toEqual([
      '00000000-0000-4000-8000-000000000000',
      '00000000-0000-4000-8000-000000000001',
    ]);

    expect(await exchange(c, '%2\r\n+has_more\r\n#f\r\n+events\r\n*0\r\n', 'ESCAN', 'scan-me', '3', '+')).toBe('%2\r\n+has_more\r\n#f\r\n+events\r\n*0\r\n');
    expect(await exchange(c, '%2\r\n+has_more\r\n#f\r\n+events\r\n*0\r\n', 'ESCAN', 'never-written', '-', '+')).toBe('%2\r\n+has_more\r\n#f\r\n+events\r\n*0\r\n');

    // Exactly COUNT events left: has_more is false (SierraDB would say true).
    c.send('ESCAN', 'scan-me', '1', '+', 'COUNT', '2');
    const [exact] = await c.readReplies(1);
    expect((exact as Map<unknown, unknown>).get('has_more')).toBe(false);
  });

  it('EMAPPEND replies %5 with %4 events, stream ids as simple strings', async () => {
    const key = '550e8400-e29b-41d4-a716-446655440000'; // partition 25
    const expected =
      '%5\r\n' +
      s('partition_key') + s(key) +
      s('partition_id') + i(25) +
      s('first_partition_sequence') + i(0) +
      s('last_partition_sequence') + i(1) +
      s('events') + '*2\r\n' +
      '%4\r\n' + s('event_id') + s('00000000-0000-4000-8000-0000000000a1') + s('stream_id') + s('order-1') + s('stream_version') + i(0) + s('timestamp') + i(5) +
      '%4\r\n' + s('event_id') + s('00000000-0000-4000-8000-0000000000a2') + s('stream_id') + s('order-1-audit') + s('stream_version') + i(0) + s('timestamp') + i(6);
    const got = await exchange(
      c,
      expected,
      'EMAPPEND', key,
      'order-1', 'OrderPlaced', 'EVENT_ID', '00000000-0000-4000-8000-0000000000a1', 'TIMESTAMP', '5', 'PAYLOAD', 'x',
      'order-1-audit', 'Audited', 'EVENT_ID', '00000000-0000-4000-8000-0000000000a2', 'TIMESTAMP', '6', 'EXPECTED_VERSION', 'empty',
    );
    expect(got).toBe(expected);
  });

  it('HELLO 3 replies a map with blob keys, proto included', async () => {
    c.send('CLIENT', 'ID');
    const [id] = await c.readReplies(1);
    c.send('HELLO', '3');
    const bytes = await c.readUntil(b('num_partitions') + i(32));
    const [reply] = parseRepliesOf(bytes);
    const peerId = (reply as Map<Buffer, unknown>);
    const peer = [...peerId.entries()].find(([k]) => String(k) === 'peer_id')?.[1] as Buffer;
    expect(String(peer)).toMatch(/^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/);
    expect(bytes).toBe(
      '%9\r\n' +
      b('server') + b('sierradb') +
      b('version') + b('0.1.0') +
      b('proto') + i(3) +
      b('id') + i(id as number) +
      b('mode') + b('standalone') +
      b('role') + b('master') +
      b('modules') + '*0\r\n' +
      b('peer_id') + b(String(peer)) +
      b('num_partitions') + i(32),
    );
  });

  it('PING, unknown commands and argument errors keep the connection open', async () => {
    expect(await exchange(c, '+PONG\r\n', 'PING')).toBe('+PONG\r\n');
    expect(await exchange(c, "-INVALIDARG unknown command 'FOO'\r\n", 'foo', 'bar')).toBe("-INVALIDARG unknown command 'FOO'\r\n");
    const arity = "-INVALIDARG wrong number of arguments for 'eget' command\r\n";
    expect(await exchange(c, arity, 'EGET')).toBe(arity);
    expect(await exchange(c, '+PONG\r\n', 'ping')).toBe('+PONG\r\n');
  });
});

describe('inline commands', () => {
  it('are parsed as Redis does (telnet, nc)', async () => {
    const c = await RawClient.connect(server.port);
    c.write('PING\r\n');
    expect((await c.readBytes(7)).toString()).toBe('+PONG\r\n');
    c.write('EAPPEND inline-stream Typed PAYLOAD "hello world"\n');
    const [ack] = await c.readReplies(1);
    expect((ack as Map<string, unknown>).get('stream_version')).toBe(0);
    c.write('ESVER inline-stream\r\n');
    expect((await c.readBytes(4)).toString()).toBe(':0\r\n');
    c.close();
  });
});

describe('protocol errors close the connection after the replies before them', () => {
  it('answers -ERR Protocol error and closes', async () => {
    const c = await RawClient.connect(server.port);
    c.write('*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n');
    const rest = await c.waitClosed();
    expect(rest.toString('latin1')).toBe("+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
  });
});

describe('RESP2 after HELLO 2', () => {
  it('switches this connection only, starting with the HELLO reply', async () => {
    const c = await RawClient.connect(server.port);
    const other = await RawClient.connect(server.port);
    c.send('HELLO', '2');
    const hello = (await c.readUntil(b('num_partitions') + i(32))).toString();
    expect(hello.startsWith('*18\r\n$6\r\nserver\r\n$8\r\nsierradb\r\n$7\r\nversion\r\n$5\r\n0.1.0\r\n$5\r\nproto\r\n:2\r\n')).toBe(true);

    // Nulls.
    expect(await exchange(c, '$-1\r\n', 'EGET', '00000000-0000-4000-8000-00000000ffff')).toBe('$-1\r\n');
    expect(await exchange(c, '$-1\r\n', 'ESVER', 'no-such-stream')).toBe('$-1\r\n');

    // EAPPEND as a flat array.
    const expected =
      '*12\r\n' +
      s('event_id') + s('00000000-0000-4000-8000-00000000beef') +
      s('partition_key') + s('4a5bf0d6-7d0e-50b2-b05f-ea5a8c8b597f') +
      s('partition_id') + i(31) +
      s('partition_sequence') + i(0) +
      s('stream_version') + i(0) +
      s('timestamp') + i(42);
    expect(await exchange(c, expected, 'EAPPEND', 'orders', 'E', 'EVENT_ID', '00000000-0000-4000-8000-00000000beef', 'TIMESTAMP', '42')).toBe(expected);

    // ESCAN: *4, has_more as :0, the event as *22.
    c.send('ESCAN', 'orders', '-', '+');
    const head = await c.readUntil('+events\r\n*1\r\n');
    expect(head).toBe('*4\r\n+has_more\r\n:0\r\n+events\r\n*1\r\n');
    const event = await c.readUntil('+payload\r\n$0\r\n\r\n');
    expect(event.startsWith('*22\r\n+event_id\r\n+00000000-0000-4000-8000-00000000beef\r\n')).toBe(true);

    // INFO CACHE as a flat array with the ratio as a bulk string.
    c.send('INFO', 'CACHE');
    const info = await c.readUntil('$9\r\nevictions\r\n');
    expect(info.startsWith('*16\r\n$4\r\nhits\r\n')).toBe(true);
    expect(info).toMatch(/\$9\r\nhit_ratio\r\n\$\d+\r\n[0-9.]+\r\n/);
    await c.readUntil('\r\n');

    // The other connection is still RESP3.
    expect(await exchange(other, '_\r\n', 'ESVER', 'no-such-stream')).toBe('_\r\n');

    // And back.
    c.send('HELLO', '3');
    await c.readUntil(b('num_partitions') + i(32));
    expect(await exchange(c, '_\r\n', 'ESVER', 'no-such-stream')).toBe('_\r\n');
    c.close();
    other.close();
  });
});
