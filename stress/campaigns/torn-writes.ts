/**
 * Torn and partial writes: a crash at every write boundary of a group commit.
 *
 * One round, from its seed:
 *   1. Plan a database layout (2-3 buckets, small segments), a pre-state (appends made and closed cleanly) and a
 *      workload of two waves of concurrent appends: single events on several streams and buckets, multi-event
 *      transactions, sized so that a segment rolls over in the middle of a batch.
 *   2. Dry run over a recording `TornWriteFileIo`: the list of mutating calls (write, writev, datasync, truncate,
 *      rename, unlink, mkdirp, syncDir, create) the workload makes, numbered from 0.
 *   3. For every call index k, and for a sample of byte cut points inside each write: replay the workload on a
 *      fresh copy of the pre-state with the process dying at that point. The disk it leaves is then examined as
 *        - `process`: the process died, the machine did not (page cache intact: what kill -9 leaves),
 *        - `drop`:    power was lost; every unsynced byte is gone,
 *        - `torn`:    power was lost mid-writeback; each unsynced 512-byte sector is old or new (seeded).
 *   4. Each disk is reopened and checked: every append acknowledged before the crash is present with the same
 *      sequence, version and content; partitions and streams are gapless from 0; only planned events exist; a
 *      multi-event transaction is all there or not at all; new appends (and a multi-event append) succeed with the
 *      next versions; `verify` finds no problem after the reopen (and none before it for `process` and `drop`,
 *      whose tails must read as torn tails, never as corruption).
 *
 * Everything is derived from the round seed, so a violation names the seed, call index, byte cut and disk that
 * replay it: `node stress/campaigns/torn-writes.ts --seed <seed> --rounds 1`.
 */
import type { FileIo } from '../../native-free-io/file-io.ts';
import { SimulatedFileIo, seededRandom } from '../../native-free-io/simulated-file-io.ts';
import { MutatingOp, TornWriteFileIo, type RecordedOp } from '../../native-free-io/torn-write-file-io.ts';
import { open, type Database, type DatabaseOptions } from '../../src/database.ts';
import { bucketIdForPartition, formatUuid, partitionHash, partitionKeyForStream } from '../../src/ids/partition-key.ts';
import { verify } from '../../src/tools/verify.ts';
import { forEachRound, isMainModule, runCampaignMain, type CampaignBudget } from './campaign-cli.ts';

const DIR = '/db';
const TIMESTAMP_BASE_MS = 1_700_000_000_000;
const VIOLATIONS_LISTED_MAX = 50;

export interface TornWritesOptions extends CampaignBudget {
  /** Byte cut points sampled inside each write (besides the boundaries before and after it). Default 3. */
  byteCutsPerWrite?: number;
  /** Torn power cuts (distinct seeds) examined per crash point. Default 1. */
  tornCutsPerPoint?: number;
  /**
   * A fault placed between the crash seam and the disk while the workload runs. For controls only: a disk that
   * ignores fdatasync must make the campaign report violations, or the campaign could not see lost data.
   */
  wrapIo?: (io: FileIo) => FileIo;
}

export interface TornWritesReport {
  campaign: 'torn-writes';
  seed: number;
  rounds: number;
  /** Rounds whose workload rolled a segment over in the middle of a batch. */
  roundsWithRollover: number;
  /** Mutating calls in the dry runs (the boundaries). */
  boundaries: number;
  /** Crash points replayed: every boundary plus the byte cuts inside writes. */
  crashPoints: number;
  byteCutPoints: number;
  /** Disks reopened and checked (crash points × disk kinds). */
  reopens: number;
  /** Acknowledged events checked after reopens (with multiplicity). */
  acknowledgedChecked: number;
  /** Disks on which verify before the reopen found a problem (only `torn` may; those are counted, not failed). */
  tornPreOpenProblems: number;
  violations: string[];
  violationsOmitted: number;
  elapsedMs: number;
}

// ---------------------------------------------------------------------------------------------------------------
// The plan

interface PlannedEvent {
  eventId: string;
  streamId: string;
  eventName: string;
  payload: string;
}

interface PlannedAppend {
  /** Set for a multi-event transaction (EMAPPEND): the shared partition key. */
  multiKey?: string;
  events: PlannedEvent[];
}

interface Plan {
  seed: number;
  layout: { bucketCount: number; partitionCount: number; segmentSizeBytes: number };
  /** Small commit log files, so that rounds also go past a file's end: switches, checkpoints, direct syncs. */
  commitLogFileBytes: number;
  pre: PlannedAppend[];
  waves: PlannedAppend[][];
}

function uuidFrom(rng: () => number): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(rng() * 256);
  return formatUuid(b);
}

function plan(seed: number, attempt: number): Plan {
  const rng = seededRandom(seed * 31 + attempt);
  const int = (n: number) => Math.floor(rng() * n);
  const layout = { bucketCount: 2 + int(2), partitionCount: 6, segmentSizeBytes: 4096 };
  let n = 0;
  const event = (streamId: string, payloadBytes: number): PlannedEvent => ({
    eventId: uuidFrom(rng),
    streamId,
    eventName: `E${n++}`,
    payload: `${streamId}#${n}:`.padEnd(payloadBytes, String.fromCharCode(97 + int(26))),
  });
  const streams = Array.from({ length: 10 }, (_, i) => `s${i}`);
  const single = (payloadMax: number): PlannedAppend => ({ events: [event(streams[int(streams.length)], 10 + int(payloadMax))] });
  const multi = (): PlannedAppend => {
    const base = `m${int(3)}`;
    const names = [base, `${base}-a`, `${base}-b`];
    const count = 2 + int(3);
    return { multiKey: formatUuid(partitionKeyForStream(base)), events: Array.from({ length: count }, () => event(names[int(names.length)], 10 + int(120))) };
  };
  // The pre-state fills each bucket's first segment most of the way, so that the waves roll segments over.
  const pre = Array.from({ length: 14 + int(10) }, () => single(200));
  const waveA: PlannedAppend[] = Array.from({ length: 8 + int(6) }, () => single(400));
  waveA.splice(int(waveA.length), 0, multi());
  const waveB: PlannedAppend[] = Array.from({ length: 3 + int(4) }, () => single(300));
  if (rng() < 0.7) waveB.splice(int(waveB.length), 0, multi());
  const commitLogFileBytes = 8192 + 4096 * int(3);
  return { seed, layout, commitLogFileBytes, pre, waves: [waveA, waveB] };
}

// ---------------------------------------------------------------------------------------------------------------
// Running a plan

interface Acked {
  streamId: string;
  partitionId: number;
  sequence: number;
  version: number;
}

function options(p: Plan, io: DatabaseOptions['io']): DatabaseOptions {
  return { threads: false, io, ...p.layout, commitLogFileBytes: p.commitLogFileBytes, streamCacheEntries: 4 };
}

/** Submits one append (single or multi) and resolves to the acknowledged events. */
async function submit(db: Database, a: PlannedAppend, timestampMs: number): Promise<Map<string, Acked>> {
  const acked = new Map<string, Acked>();
  if (a.multiKey === undefined) {
    const e = a.events[0];
    const r = await db.append(e.streamId, e.eventName, { eventId: e.eventId, payload: e.payload, timestampMs });
    acked.set(e.eventId, { streamId: e.streamId, partitionId: r.partitionId, sequence: r.partitionSequence, version: r.streamVersion });
    return acked;
  }
  const r = await db.appendMulti(
    a.multiKey,
    a.events.map((e) => ({ streamId: e.streamId, eventName: e.eventName, eventId: e.eventId, payload: e.payload, timestampMs })),
  );
  r.events.forEach((e, i) => acked.set(e.eventId, { streamId: e.streamId, partitionId: r.partitionId, sequence: r.firstPartitionSequence + i, version: e.streamVersion }));
  return acked;
}

/** Runs the waves; each wave's appends are submitted in one turn (one group commit per bucket). */
async function runWaves(db: Database, p: Plan): Promise<{ acked: Map<string, Acked>; failed: number }> {
  const acked = new Map<string, Acked>();
  let failed = 0;
  for (const wave of p.waves) {
    const settled = await Promise.allSettled(wave.map((a, i) => submit(db, a, TIMESTAMP_BASE_MS + 1000 + i)));
    for (const s of settled) {
      if (s.status === 'fulfilled') for (const [id, a] of s.value) acked.set(id, a);
      else failed++;
    }
  }
  return { acked, failed };
}

async function buildPreState(p: Plan): Promise<{ disk: SimulatedFileIo; acked: Map<string, Acked> }> {
  const disk = new SimulatedFileIo();
  const db = await open(DIR, options(p, disk));
  const acked = new Map<string, Acked>();
  for (let i = 0; i < p.pre.length; i++) for (const [id, a] of await submit(db, p.pre[i], TIMESTAMP_BASE_MS + i)) acked.set(id, a);
  await db.close();
  return { disk, acked };
}

// ---------------------------------------------------------------------------------------------------------------
// Checking a disk left by a crash

type DiskKind = 'process' | 'drop' | 'torn';

interface CheckContext {
  plan: Plan;
  planned: Map<string, PlannedEvent>;
  acked: Map<string, Acked>;
  where: string;
  violation: (message: string) => void;
}

async function checkDisk(disk: SimulatedFileIo, kind: DiskKind, ctx: CheckContext): Promise<{ preOpenProblems: boolean; ackedChecked: number }> {
  const { plan: p, planned, acked, where, violation } = ctx;
  const before = verify(DIR, { io: disk });
  if (!before.clean && kind !== 'torn') {
    violation(`${where}: verify before reopening finds ${before.problems} problem(s): ${before.findings.filter((f) => f.severity === 'problem').map((f) => `${f.kind} b${f.bucket} s${f.segment} @${f.offset}: ${f.message}`).join(' | ')}`);
  }
  let db: Database;
  try {
    db = await open(DIR, options(p, disk));
  } catch (err) {
    violation(`${where}: reopening failed: ${(err as Error).message}`);
    return { preOpenProblems: !before.clean, ackedChecked: 0 };
  }
  let ackedChecked = 0;
  try {
    // Partitions gapless from 0; only planned events, unchanged; stream versions gapless from 0.
    const present = new Map<string, { sequence: number; version: number; partitionId: number }>();
    const streamNext = new Map<string, number>();
    for (let pid = 0; pid < p.layout.partitionCount; pid++) {
      let next = 0;
      for (;;) {
        const page = await db.scanPartition(pid, next, Number.MAX_SAFE_INTEGER, { count: 500 });
        for (const e of page.events) {
          if (e.partitionSequence !== next) violation(`${where}: partition ${pid} has sequence ${e.partitionSequence} where ${next} was expected`);
          next = e.partitionSequence + 1;
          const plannedEvent = planned.get(e.eventId);
          if (plannedEvent === undefined) {
            violation(`${where}: partition ${pid} sequence ${e.partitionSequence} holds an event nobody appended (${e.eventId})`);
            continue;
          }
          if (e.streamId !== plannedEvent.streamId || e.eventName !== plannedEvent.eventName || e.payload.toString('utf8') !== plannedEvent.payload) {
            violation(`${where}: event ${e.eventId} reads back altered (${e.streamId}/${e.eventName})`);
          }
          if (present.has(e.eventId)) violation(`${where}: event ${e.eventId} appears twice`);
          present.set(e.eventId, { sequence: e.partitionSequence, version: e.streamVersion, partitionId: pid });
          const expectedVersion = streamNext.get(e.streamId) ?? 0;
          if (e.streamVersion !== expectedVersion) violation(`${where}: stream ${e.streamId} has version ${e.streamVersion} where ${expectedVersion} was expected`);
          streamNext.set(e.streamId, e.streamVersion + 1);
        }
        if (!page.hasMore) break;
      }
    }
    // Every acknowledged append is there, with what its acknowledgement said, and readable by id.
    for (const [id, a] of acked) {
      ackedChecked++;
      const got = present.get(id);
      if (got === undefined) {
        violation(`${where}: acknowledged event ${id} (stream ${a.streamId} version ${a.version}, partition ${a.partitionId} sequence ${a.sequence}) is lost`);
        continue;
      }
      if (got.sequence !== a.sequence || got.version !== a.version || got.partitionId !== a.partitionId) {
        violation(`${where}: acknowledged event ${id} moved: acknowledged p${a.partitionId}#${a.sequence} v${a.version}, found p${got.partitionId}#${got.sequence} v${got.version}`);
      }
      const byId = await db.getEvent(id);
      if (byId === undefined || byId.payload.toString('utf8') !== planned.get(id)!.payload) violation(`${where}: acknowledged event ${id} is not readable by id`);
    }
    // A multi-event transaction is all or nothing.
    for (const a of [...p.pre, ...p.waves.flat()]) {
      if (a.multiKey === undefined) continue;
      const n = a.events.filter((e) => present.has(e.eventId)).length;
      if (n !== 0 && n !== a.events.length) violation(`${where}: ${n} of the ${a.events.length} events of a multi-event transaction are present`);
    }
    // The database takes new appends, at the next versions.
    const stream = 's0';
    const last = streamNext.get(stream) ?? 0;
    const r = await db.append(stream, 'AfterCrash', { expectedVersion: last === 0 ? 'empty' : last - 1, timestampMs: TIMESTAMP_BASE_MS + 9000 });
    if (r.streamVersion !== last) violation(`${where}: an append after the crash got version ${r.streamVersion}, expected ${last}`);
    const key = formatUuid(partitionKeyForStream('m0'));
    await db.appendMulti(key, [
      { streamId: 'm0', eventName: 'AfterCrash', timestampMs: TIMESTAMP_BASE_MS + 9001 },
      { streamId: 'm0-a', eventName: 'AfterCrash', timestampMs: TIMESTAMP_BASE_MS + 9001 },
    ]);
    for (let b = 0; b < p.layout.bucketCount; b++) {
      // One more append per bucket, so every bucket's writer has been through a full commit after recovery.
      const name = findStreamInBucket(b, p.layout);
      await db.append(name, 'AfterCrash', { timestampMs: TIMESTAMP_BASE_MS + 9002 });
    }
  } catch (err) {
    violation(`${where}: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await db.close();
  }
  const after = verify(DIR, { io: disk });
  if (!after.clean) {
    violation(`${where}: verify after reopening finds ${after.problems} problem(s): ${after.findings.filter((f) => f.severity === 'problem').map((f) => `${f.kind} b${f.bucket} s${f.segment} @${f.offset}: ${f.message}`).join(' | ')}`);
  }
  return { preOpenProblems: !before.clean, ackedChecked };
}

const bucketStreams = new Map<string, string>();
function findStreamInBucket(bucketId: number, layout: Plan['layout']): string {
  const cacheKey = `${bucketId}/${layout.bucketCount}/${layout.partitionCount}`;
  let name = bucketStreams.get(cacheKey);
  for (let i = 0; name === undefined; i++) {
    const candidate = `probe-${i}`;
    const pid = partitionHash(partitionKeyForStream(candidate)) % layout.partitionCount;
    if (bucketIdForPartition(pid, layout.bucketCount) === bucketId) name = candidate;
  }
  bucketStreams.set(cacheKey, name);
  return name;
}

// ---------------------------------------------------------------------------------------------------------------
// Crash points

interface CrashPoint {
  op: number;
  bytes: number;
  kind: string;
}

/** Every boundary, plus byte cuts inside each write: a header's worth, a sector edge, the middle, one short. */
function crashPoints(ops: readonly RecordedOp[], byteCutsPerWrite: number, rng: () => number): CrashPoint[] {
  const points: CrashPoint[] = [];
  for (const op of ops) {
    points.push({ op: op.index, bytes: 0, kind: op.kind });
    if ((op.kind !== MutatingOp.write && op.kind !== MutatingOp.writev) || op.bytes < 2 || byteCutsPerWrite <= 0) continue;
    const L = op.bytes;
    const sectorEdge = 512 - (op.position % 512);
    const preferred = [1, 16, sectorEdge, Math.floor(L / 2), L - 1];
    const cuts = new Set<number>();
    for (const c of preferred) if (c > 0 && c < L && cuts.size < byteCutsPerWrite) cuts.add(c);
    while (cuts.size < Math.min(byteCutsPerWrite, L - 1)) cuts.add(1 + Math.floor(rng() * (L - 1)));
    for (const c of cuts) points.push({ op: op.index, bytes: c, kind: op.kind });
  }
  return points;
}

export async function runTornWritesRound(
  seed: number,
  o: { byteCutsPerWrite: number; tornCutsPerPoint: number; wrapIo?: (io: FileIo) => FileIo },
  report: TornWritesReport,
  violation: (message: string) => void,
): Promise<void> {
  // Find a plan whose waves roll a segment over (almost every one does).
  let p = plan(seed, 0);
  let pre = await buildPreState(p);
  let dry: { ops: readonly RecordedOp[]; acked: Map<string, Acked> } | undefined;
  for (let attempt = 0; ; attempt++) {
    const wrap = o.wrapIo ?? ((io: FileIo) => io);
    const recorder = new TornWriteFileIo(wrap(pre.disk.snapshot()));
    const db = await open(DIR, options(p, recorder));
    recorder.arm();
    const run = await runWaves(db, p);
    await db.close();
    if (run.failed > 0) violation(`seed ${seed}: ${run.failed} append(s) failed in the dry run`);
    dry = { ops: recorder.ops, acked: run.acked };
    const rolled = recorder.ops.some((op) => op.kind === MutatingOp.create && op.path.endsWith('data.evts'));
    if (rolled || attempt === 5) {
      if (rolled) report.roundsWithRollover++;
      break;
    }
    p = plan(seed, attempt + 1);
    pre = await buildPreState(p);
  }

  const planned = new Map<string, PlannedEvent>();
  for (const a of [...p.pre, ...p.waves.flat()]) for (const e of a.events) planned.set(e.eventId, e);
  const rng = seededRandom(seed ^ 0x5eed);
  const points = crashPoints(dry.ops, o.byteCutsPerWrite, rng);
  report.boundaries += dry.ops.length;
  for (const point of points) {
    const at = `seed ${seed} call ${point.op} (${point.kind}${point.bytes > 0 ? `, ${point.bytes} bytes in` : ''})`;
    const inner = pre.disk.snapshot();
    const io = new TornWriteFileIo(o.wrapIo === undefined ? inner : o.wrapIo(inner), { crashAtOp: point.op, crashAfterBytes: point.bytes, record: false });
    const db = await open(DIR, options(p, io));
    io.arm();
    const run = await runWaves(db, p);
    // The dry run's calls include the clean close (the checkpoint it writes and syncs): crash points there too.
    if (!io.crashed) await db.close().catch(() => undefined);
    if (!io.crashed) {
      violation(`${at}: the replay made only ${io.opCount} mutating calls; the workload is not deterministic`);
      continue;
    }
    // The dead process's database object is abandoned, as the process would be.
    report.crashPoints++;
    if (point.bytes > 0) report.byteCutPoints++;
    const acked = new Map([...pre.acked, ...run.acked]);
    const disks: [DiskKind, string, SimulatedFileIo][] = [
      ['process', 'process crash', inner.snapshot()],
      ['drop', 'power cut (drop)', inner.clone()],
    ];
    for (let t = 0; t < o.tornCutsPerPoint; t++) {
      const tornSeed = seed * 7919 + point.op * 104_729 + point.bytes * 31 + t;
      disks.push(['torn', `power cut (torn, seed ${tornSeed})`, inner.clone({ rng: seededRandom(tornSeed), mode: 'torn' })]);
    }
    for (const [kind, label, disk] of disks) {
      const r = await checkDisk(disk, kind, { plan: p, planned, acked, where: `${at}, ${label}`, violation });
      report.reopens++;
      report.acknowledgedChecked += r.ackedChecked;
      if (r.preOpenProblems) report.tornPreOpenProblems++;
    }
  }
}

export async function runTornWritesCampaign(options: TornWritesOptions = {}): Promise<TornWritesReport> {
  const seed = options.seed ?? 1;
  const report: TornWritesReport = {
    campaign: 'torn-writes',
    seed,
    rounds: 0,
    roundsWithRollover: 0,
    boundaries: 0,
    crashPoints: 0,
    byteCutPoints: 0,
    reopens: 0,
    acknowledgedChecked: 0,
    tornPreOpenProblems: 0,
    violations: [],
    violationsOmitted: 0,
    elapsedMs: 0,
  };
  const violation = (message: string) => {
    if (report.violations.length < VIOLATIONS_LISTED_MAX) report.violations.push(message);
    else report.violationsOmitted++;
  };
  const o = { byteCutsPerWrite: options.byteCutsPerWrite ?? 3, tornCutsPerPoint: options.tornCutsPerPoint ?? 1, wrapIo: options.wrapIo };
  const done = await forEachRound(options, async (roundSeed, i) => {
    const before = report.crashPoints;
    await runTornWritesRound(roundSeed, o, report, violation);
    options.log?.(`round ${i} (seed ${roundSeed}): ${report.crashPoints - before} crash points; totals ${report.crashPoints} crash points, ${report.reopens} reopens, ${report.violations.length + report.violationsOmitted} violations`);
  });
  report.rounds = done.rounds;
  report.elapsedMs = done.elapsedMs;
  return report;
}

export function formatTornWritesReport(r: TornWritesReport): string {
  const lines = [
    `torn-writes: ${r.rounds} rounds from seed ${r.seed} (${r.roundsWithRollover} with a rollover mid-batch) in ${(r.elapsedMs / 1000).toFixed(1)} s`,
    `  ${r.boundaries} write boundaries, ${r.crashPoints} crash points (${r.byteCutPoints} inside writes), ${r.reopens} disks reopened and checked`,
    `  ${r.acknowledgedChecked} acknowledged events checked; ${r.tornPreOpenProblems} torn disks had problems before the reopen (allowed: a torn batch can look like damage)`,
    `  violations: ${r.violations.length + r.violationsOmitted}`,
    ...r.violations.map((v) => `    ${v}`),
    ...(r.violationsOmitted > 0 ? [`    ... and ${r.violationsOmitted} more`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

if (isMainModule(import.meta.url)) {
  await runCampaignMain(
    'torn-writes',
    (o) => runTornWritesCampaign({ ...o, byteCutsPerWrite: 8, tornCutsPerPoint: 3 }),
    formatTornWritesReport,
  );
}
