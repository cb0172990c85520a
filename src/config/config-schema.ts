/**
 * The configuration keys, their types, limits, defaults and one line of documentation each, as data.
 *
 * Key names are SierraDB's (`crates/sierradb-server/src/config.rs`) verbatim where SierraDB has the setting, so a
 * SierraDB `sierra.toml` loads here; the `server.*`, `log.*`, `cache.*` and `shutdown.*` keys are ours. The CLI help
 * (`src/cli/parse-args.ts`), the environment variable names, the shipped `config/sierradb.toml` and validation all
 * come from this one table.
 *
 * Values flow through `parseValue` whatever their origin (TOML value, environment string, CLI string), so a
 * malformed value is reported the same way wherever it came from. Rules that involve two keys live in
 * `load-config.ts`, next to the layering that gives them their sources.
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The effective configuration, as every key resolves to one value. Frozen all the way down by `loadConfig`. */
export interface Config {
  /** Database directory (`meta.json`, `buckets/...`). Not resolved against the cwd; a leading `~/` is expanded. */
  readonly dir: string;
  readonly append: { readonly strict_versioning: boolean };
  readonly bucket: { readonly count: number };
  readonly partition: { readonly count: number };
  readonly segment: { readonly size_bytes: number };
  readonly cache: { readonly capacity_bytes: number };
  readonly threads: { readonly read: number; readonly write: number };
  readonly network: {
    /** `host:port`; split it with `parseHostPort`. */
    readonly client_address: string;
    /** A multiaddr, e.g. `/ip4/0.0.0.0/tcp/0`. */
    readonly cluster_address: string;
    readonly cluster_enabled: boolean;
    readonly mdns: boolean;
  };
  readonly node: { readonly count: number; readonly index: number };
  readonly replication: {
    readonly factor: number;
    readonly buffer_size: number;
    readonly buffer_timeout_ms: number;
    readonly catchup_timeout_ms: number;
  };
  readonly heartbeat: { readonly interval_ms: number; readonly timeout_ms: number };
  readonly server: {
    /** Undefined when no password is required (an empty string also means none, as in Redis). */
    readonly requirepass: string | undefined;
    readonly maxclients: number;
    readonly proto_max_bulk_len: number;
    readonly client_query_buffer_limit: number;
    readonly pubsub_output_buffer_limit_bytes: number;
  };
  readonly log: { readonly level: LogLevel; readonly format: LogFormat };
  readonly shutdown: { readonly timeout_ms: number };
}

/** The same configuration keyed by dotted name; `loadConfig` works on this shape and nests it at the end. */
export interface FlatConfig {
  dir: string;
  'append.strict_versioning': boolean;
  'bucket.count': number;
  'partition.count': number;
  'segment.size_bytes': number;
  'cache.capacity_bytes': number;
  'threads.read': number;
  'threads.write': number;
  'network.client_address': string;
  'network.cluster_address': string;
  'network.cluster_enabled': boolean;
  'network.mdns': boolean;
  'node.count': number;
  'node.index': number;
  'replication.factor': number;
  'replication.buffer_size': number;
  'replication.buffer_timeout_ms': number;
  'replication.catchup_timeout_ms': number;
  'heartbeat.interval_ms': number;
  'heartbeat.timeout_ms': number;
  'server.requirepass': string | undefined;
  'server.maxclients': number;
  'server.proto_max_bulk_len': number;
  'server.client_query_buffer_limit': number;
  'server.pubsub_output_buffer_limit_bytes': number;
  'log.level': LogLevel;
  'log.format': LogFormat;
  'shutdown.timeout_ms': number;
}

export type ConfigKey = keyof FlatConfig;

/**
 * How a raw value is read:
 * - `integer`: a number, or a string of digits (`_` separators allowed, as in TOML).
 * - `bytes`: an integer, or a string such as `64MiB` (units B, KiB, MiB, GiB, TiB; powers of 1024).
 * - `boolean`: a boolean, or true/false, yes/no, on/off, 1/0 in any case.
 * - `choice`: one of `choices`, compared case-insensitively.
 * - `string` / `path`: any non-empty string (`path` expands a leading `~/`); `password`: any string.
 * - `host_port`: `host:port`, `[ipv6]:port`; `multiaddr`: `/ip4/1.2.3.4/tcp/0` and friends.
 */
export const ValueKind = {
  string: 'string',
  path: 'path',
  password: 'password',
  integer: 'integer',
  bytes: 'bytes',
  boolean: 'boolean',
  choice: 'choice',
  hostPort: 'host_port',
  multiaddr: 'multiaddr',
} as const;
export type ValueKind = (typeof ValueKind)[keyof typeof ValueKind];

export interface KeySpec {
  readonly kind: ValueKind;
  /** Inclusive limits for `integer` and `bytes`. */
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
  /**
   * The default, or `derived` when it depends on other keys or on the machine (computed in `load-config.ts`),
   * or `unset` when the key has no value unless given (only `server.requirepass`).
   */
  readonly default: number | string | boolean | 'derived' | 'unset';
  /** The default as shown in `--help` and in `config/sierradb.toml`. */
  readonly defaultText: string;
  readonly doc: string;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

export const bucketCountMax = 65_535;
export const partitionCountMax = 65_535;
export const segmentSizeBytesMin = 4 * KiB;
export const segmentSizeBytesMax = 10 * GiB;
export const threadsMax = 1024;
export const replicationFactorMax = 255;
export const durationMsMax = 3_600_000;

/** Every key, in the order of the shipped config file and of `--help`. */
export const CONFIG_KEYS = [
  'dir',
  'append.strict_versioning',
  'bucket.count',
  'partition.count',
  'segment.size_bytes',
  'cache.capacity_bytes',
  'threads.read',
  'threads.write',
  'network.client_address',
  'network.cluster_address',
  'network.cluster_enabled',
  'network.mdns',
  'node.count',
  'node.index',
  'replication.factor',
  'replication.buffer_size',
  'replication.buffer_timeout_ms',
  'replication.catchup_timeout_ms',
  'heartbeat.interval_ms',
  'heartbeat.timeout_ms',
  'server.requirepass',
  'server.maxclients',
  'server.proto_max_bulk_len',
  'server.client_query_buffer_limit',
  'server.pubsub_output_buffer_limit_bytes',
  'log.level',
  'log.format',
  'shutdown.timeout_ms',
] as const satisfies readonly ConfigKey[];

// The `satisfies` below makes a key missing from this table (or a stray one) a type error.
export const KEY_SPECS = {
  dir: {
    kind: ValueKind.path,
    default: 'derived',
    defaultText: '~/.local/share/sierradb/db (the platform data directory)',
    doc: 'Directory holding the database (meta.json, buckets/...).',
  },
  'append.strict_versioning': {
    kind: ValueKind.boolean,
    default: false,
    defaultText: 'false',
    doc: 'SierraDB strict mode: a missing EXPECTED_VERSION means "no stream" and any/exists are rejected.',
  },
  'bucket.count': {
    kind: ValueKind.integer,
    min: 1,
    max: bucketCountMax,
    default: 4,
    defaultText: '4',
    doc: 'Number of buckets (one data file series each); fixed when the database is created.',
  },
  'partition.count': {
    kind: ValueKind.integer,
    min: 1,
    max: partitionCountMax,
    default: 32,
    defaultText: '32',
    doc: 'Number of partitions (ordering domains); at least bucket.count and node.count.',
  },
  'segment.size_bytes': {
    kind: ValueKind.bytes,
    min: segmentSizeBytesMin,
    max: segmentSizeBytesMax,
    default: 256 * MiB,
    defaultText: '268435456 (256 MiB)',
    doc: 'Size at which a segment is sealed and a new one started; fixed at creation by meta.json.',
  },
  'cache.capacity_bytes': {
    kind: ValueKind.bytes,
    min: 0,
    max: TiB,
    default: 256 * MiB,
    defaultText: '268435456 (256 MiB)',
    doc: 'Memory for caching recently read and written events (the writers\' stream states, and a quarter for ESCAN\'s encoded pages); 0 disables the cache.',
  },
  'threads.read': {
    kind: ValueKind.integer,
    min: 0,
    max: threadsMax,
    default: 2,
    defaultText: '2',
    doc: 'Number of read worker threads; 0 serves reads on the main thread (no messaging per read, but a read waits for its disk I/O on the event loop).',
  },
  'threads.write': {
    kind: ValueKind.integer,
    min: 1,
    max: threadsMax,
    default: 'derived',
    defaultText: 'the largest divisor of bucket.count up to half the number of cores',
    doc: 'Number of bucket writer threads; must divide bucket.count (each writer owns bucket.count / threads.write).',
  },
  'network.client_address': {
    kind: ValueKind.hostPort,
    default: '0.0.0.0:9090',
    defaultText: '0.0.0.0:9090',
    doc: 'host:port the RESP server listens on for clients.',
  },
  'network.cluster_address': {
    kind: ValueKind.multiaddr,
    default: '/ip4/0.0.0.0/tcp/0',
    defaultText: '/ip4/0.0.0.0/tcp/0',
    doc: 'Multiaddr the node listens on for other nodes.',
  },
  'network.cluster_enabled': {
    kind: ValueKind.boolean,
    default: true,
    defaultText: 'true',
    doc: 'Run the cluster layer; false requires node.count = 1.',
  },
  'network.mdns': {
    kind: ValueKind.boolean,
    default: false,
    defaultText: 'false',
    doc: 'Discover other nodes on the local network with mDNS.',
  },
  'node.count': {
    kind: ValueKind.integer,
    min: 1,
    max: partitionCountMax,
    default: 'derived',
    defaultText: 'the number of [[nodes]] tables, or 1',
    doc: 'Number of nodes in the cluster.',
  },
  'node.index': {
    kind: ValueKind.integer,
    min: 0,
    max: partitionCountMax - 1,
    default: 'derived',
    defaultText: '0 on a single node; required when node.count > 1',
    doc: "This node's index in the cluster (0-based, below node.count); selects its [[nodes]] table.",
  },
  'replication.factor': {
    kind: ValueKind.integer,
    min: 1,
    max: replicationFactorMax,
    default: 'derived',
    defaultText: 'node.count, at most 3',
    doc: 'Copies of each partition; writes wait for a majority of them. At most node.count.',
  },
  'replication.buffer_size': {
    kind: ValueKind.integer,
    min: 1,
    max: 1_000_000,
    default: 1000,
    defaultText: '1000',
    doc: 'Out-of-order replicated writes a replica buffers per partition.',
  },
  'replication.buffer_timeout_ms': {
    kind: ValueKind.integer,
    min: 1,
    max: durationMsMax,
    default: 8000,
    defaultText: '8000',
    doc: 'How long a buffered out-of-order write waits for the gap before it is dropped.',
  },
  'replication.catchup_timeout_ms': {
    kind: ValueKind.integer,
    min: 1,
    max: durationMsMax,
    default: 2000,
    defaultText: '2000',
    doc: 'How long a replica waits for a catch-up reply from the coordinator.',
  },
  'heartbeat.interval_ms': {
    kind: ValueKind.integer,
    min: 1,
    max: durationMsMax,
    default: 1000,
    defaultText: '1000',
    doc: 'How often a node tells the others it is alive.',
  },
  'heartbeat.timeout_ms': {
    kind: ValueKind.integer,
    min: 1,
    max: durationMsMax,
    default: 6000,
    defaultText: '6000',
    doc: 'Silence after which a node is considered down; must exceed heartbeat.interval_ms.',
  },
  'server.requirepass': {
    kind: ValueKind.password,
    default: 'unset',
    defaultText: 'unset (no password)',
    doc: 'When set, clients must AUTH (or HELLO ... AUTH) first; every other command gets -NOAUTH.',
  },
  'server.maxclients': {
    kind: ValueKind.integer,
    min: 1,
    max: 1_000_000,
    default: 10_000,
    defaultText: '10000',
    doc: 'Connections beyond this many are refused with -ERR max number of clients reached.',
  },
  'server.proto_max_bulk_len': {
    kind: ValueKind.bytes,
    min: KiB,
    max: GiB,
    default: 64 * MiB,
    defaultText: '67108864 (64 MiB)',
    doc: 'Largest bulk string (for example an event payload) a client may send.',
  },
  'server.client_query_buffer_limit': {
    kind: ValueKind.bytes,
    min: KiB,
    max: 4 * GiB,
    default: 256 * MiB,
    defaultText: '268435456 (256 MiB)',
    doc: 'Most unparsed input buffered per connection; at least server.proto_max_bulk_len.',
  },
  'server.pubsub_output_buffer_limit_bytes': {
    kind: ValueKind.bytes,
    min: KiB,
    max: 16 * GiB,
    default: 32 * MiB,
    defaultText: '33554432 (32 MiB)',
    doc: 'Unsent subscription output after which a slow subscriber is disconnected.',
  },
  'log.level': {
    kind: ValueKind.choice,
    choices: LOG_LEVELS,
    default: 'info',
    defaultText: 'info',
    doc: `Log level: ${LOG_LEVELS.join(', ')}.`,
  },
  'log.format': {
    kind: ValueKind.choice,
    choices: LOG_FORMATS,
    default: 'derived',
    defaultText: 'pretty when stdout is a terminal, else json',
    doc: 'Log format: json (one object per line) or pretty (human-readable).',
  },
  'shutdown.timeout_ms': {
    kind: ValueKind.integer,
    min: 0,
    max: durationMsMax,
    default: 10_000,
    defaultText: '10000',
    doc: 'On SIGINT/SIGTERM, how long connections get to finish before the writers sync and the process exits.',
  },
} as const satisfies Record<ConfigKey, KeySpec>;

/**
 * SierraDB settings that sierradb-ts accepts in a config file (so a SierraDB `sierra.toml` loads) but does not use.
 * Each one produces a warning, never an error.
 */
export const IGNORED_SIERRADB_KEYS: Readonly<Record<string, string>> = {
  'sync.interval_ms': 'writers commit in groups as requests arrive, without a timer',
  'sync.idle_interval_ms': 'writers commit in groups as requests arrive, without a timer',
  'sync.max_batch_size': 'writers commit in groups as requests arrive, without a batch limit',
  'sync.min_bytes': 'writers commit in groups as requests arrive, without a byte threshold',
  'segment.compression': 'segments are stored uncompressed',
  'bucket.ids': 'buckets are assigned from node.count, node.index and replication.factor',
  'partition.ids': 'partitions are assigned from the buckets this node owns',
};

/** `SIERRA_` + the key upper-cased with `.` turned into `_`: `network.client_address` → `SIERRA_NETWORK_CLIENT_ADDRESS`. */
export const ENV_PREFIX = 'SIERRA_';

export function envNameForKey(key: ConfigKey): string {
  return ENV_PREFIX + key.toUpperCase().replaceAll('.', '_');
}

/** The environment variable naming the config file (like `--config`); not a config key. */
export const ENV_CONFIG_FILE = 'SIERRA_CONFIG';

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(KEY_SPECS, key);
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string };

const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  true: true, false: false, yes: true, no: false, on: true, off: false, '1': true, '0': false,
};

const BYTE_UNITS: Readonly<Record<string, number>> = { b: 1, kib: KiB, mib: MiB, gib: GiB, tib: TiB };

/** Shows a raw value in an error message the way the user wrote it. */
export function showRaw(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (typeof raw === 'bigint') return `${raw}`;
  if (raw === null || typeof raw !== 'object') return String(raw);
  try {
    return JSON.stringify(raw);
  } catch {
    return Object.prototype.toString.call(raw);
  }
}

function rangeText(spec: KeySpec): string {
  return `${spec.min ?? 0} to ${spec.max ?? Number.MAX_SAFE_INTEGER}`;
}

function checkRange(spec: KeySpec, n: number, raw: unknown): ParseResult<number> {
  if (!Number.isInteger(n)) return { ok: false, problem: `${showRaw(raw)} is not an integer` };
  if (!Number.isSafeInteger(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
    return { ok: false, problem: `${showRaw(raw)} is out of range (${rangeText(spec)})` };
  }
  return { ok: true, value: n };
}

function parseInteger(spec: KeySpec, raw: unknown): ParseResult<number> {
  if (typeof raw === 'number') return checkRange(spec, raw, raw);
  if (typeof raw === 'bigint') return checkRange(spec, Number(raw), raw);
  if (typeof raw === 'string' && /^\s*[+-]?\d[\d_]*\s*$/.test(raw) && !/__|_\s*$/.test(raw)) {
    return checkRange(spec, Number(raw.trim().replaceAll('_', '')), raw);
  }
  return { ok: false, problem: `${showRaw(raw)} is not an integer` };
}

function parseBytes(spec: KeySpec, raw: unknown): ParseResult<number> {
  if (typeof raw === 'string') {
    const m = /^\s*(\d[\d_]*)\s*([a-z]+)?\s*$/i.exec(raw);
    const unit = m?.[2]?.toLowerCase() ?? 'b';
    if (m === null || !Object.hasOwn(BYTE_UNITS, unit) || /__|_$/.test(m[1])) {
      return { ok: false, problem: `${showRaw(raw)} is not a size in bytes (e.g. 268435456 or "256MiB")` };
    }
    return checkRange(spec, Number(m[1].replaceAll('_', '')) * BYTE_UNITS[unit], raw);
  }
  const n = parseInteger(spec, raw);
  if (!n.ok && typeof raw !== 'number' && typeof raw !== 'bigint') {
    return { ok: false, problem: `${showRaw(raw)} is not a size in bytes (e.g. 268435456 or "256MiB")` };
  }
  return n;
}

/** Splits `host:port` (`[v6]:port` for IPv6). Port 0 means "any free port". Undefined when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  if (m[1] !== undefined) return isIpv6(m[1]) ? { host: m[1], port } : undefined;
  const host = m[2];
  return isIpv4(host) || isHostname(host) ? { host, port } : undefined;
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

function isIpv6(text: string): boolean {
  // Enough to catch typos; the listener has the final say.
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return false;
  const doubleColons = text.split('::').length - 1;
  if (doubleColons > 1) return false;
  const groups = text.split(':').filter((g) => g !== '');
  const last = groups.at(-1);
  const v4Tail = last !== undefined && last.includes('.');
  if (v4Tail && !isIpv4(last)) return false;
  const hexGroups = v4Tail ? groups.slice(0, -1) : groups;
  if (!hexGroups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const width = hexGroups.length + (v4Tail ? 2 : 0);
  return doubleColons === 1 ? width < 8 : width === 8;
}

function isHostname(text: string): boolean {
  if (/^[\d.]+$/.test(text)) return false; // looks like a broken IPv4 address, not a name
  return text.length <= 253 && text.split('.').every((l) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(l));
}

/** Multiaddr protocols that take a value, and those that do not. */
const MULTIADDR_WITH_VALUE = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6', 'dnsaddr', 'tcp', 'udp', 'p2p']);
const MULTIADDR_BARE = new Set(['quic', 'quic-v1', 'ws', 'wss', 'tls', 'noise', 'webtransport', 'p2p-circuit']);

export function isMultiaddr(text: string): boolean {
  if (!text.startsWith('/') || text.length === 1) return false;
  const parts = text.slice(1).split('/');
  for (let i = 0; i < parts.length; i++) {
    const proto = parts[i];
    if (MULTIADDR_BARE.has(proto)) continue;
    if (!MULTIADDR_WITH_VALUE.has(proto) || i + 1 >= parts.length) return false;
    const value = parts[++i];
    if (value === '') return false;
    if (proto === 'ip4' && !isIpv4(value)) return false;
    if (proto === 'ip6' && !isIpv6(value)) return false;
    if ((proto === 'tcp' || proto === 'udp') && !(/^\d{1,5}$/.test(value) && Number(value) <= 65_535)) return false;
  }
  return true;
}

/**
 * Reads one raw value (from TOML, the environment or a flag) as the key's type and checks its own limits.
 * `homeDir` expands a leading `~/` in paths.
 */
export function parseValue(key: ConfigKey, raw: unknown, homeDir: string): ParseResult<FlatConfig[ConfigKey]> {
  const spec: KeySpec = KEY_SPECS[key];
  switch (spec.kind) {
    case ValueKind.integer:
      return parseInteger(spec, raw);
    case ValueKind.bytes:
      return parseBytes(spec, raw);
    case ValueKind.boolean: {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      const word = typeof raw === 'string' || typeof raw === 'number' ? String(raw).trim().toLowerCase() : undefined;
      const b = word !== undefined && Object.hasOwn(BOOLEAN_WORDS, word) ? BOOLEAN_WORDS[word] : undefined;
      if (b === undefined) return { ok: false, problem: `${showRaw(raw)} is not a boolean (true or false)` };
      return { ok: true, value: b };
    }
    case ValueKind.choice: {
      const choice = typeof raw === 'string' ? spec.choices?.find((c) => c === raw.trim().toLowerCase()) : undefined;
      return choice === undefined
        ? { ok: false, problem: `${showRaw(raw)} is not one of ${spec.choices?.join(', ')}` }
        : { ok: true, value: choice as FlatConfig[ConfigKey] };
    }
    case ValueKind.password:
      if (typeof raw !== 'string') return { ok: false, problem: `${showRaw(raw)} is not a string` };
      return { ok: true, value: raw === '' ? undefined : raw };
    case ValueKind.string:
    case ValueKind.path: {
      if (typeof raw !== 'string' || raw.trim() === '') {
        return { ok: false, problem: `${showRaw(raw)} is not a non-empty string` };
      }
      const home = spec.kind === ValueKind.path && (raw === '~' || raw.startsWith('~/'));
      return { ok: true, value: home ? homeDir + raw.slice(1) : raw };
    }
    case ValueKind.hostPort:
      if (typeof raw !== 'string' || parseHostPort(raw) === undefined) {
        return { ok: false, problem: `${showRaw(raw)} is not a host:port address (e.g. 0.0.0.0:9090 or [::1]:9090)` };
      }
      return { ok: true, value: raw };
    case ValueKind.multiaddr:
      if (typeof raw !== 'string' || !isMultiaddr(raw)) {
        return { ok: false, problem: `${showRaw(raw)} is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/0)` };
      }
      return { ok: true, value: raw };
  }
}

/** Edit distance, for "did you mean" on unknown keys. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The known key closest to `unknown`, if any is close enough to be a likely typo. */
export function suggestKey(unknown: string): ConfigKey | undefined {
  let best: ConfigKey | undefined;
  let bestDistance = Math.max(2, Math.floor(unknown.length / 4)) + 1;
  for (const key of CONFIG_KEYS) {
    const d = editDistance(unknown.toLowerCase(), key);
    if (d < bestDistance) [best, bestDistance] = [key, d];
  }
  return best;
}
