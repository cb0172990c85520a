import { describe, expect, it } from 'vitest';
import { RespPush, RespReplyParser, VerbatimString, replyMapToObject, type RespValue } from '../../src/protocol/resp-reply-parser.ts';
import { ReplyError } from '../../src/protocol/reply-error.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

const rng = seededRandom;

type Split = 'whole' | 'bytes' | { seed: number };

function chunksOf(input: Buffer, split: Split): Buffer[] {
  if (split === 'whole') return [input];
  if (split === 'bytes') return Array.from({ length: input.length }, (_, k) => input.subarray(k, k + 1));
  const next = rng(split.seed);
  const out: Buffer[] = [];
  for (let at = 0; at < input.length; ) {
    const size = 1 + Math.floor(next() * 12);
    out.push(input.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Parses through one reused read buffer, so a value that kept a view into a chunk would be corrupted. */
function parse(input: Buffer, split: Split): { values: RespValue[]; error: string | undefined; pending: boolean } {
  const parser = new RespReplyParser();
  const values: RespValue[] = [];
  const readBuffer = Buffer.alloc(Math.max(1, input.length));
  let error: string | undefined;
  for (const piece of chunksOf(input, split)) {
    piece.copy(readBuffer);
    const result = parser.feed(readBuffer.subarray(0, piece.length), (v) => values.push(v));
    readBuffer.fill(0x5a);
    if (result) {
      error = result.reason;
      break;
    }
  }
  return { values, error, pending: parser.inReply };
}

/** Every case whole, byte by byte and at three seeded random splits; all must give `expected`. */
function check(input: string, expected: RespValue[], error?: string): void {
  const bytes = Buffer.from(input, 'latin1');
  for (const split of ['whole', 'bytes', { seed: 1 }, { seed: 2 }, { seed: 3 }] as const) {
    const result = parse(bytes, split);
    expect(result.error, JSON.stringify(split)).toBe(error);
    expect(result.values, JSON.stringify(split)).toEqual(expected);
    if (error === undefined) expect(result.pending).toBe(false);
  }
}

const b = (s: string) => Buffer.from(s, 'latin1');

describe('RESP3 types', () => {
  it('simple string', () => check('+OK\r\n+\r\n', ['OK', '']));
  it('simple string as UTF-8', () => check('+\xc3\xa9\r\n', ['é']));
  it('error', () => {
    const parser = new RespReplyParser();
    const got: RespValue[] = [];
    parser.feed(b('-WRONGVER current stream version is empty but expected 3\r\n-the event id must embed the partition hash\r\n-ERR\r\n'), (v) => got.push(v));
    const [wrongver, codeless, bare] = got as ReplyError[];
    expect(wrongver).toBeInstanceOf(ReplyError);
    expect(wrongver.code).toBe('WRONGVER');
    expect(wrongver.message).toBe('current stream version is empty but expected 3');
    expect(wrongver.toString()).toBe('WRONGVER current stream version is empty but expected 3');
    expect(wrongver.isRetryable()).toBe(false);
    expect(codeless.code).toBe('');
    expect(codeless.toString()).toBe('the event id must embed the partition hash');
    expect(bare.code).toBe('ERR');
    expect(bare.toString()).toBe('ERR');
  });
  it('blob error', () => check('!21\r\nSYNTAX invalid syntax\r\n', [new ReplyError('SYNTAX', 'invalid syntax')]));
  it('integers: numbers when safe, bigint beyond', () =>
    check(':0\r\n:-12\r\n:+7\r\n:9007199254740991\r\n:9007199254740992\r\n:-9223372036854775808\r\n', [0, -12, 7, 9007199254740991, 9007199254740992n, -9223372036854775808n]));
  it('blob strings, binary safe', () => check('$5\r\na\r\n\0b\r\n$0\r\n\r\n', [b('a\r\n\0b'), b('')]));
  it('doubles', () => check(',1.5\r\n,-0.25\r\n,1e+21\r\n,10\r\n,inf\r\n,-inf\r\n,nan\r\n,.5\r\n', [1.5, -0.25, 1e21, 10, Infinity, -Infinity, NaN, 0.5]));
  it('big numbers', () => check('(3492890328409238509324850943850943825024385\r\n(-1\r\n', [3492890328409238509324850943850943825024385n, -1n]));
  it('booleans and null', () => check('#t\r\n#f\r\n_\r\n', [true, false, null]));
  it('verbatim strings', () => check('=15\r\ntxt:Some string\r\n=4\r\nmkd:\r\n', [new VerbatimString('txt', 'Some string'), new VerbatimString('mkd', '')]));
  it('arrays, nested and empty', () => check('*3\r\n:1\r\n*2\r\n+a\r\n$1\r\nb\r\n*0\r\n*0\r\n', [[1, ['a', b('b')], []], []]));
  it('maps keep order and key types', () => {
    check('%2\r\n+event_id\r\n+x\r\n$6\r\nserver\r\n$8\r\nsierradb\r\n%0\r\n', [
      new Map<RespValue, RespValue>([
        ['event_id', 'x'],
        [b('server'), b('sierradb')],
      ]),
      new Map(),
    ]);
  });
  it('sets', () => check('~2\r\n+a\r\n:1\r\n', [new Set(['a', 1])]));
  it('pushes are marked', () =>
    check('>3\r\n+subscribe\r\n+id\r\n:1\r\n+OK\r\n', [new RespPush(['subscribe', 'id', 1]), 'OK']));
  it('attributes are dropped, at top level and inside aggregates', () =>
    check('|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n|0\r\n+x\r\n', [[1, 2], 'x']));
  it('the event map (reference §1.4)', () => {
    const wire =
      '%11\r\n+event_id\r\n+0190f3a2-7b1c-7d47-bb95-53973100148f\r\n+partition_key\r\n+7e124fe8-fe28-5398-bb95-53973100148f\r\n' +
      '+partition_id\r\n:21\r\n+transaction_id\r\n+5b0c0f6e-2d0a-4c6f-9a53-0f3c2b1d4e5f\r\n+partition_sequence\r\n:0\r\n' +
      '+stream_version\r\n:0\r\n+timestamp\r\n:1700000000000\r\n+stream_id\r\n$8\r\nuser-123\r\n+event_name\r\n$14\r\nUserRegistered\r\n' +
      '+metadata\r\n$0\r\n\r\n+payload\r\n$2\r\n{}\r\n';
    const result = parse(b(wire), 'bytes');
    expect(result.error).toBeUndefined();
    const event = result.values[0] as Map<RespValue, RespValue>;
    expect([...event.keys()]).toEqual(['event_id', 'partition_key', 'partition_id', 'transaction_id', 'partition_sequence', 'stream_version', 'timestamp', 'stream_id', 'event_name', 'metadata', 'payload']);
    expect(event.get('partition_id')).toBe(21);
    expect(event.get('stream_id')).toEqual(b('user-123'));
    expect(event.get('metadata')).toEqual(b(''));
  });
  it('replyMapToObject indexes blob and simple keys by text', () => {
    const map = new Map<RespValue, RespValue>([
      [b('server'), b('sierradb')],
      ['proto', 3],
    ]);
    const object = replyMapToObject(map);
    expect(object.server).toEqual(b('sierradb'));
    expect(object.proto).toBe(3);
  });
});

describe('RESP2 nulls', () => {
  it('$-1 and *-1 are null', () => check('$-1\r\n*-1\r\n*2\r\n$-1\r\n:1\r\n', [null, null, [null, 1]]));
});

describe('incremental delivery', () => {
  it('keeps a large blob that spans many chunks', () => {
    const data = Buffer.alloc(200_000);
    for (let k = 0; k < data.length; k++) data[k] = (k * 7) & 0xff;
    const wire = Buffer.concat([b(`*2\r\n$${data.length}\r\n`), data, b('\r\n:5\r\n')]);
    const parser = new RespReplyParser();
    const got: RespValue[] = [];
    for (let at = 0; at < wire.length; at += 1000) {
      expect(parser.feed(wire.subarray(at, at + 1000), (v) => got.push(v))).toBeUndefined();
      if (at + 1000 < wire.length) expect(parser.inReply).toBe(true);
    }
    expect(got.length).toBe(1);
    const [blob, five] = got[0] as [Buffer, number];
    expect(blob.equals(data)).toBe(true);
    expect(five).toBe(5);
    expect(parser.bufferedBytes).toBe(0);
  });

  it('delivers replies one by one as they complete', () => {
    const parser = new RespReplyParser();
    const got: RespValue[] = [];
    parser.feed(b('+A\r\n+B'), (v) => got.push(v));
    expect(got).toEqual(['A']);
    expect(parser.bufferedBytes).toBe(2);
    parser.feed(b('\r\n'), (v) => got.push(v));
    expect(got).toEqual(['A', 'B']);
  });
});

describe('malformed replies', () => {
  const cases: [string, string][] = [
    ['?x\r\n', "invalid reply type byte '?'"],
    [':1x\r\n', "invalid integer '1x'"],
    [':\r\n', "invalid integer ''"],
    [',abc\r\n', "invalid double 'abc'"],
    ['(1.5\r\n', "invalid big number '1.5'"],
    ['#x\r\n', "invalid boolean 'x'"],
    ['_x\r\n', "invalid null 'x'"],
    ['$-2\r\n', "invalid blob length '-2'"],
    ['$01\r\n', "invalid blob length '01'"],
    ['!-1\r\n', "invalid blob length '-1'"],
    ['$3\r\nabcd\r\n', 'expected CRLF after blob data'],
    ['*x\r\n', "invalid aggregate length 'x'"],
    ['%-1\r\n', "invalid aggregate length '-1'"],
    ['=3\r\ntxt\r\n', 'invalid verbatim string'],
    ['+OK\rX', 'expected CRLF at the end of a line'],
  ];
  for (const [input, reason] of cases) it(`${JSON.stringify(input)} -> ${reason}`, () => check(input, [], reason));

  it('delivers what came before an error, then stays failed', () => {
    check('+A\r\n?\r\n', ['A'], "invalid reply type byte '?'");
    const parser = new RespReplyParser();
    const first = parser.feed(b('?\r\n'), () => {});
    expect(parser.feed(b('+OK\r\n'), () => expect.unreachable())).toBe(first);
  });

  it('seeded fuzz: 20,000 mutated replies never throw and agree across splits', () => {
    const next = rng(99);
    const samples = ['+OK\r\n', ':12\r\n', '$3\r\nabc\r\n', '*2\r\n:1\r\n$1\r\nx\r\n', '%1\r\n+k\r\n#t\r\n', '>2\r\n+m\r\n_\r\n', ',1.5\r\n', '=5\r\ntxt:a\r\n', '|1\r\n+a\r\n+b\r\n:1\r\n', '-ERR x\r\n'];
    for (let round = 0; round < 20_000; round++) {
      let input = b(Array.from({ length: 1 + Math.floor(next() * 4) }, () => samples[Math.floor(next() * samples.length)]).join(''));
      const at = Math.floor(next() * input.length);
      const byte = [13, 10, 36, 42, 45, 48, 58, 37, 0, 0xff][Math.floor(next() * 10)];
      const r = next();
      if (r < 0.4) input[at] = byte;
      else if (r < 0.7) input = Buffer.concat([input.subarray(0, at), b(String.fromCharCode(byte)), input.subarray(at)]);
      else input = Buffer.concat([input.subarray(0, at), input.subarray(at + 1)]);
      const whole = parse(input, 'whole');
      const split = parse(input, { seed: round });
      expect(norm(split), `round ${round}: ${JSON.stringify(input.toString('latin1'))}`).toEqual(norm(whole));
    }
  });
});

function norm(result: { values: RespValue[]; error: string | undefined }): string {
  return JSON.stringify(result, (_key, value) =>
    typeof value === 'bigint' ? `${value}n` : value instanceof Map ? [...value] : value instanceof Set ? { set: [...value] } : Number.isNaN(value) ? 'NaN' : value,
  );
}
