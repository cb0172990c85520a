/**
 * Process-crash consistency: a child appends with many concurrent writers and logs every acknowledged event; the
 * parent kill -9's it at a random moment, reopens the directory, and checks that every acknowledged event is there
 * with the same id, version and sequence, and that partitions and streams are gapless with no duplicates.
 * (kill -9 leaves the page cache intact; power loss is covered by the simulation tests over SimulatedFileIo.)
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { open } from '../../src/database.ts';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 20);
const child = fileURLToPath(new URL('../fixtures/crash-appender.ts', import.meta.url));

interface Ack {
  eventId: string;
  streamId: string;
  version: number;
  partitionId: number;
  sequence: number;
}

async function runAndKill(dir: string, seed: number, killAfterMs: number): Promise<Ack[]> {
  const proc = spawn(process.execPath, [child, dir, '64', String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d) => (out += d));
  proc.stderr.on('data', (d) => (err += d));
  // One exit listener from the start: a child that dies on its own during the kill delay must fail the round,
  // not leave a later listener waiting for an exit that already happened.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  let running = true;
  void exited.then(() => (running = false));
  // The kill timer starts at the first acknowledgement, not at READY: on a loaded machine (the suite runs
  // CPU-heavy campaigns beside this test) the child may need longer than the shortest kill delay to ack once.
  for (const started = Date.now(); !(out.includes('READY') && out.includes('\nA ')); ) {
    if (!running) throw new Error(`child exited before acknowledging anything: ${err}`);
    if (Date.now() - started > 60_000) {
      proc.kill('SIGKILL');
      throw new Error(`child acknowledged nothing within 60 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, killAfterMs));
  proc.kill('SIGKILL');
  const exit = await exited;
  if (exit.signal !== 'SIGKILL') throw new Error(`child died on its own (code ${exit.code}, signal ${exit.signal}) before the kill: ${err}`);
  const acks: Ack[] = [];
  // Only whole lines: the last piece after the final newline may be a line the kill cut short.
  for (const line of out.split('\n').slice(0, -1)) {
    const m = /^A (\S+) (\S+) (\d+) (\d+) (\d+)$/.exec(line);
    if (m) acks.push({ eventId: m[1], streamId: m[2], version: Number(m[3]), partitionId: Number(m[4]), sequence: Number(m[5]) });
  }
  return acks;
}

it(`loses no acknowledged event across ${ROUNDS} kill -9 rounds`, { timeout: 600_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-crash-'));
  const acknowledged: Ack[] = [];
  let seed = Number(process.env.SEED ?? Date.now() % 100_000);
  console.log(`crash test seed ${seed} (replay with SEED=${seed})`);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const killAfterMs = 30 + ((seed * 7919 + round * 104729) % 250);
      const acks = await runAndKill(dir, seed + round, killAfterMs);
      expect(acks.length, `round ${round} acknowledged something`).toBeGreaterThan(0);
      acknowledged.push(...acks);

      const db = await open(dir, { segmentSizeBytes: 64 * 1024, threads: false });
      try {
        // Every acknowledged event is there, unchanged.
        for (const a of acks) {
          const e = await db.getEvent(a.eventId);
          expect(e, `event ${a.eventId} (round ${round})`).toBeDefined();
          expect([e!.streamId, e!.streamVersion, e!.partitionId, e!.partitionSequence]).toEqual([a.streamId, a.version, a.partitionId, a.sequence]);
        }
        // Partitions are gapless from 0, with no duplicates, and hold at least what was acknowledged.
        const maxAckedSeq = new Map<number, number>();
        for (const a of acknowledged) maxAckedSeq.set(a.partitionId, Math.max(maxAckedSeq.get(a.partitionId) ?? -1, a.sequence));
        const seenIds = new Set<string>();
        const streamVersions = new Map<string, number>();
        for (let p = 0; p < 32; p++) {
          let next = 0;
          for (;;) {
            const page = await db.scanPartition(p, next, Number.MAX_SAFE_INTEGER, { count: 1000 });
            for (const e of page.events) {
              expect(e.partitionSequence).toBe(next++);
              expect(seenIds.has(e.eventId)).toBe(false);
              seenIds.add(e.eventId);
              const expectedVersion = (streamVersions.get(e.streamId) ?? -1) + 1;
              expect(e.streamVersion, `stream ${e.streamId}`).toBe(expectedVersion);
              streamVersions.set(e.streamId, expectedVersion);
            }
            if (!page.hasMore) break;
          }
          expect(next - 1).toBeGreaterThanOrEqual(maxAckedSeq.get(p) ?? -1);
        }
      } finally {
        await db.close();
      }
      seed += 1;
    }
    console.log(`crash test: ${ROUNDS} rounds, ${acknowledged.length} acknowledged events verified`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
