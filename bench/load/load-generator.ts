/**
 * The load generator: many clients, each with a pipeline of requests in flight, against a RESP server (ours or
 * redis-server) over raw sockets, or against PostgreSQL through `pg`. One progress line per second, and a summary
 * at the end. `runLoad()` is what `npm run load` (main.ts), the comparison runner and the stress harness call.
 *
 * Pipelining. `batch` mode (the default) is what `redis-benchmark -P n` does: write n requests in one write, wait
 * for all n replies, write the next n. `window` mode keeps n in flight, topping up after every read. Latency is
 * measured per request, from the write that carried it to the read that completed its reply.
 *
 * Expected versions. With `expectedVersions`, each stream belongs to one client (stream k to client k % clients),
 * so its appends travel in order on one connection and succeed; the generator tracks each stream's next version
 * (streams are assumed empty at the start) and sends it as EXPECTED_VERSION (`empty` for the first). A WRONGVER
 * reply resynchronises that stream from the version the error reports. XADD uses explicit ids `0-<version+1>`,
 * which Redis accepts only above the stream's last id (the nearest thing it has to an expected version).
 *
 * PostgreSQL. `pg` has no pipeline mode: it queues a connection's queries and sends each after the previous one
 * completes. A pipeline of n on PostgreSQL is therefore n queries queued per connection, not n on the wire.
 *
 * Scans (`escan`, `xrange`, `scan`) page through one stream (`scanStream`), `pageSize` events at a time, each page
 * starting after the last; a client starts over from version 0 at the end (a short page, has_more false, or
 * `scanLength` events). Pages depend on each other, so scans use a pipeline of 1. `eventsPerSecond` counts
 * events read.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { RespEncoder } from '../../src/protocol/resp-encoder.ts';
import { Histogram, type HistogramSummary } from './histogram.ts';
import { makePayload, makeSampler, seededRandom, type KeyDistribution, type Sampler } from './key-distribution.ts';
import { ReplyScanner, type ScannedReply } from './reply-scanner.ts';

export const loadTargets = ['resp', 'postgres'] as const;
export type LoadTarget = (typeof loadTargets)[number];

/** eappend/xadd/ping/escan/xrange go to a RESP server; append/scan to PostgreSQL. */
export const loadCommands = ['eappend', 'xadd', 'ping', 'escan', 'xrange', 'append', 'scan'] as const;
export type LoadCommand = (typeof loadCommands)[number];

const commandTarget: Record<LoadCommand, LoadTarget> = {
  eappend: 'resp',
  xadd: 'resp',
  ping: 'resp',
  escan: 'resp',
  xrange: 'resp',
  append: 'postgres',
  scan: 'postgres',
};
const scanCommands: ReadonlySet<LoadCommand> = new Set(['escan', 'xrange', 'scan']);

export const pipelineModes = ['batch', 'window'] as const;
export type PipelineMode = (typeof pipelineModes)[number];

export type LoadOptions = {
  target: LoadTarget;
  command: LoadCommand;
  host: string;
  port: number;
  /** PostgreSQL only. */
  user: string;
  database: string;
  clients: number;
  pipeline: number;
  pipelineMode: PipelineMode;
  payloadBytes: number;
  streams: number;
  streamPrefix: string;
  keyDistribution: KeyDistribution;
  zipfExponent: number;
  /** Stop issuing after this long (seconds)... */
  durationSeconds: number | undefined;
  /** ...or after this many requests in all. One of the two is required. */
  count: number | undefined;
  expectedVersions: boolean;
  /** The event name of appends. */
  eventName: string;
  scanStream: string;
  pageSize: number;
  /** Events in the scanned stream, when known: a client starts over after this many. */
  scanLength: number | undefined;
  /** Send `HELLO <n>` on each RESP connection first (redis-benchmark does not). */
  hello: 2 | 3 | undefined;
  seed: number;
  /** After issuing stops, how long to wait for replies still in flight. */
  drainTimeoutSeconds: number;
  connectTimeoutSeconds: number;
  /** Called with each per-second progress line; `null` for silence. Default: written to stderr. */
  onProgress: ((line: string, sample: ProgressSample) => void) | null;
  /** Aborting stops issuing at once (as the end of the duration does). */
  signal: AbortSignal | undefined;
};

export const loadDefaults: LoadOptions = {
  target: 'resp',
  command: 'eappend',
  host: '127.0.0.1',
  port: 9090,
  user: 'postgres',
  database: 'postgres',
  clients: 50,
  pipeline: 1,
  pipelineMode: 'batch',
  payloadBytes: 200,
  streams: 1000,
  streamPrefix: 's:',
  keyDistribution: 'uniform',
  zipfExponent: 0.99,
  durationSeconds: 10,
  count: undefined,
  expectedVersions: false,
  eventName: 'E',
  scanStream: 'scan:0',
  pageSize: 100,
  scanLength: undefined,
  hello: undefined,
  seed: 1,
  drainTimeoutSeconds: 30,
  connectTimeoutSeconds: 10,
  onProgress: (line) => process.stderr.write(line + '\n'),
  signal: undefined,
};

export type ProgressSample = {
  elapsedSeconds: number;
  opsPerSecond: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  errors: number;
  inFlight: number;
};

export type LoadSummary = {
  target: LoadTarget;
  command: LoadCommand;
  host: string;
  port: number;
  clients: number;
  pipeline: number;
  pipelineMode: PipelineMode;
  payloadBytes: number;
  streams: number;
  keyDistribution: KeyDistribution;
  expectedVersions: boolean;
  elapsedSeconds: number;
  /** Requests answered (successes and errors). */
  ops: number;
  errors: number;
  /** Errors by their first word (`WRONGVER`, `ERR`, `P0001`...), connection losses under `CONNECTION`. */
  errorsByCode: Record<string, number>;
  opsPerSecond: number;
  /** Appends: successful appends per second; scans: events read per second. */
  eventsPerSecond: number;
  /** Scans: full passes over the stream. */
  scansCompleted: number;
  latencyUs: HistogramSummary;
  /** Requests never answered (drain timeout or lost connections). */
  unanswered: number;
  clientsLost: number;
};

/** Parses `current stream version is <n|empty>` out of a WRONGVER message (ours and our PostgreSQL function's). */
export function currentVersionFromError(text: string): number | undefined {
  const m = /current stream version is (-?\d+|empty)/.exec(text);
  if (m === null) return undefined;
  return m[1] === 'empty' ? -1 : Number(m[1]);
}

function errorCode(text: string): string {
  const word = /^[A-Z0-9_]+(?=\s|$)/.exec(text);
  return word === null ? 'ERR' : word[0];
}

/** Shared state of one run: the budget, the clock, counters, histograms and per-stream versions. */
class Run {
  readonly o: LoadOptions;
  readonly interval = new Histogram();
  readonly total = new Histogram();
  readonly payload: Buffer;
  readonly streamNames: Buffer[];
  /** Next version per stream (expected versions only). */
  readonly nextVersion: Float64Array;
  /** Issue number of each stream's last resynchronisation: older failures are stale. */
  readonly resyncIssue: Float64Array;
  issued = 0;
  answered = 0;
  errors = 0;
  intervalAnswered = 0;
  intervalErrors = 0;
  events = 0;
  scans = 0;
  inFlight = 0;
  clientsLost = 0;
  unansweredLost = 0;
  readonly errorsByCode: Record<string, number> = {};
  stopping = false;
  readonly stopped: Promise<void>;
  #onStopped: () => void = () => {};
  startMs = 0;
  lastReplyMs = 0;
  #onIdle: (() => void) | undefined;

  constructor(o: LoadOptions) {
    this.o = o;
    const random = seededRandom(o.seed ^ 0x5eed);
    this.payload = makePayload(o.payloadBytes, random);
    const scan = scanCommands.has(o.command);
    const names = scan ? 1 : o.streams;
    this.streamNames = [];
    for (let k = 0; k < names; k++) this.streamNames.push(Buffer.from(scan ? o.scanStream : o.streamPrefix + k));
    this.nextVersion = new Float64Array(o.expectedVersions ? o.streams : 0);
    this.resyncIssue = new Float64Array(o.expectedVersions ? o.streams : 0);
    this.stopped = new Promise((resolve) => (this.#onStopped = resolve));
  }

  /** May one more request be issued? Counts it when so. */
  take(): boolean {
    if (this.stopping) return false;
    if (this.o.count !== undefined && this.issued >= this.o.count) {
      this.stop();
      return false;
    }
    this.issued++;
    this.inFlight++;
    return true;
  }

  stop(): void {
    this.stopping = true;
    this.#onStopped();
    this.#checkIdle();
  }

  recordReply(latencyMs: number, ok: boolean, errorText: string, nowMs: number): void {
    const ns = latencyMs * 1e6;
    this.interval.record(ns);
    this.total.record(ns);
    this.answered++;
    this.intervalAnswered++;
    this.inFlight--;
    this.lastReplyMs = nowMs;
    if (!ok) this.recordError(errorCode(errorText));
  }

  recordError(code: string): void {
    this.errors++;
    this.intervalErrors++;
    this.errorsByCode[code] = (this.errorsByCode[code] ?? 0) + 1;
  }

  /** A client's connection is gone with `n` requests unanswered. */
  lose(n: number): void {
    this.clientsLost++;
    this.inFlight -= n;
    this.unansweredLost += n;
    for (let i = 0; i < n; i++) this.recordError('CONNECTION');
    if (this.clientsLost === this.o.clients) this.stop(); // nobody left to issue
    this.#checkIdle();
  }

  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#onIdle = resolve;
      this.#checkIdle();
    });
  }

  checkIdle(): void {
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.stopping && this.inFlight === 0 && this.#onIdle !== undefined) {
      const f = this.#onIdle;
      this.#onIdle = undefined;
      f();
    }
  }

  /** Resynchronise a stream from a WRONGVER message, unless the failed request predates the last resync. */
  resync(stream: number, issueNumber: number, errorText: string): void {
    if (issueNumber <= this.resyncIssue[stream]) return;
    const current = currentVersionFromError(errorText);
    if (current === undefined) return;
    this.nextVersion[stream] = current + 1;
    this.resyncIssue[stream] = this.issued;
  }
}

interface LoadClient {
  connect(): Promise<void>;
  /** Issue requests as the pipeline allows. */
  fill(): void;
  close(): void;
  readonly inFlight: number;
}

/** Picks the stream of each request; with expected versions, only among the streams this client owns. */
function streamPicker(run: Run, index: number): Sampler {
  const o = run.o;
  const random = seededRandom(o.seed * 7919 + index);
  if (!o.expectedVersions) return makeSampler(o.keyDistribution, o.streams, random, o.zipfExponent);
  const owned = Math.floor(o.streams / o.clients);
  const rank = makeSampler(o.keyDistribution, owned, random, o.zipfExponent);
  return () => rank() * o.clients + index;
}

// ---------------------------------------------------------------------------------------------------------------
// RESP

class RespClient implements LoadClient {
  readonly #run: Run;
  readonly #index: number;
  readonly #pick: Sampler;
  readonly #encoder = new RespEncoder({ protocol: 3 });
  readonly #scanner: ReplyScanner;
  #socket: net.Socket | undefined;
  /** FIFO of requests in flight: when written, which stream, which expected version, which issue number. */
  readonly #sentMs: Float64Array;
  readonly #stream: Int32Array;
  readonly #issue: Float64Array;
  #head = 0;
  #count = 0;
  #scanStart = 0;
  #closing = false;
  #lost = false;
  #nowMs = 0;
  readonly #onReply = (r: ScannedReply) => this.#reply(r);

  constructor(run: Run, index: number) {
    this.#run = run;
    this.#index = index;
    this.#pick = streamPicker(run, index);
    const cap = run.o.pipeline;
    this.#sentMs = new Float64Array(cap);
    this.#stream = new Int32Array(cap);
    this.#issue = new Float64Array(cap);
    this.#scanner = new ReplyScanner({ captureItems: run.o.command === 'escan' ? 4 : 0 });
  }

  get inFlight(): number {
    return this.#count;
  }

  connect(): Promise<void> {
    const o = this.#run.o;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: o.host, port: o.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${o.host}:${o.port} timed out`));
      }, o.connectTimeoutSeconds * 1000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        this.#socket = socket;
        socket.on('error', () => this.#lose());
        socket.on('close', () => this.#lose());
        if (o.hello === undefined) {
          socket.on('data', (chunk: Buffer) => this.#data(chunk));
          resolve();
          return;
        }
        // HELLO first, and only then the workload: its reply is the first thing the scanner sees.
        const hello = new ReplyScanner();
        const onHello = (chunk: Buffer) => {
          try {
            hello.feed(chunk, (r) => {
              if (r.type === 45 || r.type === 33) reject(new Error(`HELLO ${o.hello} failed: ${r.text}`));
              socket.off('data', onHello);
              socket.on('data', (c: Buffer) => this.#data(c));
              resolve();
            });
          } catch (err) {
            reject(err);
          }
        };
        socket.on('data', onHello);
        const e = this.#encoder;
        e.arrayHeader(2);
        e.bulkString('HELLO');
        e.bulkString(String(o.hello));
        socket.write(e.take());
      });
    });
  }

  fill(): void {
    const run = this.#run;
    const o = run.o;
    if (this.#lost || this.#socket === undefined) return;
    if (o.pipelineMode === 'batch' && this.#count > 0) return;
    const cap = o.pipeline;
    let added = 0;
    while (this.#count < cap && run.take()) {
      this.#encode((this.#head + this.#count) % cap);
      this.#count++;
      added++;
    }
    if (added === 0) return;
    const now = performance.now();
    for (let i = this.#count - added; i < this.#count; i++) this.#sentMs[(this.#head + i) % cap] = now;
    this.#socket.write(this.#encoder.take());
  }

  #encode(slot: number): void {
    const run = this.#run;
    const o = run.o;
    const e = this.#encoder;
    switch (o.command) {
      case 'eappend': {
        const s = this.#pick();
        this.#stream[slot] = s;
        this.#issue[slot] = run.issued;
        if (o.expectedVersions) {
          const v = run.nextVersion[s]++;
          e.arrayHeader(7);
          e.bulkString('EAPPEND');
          e.bulkString(run.streamNames[s]);
          e.bulkString(o.eventName);
          e.bulkString('EXPECTED_VERSION');
          e.bulkString(v === 0 ? 'empty' : String(v - 1));
        } else {
          e.arrayHeader(5);
          e.bulkString('EAPPEND');
          e.bulkString(run.streamNames[s]);
          e.bulkString(o.eventName);
        }
        e.bulkString('PAYLOAD');
        e.bulkString(run.payload);
        break;
      }
      case 'xadd': {
        const s = this.#pick();
        this.#stream[slot] = s;
        e.arrayHeader(5);
        e.bulkString('XADD');
        e.bulkString(run.streamNames[s]);
        e.bulkString(o.expectedVersions ? `0-${run.nextVersion[s]++ + 1}` : '*');
        e.bulkString('f');
        e.bulkString(run.payload);
        break;
      }
      case 'ping':
        e.arrayHeader(1);
        e.bulkString('PING');
        break;
      case 'escan':
        e.arrayHeader(6);
        e.bulkString('ESCAN');
        e.bulkString(run.streamNames[0]);
        e.bulkString(String(this.#scanStart));
        e.bulkString('+');
        e.bulkString('COUNT');
        e.bulkString(String(o.pageSize));
        break;
      case 'xrange':
        // Stream entries are expected to carry ids 0-1, 0-2, ... (version + 1), as the comparison loads them.
        e.arrayHeader(6);
        e.bulkString('XRANGE');
        e.bulkString(run.streamNames[0]);
        e.bulkString(`0-${this.#scanStart + 1}`);
        e.bulkString('+');
        e.bulkString('COUNT');
        e.bulkString(String(o.pageSize));
        break;
      default:
        assert.fail(`${o.command} is not a RESP command`);
    }
  }

  #data(chunk: Buffer): void {
    this.#nowMs = performance.now();
    try {
      this.#scanner.feed(chunk, this.#onReply);
    } catch (err) {
      this.#run.recordError('PROTOCOL');
      this.#socket?.destroy(err as Error);
      return;
    }
    this.#run.checkIdle();
    this.fill();
  }

  #reply(r: ScannedReply): void {
    const run = this.#run;
    if (this.#count === 0) {
      // A push or a reply nobody asked for (never expected from these commands): count it, do not time it.
      run.recordError('UNSOLICITED');
      return;
    }
    const cap = run.o.pipeline;
    const slot = this.#head;
    this.#head = (slot + 1) % cap;
    this.#count--;
    const isError = r.type === 45 || r.type === 33;
    run.recordReply(this.#nowMs - this.#sentMs[slot], !isError, isError ? r.text : '', this.#nowMs);
    const command = run.o.command;
    if (isError) {
      if (command === 'eappend' && run.o.expectedVersions && r.text.startsWith('WRONGVER')) {
        run.resync(this.#stream[slot], this.#issue[slot], r.text);
      }
      return;
    }
    if (command === 'eappend' || command === 'xadd') run.events++;
    else if (command === 'escan') this.#escanPage(r);
    else if (command === 'xrange') this.#page(r.type === 42 ? r.length : 0, r.length === run.o.pageSize);
  }

  /** `%2 has_more #t|#f events *N` (RESP3) or `*4 has_more :1|:0 events *N` (RESP2). */
  #escanPage(r: ScannedReply): void {
    let hasMore = false;
    let events = 0;
    for (let i = 0; i + 1 < r.itemCount; i += 2) {
      const key = r.items[i].text;
      const value = r.items[i + 1];
      if (key === 'has_more') hasMore = value.text === 't' || value.text === '1';
      else if (key === 'events') events = Math.max(0, value.length);
    }
    this.#page(events, hasMore);
  }

  #page(events: number, more: boolean): void {
    const run = this.#run;
    run.events += events;
    this.#scanStart += events;
    const length = run.o.scanLength;
    if (!more || events === 0 || (length !== undefined && this.#scanStart >= length)) {
      this.#scanStart = 0;
      run.scans++;
    }
  }

  #lose(): void {
    if (this.#lost) return;
    this.#lost = true;
    if (this.#closing) return; // the run is over: what is still in flight was counted as unanswered
    const n = this.#count;
    this.#count = 0;
    this.#run.lose(n);
  }

  close(): void {
    this.#closing = true;
    this.#socket?.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// PostgreSQL

const appendQuery = 'select append_event($1, $2, $3, $4)';
const scanQuery =
  'select global_position, stream_id, version, type, data, metadata, time, id from events where stream_id = $1 and version >= $2 order by version limit $3';

class PostgresClient implements LoadClient {
  readonly #run: Run;
  readonly #pick: Sampler;
  readonly #client: pg.Client;
  #count = 0;
  #scanStart = 0;
  #lost = false;
  #busy = false;
  /** Requests issued (their pipeline slot taken) and not yet sent: pg runs one query at a time per connection. */
  readonly #queue: { sentMs: number; issueNumber: number }[] = [];
  readonly #streamText: string[];

  constructor(run: Run, index: number) {
    this.#run = run;
    this.#pick = streamPicker(run, index);
    const o = run.o;
    this.#client = new pg.Client({
      host: o.host,
      port: o.port,
      user: o.user,
      database: o.database,
      application_name: `load-${index}`,
      connectionTimeoutMillis: o.connectTimeoutSeconds * 1000,
    });
    this.#client.on('error', () => this.#lose());
    this.#streamText = run.streamNames.map((b) => b.toString());
  }

  get inFlight(): number {
    return this.#count;
  }

  async connect(): Promise<void> {
    await this.#client.connect();
  }

  fill(): void {
    const run = this.#run;
    const o = run.o;
    if (this.#lost) return;
    if (o.pipelineMode === 'batch' && this.#count > 0) return;
    while (this.#count < o.pipeline && run.take()) {
      this.#count++;
      this.#queue.push({ sentMs: performance.now(), issueNumber: run.issued });
    }
    if (!this.#busy) this.#next();
  }

  /** Sends the oldest queued request (pg 8 deprecates overlapping queries on one client: we queue them here). */
  #next(): void {
    const request = this.#queue.shift();
    if (request === undefined || this.#lost) return;
    this.#busy = true;
    const run = this.#run;
    const o = run.o;
    let promise: Promise<pg.QueryResult<unknown[]>>;
    let stream = -1;
    if (o.command === 'append') {
      stream = this.#pick();
      const expected = o.expectedVersions ? run.nextVersion[stream]++ - 1 : null;
      promise = this.#client.query({
        name: 'append_event',
        text: appendQuery,
        values: [this.#streamText[stream], o.eventName, run.payload, expected],
        rowMode: 'array',
      });
    } else {
      assert.equal(o.command, 'scan', `${o.command} is not a PostgreSQL command`);
      promise = this.#client.query({
        name: 'scan_events',
        text: scanQuery,
        values: [this.#streamText[0], this.#scanStart, o.pageSize],
        rowMode: 'array',
      });
    }
    promise.then(
      (result) => this.#done(request.sentMs, undefined, stream, request.issueNumber, result.rowCount ?? 0),
      (err: Error & { code?: string }) => this.#done(request.sentMs, err, stream, request.issueNumber, 0),
    );
  }

  #done(sentMs: number, err: (Error & { code?: string }) | undefined, stream: number, issueNumber: number, rows: number): void {
    if (this.#lost) return;
    const run = this.#run;
    const now = performance.now();
    this.#count--;
    const text = err === undefined ? '' : err.message.startsWith('WRONGVER') ? err.message : `${err.code ?? 'ERR'} ${err.message}`;
    run.recordReply(now - sentMs, err === undefined, text, now);
    if (err !== undefined) {
      if (run.o.expectedVersions && stream >= 0 && text.startsWith('WRONGVER')) run.resync(stream, issueNumber, text);
    } else if (run.o.command === 'append') {
      run.events++;
    } else {
      run.events += rows;
      this.#scanStart += rows;
      const length = run.o.scanLength;
      if (rows < run.o.pageSize || (length !== undefined && this.#scanStart >= length)) {
        this.#scanStart = 0;
        run.scans++;
      }
    }
    this.#busy = false;
    run.checkIdle();
    this.fill();
    if (!this.#busy) this.#next();
  }

  #lose(): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#queue.length = 0;
    const n = this.#count;
    this.#count = 0;
    this.#run.lose(n);
  }

  close(): void {
    this.#lost = true; // the run is over: what is still in flight was counted as unanswered
    this.#client.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------------

/** Fills in defaults and checks the combination; throws a RangeError naming what is wrong. */
export function resolveLoadOptions(partial: Partial<LoadOptions>): LoadOptions {
  const o: LoadOptions = { ...loadDefaults, ...partial };
  if (partial.count !== undefined && partial.durationSeconds === undefined) o.durationSeconds = undefined;
  const problems: string[] = [];
  const positiveInt = (name: keyof LoadOptions, v: number | undefined) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1)) problems.push(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('clients', o.clients);
  positiveInt('pipeline', o.pipeline);
  positiveInt('streams', o.streams);
  positiveInt('pageSize', o.pageSize);
  positiveInt('count', o.count);
  positiveInt('port', o.port);
  if (!(Number.isSafeInteger(o.payloadBytes) && o.payloadBytes >= 0)) problems.push(`payloadBytes must be >= 0, got ${o.payloadBytes}`);
  if (o.durationSeconds === undefined && o.count === undefined) problems.push('give a duration or a count');
  if (o.durationSeconds !== undefined && !(o.durationSeconds > 0)) problems.push(`durationSeconds must be > 0, got ${o.durationSeconds}`);
  if (!loadCommands.includes(o.command)) problems.push(`unknown command ${o.command}`);
  else if (commandTarget[o.command] !== o.target) problems.push(`command ${o.command} is for target ${commandTarget[o.command]}, not ${o.target}`);
  if (scanCommands.has(o.command) && o.pipeline !== 1) problems.push('scans page through a stream one page after another: use a pipeline of 1');
  if (o.expectedVersions && !['eappend', 'xadd', 'append'].includes(o.command)) problems.push('expected versions apply to appends only');
  if (o.expectedVersions && o.streams < o.clients) problems.push('expected versions need at least one stream per client');
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  return o;
}

function formatUs(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

export function formatProgress(p: ProgressSample): string {
  return (
    `[${p.elapsedSeconds.toFixed(0).padStart(4)} s] ${Math.round(p.opsPerSecond).toLocaleString('en-US').padStart(10)} ops/s` +
    `  p50 ${formatUs(p.p50Us).padStart(9)}  p99 ${formatUs(p.p99Us).padStart(9)}  p99.9 ${formatUs(p.p999Us).padStart(9)}` +
    `  errors ${p.errors}  in flight ${p.inFlight}`
  );
}

/** Runs one load to its end (duration, count or abort) and returns its summary. */
export async function runLoad(partial: Partial<LoadOptions>): Promise<LoadSummary> {
  const o = resolveLoadOptions(partial);
  const run = new Run(o);
  const clients: LoadClient[] = [];
  for (let i = 0; i < o.clients; i++) clients.push(o.target === 'resp' ? new RespClient(run, i) : new PostgresClient(run, i));
  try {
    await Promise.all(clients.map((c) => c.connect()));
  } catch (err) {
    for (const c of clients) c.close();
    throw err;
  }

  run.startMs = performance.now();
  run.lastReplyMs = run.startMs;
  let lastTickMs = run.startMs;
  const ticker = setInterval(() => {
    const now = performance.now();
    const seconds = (now - lastTickMs) / 1000;
    lastTickMs = now;
    const sample: ProgressSample = {
      elapsedSeconds: (now - run.startMs) / 1000,
      opsPerSecond: run.intervalAnswered / seconds,
      p50Us: run.interval.percentile(50) / 1000,
      p99Us: run.interval.percentile(99) / 1000,
      p999Us: run.interval.percentile(99.9) / 1000,
      errors: run.intervalErrors,
      inFlight: run.inFlight,
    };
    run.interval.reset();
    run.intervalAnswered = 0;
    run.intervalErrors = 0;
    o.onProgress?.(formatProgress(sample), sample);
  }, 1000);
  const durationTimer = o.durationSeconds === undefined ? undefined : setTimeout(() => run.stop(), o.durationSeconds * 1000);
  const onAbort = () => run.stop();
  o.signal?.addEventListener('abort', onAbort);
  if (o.signal?.aborted) run.stop();

  const idle = run.idle();
  for (const c of clients) c.fill();
  if (run.issued === 0) run.stop(); // count 0 or aborted

  // Wait for the end of issuing, then for the replies in flight, at most drainTimeoutSeconds.
  await run.stopped;
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([idle, new Promise<void>((resolve) => (drainTimer = setTimeout(resolve, o.drainTimeoutSeconds * 1000)))]);
  clearTimeout(drainTimer);
  clearInterval(ticker);
  clearTimeout(durationTimer);
  o.signal?.removeEventListener('abort', onAbort);
  const unansweredAtEnd = run.inFlight;
  for (const c of clients) c.close();

  const elapsedSeconds = Math.max(1e-9, (run.lastReplyMs - run.startMs) / 1000);
  return {
    target: o.target,
    command: o.command,
    host: o.host,
    port: o.port,
    clients: o.clients,
    pipeline: o.pipeline,
    pipelineMode: o.pipelineMode,
    payloadBytes: o.payloadBytes,
    streams: o.streams,
    keyDistribution: o.keyDistribution,
    expectedVersions: o.expectedVersions,
    elapsedSeconds,
    ops: run.answered,
    errors: run.errors,
    errorsByCode: run.errorsByCode,
    opsPerSecond: run.answered / elapsedSeconds,
    eventsPerSecond: run.events / elapsedSeconds,
    scansCompleted: run.scans,
    latencyUs: run.total.summary(1000),
    unanswered: unansweredAtEnd + run.unansweredLost,
    clientsLost: run.clientsLost,
  };
}
