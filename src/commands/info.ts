/**
 * INFO: server information, as Redis's INFO text, plus SierraDB's `INFO CACHE` map.
 *
 *   INFO [section ...]
 *
 * Sections: server, clients, stats, persistence, keyspace, cache; `all`, `everything` and `default` (and no
 * argument) mean all of them; unknown sections are skipped, as in Redis. The reply is text: `# Section` headers
 * and `key:value` lines, CRLF-terminated, sections separated by an empty line, sent as a verbatim string (`=`,
 * format `txt`) in RESP3 and a bulk string in RESP2.
 *
 * `INFO CACHE` alone answers as SierraDB does: a map with blob keys, in this order: hits, misses, hit_ratio
 * (a double rounded to 3 places), entries, memory_bytes, max_bytes, block_size_bytes, evictions. This server's
 * cache holds stream states (each stream's partition key and latest version, per bucket) rather than 64 KiB data
 * blocks, so memory is estimated at a fixed size per entry, which `block_size_bytes` reports.
 */
import os from 'node:os';
import type { BucketWriterStats } from '../engine/bucket-writer.ts';
import type { GroupCommitStats } from '../engine/group-commit.ts';
import { STREAM_CACHE_ENTRY_BYTES } from '../server/database-options.ts';
import { keyword } from './arguments.ts';
import type { CommandContext, CommandDescriptor, Reply } from './command.ts';

interface CacheStats {
  hits: number;
  misses: number;
  entries: number;
  evictions: number;
  capacity: number;
}

type WriterStats = BucketWriterStats & { bucketId?: number; cache?: CacheStats };

export const INFO_SECTIONS = ['server', 'clients', 'stats', 'persistence', 'keyspace', 'cache'] as const;
type Section = (typeof INFO_SECTIONS)[number];

export interface CacheSummary {
  hits: number;
  misses: number;
  hitRatio: number;
  entries: number;
  memoryBytes: number;
  maxBytes: number;
  blockSizeBytes: number;
  evictions: number;
}

export function cacheSummary(stats: readonly WriterStats[]): CacheSummary {
  let hits = 0;
  let misses = 0;
  let entries = 0;
  let evictions = 0;
  let capacity = 0;
  for (const s of stats) {
    if (s.cache === undefined) continue;
    hits += s.cache.hits;
    misses += s.cache.misses;
    entries += s.cache.entries;
    evictions += s.cache.evictions;
    capacity += s.cache.capacity;
  }
  const lookups = hits + misses;
  return {
    hits,
    misses,
    hitRatio: lookups === 0 ? 0 : Math.round((hits / lookups) * 1000) / 1000,
    entries,
    memoryBytes: entries * STREAM_CACHE_ENTRY_BYTES,
    maxBytes: capacity * STREAM_CACHE_ENTRY_BYTES,
    blockSizeBytes: STREAM_CACHE_ENTRY_BYTES,
    evictions,
  };
}

function sum(stats: readonly WriterStats[], field: keyof BucketWriterStats): number {
  let n = 0;
  for (const s of stats) n += s[field];
  return n;
}

function sectionLines(ctx: CommandContext, section: Section, stats: readonly WriterStats[], commit: GroupCommitStats): [string, string | number][] {
  const { server, config, db } = ctx;
  switch (section) {
    case 'server': {
      const uptimeSeconds = Math.floor((Date.now() - server.startedAtMs) / 1000);
      return [
        ['sierradb_version', server.version],
        ['sierradb_compatible_version', '0.3.1'],
        ['redis_version', '7.0.0'],
        ['redis_mode', 'standalone'],
        ['peer_id', server.peerId],
        ['os', `${os.type()} ${os.release()} ${os.arch()}`],
        ['arch_bits', process.arch.endsWith('64') ? 64 : 32],
        ['node_version', process.versions.node],
        ['process_id', process.pid],
        ['tcp_port', server.port],
        ['uptime_in_seconds', uptimeSeconds],
        ['uptime_in_days', Math.floor(uptimeSeconds / 86_400)],
      ];
    }
    case 'clients':
      return [
        ['connected_clients', server.connectedClients()],
        ['maxclients', config.server.maxclients],
        ['blocked_clients', 0],
      ];
    case 'stats': {
      const c = server.counters();
      return [
        ['total_connections_received', c.connectionsReceived],
        ['total_commands_processed', c.commandsProcessed],
        ['rejected_connections', c.connectionsRejected],
        ['total_net_input_bytes', c.netInputBytes],
        ['total_net_output_bytes', c.netOutputBytes],
        ['total_error_replies', c.errorReplies],
      ];
    }
    case 'persistence':
      return [
        ['loading', 0],
        ['dir', db.dir],
        ['buckets', db.bucketCount],
        ['segment_size_bytes', db.segmentSizeBytes],
        ['strict_versioning', db.strictVersioning ? 1 : 0],
        ['events_appended', sum(stats, 'events')],
        ['transactions_committed', sum(stats, 'transactions')],
        ['transactions_failed', sum(stats, 'failedTransactions')],
        ['write_batches', sum(stats, 'batches')],
        ['fsyncs', sum(stats, 'fsyncs')],
        ['bytes_written', sum(stats, 'bytesWritten')],
        ['segment_rollovers', sum(stats, 'rollovers')],
        ['group_commit_rounds', commit.rounds],
        ['commit_log_rounds', commit.loggedRounds],
        ['commit_log_checkpoints', commit.checkpoints],
        ['group_commit_fdatasyncs', commit.datasyncs],
      ];
    case 'keyspace': {
      let events = 0;
      let nonEmpty = 0;
      for (let p = 0; p < db.partitionCount; p++) {
        const seq = db.partitionSequence(p);
        if (seq !== undefined) {
          events += seq + 1;
          nonEmpty++;
        }
      }
      return [
        // Redis's line for tools that parse it: every event counts as a key, none expires.
        ['db0', `keys=${events},expires=0,avg_ttl=0`],
        ['partitions', db.partitionCount],
        ['partitions_nonempty', nonEmpty],
        ['events', events],
      ];
    }
    case 'cache': {
      const c = cacheSummary(stats);
      return [
        ['cache_hits', c.hits],
        ['cache_misses', c.misses],
        ['cache_hit_ratio', c.hitRatio],
        ['cache_entries', c.entries],
        ['cache_memory_bytes', c.memoryBytes],
        ['cache_max_bytes', c.maxBytes],
        ['cache_evictions', c.evictions],
        // ESCAN's cache of encoded event maps (StreamMapCache) and the read result buffers.
        ...readCacheLines(ctx),
      ];
    }
  }
}

function readCacheLines(ctx: CommandContext): [string, number][] {
  const m = ctx.db.streamMapCacheStats();
  const r = ctx.db.resultBufferStats();
  return [
    ['escan_cache_hits', m.hits],
    ['escan_cache_misses', m.misses],
    ['escan_cache_memory_bytes', m.bytes],
    ['escan_cache_max_bytes', m.budgetBytes],
    // Partition pages read for subscriptions, in buffers that go round between the threads (BufferPool).
    ['read_buffers_reused', r.reused],
    ['read_buffers_allocated', r.allocated],
  ];
}

const TITLES: Record<Section, string> = {
  server: 'Server',
  clients: 'Clients',
  stats: 'Stats',
  persistence: 'Persistence',
  keyspace: 'Keyspace',
  cache: 'Cache',
};

export function infoText(ctx: CommandContext, sections: readonly Section[], stats: readonly WriterStats[], commit: GroupCommitStats): string {
  return sections
    .map((s) => `# ${TITLES[s]}\r\n${sectionLines(ctx, s, stats, commit).map(([k, v]) => `${k}:${v}\r\n`).join('')}`)
    .join('\r\n');
}

function writeCacheMap(e: Parameters<Reply>[0], c: CacheSummary): void {
  e.mapHeader(8);
  e.bulkString('hits');
  e.integer(c.hits);
  e.bulkString('misses');
  e.integer(c.misses);
  e.bulkString('hit_ratio');
  e.double(c.hitRatio);
  e.bulkString('entries');
  e.integer(c.entries);
  e.bulkString('memory_bytes');
  e.integer(c.memoryBytes);
  e.bulkString('max_bytes');
  e.integer(c.maxBytes);
  e.bulkString('block_size_bytes');
  e.integer(c.blockSizeBytes);
  e.bulkString('evictions');
  e.integer(c.evictions);
}

export const info: CommandDescriptor = {
  name: 'INFO',
  arity: -1,
  flags: ['readonly'],
  group: 'server',
  since: '0.1.0',
  summary: 'Returns server information and statistics; INFO CACHE returns the cache statistics map.',
  syntax: 'INFO [section ...]',
  arguments: [{ name: 'section', type: 'string', optional: true, multiple: true }],
  examples: ['INFO', 'INFO CACHE', 'INFO server clients'],
  async execute(ctx, args): Promise<Reply> {
    const words = args.map((a) => keyword(a).toLowerCase());
    const stats = (await ctx.db.writerStats()) as WriterStats[];
    if (words.length === 1 && words[0] === 'cache') {
      const c = cacheSummary(stats);
      return (e) => writeCacheMap(e, c);
    }
    const all = words.length === 0 || words.some((w) => w === 'all' || w === 'everything' || w === 'default');
    const sections = all ? [...INFO_SECTIONS] : INFO_SECTIONS.filter((s) => words.includes(s));
    const body = infoText(ctx, sections, stats, await ctx.db.commitStats());
    return (e) => e.verbatim(body, 'txt');
  },
};
