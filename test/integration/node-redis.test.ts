/**
 * node-redis (v5+, RESP3) drives every command, and every error case of the reference's error table
 * (shared/sierradb-reference.md §1.2) that a single node can produce, against the real server.
 */
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeTempDirs, startServer, type ServerProcess } from './helpers/server-process.ts';

type Client = RedisClientType<Record<string, never>, Record<string, never>, Record<string, never>, 3>;

let server: ServerProcess;
let strict: ServerProcess;
let c: Client;
let s: Client;

async function connect(port: number, options: { password?: string; username?: string; RESP?: 2 | 3 } = {}): Promise<Client> {
  const client = createClient({ RESP: options.RESP ?? 3, socket: { host: '127.0.0.1', port, reconnectStrategy: false }, password: options.password, username: options.username }) as unknown as Client;
  client.on('error', () => {});
  await client.connect();
  return client;
}

const send = (client: Client, ...args: string[]) => client.sendCommand(args) as Promise<unknown>;
type Obj = Record<string, unknown>;

beforeAll(async () => {
  [server, strict] = await Promise.all([startServer(), startServer({ args: ['--strict-versioning', '--segment-size', '65536'] })]);
  [c, s] = await Promise.all([connect(server.port), connect(strict.port)]);
});
afterAll(async () => {
  await Promise.allSettled([c?.close(), s?.close()]);
  await Promise.all([server?.stop(), strict?.stop()]);
  removeTempDirs();
});

describe('event commands', () => {
  it('EAPPEND, ESCAN, ESVER, EGET: the README walkthrough', async () => {
    const a0 = (await send(c, 'EAPPEND', 'user-123', 'UserRegistered', 'PAYLOAD', '{"name":"john"}')) as Obj;
    const a1 = (await send(c, 'EAPPEND', 'user-123', 'EmailChanged', 'EXPECTED_VERSION', '0', 'PAYLOAD', '{"email":"j@x"}', 'METADATA', '{"by":"me"}')) as Obj;
    const a2 = (await send(c, 'eappend', 'user-123', 'NameChanged', 'expected_version', 'exists', 'payload', '{"name":"John"}')) as Obj;
    expect([a0.stream_version, a1.stream_version, a2.stream_version]).toEqual([0, 1, 2]);
    expect([a0.partition_sequence, a1.partition_sequence, a2.partition_sequence]).toEqual([0, 1, 2]);
    expect(a0).toMatchObject({ partition_key: '7e124fe8-fe28-5398-bb95-53973100148f', partition_id: 21 });
    expect(Object.keys(a0)).toEqual(['event_id', 'partition_key', 'partition_id', 'partition_sequence', 'stream_version', 'timestamp']);
    expect(Math.abs((a0.timestamp as number) - Date.now())).toBeLessThan(60_000);

    const page = (await send(c, 'ESCAN', 'user-123', '-', '+')) as { has_more: boolean; events: Obj[] };
    expect(page.has_more).toBe(false);
    expect(page.events.map((e) => [e.stream_version, e.event_name, e.payload, e.metadata])).toEqual([
      [0, 'UserRegistered', '{"name":"john"}', ''],
      [1, 'EmailChanged', '{"email":"j@x"}', '{"by":"me"}'],
      [2, 'NameChanged', '{"name":"John"}', ''],
    ]);
    expect(Object.keys(page.events[0])).toEqual([
      'event_id', 'partition_key', 'partition_id', 'transaction_id', 'partition_sequence', 'stream_version', 'timestamp',
      'stream_id', 'event_name', 'metadata', 'payload',
    ]);
    expect(await send(c, 'ESVER', 'user-123')).toBe(2);
    expect(await send(c, 'ESVER', 'user-123', 'PARTITION_KEY', '7e124fe8-fe28-5398-bb95-53973100148f')).toBe(2);
    expect(await send(c, 'ESVER', 'nobody')).toBe(null);

    const got = (await send(c, 'EGET', a1.event_id as string)) as Obj;
    expect(got).toMatchObject({ event_id: a1.event_id, stream_id: 'user-123', stream_version: 1, payload: '{"email":"j@x"}' });
    expect(await send(c, 'EGET', '00000000-0000-4000-8000-000000000000')).toBe(null);
  });

  it('ESCAN ranges, COUNT, PARTITION_KEY and exact has_more', async () => {
    for (let v = 0; v < 5; v++) await send(c, 'EAPPEND', 'ranges', 'E', 'PAYLOAD', String(v));
    const versions = async (...args: string[]) => {
      const p = (await send(c, 'ESCAN', 'ranges', ...args)) as { has_more: boolean; events: Obj[] };
      return [p.events.map((e) => e.stream_version), p.has_more];
    };
    expect(await versions('-', '+')).toEqual([[0, 1, 2, 3, 4], false]);
    expect(await versions('1', '3')).toEqual([[1, 2, 3], false]);
    expect(await versions('-', '+', 'COUNT', '2')).toEqual([[0, 1], true]);
    expect(await versions('3', '+', 'COUNT', '2')).toEqual([[3, 4], false]);
    expect(await versions('0', '3', 'COUNT', '4')).toEqual([[0, 1, 2, 3], false]);
    expect(await versions('0', '2', 'COUNT', '2')).toEqual([[0, 1], true]);
    expect(await versions('5', '+')).toEqual([[], false]);
    expect(await versions('-', '+', 'COUNT', '0')).toEqual([[], true]);
    expect(await versions('2', '1')).toEqual([[], false]);
    expect(await versions('-', '+', 'PARTITION_KEY', '00000000-0000-4000-8000-000000000000')).toEqual([[], false]);
    expect(await versions('-', '+', 'COUNT', '18446744073709551615')).toEqual([[0, 1, 2, 3, 4], false]);
    await expect(versions('-', '+', 'COUNT', '18446744073709551616')).rejects.toThrow(/^INVALIDARG invalid COUNT/);
  });

  it('EMAPPEND appends to several streams of one partition atomically', async () => {
    const key = '550e8400-e29b-41d4-a716-446655440000';
    const r = (await send(c, 'EMAPPEND', key, 'order-1', 'OrderPlaced', 'PAYLOAD', 'a', 'order-1-lines', 'LineAdded', 'EXPECTED_VERSION', 'empty', 'PAYLOAD', 'b', 'order-1', 'OrderPaid')) as Obj;
    expect(r).toMatchObject({ partition_key: key, partition_id: 25, first_partition_sequence: 0, last_partition_sequence: 2 });
    expect((r.events as Obj[]).map((e) => [e.stream_id, e.stream_version])).toEqual([
      ['order-1', 0],
      ['order-1-lines', 0],
      ['order-1', 1],
    ]);
    // All or nothing: a failing expectation leaves every stream as it was.
    await expect(send(c, 'EMAPPEND', key, 'order-1', 'X', 'order-1-lines', 'Y', 'EXPECTED_VERSION', 'empty')).rejects.toThrow(/^WRONGVER current stream version is 0 but expected empty for partition key 550e8400-e29b-41d4-a716-446655440000 and stream id order-1-lines$/);
    expect(await send(c, 'ESVER', 'order-1', 'PARTITION_KEY', key)).toBe(1);
    expect(await send(c, 'EPSEQ', key)).toBe(2);
  });

  it('EPSCAN and EPSEQ by partition id and by UUID key', async () => {
    await send(c, 'EAPPEND', 'orders', 'A');
    await send(c, 'EAPPEND', 'orders', 'B');
    const pid = 31; // partition of "orders"
    const seq = (await send(c, 'EPSEQ', String(pid))) as number;
    expect(seq).toBeGreaterThanOrEqual(1);
    expect(await send(c, 'EPSEQ', '4a5bf0d6-7d0e-50b2-b05f-ea5a8c8b597f')).toBe(seq);
    const page = (await send(c, 'EPSCAN', String(pid), '-', '+')) as { has_more: boolean; events: Obj[] };
    expect(page.events.map((e) => e.partition_sequence)).toEqual([...Array(seq + 1).keys()]);
    expect(page.has_more).toBe(false);
    const byKey = (await send(c, 'EPSCAN', '4a5bf0d6-7d0e-50b2-b05f-ea5a8c8b597f', '0', '0', 'COUNT', '10')) as { has_more: boolean; events: Obj[] };
    expect(byKey.events.length).toBe(1);
    expect(byKey.has_more).toBe(false);
    const first = (await send(c, 'EPSCAN', String(pid), '-', '+', 'COUNT', '1')) as { has_more: boolean; events: Obj[] };
    expect([first.events.length, first.has_more]).toEqual([1, true]);
    expect(await send(c, 'EPSEQ', '0')).toBe(null);
  });

  it('accepts any UUID as EVENT_ID, and client timestamps in milliseconds', async () => {
    const r = (await send(c, 'EAPPEND', 'custom-ids', 'E', 'EVENT_ID', '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}', 'TIMESTAMP', '1700000000000')) as Obj;
    expect(r).toMatchObject({ event_id: '6ba7b810-9dad-11d1-80b4-00c04fd430c8', timestamp: 1_700_000_000_000 });
    expect(await send(c, 'EGET', 'urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toMatchObject({ stream_id: 'custom-ids', timestamp: 1_700_000_000_000 });
  });

  it('stores binary payloads byte for byte', async () => {
    const bytes = Buffer.from([0, 1, 2, 13, 10, 255, 254, 0x80]);
    const r = (await c.sendCommand(['EAPPEND', 'binary', 'Bin', 'PAYLOAD', bytes, 'METADATA', Buffer.alloc(0)])) as Obj;
    const got = (await c.sendCommand(['EGET', r.event_id as string], { typeMapping: { 36: Buffer } })) as Obj;
    expect(Buffer.isBuffer(got.payload)).toBe(true);
    expect(got.payload).toEqual(bytes);
  });
});

describe('connection and server commands', () => {
  it('PING, HELLO, CLIENT, SELECT, CONFIG GET, INFO, COMMAND', async () => {
    expect(await send(c, 'PING')).toBe('PONG');
    expect(await send(c, 'PING', 'hi')).toBe('hi');
    const hello = (await send(c, 'HELLO', '3', 'SETNAME', 'tester')) as Obj;
    expect(hello).toMatchObject({ server: 'sierradb', version: '0.1.0', proto: 3, mode: 'standalone', role: 'master', modules: [], num_partitions: 32 });
    expect(hello.peer_id).toMatch(/^12D3KooW/);
    expect(await send(c, 'CLIENT', 'GETNAME')).toBe('tester');
    expect(await send(c, 'CLIENT', 'SETNAME', 'renamed')).toBe('OK');
    expect(await send(c, 'client', 'getname')).toBe('renamed');
    expect(await send(c, 'CLIENT', 'ID')).toBe(hello.id);
    expect(await send(c, 'CLIENT', 'SETINFO', 'LIB-NAME', 'mylib')).toBe('OK');
    expect(await send(c, 'CLIENT', 'SETINFO', 'lib-ver', '1.2.3')).toBe('OK');
    expect(await send(c, 'SELECT', '0')).toBe('OK');
    expect(await send(c, 'CONFIG', 'GET', 'save')).toEqual(['save', '']);
    expect(await send(c, 'CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await send(c, 'CONFIG', 'GET', 'partition.*', 'bucket.count')).toEqual(['bucket.count', '4', 'partition.count', '32']);
    expect(await send(c, 'CONFIG', 'GET', 'server.requirepass')).toEqual([]);
    const info = String(await send(c, 'INFO'));
    for (const section of ['# Server', '# Clients', '# Stats', '# Persistence', '# Keyspace', '# Cache']) expect(info).toContain(section);
    expect(info).toMatch(/connected_clients:\d+\r\n/);
    expect(info).toMatch(/total_commands_processed:\d+\r\n/);
    expect(info).toMatch(/group_commit_rounds:\d+\r\ncommit_log_rounds:\d+\r\ncommit_log_checkpoints:\d+\r\ngroup_commit_fdatasyncs:\d+\r\n/);
    expect(info).toMatch(/escan_cache_hits:\d+\r\nescan_cache_misses:\d+\r\nescan_cache_memory_bytes:\d+\r\nescan_cache_max_bytes:\d+\r\nread_buffers_reused:\d+\r\nread_buffers_allocated:\d+\r\n/);
    expect(String(await send(c, 'INFO', 'clients'))).toMatch(/^# Clients\r\nconnected_clients:\d+\r\n/);
    const cache = (await send(c, 'INFO', 'CACHE')) as Obj;
    expect(Object.keys(cache)).toEqual(['hits', 'misses', 'hit_ratio', 'entries', 'memory_bytes', 'max_bytes', 'block_size_bytes', 'evictions']);
    expect(typeof cache.hit_ratio).toBe('number');
    expect(await send(c, 'COMMAND', 'COUNT')).toBeGreaterThanOrEqual(16);
    const docs = (await send(c, 'COMMAND', 'DOCS', 'EAPPEND')) as Record<string, Obj>;
    expect(docs.eappend.summary).toMatch(/Appends an event/);
    const infoReply = (await send(c, 'COMMAND', 'INFO', 'escan', 'nope')) as unknown[];
    expect((infoReply[0] as unknown[]).slice(0, 2)).toEqual(['escan', -4]);
    expect(infoReply[1]).toBe(null);
    expect(await send(c, 'COMMAND', 'LIST')).toContain('emappend');
  });

  it('RESP2 clients get RESP3 until they say HELLO 2, then flat replies', async () => {
    const r2 = await connect(server.port, { RESP: 2 });
    try {
      // node-redis in RESP2 mode sends no HELLO; this server then answers in RESP3, which its decoder reads.
      expect(await r2.sendCommand(['ESVER', 'none'])).toBe(null);
      expect(((await r2.sendCommand(['HELLO', '2'])) as unknown[]).slice(4, 6)).toEqual(['proto', 2]);
      const a = (await r2.sendCommand(['EAPPEND', 'resp2', 'E', 'PAYLOAD', 'p'])) as unknown[];
      expect(a.slice(0, 2)).toEqual(['event_id', expect.stringMatching(/^[0-9a-f-]{36}$/)]);
      const page = (await r2.sendCommand(['ESCAN', 'resp2', '-', '+'])) as unknown[];
      expect(page.slice(0, 3)).toEqual(['has_more', 0, 'events']);
      expect(((page[3] as unknown[])[0] as unknown[]).length).toBe(22);
      expect(await r2.sendCommand(['ESVER', 'none'])).toBe(null);
    } finally {
      await r2.close();
    }
  });

  it('QUIT closes the connection after +OK', async () => {
    const q = await connect(server.port);
    expect(await q.sendCommand(['QUIT'])).toBe('OK');
    await new Promise((r) => setTimeout(r, 50));
    await q.close().catch(() => {});
  });
});

describe('error replies (reference §1.2)', () => {
  const rejects = (p: Promise<unknown>, re: RegExp) => expect(p).rejects.toThrow(re);

  it('unknown commands and subcommands, wrong arity', async () => {
    await rejects(send(c, 'FOO', 'bar'), /^INVALIDARG unknown command 'FOO'$/);
    await rejects(send(c, 'eFoO'), /^INVALIDARG unknown command 'EFOO'$/);
    await rejects(send(c, 'CLIENT', 'KILL', 'x'), /^INVALIDARG unknown subcommand 'KILL' for 'CLIENT'$/);
    await rejects(send(c, 'CONFIG', 'SET', 'a', 'b'), /^INVALIDARG unknown subcommand 'SET' for 'CONFIG'$/);
    await rejects(send(c, 'EAPPEND', 'only-stream'), /^INVALIDARG wrong number of arguments for 'eappend' command$/);
    await rejects(send(c, 'EGET', 'a', 'b'), /^INVALIDARG wrong number of arguments for 'eget' command$/);
    await rejects(send(c, 'ESCAN', 's', '-'), /^INVALIDARG wrong number of arguments for 'escan' command$/);
    await rejects(send(c, 'CLIENT', 'SETNAME'), /^INVALIDARG wrong number of arguments for 'client\|setname' command$/);
    await rejects(send(c, 'PING', 'a', 'b'), /^INVALIDARG wrong number of arguments for 'ping' command$/);
    expect(await send(c, 'PING')).toBe('PONG');
  });

  it('argument parse failures are INVALIDARG', async () => {
    await rejects(send(c, 'EAPPEND', 's', 'E', 'EXPECTED_VERSION', 'soon'), /^INVALIDARG invalid EXPECTED_VERSION 'soon'/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'EXPECTED_VERSION', '-1'), /^INVALIDARG invalid EXPECTED_VERSION/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'EVENT_ID', 'not-a-uuid'), /^INVALIDARG invalid EVENT_ID 'not-a-uuid': expected a UUID$/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'PARTITION_KEY', '123'), /^INVALIDARG invalid PARTITION_KEY/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'TIMESTAMP', 'noon'), /^INVALIDARG invalid TIMESTAMP 'noon'/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'PAYLOAD'), /^INVALIDARG PAYLOAD requires a value$/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'PAYLOAD', 'a', 'PAYLOAD', 'b'), /^INVALIDARG PAYLOAD already specified$/);
    await rejects(send(c, 'EAPPEND', 's', 'E', 'COLOUR', 'red'), /^INVALIDARG unexpected argument 'COLOUR'/);
    await rejects(send(c, 'EAPPEND', '', 'E'), /^INVALIDARG invalid stream id/);
    await rejects(send(c, 'EAPPEND', 'x'.repeat(65), 'E'), /^INVALIDARG invalid stream id/);
    await rejects(c.sendCommand(['EAPPEND', Buffer.from([0x66, 0xff, 0x66]), 'E']), /^INVALIDARG invalid stream id: not valid UTF-8$/);
    await rejects(c.sendCommand(['EAPPEND', 's', Buffer.from([0xc3])]), /^INVALIDARG invalid event name: not valid UTF-8$/);
    expect(((await send(c, 'EAPPEND', 'ünïcödé-strëam', 'Évènement')) as Obj).stream_version).toBe(0);
    expect(await send(c, 'ESVER', 'ünïcödé-strëam')).toBe(0);
    await rejects(send(c, 'EMAPPEND', 'not-a-uuid', 's', 'E'), /^INVALIDARG invalid partition key/);
    await rejects(send(c, 'EMAPPEND', '550e8400-e29b-41d4-a716-446655440000', 's', 'E', 'lonely'), /^INVALIDARG each event needs a stream id and an event name$/);
    // No per-event PARTITION_KEY: the word starts another event (as in SierraDB), which then lacks its name.
    await rejects(send(c, 'EMAPPEND', '550e8400-e29b-41d4-a716-446655440000', 's', 'E', 'PARTITION_KEY'), /^INVALIDARG each event needs/);
    await rejects(send(c, 'EGET', 'nope'), /^INVALIDARG invalid event id 'nope'/);
    await rejects(send(c, 'ESCAN', 's', 'x', '+'), /^INVALIDARG invalid start version 'x'/);
    await rejects(send(c, 'ESCAN', 's', '-', '+', 'COUNT', '-1'), /^INVALIDARG invalid COUNT '-1'/);
    await rejects(send(c, 'ESCAN', 's', '-', '+', 'PARTITION_KEY'), /^INVALIDARG PARTITION_KEY requires a value$/);
    await rejects(send(c, 'EPSCAN', 'abc', '-', '+'), /^INVALIDARG invalid partition 'abc'/);
    await rejects(send(c, 'EPSEQ', '70000'), /^INVALIDARG invalid partition '70000'/);
    await rejects(send(c, 'SELECT', '1'), /^INVALIDARG DB index is out of range$/);
    await rejects(send(c, 'SELECT', 'x'), /^INVALIDARG value is not an integer or out of range$/);
    await rejects(send(c, 'CLIENT', 'SETNAME', 'has space'), /^INVALIDARG Client names cannot contain spaces/);
    await rejects(send(c, 'CLIENT', 'SETINFO', 'LIB-COLOUR', 'x'), /^INVALIDARG unrecognized option 'LIB-COLOUR'$/);
    await rejects(send(c, 'HELLO', 'three'), /^INVALIDARG protocol version is not an integer or out of range$/);
    await rejects(send(c, 'HELLO', '3', 'SETNAME'), /^INVALIDARG syntax error in HELLO option 'SETNAME'$/);
  });

  it("ESCAN's + start and - end (SierraDB's texts)", async () => {
    await rejects(send(c, 'ESCAN', 's', '+', '+'), /^INVALIDARG start version cannot be '\+'$/);
    await rejects(send(c, 'ESCAN', 's', '-', '-'), /^INVALIDARG end version cannot be '-'$/);
    await rejects(send(c, 'EPSCAN', '0', '+', '+'), /^INVALIDARG start sequence cannot be '\+'$/);
    await rejects(send(c, 'EPSCAN', '0', '-', '-'), /^INVALIDARG end sequence cannot be '-'$/);
  });

  it('TIMESTAMP in nanoseconds', async () => {
    await rejects(send(c, 'EAPPEND', 's', 'E', 'TIMESTAMP', '1700000000000000000'), /^INVALIDARG invalid timestamp format: expected milliseconds, got nanoseconds$/);
  });

  it('WRONGVER for every expectation that fails', async () => {
    await send(c, 'EAPPEND', 'occ', 'E');
    const pk = ((await send(c, 'EAPPEND', 'occ', 'E')) as Obj).partition_key as string;
    const text = (cur: string, exp: string) => new RegExp(`^WRONGVER current stream version is ${cur} but expected ${exp} for partition key ${pk} and stream id occ$`);
    await rejects(send(c, 'EAPPEND', 'occ', 'E', 'EXPECTED_VERSION', 'empty'), text('1', 'empty'));
    await rejects(send(c, 'EAPPEND', 'occ', 'E', 'EXPECTED_VERSION', '0'), text('1', '0'));
    await rejects(send(c, 'EAPPEND', 'occ', 'E', 'EXPECTED_VERSION', '7'), text('1', '7'));
    const fresh = ((await send(c, 'EMAPPEND', pk, 'occ-probe', 'E')) as Obj).partition_key as string;
    expect(fresh).toBe(pk);
    const textNew = (exp: string) => new RegExp(`^WRONGVER current stream version is empty but expected ${exp} for partition key [0-9a-f-]{36} and stream id occ-new$`);
    await rejects(send(c, 'EAPPEND', 'occ-new', 'E', 'EXPECTED_VERSION', 'exists'), textNew('exists'));
    await rejects(send(c, 'EAPPEND', 'occ-new', 'E', 'EXPECTED_VERSION', '0'), textNew('0'));
    expect(((await send(c, 'EAPPEND', 'occ', 'E', 'EXPECTED_VERSION', '1')) as Obj).stream_version).toBe(2);
    expect(((await send(c, 'EAPPEND', 'occ-new', 'E', 'EXPECTED_VERSION', 'empty')) as Obj).stream_version).toBe(0);
  });

  it('DBOPFAILED: a stream keeps its partition key; event names up to 255 bytes', async () => {
    const derived = (await send(c, 'EAPPEND', 'keyed', 'E')) as Obj;
    // Find another UUID whose partition lands in the same bucket (partition % 4) but is a different key.
    const pid = derived.partition_id as number;
    const other = [...Array(256).keys()]
      .map((n) => `00000000-0000-4000-80${n.toString(16).padStart(2, '0')}-000000000000`)
      .find((u) => {
        const b = Buffer.from(u.replaceAll('-', ''), 'hex');
        const hash = ((b[8] & 0x3f) << 10) | (b[9] << 2) | (b[10] >>> 6);
        return (hash % 32) % 4 === pid % 4;
      })!;
    await rejects(
      send(c, 'EAPPEND', 'keyed', 'E', 'PARTITION_KEY', other),
      new RegExp(`^DBOPFAILED database operation failed: partition key must be the same for all events in a stream: expected ${derived.partition_key}, got ${other}$`),
    );
    await rejects(send(c, 'EAPPEND', 'named', 'x'.repeat(256)), /^DBOPFAILED database operation failed: string too long: length is 256, maximum allowed is 255$/);
    expect(((await send(c, 'EAPPEND', 'named', 'x'.repeat(255))) as Obj).stream_version).toBe(0);
  });

  it('DBOPFAILED: events larger than a segment', async () => {
    await rejects(send(s, 'EAPPEND', 'huge', 'E', 'EXPECTED_VERSION', 'empty', 'PAYLOAD', 'x'.repeat(70_000)), /^DBOPFAILED database operation failed: events exceed the size of a single segment$/);
  });

  it('strict versioning rejects any and exists, also when EXPECTED_VERSION is omitted', async () => {
    await rejects(send(s, 'EAPPEND', 'st', 'E'), /^INVALIDARG strict versioning mode rejects EXPECTED_VERSION any$/);
    await rejects(send(s, 'EAPPEND', 'st', 'E', 'EXPECTED_VERSION', 'any'), /^INVALIDARG strict versioning mode rejects EXPECTED_VERSION any$/);
    await rejects(send(s, 'EAPPEND', 'st', 'E', 'EXPECTED_VERSION', 'exists'), /^INVALIDARG strict versioning mode rejects EXPECTED_VERSION exists$/);
    await rejects(send(s, 'EMAPPEND', '550e8400-e29b-41d4-a716-446655440000', 'st', 'E'), /^INVALIDARG strict versioning mode rejects EXPECTED_VERSION any$/);
    expect(((await send(s, 'EAPPEND', 'st', 'E', 'EXPECTED_VERSION', 'empty')) as Obj).stream_version).toBe(0);
    expect(((await send(s, 'EAPPEND', 'st', 'E', 'EXPECTED_VERSION', '0')) as Obj).stream_version).toBe(1);
  });

  it('CLUSTERDOWN for a partition this node does not have', async () => {
    await rejects(send(c, 'EPSCAN', '32', '-', '+'), /^CLUSTERDOWN partition unavailable$/);
    await rejects(send(c, 'EPSEQ', '65535'), /^CLUSTERDOWN partition unavailable$/);
  });

  it('HELLO with an unsupported protocol version', async () => {
    await rejects(send(c, 'HELLO', '4'), /^NOPROTO unsupported protocol version$/);
    await rejects(send(c, 'HELLO', '1'), /^NOPROTO unsupported protocol version$/);
    expect(await send(c, 'PING')).toBe('PONG');
  });
});

describe('authentication (server.requirepass)', () => {
  let auth: ServerProcess;
  beforeAll(async () => {
    auth = await startServer({ args: ['--requirepass', 's3cret'] });
  });
  afterAll(async () => {
    await auth?.stop();
  });

  it('NOAUTH before AUTH, WRONGPASS for a wrong password, then everything works', async () => {
    const { RawClient } = await import('./helpers/raw-client.ts');
    const raw = await RawClient.connect(auth.port);
    raw.send('EAPPEND', 'secret', 'E');
    raw.send('PING');
    raw.send('HELLO', '3');
    raw.send('AUTH', 'wrong');
    raw.send('AUTH', 'nobody', 's3cret');
    raw.send('AUTH', 's3cret');
    raw.send('PING');
    const replies = (await raw.readReplies(7)).map(String);
    expect(replies).toEqual([
      'NOAUTH Authentication required.',
      'NOAUTH Authentication required.',
      expect.stringMatching(/^NOAUTH HELLO must be called with the client already authenticated/),
      'WRONGPASS invalid username-password pair or user is disabled.',
      'WRONGPASS invalid username-password pair or user is disabled.',
      'OK',
      'PONG',
    ]);
    raw.close();
  });

  it('node-redis authenticates with HELLO 3 AUTH', async () => {
    const client = await connect(auth.port, { password: 's3cret' });
    expect(((await send(client, 'EAPPEND', 'secret', 'E')) as Obj).stream_version).toBe(0);
    await client.close();
    await expect(connect(auth.port, { password: 'nope' })).rejects.toThrow(/WRONGPASS/);
  });

  it('AUTH without a configured password', async () => {
    await rejects(send(c, 'AUTH', 'x'), /^ERR AUTH <password> called without any password configured for the default user/);
    expect(await send(c, 'AUTH', 'default', 'anything')).toBe('OK');
  });

  function rejects(p: Promise<unknown>, re: RegExp) {
    return expect(p).rejects.toThrow(re);
  }
});
