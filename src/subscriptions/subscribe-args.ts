/**
 * The grammars of ESUB and EPSUB, parsed into subscription sources.
 *
 *   ESUB <stream_id> [PARTITION_KEY <uuid>] [<stream_id> [PARTITION_KEY <uuid>]]...
 *        [FROM LATEST | FROM <version> | FROM MAP <stream_id>=<version> ... [DEFAULT <version>]] [WINDOW <n>]
 *
 *   EPSUB <* | <partition> | <partition>,<partition>,...>
 *        [FROM LATEST | FROM <sequence> | FROM MAP <partition>=<sequence> ... [DEFAULT <sequence>]] [WINDOW <n>]
 *
 * where a <partition> is an id (`5`), a UUID partition key (the partition it hashes to), or an inclusive id range
 * (`0-15`). Keywords are case-insensitive.
 *
 * Where this differs from SierraDB (shared README item 4): ESUB's stream list ends at FROM or WINDOW (SierraDB's
 * parser swallows them as stream ids); EPSUB accepts UUID keys and ranges (SierraDB's client sends them, its server
 * rejects them); ESUB also accepts DEFAULT. A FROM MAP entry must name something the command subscribes to (a typo
 * would otherwise silently mean LATEST). Without FROM, or for what a FROM MAP without DEFAULT leaves out, the
 * subscription starts at LATEST: only events appended after it was made.
 */
import { STREAM_ID_BYTES_MAX } from '../../native-free-io/segment-format.ts';
import { parseUuid, partitionIdForKey, partitionKeyForStream } from '../ids/partition-key.ts';
import { ReplyError, errorCode } from '../protocol/reply-error.ts';
import type { SourceSpec, StartPosition } from './subscription.ts';

/** SierraDB's default window. */
export const WINDOW_DEFAULT = 1000;
/** The largest window accepted (SierraDB's is a u32). */
export const WINDOW_MAX = 2 ** 32 - 1;

export interface ParsedSubscribe {
  sources: SourceSpec[];
  window: number;
}

type FromSpec =
  | { kind: 'latest' }
  | { kind: 'at'; position: number }
  | { kind: 'map'; entries: [string, number][]; fallback: StartPosition };

function invalid(message: string): ReplyError {
  return new ReplyError(errorCode.INVALIDARG, message);
}

function keyword(arg: Buffer): string {
  return arg.length <= 16 ? arg.toString('latin1').toUpperCase() : '';
}

/** A u64 as SierraDB parses it, limited to what a JavaScript number holds exactly. */
export function parsePosition(arg: Buffer | string, what: string): number {
  const text = typeof arg === 'string' ? arg : arg.toString('latin1');
  if (!/^[0-9]{1,16}$/.test(text)) throw invalid(`expected ${what} (a non-negative integer), got '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw invalid(`${what} ${text} is too large`);
  return n;
}

function parseWindow(arg: Buffer | undefined): number {
  if (arg === undefined) throw invalid('WINDOW needs a size');
  const n = parsePosition(arg, 'window size');
  if (n < 1 || n > WINDOW_MAX) throw invalid(`window size must be between 1 and ${WINDOW_MAX}, got ${n}`);
  return n;
}

/** Parses `[FROM ...] [WINDOW n]` from `args[i]` on, in either order. FROM MAP's entries stop at a keyword. */
function parseOptions(args: Buffer[], i: number, what: string): { from: FromSpec; window: number } {
  let from: FromSpec | undefined;
  let window: number | undefined;
  while (i < args.length) {
    const word = keyword(args[i]);
    if (word === 'WINDOW') {
      if (window !== undefined) throw invalid('WINDOW already specified');
      window = parseWindow(args[i + 1]);
      i += 2;
    } else if (word === 'FROM') {
      if (from !== undefined) throw invalid('FROM already specified');
      const mode = args[i + 1];
      if (mode === undefined) throw invalid(`FROM needs LATEST, a ${what} or MAP`);
      const modeWord = keyword(mode);
      i += 2;
      if (modeWord === 'LATEST') {
        from = { kind: 'latest' };
      } else if (modeWord === 'MAP') {
        const entries: [string, number][] = [];
        let fallback: StartPosition = 'latest';
        while (i < args.length) {
          const w = keyword(args[i]);
          if (w === 'WINDOW' || w === 'FROM') break;
          if (w === 'DEFAULT') {
            if (args[i + 1] === undefined) throw invalid(`DEFAULT needs a ${what}`);
            fallback = parsePosition(args[i + 1], what);
            i += 2;
            continue;
          }
          const text = args[i].toString('utf8');
          const eq = text.lastIndexOf('=');
          if (eq <= 0) throw invalid(`expected <key>=<${what}> in FROM MAP, got '${text}'`);
          entries.push([text.slice(0, eq), parsePosition(text.slice(eq + 1), what)]);
          i++;
        }
        if (entries.length === 0 && fallback === 'latest') throw invalid('FROM MAP needs at least one entry or DEFAULT');
        from = { kind: 'map', entries, fallback };
      } else {
        from = { kind: 'at', position: parsePosition(mode, what) };
      }
    } else {
      throw invalid(`unexpected argument '${args[i].toString('utf8')}': expected FROM or WINDOW`);
    }
  }
  return { from: from ?? { kind: 'latest' }, window: window ?? WINDOW_DEFAULT };
}

function validStreamId(arg: Buffer): string {
  if (arg.length === 0 || arg.length > STREAM_ID_BYTES_MAX || arg.includes(0)) {
    throw invalid(`invalid stream id: must be 1 to ${STREAM_ID_BYTES_MAX} bytes of UTF-8 without NUL`);
  }
  return arg.toString('utf8');
}

export function parseEsub(args: Buffer[], partitionCount: number): ParsedSubscribe {
  const streams: { streamId: string; partitionKey: Uint8Array }[] = [];
  let i = 0;
  while (i < args.length) {
    const word = keyword(args[i]);
    if (word === 'FROM' || word === 'WINDOW') break;
    const streamId = validStreamId(args[i]);
    i++;
    let partitionKey: Uint8Array | undefined;
    if (i < args.length && keyword(args[i]) === 'PARTITION_KEY') {
      const text = args[i + 1]?.toString('utf8');
      partitionKey = text === undefined ? undefined : parseUuid(text);
      if (partitionKey === undefined) throw invalid(`PARTITION_KEY needs a UUID, got '${text ?? ''}'`);
      i += 2;
    }
    partitionKey ??= partitionKeyForStream(streamId);
    const key = partitionKey;
    if (!streams.some((s) => s.streamId === streamId && Buffer.compare(s.partitionKey, key) === 0)) streams.push({ streamId, partitionKey });
  }
  if (streams.length === 0) throw invalid('expected at least one stream id');
  const { from, window } = parseOptions(args, i, 'version');
  const start = startsFor(
    from,
    streams.map((s) => s.streamId),
    (k) => k,
    'stream',
  );
  return {
    window,
    sources: streams.map((s) => ({
      kind: 'stream',
      streamId: s.streamId,
      partitionKey: s.partitionKey,
      partitionId: partitionIdForKey(s.partitionKey, partitionCount),
      from: start(s.streamId),
    })),
  };
}

export function parseEpsub(args: Buffer[], partitionCount: number): ParsedSubscribe {
  if (args.length === 0) throw invalid('expected *, a partition, or a comma-separated list of partitions');
  const partitions = parsePartitionSelector(args[0].toString('utf8'), partitionCount);
  const { from, window } = parseOptions(args, 1, 'sequence');
  const start = startsFor(from, partitions, (k) => parsePartition(k, partitionCount), 'partition');
  return { window, sources: partitions.map((partitionId) => ({ kind: 'partition', partitionId, from: start(partitionId) })) };
}

/** How each subscribed key starts, given FROM. Map keys are resolved by `resolve` and must be subscribed. */
function startsFor<K>(from: FromSpec, subscribed: readonly K[], resolve: (text: string) => K, what: string): (key: K) => StartPosition {
  if (from.kind === 'latest') return () => 'latest';
  if (from.kind === 'at') return () => from.position;
  const positions = new Map<K, number>();
  for (const [text, position] of from.entries) {
    const key = resolve(text);
    if (!subscribed.includes(key)) throw invalid(`FROM MAP names ${what} '${text}', which this command does not subscribe to`);
    positions.set(key, position);
  }
  return (key) => positions.get(key) ?? from.fallback;
}

/** `5`, a UUID partition key, or nothing valid (throws). */
export function parsePartition(text: string, partitionCount: number): number {
  const uuid = parseUuid(text);
  if (uuid !== undefined) return partitionIdForKey(uuid, partitionCount);
  if (!/^[0-9]{1,5}$/.test(text)) throw invalid(`expected a partition id or UUID partition key, got '${text}'`);
  return checkOwned(Number(text), partitionCount);
}

function checkOwned(id: number, partitionCount: number): number {
  // SierraDB answers a partition this node does not own so (EPSCAN); every id >= the count is such a partition.
  if (id >= partitionCount) throw new ReplyError(errorCode.CLUSTERDOWN, 'partition unavailable');
  return id;
}

/** `*`, or a comma list of ids, UUID keys and `a-b` ranges; sorted, without repeats. */
export function parsePartitionSelector(text: string, partitionCount: number): number[] {
  if (text === '*') return Array.from({ length: partitionCount }, (_, p) => p);
  const ids = new Set<number>();
  for (const item of text.split(',')) {
    const range = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(item);
    if (range !== null) {
      const a = Number(range[1]);
      const b = Number(range[2]);
      if (a > b) throw invalid(`partition range ${item} is empty`);
      checkOwned(b, partitionCount);
      for (let p = a; p <= b; p++) ids.add(p);
    } else {
      ids.add(parsePartition(item, partitionCount));
    }
  }
  return [...ids].sort((x, y) => x - y);
}
