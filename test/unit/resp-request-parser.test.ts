import { describe, expect, it } from 'vitest';
import {
  RespRequestParser,
  protocolErrorReason,
  splitInlineArguments,
  type RequestParserLimits,
} from '../../src/protocol/resp-request-parser.ts';
import { ProtocolError } from '../../src/protocol/reply-error.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

/** mulberry32: a small seeded generator, so every random case replays from its seed. */
const rng = seededRandom;

type Outcome = { requests: string[][]; error: string | undefined };
type Split = 'whole' | 'bytes' | { seed: number };

/** Cuts `input` into chunks: one, one per byte, or at seeded random points (1..16 bytes, sometimes larger). */
function chunksOf(input: Buffer, split: Split): Buffer[] {
  if (split === 'whole') return [input];
  if (split === 'bytes') return Array.from({ length: input.length }, (_, k) => input.subarray(k, k + 1));
  const next = rng(split.seed);
  const out: Buffer[] = [];
  let at = 0;
  while (at < input.length) {
    const size = next() < 0.8 ? 1 + Math.floor(next() * 16) : 1 + Math.floor(next() * 4096);
    out.push(input.subarray(at, at + size));
    at += size;
  }
  return out;
}

/**
 * Feeds the chunks through copies in one reused read buffer, as a server using `onread` would, so any view the
 * parser kept into an earlier chunk would show up as corruption.
 */
function run(input: Buffer, split: Split, limits: RequestParserLimits = {}): Outcome {
  const parser = new RespRequestParser(limits);
  const requests: string[][] = [];
  const readBuffer = Buffer.alloc(Math.max(1, input.length));
  let error: ProtocolError | undefined;
  for (const piece of chunksOf(input, split)) {
    piece.copy(readBuffer);
    const chunk = readBuffer.subarray(0, piece.length);
    error = parser.feed(chunk, (args) => requests.push(args.toBuffers().map((a) => a.toString('latin1'))));
    readBuffer.fill(0x5a); // "Z": overwrite what the parser saw
    if (error) break;
  }
  return { requests, error: error?.reason };
}

/** Runs a case whole, byte by byte, and at three seeded random splits, and checks they all agree with `expected`. */
function check(input: string | Buffer, expected: Outcome, limits: RequestParserLimits = {}): void {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  for (const split of ['whole', 'bytes', { seed: 1 }, { seed: 2 }, { seed: 3 }] as const) {
    expect(run(bytes, split, limits), JSON.stringify(split)).toEqual(expected);
  }
}

const ok = (...requests: string[][]): Outcome => ({ requests, error: undefined });
const fails = (reason: string, ...requests: string[][]): Outcome => ({ requests, error: reason });

function multibulk(...args: (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const b = typeof arg === 'string' ? Buffer.from(arg, 'latin1') : arg;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

describe('multibulk requests', () => {
  it('parses a single command', () => check('*1\r\n$4\r\nPING\r\n', ok(['PING'])));

  it('parses EAPPEND with options', () => {
    const args = ['EAPPEND', 'user-123', 'UserRegistered', 'EXPECTED_VERSION', 'empty', 'PAYLOAD', '{"name":"ada"}'];
    check(multibulk(...args), ok(args));
  });

  it('is binary safe: CRLF inside, zero bytes, empty, high bytes', () => {
    const args = ['a\r\nb', '\0\0\0', '', '\r\n', '$3\r\n', '\xff\xfe\x80', '*1\r\n'];
    check(multibulk('X', ...args), ok(['X', ...args]));
  });

  it('skips empty requests (*0 and negative counts) as Redis does', () => {
    check('*0\r\n*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n', ok(['PING']));
    check('*-9223372036854775808\r\n*1\r\n$1\r\nx\r\n', ok(['x']));
  });

  it('answers pipelined requests in order', () => {
    check(Buffer.concat([multibulk('A'), multibulk('B', 'c'), multibulk('D', '', 'e')]), ok(['A'], ['B', 'c'], ['D', '', 'e']));
  });

  it('parses a pipelined batch of 10,000 requests in one buffer, in order', () => {
    const batch = Buffer.concat(Array.from({ length: 10_000 }, (_, k) => multibulk('EAPPEND', `s-${k}`, 'E', 'PAYLOAD', 'x'.repeat(k % 300))));
    const expected = Array.from({ length: 10_000 }, (_, k) => ['EAPPEND', `s-${k}`, 'E', 'PAYLOAD', 'x'.repeat(k % 300)]);
    expect(run(batch, 'whole')).toEqual(ok(...expected));
    expect(run(batch, { seed: 42 })).toEqual(ok(...expected));
  });

  it('hands out views into the chunk when a bulk lies inside it', () => {
    const chunk = multibulk('GET', 'key');
    const parser = new RespRequestParser();
    let seen: Buffer[] = [];
    parser.feed(chunk, (args) => (seen = args.toBuffers()));
    expect(seen.map(String)).toEqual(['GET', 'key']);
    for (const arg of seen) expect(arg.buffer).toBe(chunk.buffer);
  });

  it('gives each request its arguments as ranges of the chunk, reused for the next request', () => {
    const chunk = Buffer.concat([multibulk('EAPPEND', 'stream-1', 'E'), multibulk('PING')]);
    const parser = new RespRequestParser();
    const seen: { count: number; ranges: [number, number][]; inChunk: boolean }[] = [];
    let object: unknown;
    parser.feed(chunk, (r) => {
      if (object !== undefined) expect(r).toBe(object);
      object = r;
      seen.push({ count: r.count, ranges: Array.from({ length: r.count }, (_, i) => [r.starts[i], r.ends[i]]), inChunk: r.buffers.slice(0, r.count).every((b) => b === chunk) });
    });
    expect(seen.map((x) => x.count)).toEqual([3, 1]);
    expect(seen.every((x) => x.inChunk)).toBe(true);
    expect(seen[0].ranges.map(([a, b]) => chunk.toString('latin1', a, b))).toEqual(['EAPPEND', 'stream-1', 'E']);
    expect(seen[1].ranges.map(([a, b]) => chunk.toString('latin1', a, b))).toEqual(['PING']);
  });

  it('copies a bulk that spans chunks', () => {
    const parser = new RespRequestParser();
    const input = multibulk('SET', 'k', 'v'.repeat(100));
    let seen: Buffer[] = [];
    const first = Buffer.from(input.subarray(0, 30));
    const second = Buffer.from(input.subarray(30));
    expect(parser.feed(first, () => {})).toBeUndefined();
    first.fill(0); // the parser must have kept copies, not views, of the arguments it held
    expect(parser.feed(second, (args) => (seen = args.toBuffers()))).toBeUndefined();
    second.fill(0);
    expect(seen.map(String)).toEqual(['SET', 'k', 'v'.repeat(100)]);
  });

  it('assembles a large bulk arriving in many chunks (grown buffer)', () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let k = 0; k < big.length; k++) big[k] = (k * 31) & 0xff;
    const input = multibulk('EAPPEND', 's', 'e', 'PAYLOAD', big);
    const parser = new RespRequestParser();
    let seen: Buffer[] = [];
    for (let at = 0; at < input.length; at += 65536) {
      expect(parser.feed(input.subarray(at, at + 65536), (args) => (seen = args.toBuffers()))).toBeUndefined();
    }
    expect(seen.length).toBe(5);
    expect(seen[4].equals(big)).toBe(true);
  });

  it('reports bufferedBytes for the incomplete request only', () => {
    const parser = new RespRequestParser();
    const a = multibulk('PING');
    const b = multibulk('SET', 'key', 'value');
    const input = Buffer.concat([a, b]);
    const cut = a.length + 20;
    parser.feed(input.subarray(0, cut), () => {});
    expect(parser.bufferedBytes).toBe(20);
    parser.feed(input.subarray(cut, cut + 5), () => {});
    expect(parser.bufferedBytes).toBe(25);
    parser.feed(input.subarray(cut + 5), () => {});
    expect(parser.bufferedBytes).toBe(0);
    parser.feed(Buffer.from('PING with a long'), () => {});
    expect(parser.bufferedBytes).toBe(16);
    parser.feed(Buffer.from(' line\r\n'), () => {});
    expect(parser.bufferedBytes).toBe(0);
  });
});

describe('inline requests', () => {
  it('parses inline commands and pipelines them with multibulk ones', () => {
    check('PING\r\n', ok(['PING']));
    check('PING\n', ok(['PING']));
    check('EAPPEND s e PAYLOAD "quoted string" x\r\n*1\r\n$4\r\nPING\r\nECHO  a\tb \r\n', ok(['EAPPEND', 's', 'e', 'PAYLOAD', 'quoted string', 'x'], ['PING'], ['ECHO', 'a', 'b']));
  });

  it('ignores empty and blank lines', () => check('\r\n\n   \r\n\t\r\nPING\r\n', ok(['PING'])));

  // Cases after Redis's sdssplitargs (src/sds.c) and tests/unit/protocol.tcl.
  const splitCases: [string, string[] | null][] = [
    ['foo bar "newline are supported\\n" and "\\xff\\x00otherstuff"', ['foo', 'bar', 'newline are supported\n', 'and', '\xff\x00otherstuff']],
    ['"\\x41\\x42" "\\x4" "\\xZZ"', ['AB', 'x4', 'xZZ']],
    ['"\\n\\r\\t\\b\\a" "\\\\" "\\"" "\\z"', ['\n\r\t\b\x07', '\\', '"', 'z']],
    ["'single \\' quote' 'back\\slash \\n'", ["single ' quote", 'back\\slash \\n']],
    ['set "" \'\'', ['set', '', '']],
    ['a"b c" d', ['ab c', 'd']],
    ["a'b c'", ['ab c']],
    ['"a"b', null],
    ["'a'b", null],
    ['"unterminated', null],
    ["'unterminated", null],
    ['"ends in backslash\\', null],
    ['set """test-key""" test-value', null],
    ['"a"\tb', ['a', 'b']],
    ['"a"\x0bb', ['a', 'b']],
    ['\x0b\x0ca b\x0bc', ['a', 'b\x0bc']],
    ['a b\0c d', ['a', 'b']],
    ['a "b\0c"', null],
    ['', []],
    ['   ', []],
  ];
  for (const [line, expected] of splitCases) {
    it(`splits ${JSON.stringify(line)}`, () => {
      const result = splitInlineArguments(Buffer.from(line, 'latin1'));
      expect(result === null ? null : result.map((b) => b.toString('latin1'))).toEqual(expected);
      if (expected === null) check(`${line}\r\nPING\r\n`, fails(protocolErrorReason.unbalancedQuotes));
      else if (expected.length > 0) check(`${line}\r\nPING\r\n`, ok(expected, ['PING']));
    });
  }
});

describe('protocol errors', () => {
  const cases: [string, string, string[][]?][] = [
    // tests/unit/protocol.tcl
    ['*3000000000\r\n', 'invalid multibulk length'],
    ['*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n', "expected '$', got 'f'"],
    ['*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n', 'invalid bulk length'],
    ['*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n', 'invalid bulk length'],
    ['*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n', 'invalid bulk length'],
    ['*1\r\nfoo=bar\r\n', "expected '$', got 'f'"],
    // string2ll rules for the counts
    ['*\r\n', 'invalid multibulk length'],
    ['*-\r\n', 'invalid multibulk length'],
    ['*-0\r\n', 'invalid multibulk length'],
    ['*01\r\n', 'invalid multibulk length'],
    ['*+1\r\n', 'invalid multibulk length'],
    ['* 1\r\n', 'invalid multibulk length'],
    ['*1 \r\n', 'invalid multibulk length'],
    ['*1\n', 'invalid multibulk length'],
    ['*1\rX', 'invalid multibulk length'],
    ['*99999999999999999999\r\n', 'invalid multibulk length'],
    ['*-9223372036854775809\r\n', 'invalid multibulk length'],
    ['*123456789012345678901\r\n', 'invalid multibulk length'],
    ['*1048577\r\n', 'invalid multibulk length'],
    ['*1\r\n$\r\n', 'invalid bulk length'],
    ['*1\r\n$-1\r\n', 'invalid bulk length'],
    ['*1\r\n$01\r\n', 'invalid bulk length'],
    ['*1\r\n$1x\r\n', 'invalid bulk length'],
    ['*1\r\n$1\rx', 'invalid bulk length'],
    ['*1\r\n$536870913\r\n', 'invalid bulk length'],
    ['*1\r\n\r\n', "expected '$', got '\r'"],
    ['*2\r\n$1\r\na\r\n:1\r\n', "expected '$', got ':'"],
    ['*1\r\n$3\r\nabcX\r\n', 'expected CRLF after bulk data'],
    ['*1\r\n$3\r\nabc\rX', 'expected CRLF after bulk data'],
    // requests before the error are delivered
    ['PING\r\n*1\r\n$1\r\nx\r\n*1\r\nx', "expected '$', got 'x'", [['PING'], ['x']]],
  ];
  for (const [input, reason, before] of cases) {
    it(`${JSON.stringify(input)} -> ${reason}`, () => check(input, fails(reason, ...(before ?? []))));
  }

  it('accepts the largest lengths allowed and refuses one more', () => {
    check('*1048576\r\n', ok());
    check('*1\r\n$536870912\r\n', ok());
  });

  it('enforces argumentCountMax', () => {
    const limits = { argumentCountMax: 3 };
    check(multibulk('a', 'b', 'c'), ok(['a', 'b', 'c']), limits);
    check(multibulk('a', 'b', 'c', 'd'), fails(protocolErrorReason.invalidMultibulkLength), limits);
  });

  it('enforces bulkBytesMax', () => {
    const limits = { bulkBytesMax: 10 };
    check(multibulk('x'.repeat(10)), ok(['x'.repeat(10)]), limits);
    check(multibulk('x'.repeat(11)), fails(protocolErrorReason.invalidBulkLength), limits);
  });

  it('enforces inlineBytesMax whatever the split', () => {
    const limits = { inlineBytesMax: 10 };
    check('0123456789\nPING\n', ok(['0123456789'], ['PING']), limits);
    check('012345678\r\n', ok(['012345678']), limits);
    check('0123456789A\n', fails(protocolErrorReason.tooBigInline), limits);
    check('0123456789A', fails(protocolErrorReason.tooBigInline), limits);
    check('PING\n0123456789A', fails(protocolErrorReason.tooBigInline, ['PING']), limits);
    check(`${'x'.repeat(64 * 1024 + 1)}`, fails(protocolErrorReason.tooBigInline));
    check(`${'x'.repeat(64 * 1024)}\n`, ok(['x'.repeat(64 * 1024)]));
  });

  it('stays failed after an error', () => {
    const parser = new RespRequestParser();
    const first = parser.feed(Buffer.from('*x'), () => {});
    expect(first).toBeInstanceOf(ProtocolError);
    expect(first!.message).toBe('Protocol error: invalid multibulk length');
    expect(first!.toReplyError().toString()).toBe('ERR Protocol error: invalid multibulk length');
    const calls: unknown[] = [];
    expect(parser.feed(Buffer.from('PING\r\n'), (a) => calls.push(a.toBuffers()))).toBe(first);
    expect(calls).toEqual([]);
    expect(parser.error).toBe(first);
  });

  it('rejects nonsensical limits', () => {
    expect(() => new RespRequestParser({ bulkBytesMax: 0 })).toThrow(RangeError);
    expect(() => new RespRequestParser({ argumentCountMax: 1.5 })).toThrow(RangeError);
  });
});

describe('fuzz', () => {
  /** A valid request of random shape: multibulk with binary args, or an inline line. */
  function randomRequest(next: () => number): Buffer {
    if (next() < 0.2) {
      const words = Array.from({ length: 1 + Math.floor(next() * 4) }, () => 'w'.repeat(1 + Math.floor(next() * 5)));
      return Buffer.from(`${words.join(' ')}${next() < 0.5 ? '\r\n' : '\n'}`);
    }
    const count = Math.floor(next() * 5);
    const args = Array.from({ length: count }, () => {
      const b = Buffer.alloc(Math.floor(next() * 12));
      for (let k = 0; k < b.length; k++) b[k] = next() < 0.3 ? [13, 10, 36, 42, 0][Math.floor(next() * 5)] : Math.floor(next() * 256);
      return b;
    });
    return multibulk(...args);
  }

  function mutate(frame: Buffer, next: () => number): Buffer {
    const out = Buffer.from(frame);
    const edits = 1 + Math.floor(next() * 3);
    let result: Buffer = out;
    for (let e = 0; e < edits; e++) {
      const r = next();
      const at = Math.floor(next() * Math.max(1, result.length));
      const interesting = [13, 10, 36, 42, 45, 48, 57, 34, 39, 92, 0, 32, 0xff];
      const byte = next() < 0.6 ? interesting[Math.floor(next() * interesting.length)] : Math.floor(next() * 256);
      if (r < 0.4 && result.length > 0) result[at] = byte;
      else if (r < 0.7) result = Buffer.concat([result.subarray(0, at), Buffer.from([byte]), result.subarray(at)]);
      else result = Buffer.concat([result.subarray(0, at), result.subarray(at + 1)]);
    }
    return result;
  }

  it('100,000 random and mutated frames: never throws, same outcome whatever the split', () => {
    const seed = 20240611;
    const next = rng(seed);
    const limits = { argumentCountMax: 8, bulkBytesMax: 64, inlineBytesMax: 64 };
    let requests = 0;
    let errors = 0;
    for (let round = 0; round < 100_000; round++) {
      const frames = Array.from({ length: 1 + Math.floor(next() * 3) }, () => randomRequest(next));
      let input: Buffer = Buffer.concat(frames);
      const mutated = next() < 0.7;
      if (mutated) input = mutate(input, next);
      let whole: Outcome;
      try {
        whole = run(input, 'whole', limits);
        const split = run(input, { seed: seed + round }, limits);
        if (JSON.stringify(split) !== JSON.stringify(whole)) {
          throw new Error(`split mismatch for seed ${seed} round ${round}: ${JSON.stringify(input.toString('latin1'))}`);
        }
      } catch (error) {
        throw new Error(`seed ${seed} round ${round} input ${JSON.stringify(input.toString('latin1'))}: ${error}`);
      }
      if (!mutated) expect(whole.error).toBeUndefined();
      requests += whole.requests.length;
      if (whole.error !== undefined) {
        errors++;
        expect(Object.values(protocolErrorReason).includes(whole.error as never) || whole.error.startsWith("expected '$', got ")).toBe(true);
      }
    }
    expect(requests).toBeGreaterThan(50_000);
    expect(errors).toBeGreaterThan(10_000);
  });
});
