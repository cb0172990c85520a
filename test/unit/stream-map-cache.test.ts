import { describe, expect, it } from 'vitest';
import { StreamMapCache } from '../../src/engine/stream-map-cache.ts';

/** A read result of versions from..from+count-1: map i is the text `v<version>;`. */
function page(from: number, count: number): { resp: Buffer; bounds: Uint32Array } {
  const parts = Array.from({ length: count }, (_, i) => `v${from + i};`);
  const header = `*${count}\r\n`;
  const bounds = new Uint32Array(count + 1);
  let at = header.length;
  parts.forEach((p, i) => {
    bounds[i] = at;
    at += p.length;
  });
  bounds[count] = at;
  return { resp: Buffer.from(header + parts.join('')), bounds };
}

const text = (r: { maps: Buffer[] } | undefined) => r?.maps.map((m) => m.toString()).join('');

describe('StreamMapCache', () => {
  it('answers a page only when every version and the has_more decision are known', () => {
    const c = new StreamMapCache(1 << 20);
    expect(c.read(0, 's', 0, 99, 10)).toBeUndefined();
    const p = page(0, 20);
    c.add(0, 's', 0, p.resp, p.bounds, 20);
    // Versions 0..9, and 10 is cached: more follow.
    expect(c.read(0, 's', 0, Number.MAX_SAFE_INTEGER, 10)).toEqual({ maps: expect.any(Array), hasMore: true });
    expect(text(c.read(0, 's', 5, Number.MAX_SAFE_INTEGER, 3))).toBe('v5;v6;v7;');
    // Ends at the asked range's end: nothing more to say, whatever exists later.
    expect(c.read(0, 's', 10, 14, 100)).toMatchObject({ hasMore: false });
    expect(text(c.read(0, 's', 10, 14, 100))).toBe('v10;v11;v12;v13;v14;');
    // Version 20 is not cached: whether it exists is the disk's to say.
    expect(c.read(0, 's', 15, Number.MAX_SAFE_INTEGER, 10)).toBeUndefined();
    expect(c.read(0, 's', 10, 19, 10)).toMatchObject({ hasMore: false });
    // A version in the page missing: no answer.
    expect(c.read(0, 's', 18, 30, 5)).toBeUndefined();
    // Another bucket or stream is another entry.
    expect(c.read(1, 's', 0, 5, 5)).toBeUndefined();
    expect(c.read(0, 't', 0, 5, 5)).toBeUndefined();
    expect(c.hits).toBeGreaterThan(0);
    expect(c.misses).toBeGreaterThan(0);
  });

  it('extends a stream with later pages and evicts the least recently used streams over budget', () => {
    const small = page(0, 10);
    const c = new StreamMapCache(3 * (small.resp.length + 10 * 96));
    c.add(0, 'a', 0, small.resp, small.bounds, 10);
    const later = page(10, 10);
    c.add(0, 'a', 10, later.resp, later.bounds, 10);
    expect(text(c.read(0, 'a', 8, 11, 10))).toBe('v8;v9;v10;v11;');
    const b = page(0, 10);
    c.add(0, 'b', 0, b.resp, b.bounds, 10);
    expect(c.read(0, 'a', 0, 3, 4)).toBeDefined(); // 'a' is now the most recently used
    const d = page(0, 10);
    c.add(0, 'd', 0, d.resp, d.bounds, 10);
    // Over budget: 'b' (least recently used) went; 'a' and 'd' stay.
    expect(c.read(0, 'b', 0, 3, 4)).toBeUndefined();
    expect(c.read(0, 'a', 0, 3, 4)).toBeDefined();
    expect(c.read(0, 'd', 0, 3, 4)).toBeDefined();
    expect(c.bytes).toBeLessThanOrEqual(c.budgetBytes);
  });

  it('a zero budget keeps nothing', () => {
    const c = new StreamMapCache(0);
    const p = page(0, 5);
    c.add(0, 's', 0, p.resp, p.bounds, 5);
    expect(c.read(0, 's', 0, 4, 5)).toBeUndefined();
    expect(c.bytes).toBe(0);
  });
});
