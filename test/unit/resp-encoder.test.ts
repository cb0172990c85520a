import { describe, expect, it } from 'vitest';
import { RespEncoder, encodeSimpleString, type RespProtocol } from '../../src/protocol/resp-encoder.ts';
import { RespPush, RespReplyParser, VerbatimString, type RespValue } from '../../src/protocol/resp-reply-parser.ts';
import { ReplyError, errorCode } from '../../src/protocol/reply-error.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

const rng = seededRandom;

function bytes(protocol: RespProtocol, write: (e: RespEncoder) => void): string {
  const encoder = new RespEncoder({ protocol });
  write(encoder);
  return encoder.take().toString('latin1');
}

/** Expected bytes of one call, in RESP3 and in RESP2. */
const typeCases: [string, (e: RespEncoder) => void, string, string][] = [
  ['simpleString', (e) => e.simpleString('OK'), '+OK\r\n', '+OK\r\n'],
  ['simpleString empty', (e) => e.simpleString(''), '+\r\n', '+\r\n'],
  ['simpleString CR/LF become spaces', (e) => e.simpleString('a\r\nb'), '+a  b\r\n', '+a  b\r\n'],
  ['simpleString unicode', (e) => e.simpleString('é€'), '+\xc3\xa9\xe2\x82\xac\r\n', '+\xc3\xa9\xe2\x82\xac\r\n'],
  ['simpleString long with LF', (e) => e.simpleString(`${'x'.repeat(70)}\n`), `+${'x'.repeat(70)} \r\n`, `+${'x'.repeat(70)} \r\n`],
  ['error', (e) => e.error('WRONGVER current stream version is empty but expected 3'), '-WRONGVER current stream version is empty but expected 3\r\n', '-WRONGVER current stream version is empty but expected 3\r\n'],
  ['error with newline', (e) => e.error("INVALIDARG unknown command 'A\r\nB'"), "-INVALIDARG unknown command 'A  B'\r\n", "-INVALIDARG unknown command 'A  B'\r\n"],
  ['replyError', (e) => e.replyError(new ReplyError(errorCode.NOTFOUND, 'subscription not found')), '-NOTFOUND subscription not found\r\n', '-NOTFOUND subscription not found\r\n'],
  ['replyError codeless', (e) => e.replyError(ReplyError.codeless('failed to acknowledge events')), '-failed to acknowledge events\r\n', '-failed to acknowledge events\r\n'],
  ['integer 0', (e) => e.integer(0), ':0\r\n', ':0\r\n'],
  ['integer 7', (e) => e.integer(7), ':7\r\n', ':7\r\n'],
  ['integer 42', (e) => e.integer(42), ':42\r\n', ':42\r\n'],
  ['integer 1000', (e) => e.integer(1000), ':1000\r\n', ':1000\r\n'],
  ['integer -1', (e) => e.integer(-1), ':-1\r\n', ':-1\r\n'],
  ['integer -123456', (e) => e.integer(-123456), ':-123456\r\n', ':-123456\r\n'],
  ['integer max safe', (e) => e.integer(Number.MAX_SAFE_INTEGER), ':9007199254740991\r\n', ':9007199254740991\r\n'],
  ['integer 10^15', (e) => e.integer(1e15), ':1000000000000000\r\n', ':1000000000000000\r\n'],
  ['integer bigint', (e) => e.integer(18446744073709551615n >> 1n), ':9223372036854775807\r\n', ':9223372036854775807\r\n'],
  ['integer bigint min', (e) => e.integer(-(1n << 63n)), ':-9223372036854775808\r\n', ':-9223372036854775808\r\n'],
  ['double', (e) => e.double(0.5), ',0.5\r\n', '$3\r\n0.5\r\n'],
  ['double integral', (e) => e.double(1), ',1\r\n', '$1\r\n1\r\n'],
  ['double exponent', (e) => e.double(1e21), ',1e+21\r\n', '$5\r\n1e+21\r\n'],
  ['double inf', (e) => e.double(Infinity), ',inf\r\n', '$3\r\ninf\r\n'],
  ['double -inf', (e) => e.double(-Infinity), ',-inf\r\n', '$4\r\n-inf\r\n'],
  ['double nan', (e) => e.double(NaN), ',nan\r\n', '$3\r\nnan\r\n'],
  ['double -0', (e) => e.double(-0), ',-0\r\n', '$2\r\n-0\r\n'],
  ['bigNumber', (e) => e.bigNumber(3492890328409238509324850943850943825024385n), '(3492890328409238509324850943850943825024385\r\n', '$43\r\n3492890328409238509324850943850943825024385\r\n'],
  ['bulkString buffer', (e) => e.bulkString(Buffer.from('a\r\n\0b', 'latin1')), '$5\r\na\r\n\0b\r\n', '$5\r\na\r\n\0b\r\n'],
  ['bulkString empty', (e) => e.bulkString(Buffer.alloc(0)), '$0\r\n\r\n', '$0\r\n\r\n'],
  ['bulkString empty string', (e) => e.bulkString(''), '$0\r\n\r\n', '$0\r\n\r\n'],
  ['bulkString string', (e) => e.bulkString('user-123'), '$8\r\nuser-123\r\n', '$8\r\nuser-123\r\n'],
  ['bulkString unicode', (e) => e.bulkString('aé'), '$3\r\na\xc3\xa9\r\n', '$3\r\na\xc3\xa9\r\n'],
  ['bulkString long unicode', (e) => e.bulkString(`${'y'.repeat(80)}€`), `$83\r\n${'y'.repeat(80)}\xe2\x82\xac\r\n`, `$83\r\n${'y'.repeat(80)}\xe2\x82\xac\r\n`],
  ['bulkString Uint8Array', (e) => e.bulkString(new Uint8Array([1, 2, 3])), '$3\r\n\x01\x02\x03\r\n', '$3\r\n\x01\x02\x03\r\n'],
  ['null', (e) => e.null(), '_\r\n', '$-1\r\n'],
  ['nullArray', (e) => e.nullArray(), '_\r\n', '*-1\r\n'],
  ['boolean true', (e) => e.boolean(true), '#t\r\n', ':1\r\n'],
  ['boolean false', (e) => e.boolean(false), '#f\r\n', ':0\r\n'],
  ['verbatim', (e) => e.verbatim('Some string'), '=15\r\ntxt:Some string\r\n', '$11\r\nSome string\r\n'],
  ['verbatim mkd', (e) => e.verbatim('# x', 'mkd'), '=7\r\nmkd:# x\r\n', '$3\r\n# x\r\n'],
  ['arrayHeader', (e) => e.arrayHeader(2), '*2\r\n', '*2\r\n'],
  ['arrayHeader 0', (e) => e.arrayHeader(0), '*0\r\n', '*0\r\n'],
  ['mapHeader', (e) => e.mapHeader(11), '%11\r\n', '*22\r\n'],
  ['mapHeader 0', (e) => e.mapHeader(0), '%0\r\n', '*0\r\n'],
  ['setHeader', (e) => e.setHeader(3), '~3\r\n', '*3\r\n'],
  ['pushHeader', (e) => e.pushHeader(4), '>4\r\n', '*4\r\n'],
  ['raw', (e) => e.raw(Buffer.from('+PONG\r\n')), '+PONG\r\n', '+PONG\r\n'],
  ['raw longer than the copy loop', (e) => e.raw(Buffer.from(`+${'k'.repeat(40)}\r\n`)), `+${'k'.repeat(40)}\r\n`, `+${'k'.repeat(40)}\r\n`],
  ['bulkStringRange', (e) => e.bulkStringRange(Buffer.from('xxhello worldyy'), 2, 13), '$11\r\nhello world\r\n', '$11\r\nhello world\r\n'],
  ['bulkStringRange long', (e) => e.bulkStringRange(Buffer.from(`<${'p'.repeat(200)}>`), 1, 201), `$200\r\n${'p'.repeat(200)}\r\n`, `$200\r\n${'p'.repeat(200)}\r\n`],
  ['bulkStringRange empty', (e) => e.bulkStringRange(Buffer.from('abc'), 1, 1), '$0\r\n\r\n', '$0\r\n\r\n'],
];

describe('byte-exact replies, RESP3 and RESP2', () => {
  for (const [name, write, resp3, resp2] of typeCases) {
    it(name, () => {
      expect(bytes(3, write)).toBe(resp3);
      expect(bytes(2, write)).toBe(resp2);
    });
  }

  it('encodeSimpleString pre-encodes a constant for raw()', () => {
    expect(encodeSimpleString('event_id').toString()).toBe('+event_id\r\n');
    expect(bytes(2, (e) => e.raw(encodeSimpleString('payload')))).toBe('+payload\r\n');
  });

  it('rejects values that have no RESP encoding', () => {
    const e = new RespEncoder();
    expect(() => e.integer(1.5)).toThrow(RangeError);
    expect(() => e.integer(2 ** 60)).toThrow(RangeError);
    expect(() => e.integer(1n << 63n)).toThrow(RangeError);
    expect(() => e.arrayHeader(-1)).toThrow(RangeError);
    expect(() => e.verbatim('x', 'markdown')).toThrow(RangeError);
    expect(() => new RespEncoder({ protocol: 4 as never })).toThrow(RangeError);
    expect(e.length).toBe(0);
  });
});

/** The event map of reference §1.4: %11, simple-string keys, in this order. */
function writeEvent(e: RespEncoder, payload: Buffer): void {
  e.mapHeader(11);
  e.simpleString('event_id');
  e.simpleString('0190f3a2-7b1c-7d47-bb95-53973100148f');
  e.simpleString('partition_key');
  e.simpleString('7e124fe8-fe28-5398-bb95-53973100148f');
  e.simpleString('partition_id');
  e.integer(21);
  e.simpleString('transaction_id');
  e.simpleString('5b0c0f6e-2d0a-4c6f-9a53-0f3c2b1d4e5f');
  e.simpleString('partition_sequence');
  e.integer(0);
  e.simpleString('stream_version');
  e.integer(0);
  e.simpleString('timestamp');
  e.integer(1700000000000);
  e.simpleString('stream_id');
  e.bulkString('user-123');
  e.simpleString('event_name');
  e.bulkString('UserRegistered');
  e.simpleString('metadata');
  e.bulkString(Buffer.alloc(0));
  e.simpleString('payload');
  e.bulkString(payload);
}

const eventBody =
  '+event_id\r\n+0190f3a2-7b1c-7d47-bb95-53973100148f\r\n' +
  '+partition_key\r\n+7e124fe8-fe28-5398-bb95-53973100148f\r\n' +
  '+partition_id\r\n:21\r\n' +
  '+transaction_id\r\n+5b0c0f6e-2d0a-4c6f-9a53-0f3c2b1d4e5f\r\n' +
  '+partition_sequence\r\n:0\r\n' +
  '+stream_version\r\n:0\r\n' +
  '+timestamp\r\n:1700000000000\r\n' +
  '+stream_id\r\n$8\r\nuser-123\r\n' +
  '+event_name\r\n$14\r\nUserRegistered\r\n' +
  '+metadata\r\n$0\r\n\r\n' +
  '+payload\r\n$14\r\n{"name":"ada"}\r\n';

describe('the event map (reference §1.4)', () => {
  const payload = Buffer.from('{"name":"ada"}');
  it('RESP3: %11 with simple-string keys', () => {
    expect(bytes(3, (e) => writeEvent(e, payload))).toBe(`%11\r\n${eventBody}`);
  });
  it('RESP2: the same 22 elements as a flat array', () => {
    expect(bytes(2, (e) => writeEvent(e, payload))).toBe(`*22\r\n${eventBody}`);
  });
  it('a subscription message push: >4 then the event', () => {
    const out = bytes(3, (e) => {
      e.simpleString('8d7e1c1a-0000-4000-8000-000000000001');
      e.pushHeader(3);
      e.simpleString('subscribe');
      e.simpleString('8d7e1c1a-0000-4000-8000-000000000001');
      e.integer(1);
      e.pushHeader(4);
      e.simpleString('message');
      e.simpleString('8d7e1c1a-0000-4000-8000-000000000001');
      e.integer(0);
      writeEvent(e, payload);
    });
    expect(out).toBe(
      '+8d7e1c1a-0000-4000-8000-000000000001\r\n' +
        '>3\r\n+subscribe\r\n+8d7e1c1a-0000-4000-8000-000000000001\r\n:1\r\n' +
        `>4\r\n+message\r\n+8d7e1c1a-0000-4000-8000-000000000001\r\n:0\r\n%11\r\n${eventBody}`,
    );
  });
});

describe('batching', () => {
  it('accumulates a pipelined batch and take() resets', () => {
    const e = new RespEncoder();
    e.simpleString('PONG');
    e.integer(5);
    expect(e.length).toBe(11);
    expect(e.take().toString()).toBe('+PONG\r\n:5\r\n');
    expect(e.length).toBe(0);
    expect(e.take().length).toBe(0);
    e.null();
    expect(e.take().toString()).toBe('_\r\n');
  });

  it('switches protocol between replies (HELLO 2)', () => {
    const e = new RespEncoder();
    e.boolean(true);
    e.protocol = 2;
    e.boolean(true);
    e.protocol = 3;
    e.null();
    expect(e.take().toString()).toBe('#t\r\n:1\r\n_\r\n');
  });

  it('views handed out by take() survive later writes and slab replacement', () => {
    const e = new RespEncoder({ slabBytes: 64 });
    const taken: [Buffer, string][] = [];
    const next = rng(7);
    for (let round = 0; round < 2000; round++) {
      let expected = '';
      const replies = 1 + Math.floor(next() * 5);
      for (let r = 0; r < replies; r++) {
        const text = 'z'.repeat(Math.floor(next() * (next() < 0.1 ? 500 : 40)));
        e.bulkString(text);
        expected += `$${text.length}\r\n${text}\r\n`;
      }
      expect(e.length).toBe(expected.length);
      taken.push([e.take(), expected]);
    }
    for (const [buffer, expected] of taken) expect(buffer.toString()).toBe(expected);
  });

  it('keeps an unfinished batch when the slab is replaced', () => {
    const e = new RespEncoder({ slabBytes: 64 });
    e.arrayHeader(3);
    e.bulkString('a'.repeat(50));
    e.bulkString('b'.repeat(100));
    e.integer(1);
    expect(e.take().toString()).toBe(`*3\r\n$50\r\n${'a'.repeat(50)}\r\n$100\r\n${'b'.repeat(100)}\r\n:1\r\n`);
  });

  it('integers: every digit count and the int32 / 10^8 boundaries, then 100,000 random safe integers', () => {
    const e = new RespEncoder({ slabBytes: 64 });
    const check = (n: number) => {
      e.integer(n);
      const got = e.take().toString('latin1');
      if (got !== `:${n}\r\n`) expect(got).toBe(`:${n}\r\n`);
    };
    for (let d = 0; d <= 16; d++) for (const n of [10 ** d - 1, 10 ** d, 10 ** d + 1]) if (Number.isSafeInteger(n)) (check(n), check(-n));
    for (const n of [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32, 1e8 * 2 ** 26 - 1, 1_763_900_000_123, Number.MAX_SAFE_INTEGER]) (check(n), check(-n));
    const next = rng(3);
    for (let i = 0; i < 100_000; i++) check(Math.floor(next() * 2 ** Math.floor(next() * 54)) * (next() < 0.1 ? -1 : 1));
  });

  it('takes slabs from its SlabSource and hands each replaced one back', () => {
    const given: Buffer[] = [];
    const retired: Buffer[] = [];
    const e = new RespEncoder({
      slabBytes: 64,
      slabs: {
        take: () => {
          const b = Buffer.alloc(64);
          given.push(b);
          return b;
        },
        retired: (b) => retired.push(b),
      },
    });
    let expected = '';
    for (let i = 0; i < 20; i++) {
      e.bulkString('s'.repeat(i));
      expected += `$${i}\r\n${'s'.repeat(i)}\r\n`;
    }
    // The batch outgrew a slab and went to a bigger one of its own (not from the source), then back to 64 B slabs.
    expect(e.take().toString()).toBe(expected);
    for (let i = 0; i < 20; i++) {
      e.simpleString('ok');
      expect(e.take().toString()).toBe('+ok\r\n');
    }
    expect(given.length).toBeGreaterThan(1);
    expect(retired.length).toBeGreaterThan(0);
    for (const r of retired) expect(r === e.slab).toBe(false);
    expect(given.includes(e.slab)).toBe(true);
  });

  it('truncate() drops a half-written reply', () => {
    const e = new RespEncoder();
    e.simpleString('OK');
    const mark = e.length;
    e.mapHeader(2);
    e.simpleString('half');
    e.truncate(mark);
    e.error('ERR something failed');
    expect(e.take().toString()).toBe('+OK\r\n-ERR something failed\r\n');
    expect(() => e.truncate(1)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Round trip: random nested values -> encoder -> reply parser, in both protocols.

type Spec =
  | { kind: 'simple'; v: string }
  | { kind: 'error'; v: string }
  | { kind: 'integer'; v: number | bigint }
  | { kind: 'double'; v: number }
  | { kind: 'big'; v: bigint }
  | { kind: 'bulk'; v: Buffer | string }
  | { kind: 'null' }
  | { kind: 'nullArray' }
  | { kind: 'boolean'; v: boolean }
  | { kind: 'verbatim'; v: string }
  | { kind: 'array'; v: Spec[] }
  | { kind: 'map'; v: [Spec, Spec][] }
  | { kind: 'set'; v: Spec[] }
  | { kind: 'push'; v: Spec[] };

function randomText(next: () => number, alphabet: string): string {
  const chars = Array.from(alphabet); // code points, so the emoji is never split into lone surrogates
  const length = Math.floor(next() * (next() < 0.1 ? 200 : 12));
  let s = '';
  for (let k = 0; k < length; k++) s += chars[Math.floor(next() * chars.length)];
  return s;
}

const textAlphabet = 'abcXYZ019 _-:{}"é€😀';

function randomSpec(next: () => number, depth: number): Spec {
  const r = next();
  if (depth < 4 && r < 0.25) {
    const n = Math.floor(next() * 5);
    const kind = next();
    if (kind < 0.4) return { kind: 'array', v: Array.from({ length: n }, () => randomSpec(next, depth + 1)) };
    if (kind < 0.8) {
      return {
        kind: 'map',
        // Keys are unique (a Map keeps one entry per key): numbered simple strings, or blobs (distinct Buffers).
        v: Array.from({ length: n }, (_, k) => [
          { kind: next() < 0.7 ? 'simple' : 'bulk', v: `${randomText(next, 'abc_xyz')}#${k}` },
          randomSpec(next, depth + 1),
        ]),
      };
    }
    // Members are unique (a Set keeps one of equal primitives): numbered simple strings, blobs, or arrays.
    return {
      kind: 'set',
      v: Array.from({ length: n }, (_, k): Spec => {
        const w = next();
        if (w < 0.5) return { kind: 'simple', v: `${randomText(next, textAlphabet)}#${k}` };
        if (w < 0.8) return { kind: 'bulk', v: randomText(next, textAlphabet) };
        return { kind: 'array', v: [randomSpec(next, depth + 1)] };
      }),
    };
  }
  const t = Math.floor(next() * 11);
  switch (t) {
    case 0:
      return { kind: 'simple', v: randomText(next, textAlphabet) };
    case 1:
      return { kind: 'error', v: `${next() < 0.5 ? 'WRONGVER ' : ''}${randomText(next, textAlphabet)}` };
    case 2: {
      const w = next();
      if (w < 0.4) return { kind: 'integer', v: Math.floor(next() * 2000) - 1000 };
      if (w < 0.7) return { kind: 'integer', v: Math.floor((next() - 0.5) * 2 * Number.MAX_SAFE_INTEGER) };
      return { kind: 'integer', v: BigInt.asIntN(64, BigInt(Math.floor(next() * 2 ** 32)) * BigInt(Math.floor(next() * 2 ** 32))) };
    }
    case 3: {
      const w = next();
      if (w < 0.1) return { kind: 'double', v: [Infinity, -Infinity, NaN, -0, 0][Math.floor(next() * 5)] };
      return { kind: 'double', v: (next() - 0.5) * 10 ** Math.floor(next() * 40 - 20) };
    }
    case 4:
      return { kind: 'big', v: BigInt(Math.floor(next() * 2 ** 52)) ** 3n * (next() < 0.5 ? -1n : 1n) };
    case 5: {
      if (next() < 0.5) return { kind: 'bulk', v: randomText(next, textAlphabet) };
      const b = Buffer.alloc(Math.floor(next() * 40));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(next() * 256);
      return { kind: 'bulk', v: b };
    }
    case 6:
      return { kind: 'null' };
    case 7:
      return { kind: 'nullArray' };
    case 8:
      return { kind: 'boolean', v: next() < 0.5 };
    case 9:
      return { kind: 'verbatim', v: randomText(next, textAlphabet) };
    default:
      return { kind: 'simple', v: String(Math.floor(next() * 100)) };
  }
}

function encode(e: RespEncoder, spec: Spec): void {
  switch (spec.kind) {
    case 'simple':
      return e.simpleString(spec.v);
    case 'error':
      return e.error(spec.v);
    case 'integer':
      return e.integer(spec.v);
    case 'double':
      return e.double(spec.v);
    case 'big':
      return e.bigNumber(spec.v);
    case 'bulk':
      return e.bulkString(spec.v);
    case 'null':
      return e.null();
    case 'nullArray':
      return e.nullArray();
    case 'boolean':
      return e.boolean(spec.v);
    case 'verbatim':
      return e.verbatim(spec.v);
    case 'array':
      e.arrayHeader(spec.v.length);
      for (const s of spec.v) encode(e, s);
      return;
    case 'set':
      e.setHeader(spec.v.length);
      for (const s of spec.v) encode(e, s);
      return;
    case 'push':
      e.pushHeader(spec.v.length);
      for (const s of spec.v) encode(e, s);
      return;
    case 'map':
      e.mapHeader(spec.v.length);
      for (const [k, v] of spec.v) {
        encode(e, k);
        encode(e, v);
      }
      return;
  }
}

/** A comparable form of a parsed value (NaN, -0, Buffers, Maps and classes made explicit). */
function norm(value: RespValue): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return { s: value };
  if (typeof value === 'number') return { n: Object.is(value, -0) ? '-0' : String(value) };
  if (typeof value === 'bigint') return { big: String(value) };
  if (Buffer.isBuffer(value)) return { b: value.toString('hex') };
  if (value instanceof ReplyError) return { err: `${value.code}|${value.message}` };
  if (value instanceof VerbatimString) return { verbatim: `${value.format}:${value.text}` };
  if (value instanceof RespPush) return { push: value.data.map(norm) };
  if (Array.isArray(value)) return { a: value.map(norm) };
  if (value instanceof Map) return { m: [...value].map(([k, v]) => [norm(k), norm(v)]) };
  if (value instanceof Set) return { set: [...value].map(norm) };
  throw new Error(`unexpected value ${String(value)}`);
}

function doubleText(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return Object.is(x, -0) ? '-0' : String(x);
}

/** What the reply parser should give back for `spec` written in `protocol`. */
function expectedNorm(spec: Spec, protocol: RespProtocol): unknown {
  const bulk = (text: string) => ({ b: Buffer.from(text).toString('hex') });
  switch (spec.kind) {
    case 'simple':
      return { s: spec.v };
    case 'error': {
      const error = ReplyError.fromWire(spec.v);
      return { err: `${error.code}|${error.message}` };
    }
    case 'integer': {
      const safe = typeof spec.v === 'number' || (spec.v >= BigInt(Number.MIN_SAFE_INTEGER) && spec.v <= BigInt(Number.MAX_SAFE_INTEGER));
      return safe ? { n: String(Number(spec.v)) } : { big: String(spec.v) };
    }
    case 'double':
      return protocol === 3 ? { n: Object.is(spec.v, -0) ? '-0' : String(spec.v) } : bulk(doubleText(spec.v));
    case 'big':
      return protocol === 3 ? { big: String(spec.v) } : bulk(String(spec.v));
    case 'bulk':
      return { b: (typeof spec.v === 'string' ? Buffer.from(spec.v) : spec.v).toString('hex') };
    case 'null':
    case 'nullArray':
      return null;
    case 'boolean':
      return protocol === 3 ? spec.v : { n: spec.v ? '1' : '0' };
    case 'verbatim':
      return protocol === 3 ? { verbatim: `txt:${spec.v}` } : bulk(spec.v);
    case 'array':
      return { a: spec.v.map((s) => expectedNorm(s, protocol)) };
    case 'set':
      return protocol === 3 ? { set: spec.v.map((s) => expectedNorm(s, protocol)) } : { a: spec.v.map((s) => expectedNorm(s, protocol)) };
    case 'push':
      return protocol === 3 ? { push: spec.v.map((s) => expectedNorm(s, protocol)) } : { a: spec.v.map((s) => expectedNorm(s, protocol)) };
    case 'map':
      return protocol === 3
        ? { m: spec.v.map(([k, v]) => [expectedNorm(k, protocol), expectedNorm(v, protocol)]) }
        : { a: spec.v.flatMap(([k, v]) => [expectedNorm(k, protocol), expectedNorm(v, protocol)]) };
  }
}

describe('round trip: encoder -> reply parser (seeded)', () => {
  for (const protocol of [3, 2] as const) {
    it(`RESP${protocol}: 3,000 random nested replies, pushes between them, at random splits`, () => {
      const seed = 1234 + protocol;
      const next = rng(seed);
      const specs: Spec[] = [];
      for (let k = 0; k < 3000; k++) {
        specs.push(next() < 0.1 ? { kind: 'push', v: [{ kind: 'simple', v: 'message' }, randomSpec(next, 1)] } : randomSpec(next, 0));
      }
      const e = new RespEncoder({ protocol, slabBytes: 1024 });
      for (const spec of specs) encode(e, spec);
      const wire = e.take();
      const parser = new RespReplyParser();
      const got: unknown[] = [];
      let at = 0;
      while (at < wire.length) {
        const size = 1 + Math.floor(next() * 64);
        const error = parser.feed(wire.subarray(at, at + size), (v) => got.push(norm(v)));
        expect(error, `seed ${seed}`).toBeUndefined();
        at += size;
      }
      expect(parser.inReply).toBe(false);
      expect(got.length).toBe(specs.length);
      for (let k = 0; k < specs.length; k++) expect(got[k], `seed ${seed} reply ${k}`).toEqual(expectedNorm(specs[k], protocol));
    });
  }
});
