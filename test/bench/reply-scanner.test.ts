/**
 * The load generator's reply scanner must agree with RespReplyParser on where each reply ends, on its type and
 * on errors, whatever the split: each case is fed whole, byte by byte, and at random splits (seeded).
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../bench/load/key-distribution.ts';
import { ReplyScanner, ReplyScanError, type ScannedReply } from '../../bench/load/reply-scanner.ts';
import { ReplyError } from '../../src/protocol/reply-error.ts';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { RespPush, RespReplyParser, type RespValue } from '../../src/protocol/resp-reply-parser.ts';

type Seen = { type: number; length: number; text: string; items: { type: number; length: number; text: string }[] };

function scan(bytes: Buffer, splits: number[], captureItems = 4): Seen[] {
  const scanner = new ReplyScanner({ captureItems });
  const out: Seen[] = [];
  const onReply = (r: ScannedReply) =>
    out.push({ type: r.type, length: r.length, text: r.text, items: r.items.slice(0, r.itemCount).map((i) => ({ ...i })) });
  let from = 0;
  for (const at of [...splits, bytes.length]) {
    scanner.feed(bytes.subarray(from, at), onReply);
    from = at;
  }
  expect(scanner.inReply).toBe(false);
  return out;
}

function splitsOf(mode: 'whole' | 'bytes' | 'random', length: number, random: () => number): number[] {
  if (mode === 'whole') return [];
  if (mode === 'bytes') return Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
  const cuts = new Set<number>();
  const n = Math.floor(random() * 8);
  for (let i = 0; i < n; i++) cuts.add(1 + Math.floor(random() * Math.max(1, length - 1)));
  return [...cuts].sort((a, b) => a - b);
}

/** A random reply, encoded into `e`. */
function randomReply(e: RespEncoder, random: () => number, depth = 0): void {
  const pick = Math.floor(random() * (depth >= 3 ? 8 : 12));
  const word = () => 'w' + Math.floor(random() * 1e6).toString(36);
  switch (pick) {
    case 0: e.simpleString(word()); break;
    case 1: e.error(`WRONGVER current stream version is ${Math.floor(random() * 9)} but expected 1`); break;
    case 2: e.integer(Math.floor(random() * 1e9) - 5e8); break;
    case 3: e.bulkString(Buffer.alloc(Math.floor(random() * 300), 'a')); break;
    case 4: e.null(); break;
    case 5: e.boolean(random() < 0.5); break;
    case 6: e.double(random() * 100); break;
    case 7: e.bulkString(word()); break;
    case 8: case 9: {
      const n = Math.floor(random() * 5);
      e.arrayHeader(n);
      for (let i = 0; i < n; i++) randomReply(e, random, depth + 1);
      break;
    }
    case 10: {
      const n = Math.floor(random() * 4);
      e.mapHeader(n);
      for (let i = 0; i < 2 * n; i++) randomReply(e, random, depth + 1);
      break;
    }
    default: {
      const n = 1 + Math.floor(random() * 3);
      e.pushHeader(n);
      e.simpleString('message');
      for (let i = 1; i < n; i++) randomReply(e, random, depth + 1);
    }
  }
}

function typeOf(v: RespValue): string {
  if (v instanceof ReplyError) return 'error';
  if (v instanceof RespPush) return 'push';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Map) return 'map';
  return 'scalar';
}

function scannedKind(t: number): string {
  if (t === 45 || t === 33) return 'error';
  if (t === 62) return 'push';
  if (t === 42) return 'array';
  if (t === 37) return 'map';
  return 'scalar';
}

describe('ReplyScanner', () => {
  for (const mode of ['whole', 'bytes', 'random'] as const) {
    it(`agrees with RespReplyParser on 300 random replies, fed ${mode}`, () => {
      const random = seededRandom(mode === 'whole' ? 1 : mode === 'bytes' ? 2 : 3);
      const e = new RespEncoder({ protocol: 3 });
      for (let i = 0; i < 300; i++) randomReply(e, random);
      const bytes = Buffer.from(e.take());
      const parsed: RespValue[] = [];
      expect(new RespReplyParser().feed(bytes, (v) => parsed.push(v))).toBeUndefined();
      const seen = scan(bytes, splitsOf(mode, bytes.length, random));
      expect(seen.length).toBe(parsed.length);
      for (let i = 0; i < parsed.length; i++) {
        const v = parsed[i];
        expect(scannedKind(seen[i].type)).toBe(typeOf(v));
        if (v instanceof ReplyError) expect(seen[i].text).toBe(`${v.code} ${v.message}`.trim());
        if (Array.isArray(v)) expect(seen[i].length).toBe(v.length);
        if (v instanceof Map) expect(seen[i].length).toBeGreaterThanOrEqual(v.size); // repeated keys collapse in a Map
        if (v instanceof RespPush) expect(seen[i].items[0]?.text).toBe('message');
      }
    });
  }

  it('summarises an ESCAN page (RESP3 and RESP2) and a subscription push', () => {
    for (const protocol of [3, 2] as const) {
      const e = new RespEncoder({ protocol });
      e.mapHeader(2);
      e.simpleString('has_more');
      e.boolean(true);
      e.simpleString('events');
      e.arrayHeader(3);
      for (let i = 0; i < 3; i++) {
        e.mapHeader(2);
        e.simpleString('payload');
        e.bulkString(Buffer.alloc(1000, 'p'));
        e.simpleString('stream_version');
        e.integer(i);
      }
      const bytes = Buffer.from(e.take());
      for (const mode of ['whole', 'bytes'] as const) {
        const [page] = scan(bytes, splitsOf(mode, bytes.length, Math.random));
        expect(page.items.map((i) => i.text)).toEqual(['has_more', protocol === 3 ? 't' : '1', 'events', '']);
        expect(page.items[3].length).toBe(3);
      }
    }
    const e = new RespEncoder({ protocol: 3 });
    e.pushHeader(4);
    e.simpleString('message');
    e.simpleString('0b4e5a0e-0000-4000-8000-000000000000');
    e.integer(17);
    e.mapHeader(1);
    e.simpleString('payload');
    e.bulkString(Buffer.alloc(200, 'x'));
    const [push] = scan(Buffer.from(e.take()), [3, 50, 51, 300]);
    expect(String.fromCharCode(push.type)).toBe('>');
    expect(push.items.map((i) => i.text)).toEqual(['message', '0b4e5a0e-0000-4000-8000-000000000000', '17', '']);
  });

  it('captures a blob error split across chunks, and skips large blobs without capturing them', () => {
    const bytes = Buffer.from('!21\r\nSYNTAX invalid syntax\r\n*2\r\n$5000\r\n' + 'z'.repeat(5000) + '\r\n:1\r\n');
    for (const mode of ['whole', 'bytes'] as const) {
      const seen = scan(bytes, splitsOf(mode, bytes.length, Math.random));
      expect(seen.map((s) => [String.fromCharCode(s.type), s.text, s.length])).toEqual([
        ['!', 'SYNTAX invalid syntax', 21],
        ['*', '', 2],
      ]);
      expect(seen[1].items).toEqual([
        { type: 36, length: 5000, text: '' },
        { type: 58, length: 0, text: '1' },
      ]);
    }
  });

  it('fails on malformed input, and keeps failing', () => {
    const scanner = new ReplyScanner();
    expect(() => scanner.feed(Buffer.from('+OK\n'), () => {})).toThrow(ReplyScanError);
    expect(() => scanner.feed(Buffer.from('+OK\r\n'), () => {})).toThrow(ReplyScanError);
    expect(() => new ReplyScanner().feed(Buffer.from('$3\r\nabcd\r\n'), () => {})).toThrow(/CRLF/);
    expect(() => new ReplyScanner().feed(Buffer.from('|1\r\n'), () => {})).toThrow(/attributes/);
    expect(() => new ReplyScanner().feed(Buffer.from('*x\r\n'), () => {})).toThrow(/aggregate length/);
  });
});
