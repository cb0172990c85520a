/**
 * The long-running stress harness: `npm run stress -- --duration 7d|30m|2m [--seed N] [--no-kill] [--no-sigterm]
 * [--no-bitflips] [--no-disk-full] [--no-campaigns] [--rate N] [--json]`.
 *
 * A real server process (src/cli/main.ts, on a fixed port so that clients and subscriptions reconnect to its
 * restarts) and a mixed workload through the project's client (SierraClient, SubscriptionManager):
 *   - writers append with expected versions on a zipf-skewed key space (each stream owned by one writer, so every
 *     append carries the exact version), and EMAPPEND to groups of streams sharing a partition key;
 *   - readers: sampled EGET, full ESCAN of sampled streams, EPSCAN sweeps of every partition;
 *   - subscriptions: one EPSUB FROM 0 that catches up again and again, live EPSUBs and a live ESUB.
 * An independent model holds what was acknowledged: stream → event ids / content hashes / sequences by version,
 * partition → acknowledged count and highest sequence. Appends whose outcome is unknown (the server died before
 * replying) are resolved by EGET of their client-chosen event ids once the server is back.
 *
 * Checks (any failure is a violation, listed in the report; exit 1):
 *   - every acknowledged event readable with identical content (EGET samples, stream scans, final full scan);
 *   - versions and partition sequences gapless, no duplicates, no unknown events (at the final check);
 *   - subscribers saw every event once, in order (per partition / stream position continuity), and caught up;
 *   - appends rejected during disk-full (WRITEERR) never show up later; appends succeed again once space returns;
 *   - bit-flipped records (sealed segments, flipped while the server is stopped) are reported by verify and every
 *     read that reaches them fails with READERR (never returns data);
 *   - server RSS and open fds sampled every second: no sustained growth (early vs late window, with tolerance).
 *
 * Faults, one at a time on a schedule (each toggleable): kill -9 + restart, SIGTERM + restart (exit code 0
 * required), bit flips (stop, flip, verify, start), disk full (the data directory is a loop-mounted ext4 image;
 * a filler file takes the free space, then is deleted).
 */
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.ts';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SierraClient } from '../src/client/client.ts';
import { SubscriptionManager, type ManagedSubscription } from '../src/client/subscription-manager.ts';
import type { Event } from '../src/client/replies.ts';
import { ReplyError } from '../src/protocol/reply-error.ts';
import { embedPartitionHash, formatUuid, parseUuid, partitionHash, partitionKeyForStream } from '../src/ids/partition-key.ts';
import { DATA_FILE, listSegmentIds, segmentFile } from '../native-free-io/data-layout.ts';
import { nodeFileIo } from '../native-free-io/file-io.ts';
import { SegmentScanner } from '../native-free-io/segment-scanner.ts';
import { eventRecordField, RecordKind } from '../native-free-io/segment-format.ts';
import { verify, type Finding } from '../src/tools/verify.ts';
import { makeSampler, seededRandom } from '../bench/load/key-distribution.ts';
import { freePort, sleep } from '../bench/peers/common.ts';
import { parseDuration } from './campaigns/campaign-cli.ts';
import { runTornWritesCampaign } from './campaigns/torn-writes.ts';
import { runBitFlipsCampaign } from './campaigns/bit-flips.ts';

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

// ---------------------------------------------------------------------------------------------------------------
// Options

export interface StressOptions {
  durationMs: number;
  seed: number;
  kill: boolean;
  sigterm: boolean;
  bitflips: boolean;
  diskFull: boolean;
  campaigns: boolean;
  json: boolean;
  /** Target append operations per second (all writers). */
  rate: number;
}

export function parseStressArgs(argv: readonly string[]): StressOptions {
  const o: StressOptions = { durationMs: 120_000, seed: Date.now() % 1_000_000, kill: true, sigterm: true, bitflips: true, diskFull: true, campaigns: true, json: false, rate: 250 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${a} needs a value`);
      return v;
    };
    if (a === '--duration') o.durationMs = parseDuration(value());
    else if (a === '--seed') o.seed = Number(value());
    else if (a === '--rate') o.rate = Number(value());
    else if (a === '--no-kill') o.kill = false;
    else if (a === '--no-sigterm') o.sigterm = false;
    else if (a === '--no-bitflips') o.bitflips = false;
    else if (a === '--no-disk-full') o.diskFull = false;
    else if (a === '--no-campaigns') o.campaigns = false;
    else if (a === '--json') o.json = true;
    else throw new RangeError(`unknown option ${a}`);
  }
  if (!Number.isSafeInteger(o.seed)) throw new RangeError('--seed must be an integer');
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Layout and constants

const PARTITIONS = 32;
const BUCKETS = 4;
/**
 * Small segments, so that many are sealed (bit flips target sealed ones) and rollovers happen during disk-full.
 * The server keeps every segment's files open (about 8 fds each), so runs over 2 hours use larger segments.
 */
const segmentBytesFor = (durationMs: number): number => (durationMs > 2 * 3_600_000 ? 8 * 1024 * 1024 : 256 * 1024);
/** Partitions reserved for bit-flip victims: only victim streams live there, and no subscription covers them. */
const VICTIM_PARTITIONS = [30, 31];
const WRITERS = 4;
const REGULAR_STREAMS_PER_WRITER = 300;
const VICTIM_STREAMS = 24;
const GROUPS_PER_WRITER = 4;
const REQUEST_TIMEOUT_MS = 60_000;
const VIOLATIONS_LISTED_MAX = 200;
const FDS_PER_SEGMENT = 8;


function contentHash(streamId: string, eventName: string, payload: Uint8Array, metadata: Uint8Array): number {
  const h = createHash('sha1');
  h.update(streamId);
  h.update('\0');
  h.update(eventName);
  h.update('\0');
  h.update(payload);
  h.update('\0');
  h.update(metadata);
  return h.digest().readUIntBE(0, 6);
}

function eventHash(e: Event): number {
  return contentHash(e.streamId, e.eventName, e.payload, e.metadata);
}

/** A fresh event id carrying the partition hash of `key`, like the server's own ids. */
function newEventId(key: Uint8Array): string {
  const b = new Uint8Array(randomBytes(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  embedPartitionHash(b, partitionHash(key));
  return formatUuid(b);
}

function keyInPartition(partition: number, rng: () => number): string {
  for (;;) {
    const b = new Uint8Array(16);
    for (let i = 0; i < 16; i++) b[i] = Math.floor(rng() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    if (partitionHash(b) % PARTITIONS === partition) return formatUuid(b);
  }
}

/** A read error that reports corruption: READERR, or (as the threaded read path answers) ERR naming a read error. */
const isCorruptionError = (err: unknown): boolean => err instanceof ReplyError && (err.code === 'READERR' || /read error|corrupt/i.test(err.message));
const errCode = (err: unknown): string => (err instanceof ReplyError ? err.code : (err as Error)?.name ?? 'Error');
const errText = (err: unknown): string => (err instanceof Error ? `${errCode(err)}: ${err.message}` : String(err));

// ---------------------------------------------------------------------------------------------------------------
// Model

interface StreamModel {
  id: string;
  /** Explicit partition key (victim and multi-append streams), else undefined (derived from the stream id). */
  partitionKey: string | undefined;
  keyBytes: Uint8Array;
  partitionId: number;
  ids: string[];
  hashes: number[];
  seqs: number[];
  victim: boolean;
  /** Versions whose record was bit-flipped. */
  damaged: Set<number>;
  /** A write (or a resolution) is in progress: scans must not expect more than `ids.length` events. */
  busy: boolean;
  broken: boolean;
}

interface PartitionModel {
  acked: number;
  maxSeq: number;
  /** Sequences of damaged events. */
  damaged: Set<number>;
}

interface Damage {
  eventId: string;
  streamId: string;
  version: number;
  partitionId: number;
  sequence: number;
  bucket: number;
  segment: number;
  offset: number;
  byte: number;
  bit: number;
  detectedByVerify?: boolean;
  readChecks: number;
}

class Model {
  readonly streams = new Map<string, StreamModel>();
  readonly partitions: PartitionModel[] = Array.from({ length: PARTITIONS }, () => ({ acked: 0, maxSeq: -1, damaged: new Set<number>() }));
  readonly streamList: StreamModel[] = [];
  readonly damage: Damage[] = [];
  /** Event ids whose append was rejected (WRITEERR): they must never appear. */
  readonly rejected: { eventId: string; streamId: string }[] = [];
  events = 0;

  add(streamId: string, partitionKey: string | undefined, victim: boolean): StreamModel {
    const keyBytes = partitionKey === undefined ? partitionKeyForStream(streamId) : parseUuid(partitionKey)!;
    const s: StreamModel = { id: streamId, partitionKey, keyBytes, partitionId: partitionHash(keyBytes) % PARTITIONS, ids: [], hashes: [], seqs: [], victim, damaged: new Set(), busy: false, broken: false };
    this.streams.set(streamId, s);
    this.streamList.push(s);
    return s;
  }

  ack(s: StreamModel, version: number, eventId: string, hash: number, partitionId: number, sequence: number, violation: (m: string) => void): void {
    if (version !== s.ids.length) violation(`stream ${s.id}: acknowledged version ${version}, the model expected ${s.ids.length}`);
    if (partitionId !== s.partitionId) violation(`stream ${s.id}: acknowledged in partition ${partitionId}, expected ${s.partitionId}`);
    s.ids[version] = eventId;
    s.hashes[version] = hash;
    s.seqs[version] = sequence;
    const p = this.partitions[partitionId];
    p.acked++;
    if (sequence > p.maxSeq) p.maxSeq = sequence;
    this.events++;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Server process

class ServerHandle {
  proc: ChildProcess | undefined;
  pid = 0;
  exited: Promise<number | string> = Promise.resolve(0);
  up = false;
  #upWaiters: (() => void)[] = [];
  output = '';
  readonly dir: string;
  readonly port: number;
  readonly segmentBytes: number;
  starts = 0;

  constructor(dir: string, port: number, segmentBytes: number) {
    this.dir = dir;
    this.port = port;
    this.segmentBytes = segmentBytes;
  }

  async start(): Promise<void> {
    const args = [
      ...SERVER_NODE_FLAGS,
      MAIN,
      'serve',
      '--dir', this.dir,
      '--client-address', `127.0.0.1:${this.port}`,
      '--log-format', 'json',
      '--log', 'info',
      '--bucket-count', String(BUCKETS),
      '--partition-count', String(PARTITIONS),
      '--segment-size', String(this.segmentBytes),
      '--write-threads', '2',
      '--read-threads', '1',
    ];
    const proc = spawn(process.execPath, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, SIERRA_CACHE_CAPACITY_BYTES: String(2 * 1024 * 1024) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.pid = proc.pid ?? 0;
    this.starts++;
    this.output = '';
    let lineBuf = '';
    let listening = false;
    const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
    this.exited = exited;
    const started = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start in 60 s:\n${this.output.slice(-4000)}`)), 60_000);
      const onData = (d: Buffer) => {
        const text = d.toString('utf8');
        // Keep the tail only: a week of logs must not grow the harness.
        this.output = (this.output + text).slice(-20_000);
        if (listening) return;
        lineBuf += text;
        const lines = lineBuf.split('\n');
        lineBuf = lines.pop() ?? '';
        for (const l of lines) {
          if (l.includes('"listening"')) {
            listening = true;
            clearTimeout(timer);
            resolve();
          }
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString('utf8')).slice(-20_000)));
      void exited.then((code) => {
        clearTimeout(timer);
        if (!listening) reject(new Error(`server exited (${code}) before listening:\n${this.output.slice(-4000)}`));
      });
    });
    await started;
    this.up = true;
    for (const w of this.#upWaiters.splice(0)) w();
    void exited.then(() => (this.up = false));
  }

  alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves once the server is (again) listening. */
  whenUp(): Promise<void> {
    if (this.up && this.alive()) return Promise.resolve();
    return new Promise((r) => this.#upWaiters.push(r));
  }

  async kill9(): Promise<void> {
    this.up = false;
    if (this.alive()) this.proc!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM; resolves with the exit code (or 'timeout' after which it was killed). */
  async sigterm(timeoutMs = 30_000): Promise<number | string> {
    this.up = false;
    if (!this.alive()) return this.exited;
    this.proc!.kill('SIGTERM');
    const timer = sleep(timeoutMs).then(() => 'timeout' as const);
    const r = await Promise.race([this.exited, timer]);
    if (r === 'timeout') {
      this.proc!.kill('SIGKILL');
      await this.exited;
    }
    return r;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Disk (loop-mounted ext4 image, for disk-full)

interface Disk {
  mountPoint: string | undefined;
  image: string | undefined;
  skipReason: string | undefined;
  root: string;
}

function prepareDisk(root: string, want: boolean, durationMs: number): Disk {
  if (!want) return { mountPoint: undefined, image: undefined, skipReason: 'disabled (--no-disk-full)', root };
  if (process.platform !== 'linux') return { mountPoint: undefined, image: undefined, skipReason: 'not Linux', root };
  const image = path.join(root, 'disk.img');
  const mountPoint = path.join(root, 'mnt');
  // Room for the run's data (about 60 KiB/s at the default rate) with a margin; sparse until written.
  const sizeMiB = Math.max(256, Math.min(64 * 1024, Math.ceil((durationMs / 1000) * 0.15) + 256));
  try {
    fs.mkdirSync(mountPoint, { recursive: true });
    execFileSync('truncate', ['-s', `${sizeMiB}M`, image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', image], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
    return { mountPoint, image, skipReason: undefined, root };
  } catch (err) {
    fs.rmSync(image, { force: true });
    const msg = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return { mountPoint: undefined, image: undefined, skipReason: `cannot loop-mount an ext4 image (${msg.split('\n')[0]}); the engine has no write-failure seam reachable from a server process`, root };
  }
}

function releaseDisk(d: Disk): void {
  if (d.mountPoint === undefined) return;
  for (let i = 0; i < 10; i++) {
    try {
      execFileSync('umount', [d.mountPoint], { stdio: 'pipe' });
      break;
    } catch {
      execFileSync('sleep', ['0.5']);
    }
  }
  if (d.image) fs.rmSync(d.image, { force: true });
}

/** Takes all free space with fallocate'd filler files; returns the bytes taken. */
function fillDisk(mountPoint: string): number {
  let taken = 0;
  for (let i = 0; i < 64; i++) {
    const st = fs.statfsSync(mountPoint);
    const free = st.bavail * st.bsize;
    if (free < st.bsize) break;
    try {
      execFileSync('fallocate', ['-l', String(free), path.join(mountPoint, `filler-${i}`)], { stdio: 'pipe' });
      taken += free;
    } catch {
      // Asked for more than fits (metadata blocks): try half.
      try {
        execFileSync('fallocate', ['-l', String(Math.floor(free / 2 / st.bsize) * st.bsize), path.join(mountPoint, `filler-${i}`)], { stdio: 'pipe' });
        taken += Math.floor(free / 2);
      } catch {
        break;
      }
    }
  }
  return taken;
}

function freeDisk(mountPoint: string): void {
  for (const f of fs.readdirSync(mountPoint)) if (f.startsWith('filler-')) fs.rmSync(path.join(mountPoint, f), { force: true });
}

// ---------------------------------------------------------------------------------------------------------------
// The run

export interface StressReport {
  seed: number;
  durationMs: number;
  elapsedMs: number;
  operations: Record<string, number>;
  faultsInjected: Record<string, number>;
  faultsSurvived: Record<string, number>;
  faultsSkipped: Record<string, string>;
  model: { streams: number; events: number; partitionsSwept: number; damagedEvents: number; rejectedAppends: number };
  subscriptions: Record<string, { delivered: number; reconnects: number; cycles?: number }>;
  resources: {
    samples: number;
    rssMiB: { early: number; late: number; max: number };
    fds: { early: number; late: number; max: number; segmentsEarly: number; segmentsLate: number; beyondPerSegmentEarly: number; beyondPerSegmentLate: number };
    verdict: string;
  };
  campaigns: Record<string, { rounds: number; violations: number; summary: string }>;
  violations: string[];
  violationsOmitted: number;
  /** Violations listed once, with how often they occurred. */
  repeatedViolations: Record<string, number>;
}

class Harness {
  readonly o: StressOptions;
  readonly model = new Model();
  readonly ops: Record<string, number> = {};
  readonly injected: Record<string, number> = {};
  readonly survived: Record<string, number> = {};
  readonly skipped: Record<string, string> = {};
  readonly violations: string[] = [];
  violationsOmitted = 0;
  readonly rng: () => number;
  server!: ServerHandle;
  disk!: Disk;
  port = 0;
  stopping = false;
  /** Appends are expected to fail with WRITEERR while this is set. */
  diskFull = false;
  diskFullErrors: string[] = [];
  /** While set, readers pause (the server is being stopped on purpose). */
  readonly startedAt = Date.now();
  readonly rss: { t: number; rss: number; fds: number; segments: number }[] = [];
  readonly subs: Record<string, { delivered: number; reconnects: number; cycles?: number }> = {};
  partitionsSwept = 0;
  readonly log: (line: string) => void;

  constructor(o: StressOptions) {
    this.o = o;
    this.rng = seededRandom(o.seed);
    this.log = o.json ? (l) => process.stderr.write(l + '\n') : (l) => process.stdout.write(l + '\n');
  }

  count(kind: string, n = 1): void {
    this.ops[kind] = (this.ops[kind] ?? 0) + n;
  }

  violation(message: string): void {
    const line = `[${((Date.now() - this.startedAt) / 1000).toFixed(1)}s] ${message}`;
    if (this.violations.length < VIOLATIONS_LISTED_MAX) this.violations.push(line);
    else this.violationsOmitted++;
    this.log(`VIOLATION ${line}`);
  }

  readonly onceCounts = new Map<string, number>();

  /** A violation reported once, with a count of its occurrences in the report. */
  violationOnce(key: string, message: string): void {
    const n = (this.onceCounts.get(key) ?? 0) + 1;
    this.onceCounts.set(key, n);
    if (n === 1) this.violation(message);
  }

  /** A read that reached a damaged record failed: it must fail with READERR. */
  damagedReadFailed(what: string, err: unknown): void {
    if (!(err instanceof ReplyError)) return;
    if (!isCorruptionError(err)) this.violation(`${what}: ${errText(err)} (expected READERR)`);
    else if (err.code !== 'READERR') this.violationOnce('corruption-code', `${what}: corruption detected but answered as ${errText(err)} instead of a READERR error reply (repeats are counted under "corruptionAnsweredWithoutReaderr")`);
    if (isCorruptionError(err) && err.code !== 'READERR') this.count('corruptionAnsweredWithoutReaderr');
  }

  /** A client call with a timeout; a timeout is a violation (the server hung) unless a fault is in progress. */
  async call<T>(client: SierraClient, what: string, f: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        if (this.server.up && !this.stopping) this.violation(`${what}: no reply within ${REQUEST_TIMEOUT_MS / 1000} s`);
        client.close();
        reject(new Error('request timed out'));
      }, REQUEST_TIMEOUT_MS);
    });
    try {
      return await Promise.race([f(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A connected client, retried until the server is up. */
  async connect(): Promise<SierraClient> {
    for (;;) {
      await this.server.whenUp();
      try {
        return await SierraClient.connect({ port: this.port, connectTimeoutMs: 5000 });
      } catch {
        await sleep(100);
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Setup

  setupStreams(): { regular: StreamModel[][]; victims: StreamModel[][]; groups: StreamModel[][][] } {
    const rng = seededRandom(this.o.seed ^ 0x5eed);
    const victimSet = new Set(VICTIM_PARTITIONS);
    const regular: StreamModel[][] = Array.from({ length: WRITERS }, () => []);
    const victims: StreamModel[][] = Array.from({ length: WRITERS }, () => []);
    const groups: StreamModel[][][] = Array.from({ length: WRITERS }, () => []);
    let i = 0;
    for (let w = 0; w < WRITERS; w++) {
      while (regular[w].length < REGULAR_STREAMS_PER_WRITER) {
        const id = `s-${i++}`;
        if (victimSet.has(partitionHash(partitionKeyForStream(id)) % PARTITIONS)) continue;
        regular[w].push(this.model.add(id, undefined, false));
      }
    }
    for (let v = 0; v < VICTIM_STREAMS; v++) {
      const key = keyInPartition(VICTIM_PARTITIONS[v % VICTIM_PARTITIONS.length], rng);
      victims[v % WRITERS].push(this.model.add(`v-${v}`, key, true));
    }
    const others = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !victimSet.has(p));
    for (let w = 0; w < WRITERS; w++) {
      for (let g = 0; g < GROUPS_PER_WRITER; g++) {
        const key = keyInPartition(others[Math.floor(rng() * others.length)], rng);
        groups[w].push([0, 1, 2].map((k) => this.model.add(`m-${w}-${g}-${k}`, key, false)));
      }
    }
    return { regular, victims, groups };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Writers

  async writer(w: number, regular: StreamModel[], victims: StreamModel[], groups: StreamModel[][], until: () => boolean): Promise<void> {
    const rng = seededRandom(this.o.seed * 31 + w);
    const sample = makeSampler('zipf', regular.length, rng, 0.99);
    const perWriterInterval = (1000 * WRITERS) / this.o.rate;
    let client = await this.connect();
    let next = Date.now();
    while (!until()) {
      next += perWriterInterval;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else if (wait < -2000) next = Date.now();
      const r = rng();
      let streams: StreamModel[];
      if (r < 0.12) streams = groups[Math.floor(rng() * groups.length)].filter(() => rng() < 0.7);
      else if (r < 0.2 && victims.length > 0) streams = [victims[Math.floor(rng() * victims.length)]];
      else streams = [regular[sample()]];
      if (streams.length === 0) continue;
      streams = streams.filter((s) => !s.broken);
      if (streams.length === 0) continue;
      if (client.connection.closed) client = await this.connect();
      await this.appendOnce(client, streams, rng);
    }
    client.close();
  }

  /** One EAPPEND (one stream) or EMAPPEND (several), with exact expected versions; resolves unknown outcomes. */
  async appendOnce(client: SierraClient, streams: StreamModel[], rng: () => number): Promise<void> {
    const events = streams.map((s) => {
      const version = s.ids.length;
      const eventName = `Event${Math.floor(rng() * 5)}`;
      const payload = Buffer.from(`${s.id}:${version}:`.padEnd(16 + Math.floor(rng() * 300), String.fromCharCode(97 + Math.floor(rng() * 26))));
      const metadata = rng() < 0.3 ? Buffer.from(`{"v":${version},"r":${Math.floor(rng() * 1e9)}}`) : Buffer.alloc(0);
      return { s, version, eventId: newEventId(s.keyBytes), eventName, payload, metadata, hash: contentHash(s.id, eventName, payload, metadata) };
    });
    for (const e of events) e.s.busy = true;
    const multi = events.length > 1;
    const kind = multi ? 'emappend' : 'eappend';
    const wasFull = this.diskFull;
    try {
      if (!multi) {
        const e = events[0];
        const res = await this.call(client, 'EAPPEND', () =>
          client.eappend(e.s.id, e.eventName, {
            eventId: e.eventId,
            partitionKey: e.s.partitionKey,
            expectedVersion: e.version === 0 ? 'empty' : e.version - 1,
            payload: e.payload,
            metadata: e.metadata.length > 0 ? e.metadata : undefined,
          }),
        );
        if (res.eventId !== e.eventId) this.violation(`EAPPEND ${e.s.id}: acknowledged event id ${res.eventId}, sent ${e.eventId}`);
        this.model.ack(e.s, res.streamVersion, e.eventId, e.hash, res.partitionId, res.partitionSequence, (m) => this.violation(m));
        this.count('eappend');
      } else {
        const res = await this.call(client, 'EMAPPEND', () =>
          client.emappend(
            events[0].s.partitionKey!,
            events.map((e) => ({
              streamId: e.s.id,
              eventName: e.eventName,
              eventId: e.eventId,
              expectedVersion: e.version === 0 ? 'empty' : e.version - 1,
              payload: e.payload,
              metadata: e.metadata.length > 0 ? e.metadata : undefined,
            })),
          ),
        );
        if (res.lastPartitionSequence - res.firstPartitionSequence !== events.length - 1) this.violation(`EMAPPEND: sequences ${res.firstPartitionSequence}..${res.lastPartitionSequence} for ${events.length} events`);
        events.forEach((e, i) => {
          const r = res.events[i];
          if (r === undefined || r.eventId !== e.eventId || r.streamId !== e.s.id) this.violation(`EMAPPEND: reply event ${i} is ${JSON.stringify(r)}, sent ${e.eventId} on ${e.s.id}`);
          this.model.ack(e.s, r?.streamVersion ?? e.version, e.eventId, e.hash, res.partitionId, res.firstPartitionSequence + i, (m) => this.violation(m));
        });
        this.count('emappend');
        this.count('emappendEvents', events.length);
      }
    } catch (err) {
      if (err instanceof ReplyError) {
        if (err.code === 'WRITEERR' && (wasFull || this.diskFull)) {
          this.count(`${kind}WriteErrDiskFull`);
          if (this.diskFullErrors.length < 3) this.diskFullErrors.push(err.message);
          for (const e of events) this.model.rejected.push({ eventId: e.eventId, streamId: e.s.id });
        } else {
          this.violation(`${kind} ${events.map((e) => `${e.s.id}@${e.version}`).join(',')}: ${errText(err)}`);
          if (err.code === 'WRONGVER') for (const e of events) e.s.broken = true;
          else for (const e of events) this.model.rejected.push({ eventId: e.eventId, streamId: e.s.id });
        }
      } else {
        // The connection dropped or timed out: the outcome is unknown. Resolve it once the server is back.
        this.count(`${kind}Unknown`);
        await this.resolveUnknown(events);
      }
    } finally {
      for (const e of events) e.s.busy = false;
    }
  }

  async resolveUnknown(events: { s: StreamModel; version: number; eventId: string; hash: number }[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 100) {
        this.violation(`could not resolve an unknown append outcome (${events[0].eventId}) after 100 attempts`);
        for (const e of events) e.s.broken = true;
        return;
      }
      const client = await this.connect();
      try {
        const found = await this.call(client, 'EGET (resolve)', () => Promise.all(events.map((e) => client.eget(e.eventId))));
        const present = found.filter((f) => f !== null).length;
        if (present !== 0 && present !== events.length) {
          this.violation(`a multi-stream append was partly applied: ${present} of ${events.length} events present (${events.map((e) => e.eventId).join(',')})`);
        }
        if (present === 0) {
          this.count('unknownResolvedAbsent');
          // It must not appear later either: check the stream's version.
          const s = events[0].s;
          const ver = await this.call(client, 'ESVER', () => client.esver(s.id, { partitionKey: s.partitionKey }));
          if ((ver ?? -1) !== s.ids.length - 1) {
            this.violation(`stream ${s.id}: after an unknown append found absent, ESVER is ${ver}, the model has ${s.ids.length} events`);
            s.broken = true;
          }
          return;
        }
        events.forEach((e, i) => {
          const f = found[i];
          if (f === null) return;
          if (f.streamId !== e.s.id || eventHash(f) !== e.hash) this.violation(`event ${e.eventId}: resolved unknown append has other content (stream ${f.streamId} v${f.streamVersion})`);
          this.model.ack(e.s, f.streamVersion, e.eventId, e.hash, f.partitionId, f.partitionSequence, (m) => this.violation(m));
        });
        this.count('unknownResolvedPresent');
        return;
      } catch {
        await sleep(200);
      } finally {
        client.close();
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Readers

  /** Checks one event read back against the model; returns false when it is not (yet) in the model. */
  checkEvent(e: Event, where: string): boolean {
    const s = this.model.streams.get(e.streamId);
    if (s === undefined) {
      this.violation(`${where}: event ${e.eventId} of unknown stream ${e.streamId}`);
      return true;
    }
    if (e.streamVersion >= s.ids.length) return false;
    if (s.damaged.has(e.streamVersion)) {
      this.violation(`${where}: damaged event ${s.id}@${e.streamVersion} (${e.eventId}) was served as data`);
      return true;
    }
    const problems: string[] = [];
    if (e.eventId !== s.ids[e.streamVersion]) problems.push(`id ${e.eventId} != ${s.ids[e.streamVersion]}`);
    if (eventHash(e) !== s.hashes[e.streamVersion]) problems.push('content differs');
    if (e.partitionSequence !== s.seqs[e.streamVersion]) problems.push(`sequence ${e.partitionSequence} != ${s.seqs[e.streamVersion]}`);
    if (e.partitionId !== s.partitionId) problems.push(`partition ${e.partitionId} != ${s.partitionId}`);
    if (problems.length > 0) this.violation(`${where}: ${s.id}@${e.streamVersion}: ${problems.join('; ')}`);
    return true;
  }

  async egetSampler(until: () => boolean): Promise<void> {
    const rng = seededRandom(this.o.seed ^ 0xe9e7);
    let client = await this.connect();
    while (!until()) {
      await sleep(50);
      if (client.connection.closed) client = await this.connect();
      const batch: { s: StreamModel; v: number; id: string; damaged: boolean }[] = [];
      for (let i = 0; i < 20; i++) {
        const s = this.model.streamList[Math.floor(rng() * this.model.streamList.length)];
        if (s.ids.length === 0) continue;
        // Damaged versions get extra attention: they must keep failing.
        const damaged = [...s.damaged];
        const v = damaged.length > 0 && rng() < 0.3 ? damaged[Math.floor(rng() * damaged.length)] : Math.floor(rng() * s.ids.length);
        batch.push({ s, v, id: s.ids[v], damaged: s.damaged.has(v) });
      }
      const results = await Promise.allSettled(batch.map((b) => this.call(client, 'EGET', () => client.eget(b.id))));
      if (!this.server.up || client.connection.closed) continue; // results during a fault say nothing
      results.forEach((r, i) => {
        const b = batch[i];
        if (b.damaged) {
          this.count('egetDamaged');
          if (r.status === 'fulfilled') {
            if (r.value !== null) this.violation(`EGET of damaged event ${b.s.id}@${b.v} (${b.id}) returned data`);
            else this.violation(`EGET of damaged event ${b.s.id}@${b.v} (${b.id}) returned "not found" (corruption hidden)`);
          } else this.damagedReadFailed(`EGET of damaged event ${b.id}`, r.reason);
          return;
        }
        this.count('eget');
        if (r.status === 'rejected') {
          if (r.reason instanceof ReplyError) this.violation(`EGET ${b.s.id}@${b.v} (${b.id}): ${errText(r.reason)}`);
          return;
        }
        if (r.value === null) this.violation(`EGET ${b.s.id}@${b.v} (${b.id}): acknowledged event not found`);
        else this.checkEvent(r.value, 'EGET');
      });
    }
    client.close();
  }

  /** Reads versions [from, to] of a stream in pages; returns the events, or throws. */
  async scanStream(client: SierraClient, s: StreamModel, from: number, to: number): Promise<Event[]> {
    const out: Event[] = [];
    let start = from;
    while (start <= to) {
      const page = await this.call(client, 'ESCAN', () => client.escan(s.id, start, to, { partitionKey: s.partitionKey, count: 500 }));
      out.push(...page.events);
      if (page.events.length === 0) break;
      start = page.events[page.events.length - 1].streamVersion + 1;
      if (!page.hasMore) break;
    }
    return out;
  }

  /** Full ESCAN of a stream up to the model's length, around damaged versions (each of which must fail). */
  async verifyStream(client: SierraClient, s: StreamModel, exact: boolean): Promise<void> {
    const len = s.ids.length;
    if (len === 0) return;
    const damaged = [...s.damaged].sort((a, b) => a - b);
    const ranges: [number, number][] = [];
    let from = 0;
    for (const d of damaged) {
      if (d > from) ranges.push([from, d - 1]);
      from = d + 1;
    }
    if (from <= len - 1) ranges.push([from, len - 1]);
    for (const [a, b] of ranges) {
      let events: Event[];
      try {
        events = await this.scanStream(client, s, a, b);
      } catch (err) {
        if (err instanceof ReplyError) this.violation(`ESCAN ${s.id} ${a}..${b}: ${errText(err)}`);
        throw err;
      }
      let expect = a;
      for (const e of events) {
        if (e.streamVersion !== expect) {
          this.violation(`ESCAN ${s.id}: version ${e.streamVersion} where ${expect} was expected (gap or duplicate)`);
          break;
        }
        this.checkEvent(e, 'ESCAN');
        expect++;
      }
      if (expect <= b) this.violation(`ESCAN ${s.id} ${a}..${b}: ended at ${expect - 1}; acknowledged events missing`);
      this.count('escanEvents', events.length);
    }
    for (const d of damaged) {
      try {
        const page = await this.call(client, 'ESCAN', () => client.escan(s.id, d, d, { partitionKey: s.partitionKey }));
        if (page.events.length > 0) this.violation(`ESCAN of damaged ${s.id}@${d} returned data`);
        else this.violation(`ESCAN of damaged ${s.id}@${d} returned nothing (corruption hidden)`);
      } catch (err) {
        this.damagedReadFailed(`ESCAN of damaged ${s.id}@${d}`, err);
        if (!(err instanceof ReplyError)) throw err;
      }
      this.count('escanDamaged');
    }
    if (exact) {
      const ver = await this.call(client, 'ESVER', () => client.esver(s.id, { partitionKey: s.partitionKey }));
      if ((ver ?? -1) !== len - 1) this.violation(`ESVER ${s.id} is ${ver}, the model has ${len} events (unknown events present)`);
    }
    this.count('escan');
  }

  async streamScanner(until: () => boolean): Promise<void> {
    const rng = seededRandom(this.o.seed ^ 0x5ca7);
    let client = await this.connect();
    while (!until()) {
      await sleep(100);
      if (client.connection.closed) client = await this.connect();
      const list = this.model.streamList;
      // Hot streams (low ranks, victims) are picked more often: they are the long ones.
      const s = rng() < 0.5 ? list[Math.floor(rng() * list.length)] : list[Math.floor(Math.pow(rng(), 3) * list.length)];
      try {
        await this.verifyStream(client, s, false);
      } catch {
        // a fault: try another later
      }
    }
    client.close();
  }

  /** EPSCAN of one partition from 0, around damaged sequences. With `exact`, nothing unknown may be present. */
  async sweepPartition(client: SierraClient, p: number, exact: boolean): Promise<void> {
    const pm = this.model.partitions[p];
    const max = pm.maxSeq;
    const ackedAtStart = pm.acked;
    if (max < 0) return;
    const damaged = [...pm.damaged].sort((a, b) => a - b);
    let matched = 0;
    let unknown = 0;
    let expect = 0;
    const seen = new Set<string>();
    const scanRange = async (a: number, b: number) => {
      let start = a;
      while (start <= b) {
        const page = await this.call(client, 'EPSCAN', () => client.epscan(p, start, b, { count: 1000 }));
        for (const e of page.events) {
          if (e.partitionSequence !== expect) {
            this.violation(`EPSCAN ${p}: sequence ${e.partitionSequence} where ${expect} was expected (gap or duplicate)`);
            throw new Error('sweep aborted');
          }
          expect++;
          if (seen.has(e.eventId)) this.violation(`EPSCAN ${p}: event ${e.eventId} twice`);
          seen.add(e.eventId);
          if (this.checkEvent(e, `EPSCAN ${p}`)) matched++;
          else unknown++;
        }
        this.count('epscanEvents', page.events.length);
        if (page.events.length === 0 || !page.hasMore) break;
        start = page.events[page.events.length - 1].partitionSequence + 1;
      }
    };
    let from = 0;
    for (const d of damaged) {
      if (d > from) await scanRange(from, d - 1);
      if (expect !== d) {
        this.violation(`EPSCAN ${p}: ended at ${expect - 1} before damaged sequence ${d}`);
        return;
      }
      try {
        const page = await this.call(client, 'EPSCAN', () => client.epscan(p, d, d));
        this.violation(`EPSCAN of damaged sequence ${p}/${d} returned ${page.events.length > 0 ? 'data' : 'nothing (corruption hidden)'}`);
      } catch (err) {
        if (!(err instanceof ReplyError)) throw err;
        this.damagedReadFailed(`EPSCAN of damaged sequence ${p}/${d}`, err);
      }
      this.count('epscanDamaged');
      expect = d + 1;
      matched++;
      from = d + 1;
    }
    if (from <= max) await scanRange(from, max);
    if (expect !== max + 1) this.violation(`EPSCAN ${p}: ended at ${expect - 1}, acknowledged up to ${max}`);
    if (matched < ackedAtStart) this.violation(`EPSCAN ${p}: ${matched} acknowledged events found up to ${max}, ${ackedAtStart} acknowledged`);
    if (exact) {
      if (unknown > 0) this.violation(`EPSCAN ${p}: ${unknown} events that were never acknowledged`);
      const last = await this.call(client, 'EPSEQ', () => client.epseq(p));
      if ((last ?? -1) !== max) this.violation(`EPSEQ ${p} is ${last}, the model's last sequence is ${max}`);
    }
    this.count('epscan');
    this.partitionsSwept++;
  }

  async partitionSweeper(until: () => boolean): Promise<void> {
    let client = await this.connect();
    while (!until()) {
      for (let p = 0; p < PARTITIONS && !until(); p++) {
        if (client.connection.closed) client = await this.connect();
        try {
          await this.sweepPartition(client, p, false);
        } catch {
          // a fault or an aborted sweep (already reported)
        }
      }
      for (let i = 0; i < 100 && !until(); i++) await sleep(100);
    }
    client.close();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Subscriptions

  /** A handler checking position continuity per source (partition or stream) and content against the model. */
  orderedHandler(name: string, kind: 'partitions' | 'streams', next: Map<number | string, number>) {
    const stats = this.subs[name];
    return (e: Event): void => {
      const key = kind === 'partitions' ? e.partitionId : e.streamId;
      const pos = kind === 'partitions' ? e.partitionSequence : e.streamVersion;
      const want = next.get(key);
      if (want === undefined) this.violation(`${name}: event from unexpected source ${key}`);
      else if (pos !== want) this.violation(`${name}: ${kind === 'partitions' ? 'partition' : 'stream'} ${key}: got position ${pos}, expected ${want} (${pos < want ? 'duplicate/out of order' : 'gap'})`);
      next.set(key, pos + 1);
      this.checkEvent(e, name);
      stats.delivered++;
      this.count('subscriptionEvents');
    };
  }

  async catchUpSubscriber(until: () => boolean): Promise<void> {
    const name = 'catch-up EPSUB FROM 0';
    this.subs[name] = { delivered: 0, reconnects: 0, cycles: 0 };
    const partitions = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => !VICTIM_PARTITIONS.includes(p));
    const manager = await SubscriptionManager.connect({ port: this.port, reconnectDelayMaxMs: 500 });
    try {
      while (!until()) {
        const next = new Map<number | string, number>(partitions.map((p) => [p, 0]));
        const target = partitions.map((p) => this.model.partitions[p].maxSeq);
        const sub = await manager.subscribeToPartitions(partitions, { from: 0, window: 500 }, this.orderedHandler(name, 'partitions', next));
        const started = Date.now();
        while (!until() && partitions.some((p, i) => (next.get(p) ?? 0) <= target[i])) {
          await sleep(200);
          if (Date.now() - started > 10 * 60_000) {
            this.violation(`${name}: did not catch up within 10 minutes (${partitions.filter((p, i) => (next.get(p) ?? 0) <= target[i]).length} partitions behind)`);
            break;
          }
          if (sub.closed) {
            await sub.done.catch((err) => this.violation(`${name}: ended: ${errText(err)}`));
            break;
          }
        }
        await sub.close();
        this.subs[name].cycles!++;
        this.subs[name].reconnects = manager.reconnects;
        this.count('catchUpCycles');
        for (let i = 0; i < 20 && !until(); i++) await sleep(100);
      }
    } finally {
      await manager.close();
    }
  }

  liveSubscriptions: { name: string; sub: ManagedSubscription; next: Map<number | string, number>; manager: SubscriptionManager; kind: 'partitions' | 'streams' }[] = [];

  async startLiveSubscriptions(regular: StreamModel[][]): Promise<void> {
    const partitionsA = [0, 1, 2, 3, 4, 5, 6, 7];
    const partitionsB = [9, 14, 21, 27];
    const hot = regular.flatMap((r) => r.slice(0, 5));
    const specs: { name: string; kind: 'partitions' | 'streams'; partitions?: number[]; streams?: StreamModel[] }[] = [
      { name: 'live EPSUB 0-7', kind: 'partitions', partitions: partitionsA },
      { name: 'live EPSUB 9,14,21,27', kind: 'partitions', partitions: partitionsB },
      { name: 'live ESUB hot streams', kind: 'streams', streams: hot },
    ];
    for (const spec of specs) {
      this.subs[spec.name] = { delivered: 0, reconnects: 0 };
      const manager = await SubscriptionManager.connect({ port: this.port, reconnectDelayMaxMs: 500 });
      const next = new Map<number | string, number>();
      const handler = this.orderedHandler(spec.name, spec.kind, next);
      let sub: ManagedSubscription;
      if (spec.kind === 'partitions') {
        sub = await manager.subscribeToPartitions(spec.partitions!, { from: 'latest', window: 200 }, handler);
      } else {
        sub = await manager.subscribeToStreams(spec.streams!.map((s) => s.id), { from: 'latest', window: 200 }, handler);
      }
      // The handler starts checking from the positions the subscription starts at.
      for (const [k, v] of sub.positions()) if (!next.has(k)) next.set(k, v);
      this.liveSubscriptions.push({ name: spec.name, sub, next, manager, kind: spec.kind });
    }
  }

  /** After the workload: every live subscription must have reached the model's end. */
  async checkLiveSubscriptionsCaughtUp(): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (const l of this.liveSubscriptions) {
      const behind = (): string[] => {
        const out: string[] = [];
        for (const [k, v] of l.next) {
          const end = l.kind === 'partitions' ? this.model.partitions[k as number].maxSeq + 1 : this.model.streams.get(k as string)!.ids.length;
          if (v < end) out.push(`${k}: at ${v}, end ${end}`);
        }
        return out;
      };
      while (behind().length > 0 && Date.now() < deadline && !l.sub.closed) await sleep(200);
      const b = behind();
      if (l.sub.closed) await l.sub.done.catch((err) => this.violation(`${l.name}: ended: ${errText(err)}`));
      if (b.length > 0) this.violation(`${l.name}: did not receive every event: ${b.slice(0, 5).join('; ')}`);
      this.subs[l.name].reconnects = l.manager.reconnects;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Resources

  sampleResources(): void {
    const pid = this.server.pid;
    if (!this.server.up || pid === 0) return;
    try {
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
      let segments = 0;
      for (let b = 0; b < BUCKETS; b++) segments += listSegmentIds(nodeFileIo, this.server.dir, b).length;
      if (m) this.rss.push({ t: Date.now() - this.startedAt, rss: Number(m[1]) * 1024, fds, segments });
    } catch {
      // the process just went away
    }
  }

  resourceVerdict(): StressReport['resources'] {
    const s = this.rss;
    const MiB = 1024 * 1024;
    const median = (xs: number[]) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
    const n = s.length;
    // Early window: the second tenth of the run (after warm-up); late window: the last tenth.
    const early = s.slice(Math.floor(n * 0.1), Math.max(Math.floor(n * 0.2), Math.floor(n * 0.1) + 1));
    const late = s.slice(Math.floor(n * 0.9));
    const rssEarly = median(early.map((x) => x.rss));
    const rssLate = median(late.map((x) => x.rss));
    const fdEarly = median(early.map((x) => x.fds));
    const fdLate = median(late.map((x) => x.fds));
    // Segments keep their files open, in the main thread and in the read worker (about 8 fds per segment, measured):
    // fds beyond that are what can leak.
    const extraEarly = median(early.map((x) => x.fds - FDS_PER_SEGMENT * x.segments));
    const extraLate = median(late.map((x) => x.fds - FDS_PER_SEGMENT * x.segments));
    const segEarly = median(early.map((x) => x.segments));
    const segLate = median(late.map((x) => x.segments));
    const out = {
      samples: n,
      rssMiB: { early: +(rssEarly / MiB).toFixed(1), late: +(rssLate / MiB).toFixed(1), max: +(Math.max(0, ...s.map((x) => x.rss)) / MiB).toFixed(1) },
      fds: { early: fdEarly, late: fdLate, max: Math.max(0, ...s.map((x) => x.fds)), segmentsEarly: segEarly, segmentsLate: segLate, beyondPerSegmentEarly: extraEarly, beyondPerSegmentLate: extraLate },
      verdict: 'not enough samples',
    };
    if (n < 20) return out;
    // Tolerance: the server's indexes grow with the data (event id table, stream versions, sealed segments), so
    // allow 2x + 128 MiB of RSS and +64 fds before calling it a leak.
    const problems: string[] = [];
    if (rssLate > rssEarly * 2 + 128 * MiB) problems.push(`RSS grew from ${out.rssMiB.early} MiB to ${out.rssMiB.late} MiB`);
    if (extraLate > extraEarly + 64) problems.push(`open fds beyond ${FDS_PER_SEGMENT} per segment grew from ${extraEarly} to ${extraLate} (fds ${fdEarly} → ${fdLate}, segments ${segEarly} → ${segLate})`);
    for (const p of problems) this.violation(`sustained growth: ${p}`);
    out.verdict = problems.length === 0 ? 'stable (within tolerance)' : problems.join('; ');
    return out;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Faults

  async restart(reason: string): Promise<void> {
    await sleep(100 + Math.floor(this.rng() * 900));
    try {
      await this.server.start();
    } catch (err) {
      this.violation(`the server did not start again after ${reason}: ${(err as Error).message}`);
      throw err;
    }
  }

  async faultKill9(): Promise<void> {
    this.injected.kill9 = (this.injected.kill9 ?? 0) + 1;
    await this.server.kill9();
    await this.restart('kill -9');
    this.survived.kill9 = (this.survived.kill9 ?? 0) + 1;
  }

  async faultSigterm(): Promise<void> {
    this.injected.sigterm = (this.injected.sigterm ?? 0) + 1;
    const code = await this.server.sigterm();
    if (code !== 0) this.violation(`SIGTERM: the server exited with ${code}, expected 0. Output tail:\n${this.server.output.slice(-2000)}`);
    await this.restart('SIGTERM');
    if (code === 0) this.survived.sigterm = (this.survived.sigterm ?? 0) + 1;
  }

  /** A verify finding explained by injected damage: the damaged record itself, or the gap its loss leaves. */
  knownFinding(f: Finding): boolean {
    if (this.model.damage.some((d) => f.bucket === d.bucket && f.segment === d.segment && (f.offset === d.offset || f.message.includes(`offset ${d.offset}`)))) return true;
    const p = /partition (\d+): sequence \d+ where (\d+) was expected/.exec(f.message);
    if (p !== null) {
      const missing = Number(p[2]);
      const pm = this.model.partitions[Number(p[1])];
      return pm !== undefined && pm.damaged.has(missing);
    }
    const v = /stream "(.*)": version \d+ where (\d+) was expected/.exec(f.message);
    if (v !== null) return this.model.streams.get(v[1])?.damaged.has(Number(v[2])) ?? false;
    return false;
  }

  async faultBitFlips(): Promise<void> {
    // Victim events with a known version, by event id.
    const victims = new Map<string, { s: StreamModel; v: number }>();
    for (const s of this.model.streamList) if (s.victim) s.ids.forEach((id, v) => victims.set(id, { s, v }));
    const code = await this.server.sigterm();
    if (code !== 0) this.violation(`SIGTERM (before bit flips): exit ${code}`);
    const candidates: { bucket: number; segment: number; offset: number; length: number; id: string }[] = [];
    for (let b = 0; b < BUCKETS; b++) {
      const ids = listSegmentIds(nodeFileIo, this.server.dir, b);
      for (const seg of ids.slice(0, -1)) {
        const h = nodeFileIo.open(segmentFile(this.server.dir, b, seg, DATA_FILE), 'read');
        try {
          const scanner = new SegmentScanner(h, 64, h.size());
          for (let step = scanner.next(); step.status === 'record'; step = scanner.next()) {
            if (step.kind !== RecordKind.event) continue;
            const id = formatUuid(eventRecordField.eventId(step.buf, step.at));
            const v = victims.get(id);
            if (v !== undefined && !v.s.damaged.has(v.v)) candidates.push({ bucket: b, segment: seg, offset: step.offset, length: step.length, id });
          }
        } finally {
          h.close();
        }
      }
    }
    if (candidates.length === 0) {
      this.count('bitFlipRoundsWithoutSealedVictims');
      await this.restart('bit flips (none possible yet)');
      return;
    }
    this.injected.bitflip = (this.injected.bitflip ?? 0) + 1;
    const flips = 1 + Math.floor(this.rng() * 2);
    const done: Damage[] = [];
    for (let i = 0; i < flips && candidates.length > 0; i++) {
      const c = candidates.splice(Math.floor(this.rng() * candidates.length), 1)[0];
      const bit = Math.floor(this.rng() * c.length * 8);
      const file = segmentFile(this.server.dir, c.bucket, c.segment, DATA_FILE);
      const fd = fs.openSync(file, 'r+');
      try {
        const one = Buffer.alloc(1);
        fs.readSync(fd, one, 0, 1, c.offset + (bit >> 3));
        one[0] ^= 1 << (bit & 7);
        fs.writeSync(fd, one, 0, 1, c.offset + (bit >> 3));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      const v = victims.get(c.id)!;
      v.s.damaged.add(v.v);
      const seq = v.s.seqs[v.v];
      this.model.partitions[v.s.partitionId].damaged.add(seq);
      const d: Damage = { eventId: c.id, streamId: v.s.id, version: v.v, partitionId: v.s.partitionId, sequence: seq, bucket: c.bucket, segment: c.segment, offset: c.offset, byte: bit >> 3, bit: bit & 7, readChecks: 0 };
      this.model.damage.push(d);
      done.push(d);
      this.count('bitsFlipped');
    }
    // verify must report each flip (at the record's offset, in its segment).
    const report = verify(this.server.dir);
    this.count('verifyRuns');
    for (const d of done) {
      d.detectedByVerify = report.findings.some((f) => f.severity === 'problem' && f.bucket === d.bucket && f.segment === d.segment && (f.offset === d.offset || f.message.includes(`offset ${d.offset}`)));
      if (!d.detectedByVerify) this.violation(`verify did not report the flip in bucket ${d.bucket} segment ${d.segment} record at ${d.offset} (byte ${d.byte} bit ${d.bit}); findings: ${report.findings.slice(0, 5).map((f) => f.message).join(' | ')}`);
    }
    // ... and nothing else: every problem must be at a damaged record (or the gap it leaves).
    for (const f of report.findings) {
      if (f.severity === 'problem' && !this.knownFinding(f)) this.violation(`verify reports a problem nobody injected: ${f.kind} bucket ${f.bucket} segment ${f.segment} offset ${f.offset}: ${f.message}`);
    }
    await this.restart('bit flips');
    // Every damaged event must fail to read, right away.
    const client = await this.connect();
    try {
      for (const d of done) {
        try {
          const e = await this.call(client, 'EGET', () => client.eget(d.eventId));
          this.violation(`EGET of just-damaged event ${d.eventId} returned ${e === null ? '"not found"' : 'data'}`);
        } catch (err) {
          this.damagedReadFailed(`EGET of just-damaged event ${d.eventId}`, err);
        }
        d.readChecks++;
      }
    } finally {
      client.close();
    }
    this.survived.bitflip = (this.survived.bitflip ?? 0) + 1;
  }

  async faultDiskFull(): Promise<void> {
    const mnt = this.disk.mountPoint!;
    this.injected.diskFull = (this.injected.diskFull ?? 0) + 1;
    const before = this.ops.eappendWriteErrDiskFull ?? 0;
    const beforeM = this.ops.emappendWriteErrDiskFull ?? 0;
    this.diskFull = true;
    fillDisk(mnt);
    const started = Date.now();
    // Hold until appends have failed a few times (pre-zeroed space in active segments absorbs some), at most 30 s.
    while (Date.now() - started < 30_000) {
      await sleep(250);
      const failures = (this.ops.eappendWriteErrDiskFull ?? 0) - before + (this.ops.emappendWriteErrDiskFull ?? 0) - beforeM;
      if (failures >= 10) break;
    }
    const failures = (this.ops.eappendWriteErrDiskFull ?? 0) - before + (this.ops.emappendWriteErrDiskFull ?? 0) - beforeM;
    if (failures === 0) this.count('diskFullWithoutFailedAppends');
    const alive = this.server.alive();
    if (!alive) this.violation(`disk full: the server exited. Output tail:\n${this.server.output.slice(-2000)}`);
    freeDisk(mnt);
    // Service resumes: a probe append must succeed within 30 s.
    const probe = this.model.add(`probe-${this.injected.diskFull}-${this.o.seed}`, undefined, false);
    const resumeStart = Date.now();
    let resumed = false;
    const client = alive ? await this.connect() : undefined;
    while (client !== undefined && Date.now() - resumeStart < 30_000) {
      const eventName = 'Probe';
      const payload = Buffer.from(`probe ${probe.ids.length}`);
      const eventId = newEventId(probe.keyBytes);
      try {
        const r = await this.call(client, 'EAPPEND (probe)', () => client.eappend(probe.id, eventName, { eventId, payload, expectedVersion: probe.ids.length === 0 ? 'empty' : probe.ids.length - 1 }));
        this.model.ack(probe, r.streamVersion, eventId, contentHash(probe.id, eventName, payload, Buffer.alloc(0)), r.partitionId, r.partitionSequence, (m) => this.violation(m));
        resumed = true;
        break;
      } catch (err) {
        if (!(err instanceof ReplyError)) break;
        this.model.rejected.push({ eventId, streamId: probe.id });
        await sleep(500);
      }
    }
    client?.close();
    // Grace for writers' in-flight failures, then appends must succeed again.
    await sleep(1000);
    this.diskFull = false;
    if (!resumed) {
      this.violation(`disk full: appends did not succeed within 30 s after space returned`);
      if (!this.server.alive()) await this.restart('disk full');
    } else {
      this.survived.diskFull = (this.survived.diskFull ?? 0) + 1;
      this.count('diskFullResumeMs', Date.now() - resumeStart);
    }
  }

  async faultLoop(until: () => boolean): Promise<void> {
    const kinds: string[] = [];
    if (this.o.kill) kinds.push('kill9');
    if (this.o.sigterm) kinds.push('sigterm');
    if (this.o.bitflips) kinds.push('bitflip');
    if (this.disk.mountPoint !== undefined) kinds.push('diskFull');
    if (kinds.length === 0) return;
    const interval = Math.min(60_000, Math.max(10_000, this.o.durationMs / 10));
    // The first fault waits for some data (bit flips need sealed segments).
    let nextAt = Date.now() + Math.min(interval, 20_000);
    let i = 0;
    while (!until()) {
      await sleep(200);
      if (Date.now() < nextAt) continue;
      const kind = kinds[i++ % kinds.length];
      const t0 = Date.now();
      try {
        if (kind === 'kill9') await this.faultKill9();
        else if (kind === 'sigterm') await this.faultSigterm();
        else if (kind === 'bitflip') await this.faultBitFlips();
        else await this.faultDiskFull();
      } catch (err) {
        this.violation(`fault ${kind} failed: ${(err as Error).stack ?? err}`);
        if (!this.server.alive()) {
          try {
            await this.server.start();
          } catch {
            throw new Error('the server cannot be restarted; giving up');
          }
        }
      }
      this.count(`faultMs.${kind}`, Date.now() - t0);
      nextAt = Date.now() + interval * (0.7 + 0.6 * this.rng());
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Final verification

  async finalCheck(): Promise<void> {
    const client = await this.connect();
    try {
      // Every stream, in full; exact: nothing beyond the model.
      for (const s of this.model.streamList) {
        if (s.broken) continue;
        try {
          await this.verifyStream(client, s, true);
        } catch (err) {
          this.violation(`final ESCAN ${s.id}: ${errText(err)}`);
        }
      }
      for (let p = 0; p < PARTITIONS; p++) {
        try {
          await this.sweepPartition(client, p, true);
        } catch (err) {
          this.violation(`final EPSCAN ${p}: ${errText(err)}`);
        }
      }
      // Rejected appends never appeared.
      for (const r of this.model.rejected) {
        try {
          const e = await this.call(client, 'EGET', () => client.eget(r.eventId));
          if (e !== null) this.violation(`an append rejected with an error is present: ${r.eventId} on ${r.streamId}`);
        } catch (err) {
          this.violation(`EGET of rejected ${r.eventId}: ${errText(err)}`);
        }
        this.count('rejectedChecked');
      }
    } finally {
      client.close();
    }
  }

  // -------------------------------------------------------------------------------------------------------------

  progress(): void {
    const min = Math.round((Date.now() - this.startedAt) / 60_000);
    const last = this.rss[this.rss.length - 1];
    const o = this.ops;
    const faults = Object.values(this.injected).reduce((a, b) => a + b, 0);
    const survived = Object.values(this.survived).reduce((a, b) => a + b, 0);
    this.log(
      `[${min}m] events ${this.model.events} | eappend ${o.eappend ?? 0} emappend ${o.emappend ?? 0} (unknown ${(o.eappendUnknown ?? 0) + (o.emappendUnknown ?? 0)}, disk-full rejects ${(o.eappendWriteErrDiskFull ?? 0) + (o.emappendWriteErrDiskFull ?? 0)}) | eget ${o.eget ?? 0} escan ${o.escan ?? 0} epscan ${o.epscan ?? 0} | sub events ${o.subscriptionEvents ?? 0} catch-up cycles ${o.catchUpCycles ?? 0} | faults ${faults} survived ${survived} | damaged ${this.model.damage.length} | rss ${last ? (last.rss / 1048576).toFixed(0) : '?'} MiB fds ${last?.fds ?? '?'} | violations ${this.violations.length + this.violationsOmitted}`,
    );
  }

  async run(): Promise<StressReport> {
    const o = this.o;
    const campaignSliceMs = o.campaigns ? Math.min(120_000, Math.max(5_000, Math.floor(o.durationMs * 0.04))) : 0;
    const workloadMs = o.durationMs - 2 * campaignSliceMs;
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-stress-'));
    this.disk = prepareDisk(root, o.diskFull, workloadMs);
    if (this.disk.skipReason !== undefined) this.skipped.diskFull = this.disk.skipReason;
    if (!o.kill) this.skipped.kill9 = 'disabled (--no-kill)';
    if (!o.sigterm) this.skipped.sigterm = 'disabled (--no-sigterm)';
    if (!o.bitflips) this.skipped.bitflip = 'disabled (--no-bitflips)';
    const dir = path.join(this.disk.mountPoint ?? root, 'db');
    this.port = await freePort();
    this.server = new ServerHandle(dir, this.port, segmentBytesFor(o.durationMs));
    this.log(`stress: seed ${o.seed} (replay: npm run stress -- --duration ${Math.round(o.durationMs / 1000)}s --seed ${o.seed}), workload ${Math.round(workloadMs / 1000)} s, data in ${dir}${this.disk.skipReason ? `; disk-full skipped: ${this.disk.skipReason}` : ' (loop-mounted ext4)'}`);
    const sampler = setInterval(() => this.sampleResources(), 1000);
    const progress = setInterval(() => this.progress(), 60_000);
    try {
      await this.server.start();
      const { regular, victims, groups } = this.setupStreams();
      const endAt = Date.now() + workloadMs;
      const until = () => Date.now() >= endAt || this.stopping;
      await this.startLiveSubscriptions(regular);
      const tasks = [
        ...Array.from({ length: WRITERS }, (_, w) => this.writer(w, regular[w], victims[w], groups[w], until)),
        this.egetSampler(until),
        this.streamScanner(until),
        this.partitionSweeper(until),
        this.catchUpSubscriber(until),
        this.faultLoop(until),
      ];
      const results = await Promise.allSettled(tasks);
      for (const r of results) if (r.status === 'rejected') this.violation(`a workload task failed: ${(r.reason as Error)?.stack ?? r.reason}`);
      this.log(`workload done; final checks (${this.model.events} events, ${this.model.streamList.length} streams)`);
      await this.server.whenUp();
      await this.checkLiveSubscriptionsCaughtUp();
      for (const l of this.liveSubscriptions) await l.manager.close();
      await this.finalCheck();
      const code = await this.server.sigterm();
      if (code !== 0) this.violation(`final SIGTERM: exit ${code}`);
      // Offline verify: only the injected damage may be reported.
      const report = verify(dir);
      for (const f of report.findings) {
        if (f.severity === 'problem' && !this.knownFinding(f)) this.violation(`final verify: ${f.kind} bucket ${f.bucket} segment ${f.segment} offset ${f.offset}: ${f.message}`);
      }
      this.count('verifyRuns');
    } catch (err) {
      this.violation(`the run failed: ${(err as Error).stack ?? err}`);
    } finally {
      clearInterval(sampler);
      clearInterval(progress);
      if (this.server?.alive()) await this.server.kill9();
    }
    const resources = this.resourceVerdict();
    const campaigns: StressReport['campaigns'] = {};
    if (o.campaigns) {
      const torn = await runTornWritesCampaign({ durationMs: campaignSliceMs, seed: o.seed });
      campaigns['torn-writes'] = { rounds: torn.rounds, violations: torn.violations.length, summary: `${torn.rounds} rounds` };
      for (const v of torn.violations.slice(0, 20)) this.violation(`torn-writes: ${String(v)}`);
      const flips = await runBitFlipsCampaign({ durationMs: campaignSliceMs, seed: o.seed, flipsPerRound: 1000, fullVerifyEvery: 500 });
      campaigns['bit-flips'] = { rounds: flips.rounds, violations: flips.violations.length, summary: `${flips.rounds} rounds, ${flips.flips} flips, ${flips.detectedPercent}% detected` };
      for (const v of flips.violations.slice(0, 20)) this.violation(`bit-flips: ${String(v)}`);
    }
    releaseDisk(this.disk);
    fs.rmSync(root, { recursive: true, force: true });
    const sorted = (r: Record<string, number>) => Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)));
    return {
      seed: o.seed,
      durationMs: o.durationMs,
      elapsedMs: Date.now() - this.startedAt,
      operations: sorted(this.ops),
      faultsInjected: this.injected,
      faultsSurvived: this.survived,
      faultsSkipped: this.skipped,
      model: { streams: this.model.streamList.length, events: this.model.events, partitionsSwept: this.partitionsSwept, damagedEvents: this.model.damage.length, rejectedAppends: this.model.rejected.length },
      subscriptions: this.subs,
      resources,
      campaigns,
      violations: this.violations,
      violationsOmitted: this.violationsOmitted,
      repeatedViolations: Object.fromEntries(this.onceCounts),
    };
  }
}

export function formatStressReport(r: StressReport): string {
  const lines: string[] = [];
  const total = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
  lines.push(`stress report: seed ${r.seed}, ${(r.elapsedMs / 60_000).toFixed(1)} min (asked ${(r.durationMs / 60_000).toFixed(1)} min)`);
  lines.push(`  operations: ${Object.entries(r.operations).filter(([k]) => !k.startsWith('faultMs.')).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(`  model: ${r.model.streams} streams, ${r.model.events} acknowledged events, ${r.model.partitionsSwept} partition sweeps, ${r.model.damagedEvents} damaged events, ${r.model.rejectedAppends} rejected appends`);
  lines.push(`  faults injected: ${total(r.faultsInjected)} (${Object.entries(r.faultsInjected).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  lines.push(`  faults survived: ${total(r.faultsSurvived)} (${Object.entries(r.faultsSurvived).map(([k, v]) => `${k} ${v}`).join(', ')})`);
  for (const [k, v] of Object.entries(r.faultsSkipped)) lines.push(`  fault ${k} skipped: ${v}`);
  for (const [k, v] of Object.entries(r.subscriptions)) lines.push(`  subscription ${k}: ${v.delivered} events, ${v.reconnects} reconnects${v.cycles !== undefined ? `, ${v.cycles} catch-up cycles` : ''}`);
  lines.push(`  server RSS: early ${r.resources.rssMiB.early} MiB, late ${r.resources.rssMiB.late} MiB, max ${r.resources.rssMiB.max} MiB; fds: early ${r.resources.fds.early}, late ${r.resources.fds.late}, max ${r.resources.fds.max} (segments ${r.resources.fds.segmentsEarly} → ${r.resources.fds.segmentsLate}; fds beyond ${FDS_PER_SEGMENT} per segment ${r.resources.fds.beyondPerSegmentEarly} → ${r.resources.fds.beyondPerSegmentLate}) (${r.resources.samples} samples): ${r.resources.verdict}`);
  for (const [k, v] of Object.entries(r.campaigns)) lines.push(`  campaign ${k}: ${v.summary}, ${v.violations} violations`);
  lines.push(`  violations: ${r.violations.length + r.violationsOmitted}`);
  for (const v of r.violations) lines.push(`    - ${v}`);
  if (r.violationsOmitted > 0) lines.push(`    ... and ${r.violationsOmitted} more`);
  for (const [k, v] of Object.entries(r.repeatedViolations)) lines.push(`    (violation "${k}" occurred ${v} times; listed once)`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseStressArgs(process.argv.slice(2));
  const h = new Harness(o);
  const onSignal = () => {
    h.stopping = true;
  };
  process.on('SIGINT', onSignal);
  const report = await h.run();
  if (o.json) {
    process.stderr.write(formatStressReport(report) + '\n');
    process.stdout.write(JSON.stringify(report) + '\n');
  } else process.stdout.write(formatStressReport(report) + '\n');
  process.exitCode = report.violations.length + report.violationsOmitted > 0 ? 1 : 0;
  // Lingering sockets or timers must not keep a finished run alive.
  setTimeout(() => process.exit(process.exitCode), 1000).unref();
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((err) => {
    console.error(err);
    process.exit(2);
  });
}
