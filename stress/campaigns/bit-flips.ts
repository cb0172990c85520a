/**
 * Corruption: flip single bits in stored records and check that every flip is detected, located, and never served.
 *
 * One round, from its seed: a database on a simulated disk (2 buckets, 8 KiB segments, so each bucket has several
 * sealed segments and an active one) is filled with single events and multi-event transactions, then kept open, with
 * its reader already following every active segment. Then, one flip at a time (each undone before the next):
 *   - a record is chosen (every record of every sealed and active segment, events and commit records alike) and
 *     one of its bits is flipped in place, under the open database;
 *   - for an event record, the three read paths that reach it (EGET by id, a partition scan at its sequence, a
 *     stream scan at its version) must each fail with READERR: never return data, never report "not found";
 *   - `checkSegment` (verify's per-segment check) must report a finding at that record's offset: a problem in a
 *     sealed segment; in the active segment a problem, or a torn tail naming the offset when nothing committed
 *     follows (offline, damage to the last transaction of the active segment is indistinguishable from a torn
 *     write, and opening would truncate it);
 *   - the neighbouring event records and one elsewhere must still read back byte for byte as written;
 *   - every `fullVerifyEvery` flips, the full `verify()` of the directory must report the flip too.
 * Flips are drawn at random (seeded) across all records; `exhaustiveRecords` consecutive records of one sealed
 * segment additionally have every one of their bits flipped in turn.
 *
 * Index files (`indexFlipsPerRound`): a bit of a sealed segment's index.eidx, partition.pidx or stream.sidx is
 * flipped under the open database (after the files were opened and checksummed). Verify must report the file as
 * corrupt; every read that reaches the segment (partition and stream scans over its ranges, EGET of its events)
 * must fail with READERR or return exactly the records asked for: never another record in their place, never
 * altered bytes. A read that comes back short without an error (a stream scan whose index entry no longer
 * matches) is counted as `indexFlipsShortReads`: index entries are checksummed per file at open, not per entry at
 * read, so until the next open rebuilds the file such a read can miss events, but it cannot serve wrong ones.
 *
 * Replay a round: `node stress/campaigns/bit-flips.ts --seed <seed> --rounds 1`.
 */
import { SimulatedFileIo, seededRandom } from '../../native-free-io/simulated-file-io.ts';
import type { FileHandle } from '../../native-free-io/file-io.ts';
import { DATA_FILE, EVENT_INDEX_FILE, listSegmentIds, PARTITION_INDEX_FILE, segmentFile, STREAM_INDEX_FILE } from '../../native-free-io/data-layout.ts';
import { eventRecordField, RecordKind } from '../../native-free-io/segment-format.ts';
import { SegmentScanner } from '../../native-free-io/segment-scanner.ts';
import { open, type Database } from '../../src/database.ts';
import { formatUuid, partitionKeyForStream } from '../../src/ids/partition-key.ts';
import type { RecordBatch } from '../../src/engine/store-reader.ts';
import { checkSegment, verify, type Finding } from '../../src/tools/verify.ts';
import { forEachRound, isMainModule, runCampaignMain, type CampaignBudget } from './campaign-cli.ts';

const DIR = '/db';
const LAYOUT = { bucketCount: 2, partitionCount: 4, segmentSizeBytes: 8192 } as const;
const VIOLATIONS_LISTED_MAX = 50;

export interface BitFlipsOptions extends CampaignBudget {
  /** Random flips per round. Default 10,000. */
  flipsPerRound?: number;
  /** Consecutive records of one sealed segment whose every bit is flipped, per round. Default 0. */
  exhaustiveRecords?: number;
  /** Run the full verify() every this many flips. Default 1,000. */
  fullVerifyEvery?: number;
  /** Random flips in sealed segments' index files per round. Default 0. */
  indexFlipsPerRound?: number;
  /** Events appended per round. Default 360. */
  eventsPerRound?: number;
}

export interface BitFlipsReport {
  campaign: 'bit-flips';
  seed: number;
  rounds: number;
  flips: number;
  flipsInSealedSegments: number;
  flipsInActiveSegments: number;
  flipsInEventRecords: number;
  flipsInCommitRecords: number;
  /** Event-record flips for which all three read paths failed with READERR. */
  detectedByReads: number;
  /** Flips that verify's segment check reported at the flipped record's offset. */
  locatedByVerify: number;
  /** ... of which as a torn tail (the active segment's last transaction). */
  locatedAsTornTail: number;
  fullVerifies: number;
  neighbourReads: number;
  indexFlips: number;
  /** Index flips that verify reported as a corrupt index file. */
  indexFlipsLocated: number;
  /** Reads after an index flip that failed with READERR. */
  indexFlipsReadErrors: number;
  /** Reads after an index flip that returned fewer records than asked for, without an error. */
  indexFlipsShortReads: number;
  /** Reads after an index flip that returned exactly what was asked for. */
  indexFlipsCorrectReads: number;
  /** Flips both detected by reads (where a read reaches the record) and located by verify. */
  detected: number;
  /** 100 × detected / flips. */
  detectedPercent: number;
  violations: string[];
  violationsOmitted: number;
  elapsedMs: number;
}

interface StoredRecord {
  bucketId: number;
  segmentId: number;
  active: boolean;
  offset: number;
  kind: RecordKind;
  bytes: Buffer;
  /** Event records only. */
  event?: { id: Buffer; partitionId: number; sequence: number; streamId: string; version: number; partitionKey: Buffer };
}

async function populate(db: Database, seed: number, events: number): Promise<void> {
  const rng = seededRandom(seed);
  const int = (n: number) => Math.floor(rng() * n);
  let written = 0;
  while (written < events) {
    if (rng() < 0.12) {
      const base = `order-${int(6)}`;
      const n = 2 + int(3);
      await db.appendMulti(
        formatUuid(partitionKeyForStream(base)),
        Array.from({ length: n }, (_, i) => ({ streamId: i % 2 === 0 ? base : `${base}-lines`, eventName: 'OrderChanged', payload: `${base}:${written + i}:`.padEnd(10 + int(200), 'p') })),
      );
      written += n;
    } else {
      await db.append(`stream-${int(14)}`, `Event${int(5)}`, {
        payload: `${written}:`.padEnd(int(300), String.fromCharCode(65 + int(26))),
        metadata: rng() < 0.3 ? `{"n":${written}}` : undefined,
      });
      written++;
    }
  }
}

function catalog(io: SimulatedFileIo): StoredRecord[] {
  const out: StoredRecord[] = [];
  for (let b = 0; b < LAYOUT.bucketCount; b++) {
    const ids = listSegmentIds(io, DIR, b);
    for (const s of ids) {
      const h = io.open(segmentFile(DIR, b, s, DATA_FILE), 'read');
      try {
        const scanner = new SegmentScanner(h, 64, h.size());
        for (let step = scanner.next(); step.status === 'record'; step = scanner.next()) {
          const bytes = Buffer.from(step.buf.subarray(step.at, step.at + step.length));
          const r: StoredRecord = { bucketId: b, segmentId: s, active: s === ids[ids.length - 1], offset: step.offset, kind: step.kind, bytes };
          if (step.kind === RecordKind.event) {
            r.event = {
              id: Buffer.from(eventRecordField.eventId(bytes, 0)),
              partitionId: eventRecordField.partitionId(bytes, 0),
              sequence: eventRecordField.partitionSequence(bytes, 0),
              streamId: eventRecordField.streamId(bytes, 0),
              version: eventRecordField.streamVersion(bytes, 0),
              partitionKey: Buffer.from(eventRecordField.partitionKey(bytes, 0)),
            };
          }
          out.push(r);
        }
      } finally {
        h.close();
      }
    }
  }
  return out;
}

/** Resolves to 'READERR', or describes what the read did instead. */
async function readOutcome(read: Promise<RecordBatch>): Promise<string> {
  try {
    const batch = await read;
    return batch.count > 0 ? 'returned data' : 'returned nothing (corruption hidden as "not found")';
  } catch (err) {
    const code = (err as { code?: string }).code;
    return code === 'READERR' ? 'READERR' : `failed with ${code ?? (err as Error).message}`;
  }
}

function locates(findings: readonly Finding[], r: StoredRecord): Finding | undefined {
  return findings.find((f) => (f.bucket === undefined || f.bucket === r.bucketId) && (f.offset === r.offset || f.message.includes(`at offset ${r.offset}`)));
}

export async function runBitFlipsRound(seed: number, o: Required<Omit<BitFlipsOptions, keyof CampaignBudget>>, report: BitFlipsReport, violation: (m: string) => void): Promise<void> {
  const io = new SimulatedFileIo();
  const db = await open(DIR, { threads: false, io, ...LAYOUT });
  try {
    await populate(db, seed, o.eventsPerRound);
    // Make the reader follow every active segment before anything is damaged.
    for (let p = 0; p < LAYOUT.partitionCount; p++) await db.scanPartition(p, 0, Number.MAX_SAFE_INTEGER, { count: 100_000 });
    const records = catalog(io);
    const events = records.filter((r) => r.event !== undefined);
    const handles = new Map<string, FileHandle>();
    const handle = (r: StoredRecord) => {
      const key = `${r.bucketId}/${r.segmentId}`;
      let h = handles.get(key);
      if (h === undefined) handles.set(key, (h = io.open(segmentFile(DIR, r.bucketId, r.segmentId, DATA_FILE), 'write')));
      return h;
    };
    const rng = seededRandom(seed ^ 0xb17f11b);
    const one = Buffer.alloc(1);

    const flip = async (r: StoredRecord, bit: number, label: string) => {
      const h = handle(r);
      const position = r.offset + (bit >> 3);
      one[0] = r.bytes[bit >> 3] ^ (1 << (bit & 7));
      h.write(one, position);
      report.flips++;
      if (r.active) report.flipsInActiveSegments++;
      else report.flipsInSealedSegments++;
      const where = `seed ${seed} ${label}: bucket ${r.bucketId} segment ${r.segmentId}${r.active ? ' (active)' : ''} record at ${r.offset} (${r.kind === RecordKind.event ? 'event' : 'commit'}), byte ${bit >> 3} bit ${bit & 7}`;
      let detected = true;
      if (r.event !== undefined) {
        report.flipsInEventRecords++;
        const e = r.event;
        const outcomes = [
          await readOutcome(db.getEventRaw(e.id)),
          await readOutcome(db.scanPartitionRaw(e.partitionId, e.sequence, e.sequence, 1)),
          await readOutcome(db.scanStreamRaw(e.streamId, e.version, e.version, 1, e.partitionKey)),
        ];
        if (outcomes.every((x) => x === 'READERR')) report.detectedByReads++;
        else {
          detected = false;
          violation(`${where}: reads by id, partition and stream gave ${outcomes.join(', ')}`);
        }
      } else {
        report.flipsInCommitRecords++;
      }
      const check = checkSegment({ io, dir: DIR, bucketId: r.bucketId, segmentId: r.segmentId, active: r.active, meta: LAYOUT });
      const found = locates(check.findings, r);
      if (found !== undefined && (found.severity === 'problem' || (r.active && found.kind === 'torn-tail'))) {
        report.locatedByVerify++;
        if (found.kind === 'torn-tail') report.locatedAsTornTail++;
      } else {
        detected = false;
        violation(`${where}: verify does not report it (${check.findings.map((f) => `${f.severity} ${f.kind} @${f.offset}: ${f.message}`).join(' | ') || 'no findings'})`);
      }
      if (o.fullVerifyEvery > 0 && report.flips % o.fullVerifyEvery === 0) {
        report.fullVerifies++;
        const full = verify(DIR, { io });
        const f = locates(full.findings.filter((x) => x.segment === r.segmentId), r);
        if (f === undefined || (!r.active && full.clean)) violation(`${where}: the full verify does not report it`);
      }
      // Neighbours and a random event elsewhere still read back exactly as written.
      const i = records.indexOf(r);
      const others = [records[i - 1], records[i + 1], events[Math.floor(rng() * events.length)]].filter(
        (x): x is StoredRecord => x !== undefined && x !== r && x.event !== undefined,
      );
      for (const other of others) {
        report.neighbourReads++;
        try {
          const got = await db.getEventRaw(other.event!.id);
          if (got.count !== 1 || !got.records.equals(other.bytes)) violation(`${where}: event at ${other.offset} in segment ${other.segmentId} reads back altered or missing`);
        } catch (err) {
          violation(`${where}: event at ${other.offset} in segment ${other.segmentId} became unreadable: ${(err as Error).message}`);
        }
      }
      one[0] = r.bytes[bit >> 3];
      h.write(one, position);
      return detected;
    };

    // Index files: what a read returns after a bit of a sealed segment's index file flips under it.
    const sealedSegments = [...new Set(records.filter((r) => !r.active).map((r) => `${r.bucketId}/${r.segmentId}`))].map((k) => k.split('/').map(Number));
    const indexFiles = [EVENT_INDEX_FILE, PARTITION_INDEX_FILE, STREAM_INDEX_FILE];
    const flipIndex = async (k: number) => {
      const [bucketId, segmentId] = sealedSegments[Math.floor(rng() * sealedSegments.length)];
      const file = indexFiles[Math.floor(rng() * indexFiles.length)];
      const filePath = segmentFile(DIR, bucketId, segmentId, file);
      const h = io.open(filePath, 'write');
      const size = h.size();
      const position = Math.floor(rng() * size);
      const bit = Math.floor(rng() * 8);
      const original = Buffer.alloc(1);
      h.read(original, 0, 1, position);
      h.write(Buffer.of(original[0] ^ (1 << bit)), position);
      report.indexFlips++;
      const where = `seed ${seed} index flip ${k}: bucket ${bucketId} segment ${segmentId} ${file} byte ${position} bit ${bit}`;
      const check = checkSegment({ io, dir: DIR, bucketId, segmentId, active: false, meta: LAYOUT });
      if (check.findings.some((f) => f.file === file && f.kind === 'index-corrupt')) report.indexFlipsLocated++;
      else violation(`${where}: verify does not report the index file as corrupt`);
      const mine = events.filter((r) => r.bucketId === bucketId && r.segmentId === segmentId);
      const judge = async (label: string, read: Promise<RecordBatch>, expected: StoredRecord[]) => {
        try {
          const batch = await read;
          let at = 0;
          for (let i = 0; i < batch.count; i++) {
            const length = 16 + batch.records.readUInt32LE(at + 8);
            const got = batch.records.subarray(at, at + length);
            if (i >= expected.length || !got.equals(expected[i].bytes)) {
              violation(`${where}: ${label} returned another record or altered bytes in place ${i}`);
              return;
            }
            at += length;
          }
          if (batch.count < expected.length) report.indexFlipsShortReads++;
          else report.indexFlipsCorrectReads++;
        } catch (err) {
          if ((err as { code?: string }).code === 'READERR') report.indexFlipsReadErrors++;
          else violation(`${where}: ${label} failed with ${(err as Error).message}`);
        }
      };
      const byPartition = new Map<number, StoredRecord[]>();
      const byStream = new Map<string, StoredRecord[]>();
      for (const r of mine) {
        const e = r.event!;
        byPartition.set(e.partitionId, [...(byPartition.get(e.partitionId) ?? []), r]);
        byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), r]);
      }
      for (const [pid, rs] of byPartition) {
        const first = rs[0].event!.sequence;
        await judge(`partition ${pid} scan`, db.scanPartitionRaw(pid, first, first + rs.length - 1, rs.length), rs);
      }
      for (const [streamId, rs] of byStream) {
        const first = rs[0].event!.version;
        await judge(`stream ${streamId} scan`, db.scanStreamRaw(streamId, first, first + rs.length - 1, rs.length, rs[0].event!.partitionKey), rs);
      }
      for (const r of mine) {
        try {
          const got = await db.getEventRaw(r.event!.id);
          if (got.count > 0 && !got.records.equals(r.bytes)) violation(`${where}: EGET of the event at ${r.offset} returned another record or altered bytes`);
          else if (got.count === 0) report.indexFlipsShortReads++;
          else report.indexFlipsCorrectReads++;
        } catch (err) {
          if ((err as { code?: string }).code === 'READERR') report.indexFlipsReadErrors++;
          else violation(`${where}: EGET failed with ${(err as Error).message}`);
        }
      }
      h.write(original, position);
      h.close();
    };

    let detectedFlips = 0;
    // Every bit of a few consecutive records of one sealed segment.
    if (o.exhaustiveRecords > 0) {
      const sealed = records.filter((r) => !r.active);
      const start = Math.floor(rng() * Math.max(1, sealed.length - o.exhaustiveRecords));
      for (const r of sealed.slice(start, start + o.exhaustiveRecords)) {
        for (let bit = 0; bit < r.bytes.length * 8; bit++) if (await flip(r, bit, 'exhaustive')) detectedFlips++;
      }
    }
    for (let k = 0; k < o.flipsPerRound; k++) {
      const r = records[Math.floor(rng() * records.length)];
      if (await flip(r, Math.floor(rng() * r.bytes.length * 8), `flip ${k}`)) detectedFlips++;
    }
    for (let k = 0; k < o.indexFlipsPerRound; k++) await flipIndex(k);
    for (const h of handles.values()) h.close();
    report.detected += detectedFlips;
    report.detectedPercent = report.flips === 0 ? 100 : (100 * report.detected) / report.flips;
    // After everything was restored, the directory verifies clean.
    const final = verify(DIR, { io });
    if (!final.clean) violation(`seed ${seed}: after restoring every flipped bit, verify finds ${final.problems} problem(s)`);
  } finally {
    await db.close();
  }
}

export async function runBitFlipsCampaign(options: BitFlipsOptions = {}): Promise<BitFlipsReport> {
  const report: BitFlipsReport = {
    campaign: 'bit-flips',
    seed: options.seed ?? 1,
    rounds: 0,
    flips: 0,
    flipsInSealedSegments: 0,
    flipsInActiveSegments: 0,
    flipsInEventRecords: 0,
    flipsInCommitRecords: 0,
    detectedByReads: 0,
    locatedByVerify: 0,
    locatedAsTornTail: 0,
    fullVerifies: 0,
    neighbourReads: 0,
    indexFlips: 0,
    indexFlipsLocated: 0,
    indexFlipsReadErrors: 0,
    indexFlipsShortReads: 0,
    indexFlipsCorrectReads: 0,
    detected: 0,
    detectedPercent: 100,
    violations: [],
    violationsOmitted: 0,
    elapsedMs: 0,
  };
  const violation = (m: string) => {
    if (report.violations.length < VIOLATIONS_LISTED_MAX) report.violations.push(m);
    else report.violationsOmitted++;
  };
  const o = {
    flipsPerRound: options.flipsPerRound ?? 10_000,
    exhaustiveRecords: options.exhaustiveRecords ?? 0,
    fullVerifyEvery: options.fullVerifyEvery ?? 1_000,
    indexFlipsPerRound: options.indexFlipsPerRound ?? 0,
    eventsPerRound: options.eventsPerRound ?? 360,
  };
  const done = await forEachRound(options, async (seed, i) => {
    await runBitFlipsRound(seed, o, report, violation);
    options.log?.(`round ${i} (seed ${seed}): totals ${report.flips} flips, ${report.detectedPercent.toFixed(3)}% detected, ${report.violations.length + report.violationsOmitted} violations`);
  });
  report.rounds = done.rounds;
  report.elapsedMs = done.elapsedMs;
  return report;
}

export function formatBitFlipsReport(r: BitFlipsReport): string {
  const lines = [
    `bit-flips: ${r.rounds} rounds from seed ${r.seed} in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    ...(r.flips > 0
      ? [
          `  ${r.flips} record flips (${r.flipsInSealedSegments} in sealed segments, ${r.flipsInActiveSegments} in active ones; ${r.flipsInEventRecords} in event records, ${r.flipsInCommitRecords} in commit records)`,
          `  detected: ${r.detected}/${r.flips} = ${r.detectedPercent.toFixed(3)}%; reads failed with READERR for ${r.detectedByReads}/${r.flipsInEventRecords} event-record flips; ` +
            `verify located ${r.locatedByVerify}/${r.flips} (${r.locatedAsTornTail} as the active segment's torn tail); ${r.fullVerifies} full verifies; ${r.neighbourReads} neighbour reads intact`,
        ]
      : []),
    ...(r.indexFlips > 0
      ? [
          `  ${r.indexFlips} index-file flips: verify reported ${r.indexFlipsLocated}; reads after them: ${r.indexFlipsCorrectReads} exact, ${r.indexFlipsReadErrors} READERR, ` +
            `${r.indexFlipsShortReads} short without error (missed events, none wrong)`,
        ]
      : []),
    `  violations: ${r.violations.length + r.violationsOmitted}`,
    ...r.violations.map((v) => `    ${v}`),
    ...(r.violationsOmitted > 0 ? [`    ... and ${r.violationsOmitted} more`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

if (isMainModule(import.meta.url)) {
  await runCampaignMain('bit-flips', (o) => runBitFlipsCampaign({ ...o, exhaustiveRecords: 3, indexFlipsPerRound: 2_000 }), formatBitFlipsReport);
}
