import { describe, expect, it } from 'vitest';
import { keywordText } from '../../src/commands/keyword-text.ts';
import { seededRandom } from '../../bench/load/key-distribution.ts';

describe('keywordText', () => {
  it('equals latin1 text upper-cased, for keywords seen again, in any case, and for arbitrary bytes', () => {
    const next = seededRandom(9);
    const words = ['EAPPEND', 'eappend', 'EaPpEnD', 'PAYLOAD', 'payload', 'EXPECTED_VERSION', 'ping', 'COMMAND', 'x', ''];
    for (let round = 0; round < 3; round++) for (const w of words) expect(keywordText(Buffer.from(w, 'latin1'))).toBe(w.toUpperCase());
    for (let i = 0; i < 20_000; i++) {
      const bytes = Buffer.alloc(Math.floor(next() * 34));
      // Mostly letters (case-folding collisions), some digits, punctuation and bytes above 0x7f.
      for (let k = 0; k < bytes.length; k++) bytes[k] = next() < 0.9 ? 0x41 + Math.floor(next() * 4) + (next() < 0.5 ? 0x20 : 0) : Math.floor(next() * 256);
      const want = bytes.length > 32 ? '' : bytes.toString('latin1').toUpperCase();
      expect(keywordText(bytes)).toBe(want);
    }
  });

  it('reads a view at its own offset', () => {
    const buf = Buffer.from('xxPAYLOADyy', 'latin1');
    expect(keywordText(buf.subarray(2, 9))).toBe('PAYLOAD');
    expect(keywordText(buf.subarray(0, 9))).toBe('XXPAYLOAD');
  });
});
