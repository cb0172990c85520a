/** internedText: always the text toString('utf8') gives, and the same string object for ASCII ranges seen before. */
import { expect, it } from 'vitest';
import { internedText } from '../../native-free-io/text-interner.ts';

it('equals utf8 decoding for ASCII, non-ASCII, long and colliding ranges', () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const samples: Buffer[] = [Buffer.alloc(0), Buffer.from('user-123'), Buffer.from('ünïcødé-stream'), Buffer.from('x'.repeat(65)), Buffer.from([0xff, 0x41])];
  for (let i = 0; i < 50_000; i++) {
    const n = Math.floor(rand() * 70);
    const b = Buffer.alloc(n);
    const ascii = rand() < 0.8;
    for (let k = 0; k < n; k++) b[k] = ascii ? 32 + Math.floor(rand() * 95) : Math.floor(rand() * 256);
    samples.push(b);
  }
  // 50,000 distinct ranges over 8,192 slots: plenty of slots are taken over by other ranges on the way.
  for (let round = 0; round < 2; round++) {
    for (const b of samples) {
      const framed = Buffer.concat([Buffer.from('ab'), b, Buffer.from('cd')]);
      expect(internedText(framed, 2, 2 + b.length)).toBe(b.toString('utf8'));
    }
  }
});

it('gives the same text for the same ASCII bytes wherever they lie (the second is served from the table)', () => {
  const a = internedText(Buffer.from('..order-42..'), 2, 10);
  const b = internedText(Buffer.from('order-42'), 0, 8);
  expect(a).toBe('order-42');
  expect(b).toBe(a);
});
