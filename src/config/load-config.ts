/**
 * Loads the effective configuration: CLI flags > SIERRA_* environment variables > the file's [[nodes]] table for
 * this node > the TOML config file > defaults (SierraDB's order, `crates/sierradb-server/src/config.rs`).
 *
 * Every layer is read in full and every problem is collected, so one start-up shows all of them at once, each line
 * naming the key and where its value came from:
 *
 *   bucket.count: "four" is not an integer (env SIERRA_BUCKET_COUNT)
 *   threads.write: 3 does not divide bucket.count 4 (flag --write-threads; bucket.count from default)
 *
 * The config file is `--config`, else `$SIERRA_CONFIG`, else `./sierra.toml`, else `<config dir>/sierra.toml`
 * (`~/.config/sierradb/sierra.toml` on Linux), as SierraDB looks for `sierra.*`. Only TOML is read.
 */
import { readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import {
  CONFIG_KEYS,
  ENV_CONFIG_FILE,
  ENV_PREFIX,
  IGNORED_SIERRADB_KEYS,
  KEY_SPECS,
  envNameForKey,
  isConfigKey,
  parseValue,
  showRaw,
  suggestKey,
  threadsMax,
  type Config,
  type ConfigKey,
  type FlatConfig,
} from './config-schema.ts';
import { flagNameForKey, parseArgs, type CommandArgs } from '../cli/parse-args.ts';
import { defaultWriteThreads } from './write-threads.ts';

/** Where a key's effective value came from. */
export type Source =
  | { readonly kind: 'default' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'nodes'; readonly path: string; readonly index: number }
  | { readonly kind: 'env'; readonly name: string }
  | { readonly kind: 'flag'; readonly name: string }
  | { readonly kind: 'table' };

export function describeSource(source: Source): string {
  switch (source.kind) {
    case 'default':
      return 'default';
    case 'file':
      return `file ${source.path}`;
    case 'nodes':
      return `file ${source.path} nodes[${source.index}]`;
    case 'env':
      return `env ${source.name}`;
    case 'flag':
      return `flag ${source.name}`;
    case 'table':
      return 'given table';
  }
}

export interface LoadOptions {
  /** Directory searched for `sierra.toml` when no file is named. Default: `process.cwd()`. */
  readonly cwd?: string;
  /** Decides the default `log.format`. Default: `process.stdout.isTTY`. */
  readonly stdoutIsTty?: boolean;
  /** Decides the default `dir` and config directory. Default: `process.platform`. */
  readonly platform?: NodeJS.Platform;
  /** Decides the default `threads.write`. Default: `os.availableParallelism()`. */
  readonly cpuCount?: number;
}

export type LoadResult =
  | {
      readonly ok: true;
      readonly config: Config;
      /** Each key's source, described (`default`, `file ./sierra.toml`, `env SIERRA_DIR`, `flag --dir`, ...). */
      readonly sources: Readonly<Record<ConfigKey, string>>;
      /** The config file that was read, if any. */
      readonly configFile: string | undefined;
      /** Things worth logging that do not stop the start (ignored SierraDB keys, unknown SIERRA_* variables). */
      readonly warnings: readonly string[];
    }
  | { readonly ok: false; readonly errors: readonly string[]; readonly warnings: readonly string[] };

type Env = Readonly<Record<string, string | undefined>>;

/** One value offered for a key by one layer, before parsing. */
interface Candidate {
  readonly raw: unknown;
  readonly source: Source;
}

/** A key's resolved state: a valid value, or broken (its error is already reported). */
type Resolved = { readonly ok: true; readonly value: FlatConfig[ConfigKey]; readonly source: Source } | { readonly ok: false };

/**
 * Loads and validates the configuration. `argv` is either the raw arguments (without `node` and the script) or
 * what `parseArgs` returned for them; `--help` and `--version` are for `parseArgs` callers to handle, so with raw
 * arguments they come back as `ok: false` carrying the text.
 */
export function loadConfig(
  argv: readonly string[] | CommandArgs,
  env: Env = process.env,
  options: LoadOptions = {},
): LoadResult {
  let args: CommandArgs;
  if (Array.isArray(argv)) {
    const parsed = parseArgs(argv as readonly string[]);
    if (parsed.command === 'exit') return { ok: false, errors: [parsed.output.trimEnd()], warnings: [] };
    args = parsed;
  } else {
    args = argv as CommandArgs;
  }

  const errors: string[] = [];
  const warnings: string[] = [];
  const platform = options.platform ?? process.platform;
  const homeDir = homeDirOf(env);
  const cwd = options.cwd ?? process.cwd();

  // The config file: named by a flag or SIERRA_CONFIG (must exist), else found in the usual places (may not).
  let configFile: string | undefined;
  let table: Record<string, unknown> | undefined;
  const named = args.configFile ?? (env[ENV_CONFIG_FILE] || undefined);
  const namedBy = args.configFile !== undefined ? 'flag --config' : `env ${ENV_CONFIG_FILE}`;
  const searched =
    named !== undefined
      ? [named]
      : [path.join(cwd, 'sierra.toml'), path.join(configDir(platform, env, homeDir), 'sierra.toml')];
  for (const file of searched) {
    if (named === undefined && !existsSync(file)) continue;
    configFile = file;
    table = readTomlFile(file, named !== undefined ? namedBy : undefined, errors);
    break;
  }

  const file =
    table === undefined
      ? { values: new Map<ConfigKey, unknown>(), nodes: [] }
      : readFileTable(table, `file ${configFile}`, errors, warnings);
  const flags = new Map<ConfigKey, Candidate>();
  for (const key of CONFIG_KEYS) {
    const raw = args.flags[key];
    if (raw !== undefined) flags.set(key, { raw, source: { kind: 'flag', name: `--${flagNameForKey(key) ?? key}` } });
  }
  return resolve({
    base: file.values,
    baseSource: configFile === undefined ? { kind: 'default' } : { kind: 'file', path: configFile },
    nodeTables: file.nodes,
    env: readEnv(env, warnings),
    flags,
    configFile,
    platformEnv: env,
    platform,
    homeDir,
    stdoutIsTty: options.stdoutIsTty ?? process.stdout.isTTY === true,
    cpuCount: options.cpuCount ?? os.availableParallelism(),
    errors,
    warnings,
  });
}

/**
 * Builds a configuration from a table shaped like the TOML file (nested or dotted keys) over the defaults, without
 * flags, environment variables or a file. For the embedded API and tests:
 * `configFromTable({ dir: '/tmp/x', bucket: { count: 8 } })`.
 */
export function configFromTable(table: Readonly<Record<string, unknown>>, options: LoadOptions = {}): LoadResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const { values, nodes } = readFileTable(table, 'given table', errors, warnings);
  if (nodes.length > 0) errors.push("nodes: not supported in a given table; give this node's own values instead");
  return resolve({
    base: values,
    baseSource: { kind: 'table' },
    nodeTables: [],
    env: new Map(),
    flags: new Map(),
    configFile: undefined,
    platformEnv: process.env,
    platform: options.platform ?? process.platform,
    homeDir: homeDirOf(process.env),
    stdoutIsTty: options.stdoutIsTty ?? process.stdout.isTTY === true,
    cpuCount: options.cpuCount ?? os.availableParallelism(),
    errors,
    warnings,
  });
}

interface ResolveInput {
  /** The file's (or given table's) own keys, and where they came from. */
  readonly base: ReadonlyMap<ConfigKey, unknown>;
  readonly baseSource: Source;
  /** The file's [[nodes]] tables; the one at node.index applies above `base`. */
  readonly nodeTables: ReadonlyArray<ReadonlyMap<ConfigKey, unknown>>;
  readonly env: ReadonlyMap<ConfigKey, Candidate>;
  readonly flags: ReadonlyMap<ConfigKey, Candidate>;
  readonly configFile: string | undefined;
  /** Only for the platform directories (HOME, XDG_*, APPDATA). */
  readonly platformEnv: Env;
  readonly platform: NodeJS.Platform;
  readonly homeDir: string;
  readonly stdoutIsTty: boolean;
  readonly cpuCount: number;
  readonly errors: string[];
  readonly warnings: string[];
}

/** Layers the inputs, applies defaults, checks the relations between keys, and freezes the result. */
function resolve(input: ResolveInput): LoadResult {
  const { errors, warnings, homeDir } = input;
  const resolved = new Map<ConfigKey, Resolved>();

  // Each key's offered values, lowest precedence first; every one is parsed so that every bad value is reported.
  const resolveKey = (key: ConfigKey, nodeRaw?: Candidate): void => {
    const offered: Candidate[] = [];
    if (input.base.has(key)) offered.push({ raw: input.base.get(key), source: input.baseSource });
    if (nodeRaw !== undefined) offered.push(nodeRaw);
    if (input.env.has(key)) offered.push(input.env.get(key)!);
    if (input.flags.has(key)) offered.push(input.flags.get(key)!);
    let top: Resolved | undefined;
    for (const c of offered) {
      const parsed = parseValue(key, c.raw, homeDir);
      if (!parsed.ok) errors.push(`${key}: ${parsed.problem} (${describeSource(c.source)})`);
      top = parsed.ok ? { ok: true, value: parsed.value, source: c.source } : { ok: false };
    }
    if (top !== undefined) resolved.set(key, top);
  };

  // node.index picks the [[nodes]] table, so it comes first (a nodes table may not set it).
  resolveKey('node.index');
  const nodeIndex = resolved.get('node.index');
  const thisNode = nodeIndex?.ok === true ? (nodeIndex.value as number) : undefined;
  // Every [[nodes]] table is checked (a typo for another node is still a typo); this node's applies.
  input.nodeTables.forEach((nodeTable, index) => {
    if (index === thisNode) return;
    for (const [key, raw] of nodeTable) {
      const parsed = parseValue(key, raw, homeDir);
      if (!parsed.ok) errors.push(`${key}: ${parsed.problem} (${describeSource(nodesSource(input, index))})`);
    }
  });
  const own = thisNode === undefined ? undefined : input.nodeTables[thisNode];
  for (const key of CONFIG_KEYS) {
    if (key === 'node.index') continue;
    resolveKey(key, own?.has(key) === true ? { raw: own.get(key), source: nodesSource(input, thisNode!) } : undefined);
  }

  // Defaults, some derived from other keys. A key derived from a broken key is broken too (no second error).
  const setDefault = (key: ConfigKey, value: FlatConfig[ConfigKey] | { readonly broken: true }): void => {
    if (resolved.has(key)) return;
    const isBroken = value !== null && typeof value === 'object';
    resolved.set(key, isBroken ? { ok: false } : { ok: true, value, source: { kind: 'default' } });
  };
  const get = <K extends ConfigKey>(key: K): FlatConfig[K] | undefined => {
    const r = resolved.get(key);
    return r?.ok === true ? (r.value as FlatConfig[K]) : undefined;
  };
  const broken = { broken: true } as const;
  for (const key of CONFIG_KEYS) {
    const d = KEY_SPECS[key].default;
    if (d === 'unset') setDefault(key, undefined);
    else if (d !== 'derived') setDefault(key, d);
  }
  setDefault('dir', path.join(dataDir(input.platform, input.platformEnv, homeDir), 'db'));
  setDefault('log.format', input.stdoutIsTty ? 'pretty' : 'json');
  setDefault('node.count', Math.max(1, input.nodeTables.length));
  const nodeCount = get('node.count');
  setDefault('replication.factor', nodeCount === undefined ? broken : Math.min(Math.max(nodeCount, 1), 3));
  const bucketCount = get('bucket.count');
  setDefault('threads.write', bucketCount === undefined ? broken : defaultWriteThreads(bucketCount, input.cpuCount, threadsMax));
  // node.index has a default only on a single node: with several, each must be told which one it is.
  if (nodeCount === 1) setDefault('node.index', 0);
  else if (!resolved.has('node.index')) {
    resolved.set('node.index', { ok: false });
    if (nodeCount !== undefined) {
      errors.push(
        `node.index: required when node.count is ${nodeCount}; give --node-index or ${envNameForKey('node.index')} ` +
          `(node.count from ${describe(resolved, 'node.count')})`,
      );
    }
  }

  checkRelations(resolved, input.nodeTables.length, input.configFile, errors);

  if (errors.length > 0) return { ok: false, errors, warnings };
  const flat = Object.fromEntries(CONFIG_KEYS.map((k) => [k, get(k)])) as unknown as FlatConfig;
  const sources = Object.fromEntries(CONFIG_KEYS.map((k) => [k, describe(resolved, k)])) as Record<ConfigKey, string>;
  return { ok: true, config: nestConfig(flat), sources: Object.freeze(sources), configFile: input.configFile, warnings };
}

function nodesSource(input: ResolveInput, index: number): Source {
  return { kind: 'nodes', path: input.configFile ?? '(none)', index };
}

function homeDirOf(env: Env): string {
  return env.HOME || env.USERPROFILE || os.homedir();
}

/** The config with the password replaced, for logging the effective configuration at start-up. */
export function configForLog(config: Config): Config {
  return { ...config, server: { ...config.server, requirepass: config.server.requirepass === undefined ? undefined : '(set)' } };
}

function describe(resolved: Map<ConfigKey, Resolved>, key: ConfigKey): string {
  const r = resolved.get(key);
  return r?.ok === true ? describeSource(r.source) : 'an invalid value';
}

/** Rules involving two or more keys. Skipped when a key involved is already broken, to report each cause once. */
function checkRelations(
  resolved: Map<ConfigKey, Resolved>,
  nodeTableCount: number,
  configFile: string | undefined,
  errors: string[],
): void {
  const value = (key: ConfigKey): number | boolean | string | undefined => {
    const r = resolved.get(key);
    return r?.ok === true ? (r.value as number | boolean | string | undefined) : undefined;
  };
  const ok = (...keys: ConfigKey[]): boolean => keys.every((k) => resolved.get(k)?.ok === true);
  const fail = (key: ConfigKey, problem: string, other?: ConfigKey): void => {
    const otherText = other === undefined ? '' : `; ${other} from ${describe(resolved, other)}`;
    errors.push(`${key}: ${problem} (${describe(resolved, key)}${otherText})`);
  };
  const num = (key: ConfigKey): number => value(key) as number;

  if (ok('bucket.count', 'partition.count') && num('bucket.count') > num('partition.count')) {
    fail('bucket.count', `${num('bucket.count')} exceeds partition.count ${num('partition.count')}`, 'partition.count');
  }
  if (ok('partition.count', 'node.count') && num('partition.count') < num('node.count')) {
    fail('partition.count', `${num('partition.count')} is less than node.count ${num('node.count')}`, 'node.count');
  }
  if (ok('threads.write', 'bucket.count') && num('bucket.count') % num('threads.write') !== 0) {
    fail('threads.write', `${num('threads.write')} does not divide bucket.count ${num('bucket.count')}`, 'bucket.count');
  }
  if (ok('network.cluster_enabled', 'node.count') && value('network.cluster_enabled') === false && num('node.count') !== 1) {
    fail('network.cluster_enabled', `false requires node.count 1, but node.count is ${num('node.count')}`, 'node.count');
  }
  if (ok('node.index', 'node.count') && num('node.index') >= num('node.count')) {
    fail('node.index', `${num('node.index')} must be less than node.count ${num('node.count')}`, 'node.count');
  }
  if (ok('node.count') && nodeTableCount > num('node.count')) {
    errors.push(
      `nodes: ${nodeTableCount} [[nodes]] tables but node.count is ${num('node.count')} ` +
        `(file ${configFile}; node.count from ${describe(resolved, 'node.count')})`,
    );
  }
  if (ok('replication.factor', 'node.count') && num('replication.factor') > num('node.count')) {
    fail('replication.factor', `${num('replication.factor')} exceeds node.count ${num('node.count')}`, 'node.count');
  }
  if (ok('heartbeat.timeout_ms', 'heartbeat.interval_ms') && num('heartbeat.timeout_ms') <= num('heartbeat.interval_ms')) {
    fail(
      'heartbeat.timeout_ms',
      `${num('heartbeat.timeout_ms')} must exceed heartbeat.interval_ms ${num('heartbeat.interval_ms')}`,
      'heartbeat.interval_ms',
    );
  }
  if (
    ok('server.client_query_buffer_limit', 'server.proto_max_bulk_len') &&
    num('server.client_query_buffer_limit') < num('server.proto_max_bulk_len')
  ) {
    fail(
      'server.client_query_buffer_limit',
      `${num('server.client_query_buffer_limit')} is smaller than server.proto_max_bulk_len ${num('server.proto_max_bulk_len')}`,
      'server.proto_max_bulk_len',
    );
  }
}

function readTomlFile(file: string, namedBy: string | undefined, errors: string[]): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    errors.push(`config file ${file}: cannot read it: ${why}${namedBy !== undefined ? ` (${namedBy})` : ''}`);
    return undefined;
  }
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
      errors.push(`config file ${file}: invalid TOML at line ${err.line}, column ${err.column}: ${what}`);
    } else {
      errors.push(`config file ${file}: invalid TOML: ${(err as Error).message}`);
    }
    return undefined;
  }
}

function isTable(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
}

/** Flattens nested tables to dotted keys; arrays and other values are leaves. */
function flatten(table: Record<string, unknown>, prefix: string, out: Array<[string, unknown]>): void {
  for (const [k, v] of Object.entries(table)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (isTable(v) && !isConfigKey(key)) flatten(v, key, out);
    else out.push([key, v]);
  }
}

/** Splits a file's table into known values and [[nodes]] tables; unknown keys are errors, SierraDB-only keys warnings. */
function readFileTable(
  table: Readonly<Record<string, unknown>>,
  where: string,
  errors: string[],
  warnings: string[],
): { values: Map<ConfigKey, unknown>; nodes: Array<Map<ConfigKey, unknown>> } {
  const values = new Map<ConfigKey, unknown>();
  const nodes: Array<Map<ConfigKey, unknown>> = [];
  const { nodes: rawNodes, ...rest } = table;
  const sort = (entries: Array<[string, unknown]>, into: Map<ConfigKey, unknown>, at: string, inNode: boolean): void => {
    for (const [key, raw] of entries) {
      if (isConfigKey(key)) {
        if (inNode && (key === 'node.index' || key === 'node.count')) {
          errors.push(`${key}: not allowed in a [[nodes]] table (${at})`);
        } else {
          into.set(key, raw);
        }
      } else if (Object.hasOwn(IGNORED_SIERRADB_KEYS, key)) {
        warnings.push(`${key}: SierraDB setting not used by sierradb-ts, ignored: ${IGNORED_SIERRADB_KEYS[key]} (${at})`);
      } else {
        const hint = suggestKey(key);
        errors.push(`${key}: unknown key${hint !== undefined ? `; did you mean ${hint}?` : ''} (${at})`);
      }
    }
  };
  const flat: Array<[string, unknown]> = [];
  flatten(rest, '', flat);
  sort(flat, values, where, false);

  if (rawNodes !== undefined) {
    if (!Array.isArray(rawNodes) || !rawNodes.every(isTable)) {
      errors.push(`nodes: ${showRaw(rawNodes)} is not an array of tables; write each node as a [[nodes]] table (${where})`);
    } else {
      rawNodes.forEach((nodeTable, index) => {
        const nodeValues = new Map<ConfigKey, unknown>();
        const nodeFlat: Array<[string, unknown]> = [];
        flatten(nodeTable, '', nodeFlat);
        const nested = nodeFlat.filter(([k]) => k === 'nodes');
        for (const _ of nested) errors.push(`nodes: not allowed inside a [[nodes]] table (${where} nodes[${index}])`);
        sort(nodeFlat.filter(([k]) => k !== 'nodes'), nodeValues, `${where} nodes[${index}]`, true);
        nodes.push(nodeValues);
      });
    }
  }
  return { values, nodes };
}

/** SIERRA_<KEY> variables. Unknown SIERRA_* names only warn: orchestrators inject names like SIERRA_PORT. */
function readEnv(env: Env, warnings: string[]): Map<ConfigKey, Candidate> {
  const out = new Map<ConfigKey, Candidate>();
  const byName = new Map<string, ConfigKey>(CONFIG_KEYS.map((k) => [envNameForKey(k), k]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || name === ENV_CONFIG_FILE) continue;
    const key = byName.get(name);
    if (key === undefined) {
      const guess = suggestKey(name.slice(ENV_PREFIX.length).toLowerCase().replaceAll('_', '.'));
      const hint = guess !== undefined ? `; did you mean ${envNameForKey(guess)}?` : '';
      warnings.push(`env ${name}: not a configuration variable, ignored${hint}`);
      continue;
    }
    // An empty variable counts as unset, as compose files produce them for `${VAR}` with VAR unset.
    if (value === undefined || value === '') continue;
    out.set(key, { raw: value, source: { kind: 'env', name } });
  }
  return out;
}

/** Where SierraDB keeps data (`ProjectDirs::from("io", "sierradb", "sierradb").data_dir()`). */
export function dataDir(platform: NodeJS.Platform, env: Env, homeDir: string): string {
  if (platform === 'darwin') return path.join(homeDir, 'Library', 'Application Support', 'io.sierradb.sierradb');
  if (platform === 'win32') return path.win32.join(roamingAppData(env, homeDir), 'sierradb', 'sierradb', 'data');
  return path.join(xdgDir(env.XDG_DATA_HOME, path.join(homeDir, '.local', 'share')), 'sierradb');
}

/** Where SierraDB looks for `sierra.*` (`ProjectDirs::config_dir()`). */
export function configDir(platform: NodeJS.Platform, env: Env, homeDir: string): string {
  if (platform === 'darwin') return path.join(homeDir, 'Library', 'Application Support', 'io.sierradb.sierradb');
  if (platform === 'win32') return path.win32.join(roamingAppData(env, homeDir), 'sierradb', 'sierradb', 'config');
  return path.join(xdgDir(env.XDG_CONFIG_HOME, path.join(homeDir, '.config')), 'sierradb');
}

/** An XDG base directory variable counts only when it is an absolute path (the XDG spec says to ignore others). */
function xdgDir(value: string | undefined, fallback: string): string {
  return value !== undefined && path.isAbsolute(value) ? value : fallback;
}

function roamingAppData(env: Env, homeDir: string): string {
  return env.APPDATA || path.win32.join(homeDir, 'AppData', 'Roaming');
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v !== null && typeof v === 'object') deepFreeze(v);
  return Object.freeze(o);
}

function nestConfig(flat: FlatConfig): Config {
  const root: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[parts.at(-1)!] = flat[key];
  }
  return deepFreeze(root as unknown as Config);
}
