import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expect, it } from 'vitest';

it('the package entry opens a database and round-trips an event', async () => {
  // Import through the package's own name, as a user would.
  const { open, formatUuid, partitionKeyForStream } = await import('sierradb-ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-entry-'));
  const db = await open(dir, { threads: { read: 1 } });
  try {
    const r = await db.append('user-123', 'UserRegistered', { payload: '{"name":"john"}', expectedVersion: 'empty' });
    expect(r.partitionKey).toBe(formatUuid(partitionKeyForStream('user-123')));
    expect((await db.getEvent(r.eventId))?.payload.toString()).toBe('{"name":"john"}');
  } finally {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
