import { expect, it } from 'vitest';
import { EventIdTable } from '../../src/engine/event-id-table.ts';
import { generateEventId } from '../../src/ids/event-id.ts';

it('maps event ids to offsets across growth, and misses absent ids', () => {
  const table = new EventIdTable();
  const ids = Array.from({ length: 50_000 }, (_, i) => generateEventId(i & 0xffff, 1_700_000_000_000 + (i >> 4)));
  ids.forEach((id, i) => table.add(id, 0, i * 100));
  expect(table.size).toBe(50_000);
  ids.forEach((id, i) => expect(table.get(id)).toBe(i * 100));
  for (let i = 0; i < 1000; i++) expect(table.get(generateEventId(7))).toBeUndefined();
  const columns = table.columns();
  expect(columns.count).toBe(50_000);
  expect(columns.offsets[123]).toBe(12_300);
  expect(Buffer.from(columns.ids.subarray(16 * 123, 16 * 124)).equals(Buffer.from(ids[123]))).toBe(true);
});

it('keeps the first offset of an id added twice', () => {
  const table = new EventIdTable();
  const id = generateEventId(1);
  table.add(id, 0, 5);
  table.add(id, 0, 9);
  expect(table.get(id)).toBe(5);
});

it('adds an id from the middle of a larger array (a record or request frame)', () => {
  const table = new EventIdTable();
  const id = generateEventId(3);
  const frame = new Uint8Array(64).fill(0xee);
  frame.set(id, 20);
  table.add(frame, 20, 77);
  frame.fill(0); // copied: reusing the frame does not change the table
  expect(table.get(id)).toBe(77);
  expect(table.get(new Uint8Array(16).fill(0xee))).toBeUndefined();
});

it('keeps answering when ids are added after the first lookup (the table is then grown as it goes)', () => {
  const table = new EventIdTable();
  const first = generateEventId(9);
  expect(table.get(first)).toBeUndefined(); // builds the (empty) table
  const ids = Array.from({ length: 10_000 }, (_, i) => generateEventId(i & 0xffff, 1_700_000_000_000 + i));
  ids.forEach((id, i) => {
    table.add(id, 0, i);
    if (i % 997 === 0) expect(table.get(id)).toBe(i);
  });
  table.add(ids[42], 0, 99_999); // a second entry for an id: the first offset still answers
  ids.forEach((id, i) => expect(table.get(id)).toBe(i));
  expect(table.size).toBe(10_001);
});
