import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CONFIG_KEYS,
  KEY_SPECS,
  envNameForKey,
  isMultiaddr,
  parseHostPort,
  type Config,
} from '../../src/config/config-schema.ts';
import { configForLog, configFromTable, loadConfig, type LoadOptions, type LoadResult } from '../../src/config/load-config.ts';
import { CONFIG_FLAGS, helpText, parseArgs } from '../../src/cli/parse-args.ts';
import { childLogger, createLogger } from '../../src/logging/logger.ts';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'sierradb-config-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let fileCounter = 0;
/** Writes a TOML file in its own directory and returns its path. */
function tomlFile(text: string): string {
  const dir = path.join(scratch, `case-${fileCounter++}`);
  mkdirSync(dir);
  const file = path.join(dir, 'sierra.toml');
  writeFileSync(file, text);
  return file;
}

const emptyCwd = path.join(scratch, 'empty-cwd');
mkdirSync(emptyCwd);
/** An environment with nothing but a home directory, and no config file to discover. */
const baseEnv = { HOME: '/home/alice' };
const opts: LoadOptions = { cwd: emptyCwd, stdoutIsTty: false, platform: 'linux', cpuCount: 4 };

function ok(result: LoadResult): Config {
  if (!result.ok) throw new Error(`expected a config, got errors:\n${result.errors.join('\n')}`);
  return result.config;
}
function errorsOf(result: LoadResult): readonly string[] {
  if (result.ok) throw new Error('expected errors, got a config');
  return result.errors;
}

const DEFAULTS: Config = {
  dir: '/home/alice/.local/share/sierradb/db',
  append: { strict_versioning: false },
  bucket: { count: 4 },
  partition: { count: 32 },
  segment: { size_bytes: 268435456 },
  cache: { capacity_bytes: 268435456 },
  threads: { read: 2, write: 2 },
  network: { client_address: '0.0.0.0:9090', cluster_address: '/ip4/0.0.0.0/tcp/0', cluster_enabled: true, mdns: false },
  node: { count: 1, index: 0 },
  replication: { factor: 1, buffer_size: 1000, buffer_timeout_ms: 8000, catchup_timeout_ms: 2000 },
  heartbeat: { interval_ms: 1000, timeout_ms: 6000 },
  server: {
    requirepass: undefined,
    maxclients: 10000,
    proto_max_bulk_len: 64 * 1024 * 1024,
    client_query_buffer_limit: 256 * 1024 * 1024,
    pubsub_output_buffer_limit_bytes: 32 * 1024 * 1024,
  },
  log: { level: 'info', format: 'json' },
  shutdown: { timeout_ms: 10000 },
};

describe('defaults', () => {
  it('gives every key its default, frozen', () => {
    const result = loadConfig([], baseEnv, opts);
    const config = ok(result);
    expect(config).toEqual(DEFAULTS);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.network)).toBe(true);
    expect(() => {
      (config.bucket as { count: number }).count = 9;
    }).toThrow();
    if (result.ok) {
      expect(result.configFile).toBeUndefined();
      expect(Object.values(result.sources).every((s) => s === 'default')).toBe(true);
    }
  });

  it('puts the data directory where SierraDB does', () => {
    expect(ok(loadConfig([], { HOME: '/h', XDG_DATA_HOME: '/xdg' }, opts)).dir).toBe('/xdg/sierradb/db');
    expect(ok(loadConfig([], { HOME: '/h' }, { ...opts, platform: 'darwin' })).dir).toBe(
      '/h/Library/Application Support/io.sierradb.sierradb/db',
    );
  });

  it('logs pretty on a terminal and JSON otherwise', () => {
    expect(ok(loadConfig([], baseEnv, { ...opts, stdoutIsTty: true })).log.format).toBe('pretty');
    expect(ok(loadConfig([], baseEnv, { ...opts, stdoutIsTty: false })).log.format).toBe('json');
  });

  it('derives threads.write from bucket.count and replication.factor from node.count', () => {
    const c = ok(loadConfig(['--bucket-count', '8', '-n', '5', '-i', '2'], baseEnv, { ...opts, cpuCount: 64 }));
    expect(c.threads.write).toBe(8);
    // Up to half the cores: 8 buckets on 2 cores get 1 writer, on 6 cores 2, on 8 cores 4 (divisors of 8).
    expect(ok(loadConfig(['--bucket-count', '8'], baseEnv, { ...opts, cpuCount: 2 })).threads.write).toBe(1);
    expect(ok(loadConfig(['--bucket-count', '8'], baseEnv, { ...opts, cpuCount: 6 })).threads.write).toBe(2);
    expect(ok(loadConfig(['--bucket-count', '8'], baseEnv, { ...opts, cpuCount: 8 })).threads.write).toBe(4);
    expect(c.replication.factor).toBe(3);
    const two = ok(loadConfig(['-n', '2', '-i', '1'], baseEnv, opts));
    expect(two.replication.factor).toBe(2);
    // 2000 buckets: the largest divisor of 2000 not above 1024.
    const many = ok(loadConfig(['--bucket-count', '2000', '--partition-count', '4000'], baseEnv, { ...opts, cpuCount: 4096 }));
    expect(many.threads.write).toBe(1000);
  });

  it('every key has a spec, a default text and an environment name', () => {
    for (const key of CONFIG_KEYS) {
      expect(KEY_SPECS[key].doc.length).toBeGreaterThan(10);
      expect(KEY_SPECS[key].defaultText.length).toBeGreaterThan(0);
      expect(envNameForKey(key)).toMatch(/^SIERRA_[A-Z_]+$/);
    }
    expect(envNameForKey('dir')).toBe('SIERRA_DIR');
    expect(envNameForKey('network.client_address')).toBe('SIERRA_NETWORK_CLIENT_ADDRESS');
    expect(envNameForKey('bucket.count')).toBe('SIERRA_BUCKET_COUNT');
  });
});

describe('precedence: flag > env > file > default', () => {
  const file = tomlFile(`
dir = "/from/file"
[bucket]
count = 2
[partition]
count = 64
[network]
client_address = "127.0.0.1:1000"
mdns = true
[log]
level = "warn"
[append]
strict_versioning = true
`);

  it('the file beats the defaults', () => {
    const result = loadConfig(['-c', file], baseEnv, opts);
    const c = ok(result);
    expect(c.dir).toBe('/from/file');
    expect(c.bucket.count).toBe(2);
    expect(c.threads.write).toBe(2);
    expect(c.network.client_address).toBe('127.0.0.1:1000');
    expect(c.network.mdns).toBe(true);
    expect(c.log.level).toBe('warn');
    expect(c.append.strict_versioning).toBe(true);
    if (result.ok) {
      expect(result.configFile).toBe(file);
      expect(result.sources['bucket.count']).toBe(`file ${file}`);
      expect(result.sources['threads.read']).toBe('default');
    }
  });

  it('the environment beats the file', () => {
    const env = {
      ...baseEnv,
      SIERRA_BUCKET_COUNT: '8',
      SIERRA_NETWORK_CLIENT_ADDRESS: '127.0.0.1:2000',
      SIERRA_LOG_LEVEL: 'debug',
      SIERRA_APPEND_STRICT_VERSIONING: 'false',
    };
    const result = loadConfig(['-c', file], env, opts);
    const c = ok(result);
    expect(c.bucket.count).toBe(8);
    expect(c.network.client_address).toBe('127.0.0.1:2000');
    expect(c.log.level).toBe('debug');
    expect(c.append.strict_versioning).toBe(false);
    expect(c.dir).toBe('/from/file');
    if (result.ok) expect(result.sources['bucket.count']).toBe('env SIERRA_BUCKET_COUNT');
  });

  it('flags beat the environment', () => {
    const env = { ...baseEnv, SIERRA_BUCKET_COUNT: '8', SIERRA_NETWORK_CLIENT_ADDRESS: '127.0.0.1:2000', SIERRA_DIR: '/from/env' };
    const argv = ['-c', file, '--bucket-count', '16', '--client-address', '127.0.0.1:3000', '-l', 'error', '-d', '/from/flag', '--no-mdns'];
    const result = loadConfig(argv, env, opts);
    const c = ok(result);
    expect(c.bucket.count).toBe(16);
    expect(c.network.client_address).toBe('127.0.0.1:3000');
    expect(c.log.level).toBe('error');
    expect(c.dir).toBe('/from/flag');
    expect(c.network.mdns).toBe(false);
    if (result.ok) {
      expect(result.sources['bucket.count']).toBe('flag --bucket-count');
      expect(result.sources.dir).toBe('flag --dir');
    }
  });

  it('accepts what parseArgs returned as well as raw arguments', () => {
    const parsed = parseArgs(['--bucket-count', '16', '--partition-count', '64']);
    expect(parsed.command).toBe('serve');
    if (parsed.command === 'exit') return;
    expect(ok(loadConfig(parsed, baseEnv, opts)).bucket.count).toBe(16);
  });

  it('finds the file through SIERRA_CONFIG and in the working directory', () => {
    expect(ok(loadConfig([], { ...baseEnv, SIERRA_CONFIG: file }, opts)).dir).toBe('/from/file');
    expect(ok(loadConfig([], baseEnv, { ...opts, cwd: path.dirname(file) })).dir).toBe('/from/file');
    const home = path.join(scratch, 'home');
    mkdirSync(path.join(home, '.config', 'sierradb'), { recursive: true });
    writeFileSync(path.join(home, '.config', 'sierradb', 'sierra.toml'), 'dir = "/from/home"\n');
    expect(ok(loadConfig([], { HOME: home }, opts)).dir).toBe('/from/home');
  });

  it('a named file that does not exist is an error; a syntax error names the line', () => {
    expect(errorsOf(loadConfig(['-c', '/nonexistent/sierra.toml'], baseEnv, opts))).toEqual([
      'config file /nonexistent/sierra.toml: cannot read it: no such file (flag --config)',
    ]);
    const broken = tomlFile('[bucket]\ncount = \n');
    const errors = errorsOf(loadConfig(['-c', broken], baseEnv, opts));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^config file .*sierra\.toml: invalid TOML at line 2/);
  });
});

describe('validation reports every error at once', () => {
  it('three bad values in a file give three errors, each naming key and file', () => {
    const file = tomlFile(`
[bucket]
count = 0
[network]
client_address = "nowhere"
[log]
level = "loud"
`);
    const errors = errorsOf(loadConfig(['-c', file], baseEnv, opts));
    expect(errors).toEqual([
      `bucket.count: 0 is out of range (1 to 65535) (file ${file})`,
      `network.client_address: "nowhere" is not a host:port address (e.g. 0.0.0.0:9090 or [::1]:9090) (file ${file})`,
      `log.level: "loud" is not one of trace, debug, info, warn, error, fatal, silent (file ${file})`,
    ]);
  });

  it('collects errors from file, environment and flags together', () => {
    const file = tomlFile('[segment]\nsize_bytes = 100\n');
    const env = { ...baseEnv, SIERRA_THREADS_READ: 'two' };
    const errors = errorsOf(loadConfig(['-c', file, '--maxclients', '0', '--cluster-address', 'localhost:1'], env, opts));
    expect(errors).toHaveLength(4);
    expect(errors).toContain(`segment.size_bytes: 100 is out of range (4096 to 10737418240) (file ${file})`);
    expect(errors).toContain('threads.read: "two" is not an integer (env SIERRA_THREADS_READ)');
    expect(errors).toContain('server.maxclients: "0" is out of range (1 to 1000000) (flag --maxclients)');
    expect(errors).toContain(
      'network.cluster_address: "localhost:1" is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/0) (flag --cluster-address)',
    );
  });

  it('a bad value is reported even when a higher layer overrides it', () => {
    const file = tomlFile('[bucket]\ncount = "many"\n');
    const errors = errorsOf(loadConfig(['-c', file, '--bucket-count', '4'], baseEnv, opts));
    expect(errors).toEqual([`bucket.count: "many" is not an integer (file ${file})`]);
  });

  it('checks relations between keys, naming both sources', () => {
    const file = tomlFile(`
[bucket]
count = 64
[heartbeat]
interval_ms = 5000
timeout_ms = 5000
[server]
proto_max_bulk_len = "512MiB"
`);
    const argv = ['-c', file, '--write-threads', '3', '--partition-count', '16'];
    const errors = errorsOf(loadConfig(argv, { ...baseEnv, SIERRA_NETWORK_CLUSTER_ENABLED: 'false', SIERRA_NODE_COUNT: '2', SIERRA_NODE_INDEX: '1' }, opts));
    expect(errors).toEqual([
      `bucket.count: 64 exceeds partition.count 16 (file ${file}; partition.count from flag --partition-count)`,
      `threads.write: 3 does not divide bucket.count 64 (flag --write-threads; bucket.count from file ${file})`,
      'network.cluster_enabled: false requires node.count 1, but node.count is 2 (env SIERRA_NETWORK_CLUSTER_ENABLED; node.count from env SIERRA_NODE_COUNT)',
      `heartbeat.timeout_ms: 5000 must exceed heartbeat.interval_ms 5000 (file ${file}; heartbeat.interval_ms from file ${file})`,
      `server.client_query_buffer_limit: 268435456 is smaller than server.proto_max_bulk_len 536870912 (default; server.proto_max_bulk_len from file ${file})`,
    ]);
  });

  it('node.index is required on a cluster, and must be below node.count; replication.factor at most node.count', () => {
    expect(errorsOf(loadConfig(['-n', '3'], baseEnv, opts))).toEqual([
      'node.index: required when node.count is 3; give --node-index or SIERRA_NODE_INDEX (node.count from flag --node-count)',
    ]);
    expect(errorsOf(loadConfig(['-n', '3', '-i', '3'], baseEnv, opts))).toEqual([
      'node.index: 3 must be less than node.count 3 (flag --node-index; node.count from flag --node-count)',
    ]);
    expect(errorsOf(loadConfig([], { ...baseEnv, SIERRA_REPLICATION_FACTOR: '2' }, opts))).toEqual([
      'replication.factor: 2 exceeds node.count 1 (env SIERRA_REPLICATION_FACTOR; node.count from default)',
    ]);
  });

  it('rejects unknown keys with a suggestion, and only warns about SierraDB keys we do not use', () => {
    const file = tomlFile(`
[bucket]
cuont = 4
[sync]
interval_ms = 5
[segment]
compression = true
[nonsense]
x = 1
`);
    const result = loadConfig(['-c', file], baseEnv, opts);
    expect(errorsOf(result)).toEqual([
      `bucket.cuont: unknown key; did you mean bucket.count? (file ${file})`,
      `nonsense.x: unknown key (file ${file})`,
    ]);
    expect(result.warnings).toHaveLength(2);
    expect(result.warnings[0]).toMatch(/^sync\.interval_ms: SierraDB setting not used by sierradb-ts, ignored/);
    const onlyIgnored = tomlFile('[sync]\nmin_bytes = 4096\n');
    const okResult = loadConfig(['-c', onlyIgnored], baseEnv, opts);
    expect(okResult.ok).toBe(true);
    expect(okResult.warnings).toHaveLength(1);
  });
});

describe('environment variables', () => {
  it('are parsed to the key type', () => {
    const env = {
      ...baseEnv,
      SIERRA_BUCKET_COUNT: '8',
      SIERRA_PARTITION_COUNT: '1_024',
      SIERRA_NETWORK_MDNS: 'yes',
      SIERRA_NETWORK_CLUSTER_ENABLED: 'FALSE',
      SIERRA_SEGMENT_SIZE_BYTES: '64MiB',
      SIERRA_CACHE_CAPACITY_BYTES: '0',
      SIERRA_SERVER_REQUIREPASS: 'hunter2',
      SIERRA_LOG_FORMAT: 'Pretty',
      SIERRA_DIR: '~/events',
    };
    const c = ok(loadConfig([], env, opts));
    expect(c.bucket.count).toBe(8);
    expect(c.partition.count).toBe(1024);
    expect(c.network.mdns).toBe(true);
    expect(c.network.cluster_enabled).toBe(false);
    expect(c.segment.size_bytes).toBe(64 * 1024 * 1024);
    expect(c.cache.capacity_bytes).toBe(0);
    expect(c.server.requirepass).toBe('hunter2');
    expect(c.log.format).toBe('pretty');
    expect(c.dir).toBe('/home/alice/events');
    expect(configForLog(c).server.requirepass).toBe('(set)');
  });

  it('a bad number or boolean is an error naming the variable', () => {
    const env = { ...baseEnv, SIERRA_BUCKET_COUNT: '4x', SIERRA_NETWORK_MDNS: 'maybe', SIERRA_HEARTBEAT_TIMEOUT_MS: '1.5' };
    expect(errorsOf(loadConfig([], env, opts))).toEqual([
      'bucket.count: "4x" is not an integer (env SIERRA_BUCKET_COUNT)',
      'network.mdns: "maybe" is not a boolean (true or false) (env SIERRA_NETWORK_MDNS)',
      'heartbeat.timeout_ms: "1.5" is not an integer (env SIERRA_HEARTBEAT_TIMEOUT_MS)',
    ]);
  });

  it('an empty variable counts as unset; unknown SIERRA_ variables only warn', () => {
    const result = loadConfig([], { ...baseEnv, SIERRA_BUCKET_COUNT: '', SIERRA_PORT: 'tcp://10.0.0.1:9090', SIERRA_BUKET_COUNT: '3' }, opts);
    expect(ok(result).bucket.count).toBe(4);
    expect(result.warnings).toEqual([
      'env SIERRA_PORT: not a configuration variable, ignored',
      'env SIERRA_BUKET_COUNT: not a configuration variable, ignored; did you mean SIERRA_BUCKET_COUNT?',
    ]);
  });
});

describe('[[nodes]] overrides', () => {
  const file = tomlFile(`
[bucket]
count = 4
[partition]
count = 16
[network]
mdns = true

[[nodes]]
dir = "/db/node-0"
network.client_address = "0.0.0.0:9090"

[[nodes]]
dir = "/db/node-1"
network.client_address = "0.0.0.0:9091"

[[nodes]]
dir = "/db/node-2"
network.client_address = "0.0.0.0:9092"
threads.read = 4
`);

  it('applies the table at node.index; node.count defaults to the number of tables', () => {
    const result = loadConfig(['-c', file, '-i', '2'], baseEnv, opts);
    const c = ok(result);
    expect(c.dir).toBe('/db/node-2');
    expect(c.network.client_address).toBe('0.0.0.0:9092');
    expect(c.threads.read).toBe(4);
    expect(c.node).toEqual({ count: 3, index: 2 });
    expect(c.replication.factor).toBe(3);
    expect(c.network.mdns).toBe(true);
    if (result.ok) expect(result.sources.dir).toBe(`file ${file} nodes[2]`);
    const first = ok(loadConfig(['-c', file], { ...baseEnv, SIERRA_NODE_INDEX: '0' }, opts));
    expect(first.dir).toBe('/db/node-0');
    expect(first.threads.read).toBe(2);
  });

  it('environment and flags still beat the node table', () => {
    const c = ok(loadConfig(['-c', file, '-i', '1', '--client-address', '127.0.0.1:7000'], { ...baseEnv, SIERRA_DIR: '/env' }, opts));
    expect(c.dir).toBe('/env');
    expect(c.network.client_address).toBe('127.0.0.1:7000');
  });

  it('without node.index on a cluster it is an error', () => {
    expect(errorsOf(loadConfig(['-c', file], baseEnv, opts))).toEqual([
      'node.index: required when node.count is 3; give --node-index or SIERRA_NODE_INDEX (node.count from default)',
    ]);
  });

  it('checks every node table, not only this node’s', () => {
    const bad = tomlFile(`
[[nodes]]
dir = "/a"
[[nodes]]
dirr = "/b"
node.index = 1
threads.read = 2000
`);
    expect(errorsOf(loadConfig(['-c', bad, '-i', '0'], baseEnv, opts))).toEqual([
      `dirr: unknown key; did you mean dir? (file ${bad} nodes[1])`,
      `node.index: not allowed in a [[nodes]] table (file ${bad} nodes[1])`,
      `threads.read: 2000 is out of range (0 to 1024) (file ${bad} nodes[1])`,
    ]);
  });

  it('more tables than nodes is an error', () => {
    expect(errorsOf(loadConfig(['-c', file, '-n', '2', '-i', '0'], baseEnv, opts))).toEqual([
      `nodes: 3 [[nodes]] tables but node.count is 2 (file ${file}; node.count from flag --node-count)`,
    ]);
  });
});

describe('command line', () => {
  it('--help mentions every flag, its config key and its default', () => {
    const help = helpText();
    for (const f of CONFIG_FLAGS) {
      if (!f.commands.includes('serve')) continue;
      expect(help).toContain(`--${f.name}`);
      expect(help).toContain(envNameForKey(f.key));
      if (f.alias !== undefined) expect(help).toContain(`-${f.alias}, --${f.name}`);
    }
    for (const flag of ['--config', '--help', '--version', 'verify']) expect(help).toContain(flag);
    const names = CONFIG_FLAGS.map((f) => f.name);
    for (const expected of [
      'dir', 'client-address', 'log', 'node-count', 'node-index', 'cluster-address', 'mdns', 'bucket-count',
      'partition-count', 'segment-size', 'read-threads', 'write-threads', 'strict-versioning', 'requirepass',
      'maxclients', 'log-format',
    ]) {
      expect(names).toContain(expected);
    }
    expect(help).toContain('[default: 0.0.0.0:9090]');
    expect(helpText('verify')).toContain('--repair');
  });

  it('parses SierraDB-style flags into config keys', () => {
    const parsed = parseArgs(['-d', '/data', '-n', '3', '-i', '1', '--mdns', 'true', '-l', 'debug', '--segment-size', '1GiB', '-c', 'x.toml']);
    expect(parsed).toEqual({
      command: 'serve',
      configFile: 'x.toml',
      flags: {
        dir: '/data',
        'node.count': '3',
        'node.index': '1',
        'network.mdns': true,
        'log.level': 'debug',
        'segment.size_bytes': '1GiB',
      },
    });
    expect(parseArgs(['serve', '--strict-versioning'])).toMatchObject({ command: 'serve', flags: { 'append.strict_versioning': true } });
    // An absent boolean flag stays absent, so it cannot override the environment or the file.
    expect(parseArgs([])).toEqual({ command: 'serve', flags: {}, configFile: undefined });
  });

  it('declares verify with --dir, --repair and --json', () => {
    expect(parseArgs(['verify', '--dir', '/data', '--repair'])).toEqual({
      command: 'verify',
      flags: { dir: '/data' },
      configFile: undefined,
      repair: true,
      json: false,
    });
    expect(parseArgs(['verify'])).toMatchObject({ command: 'verify', repair: false, json: false });
    expect(parseArgs(['verify', '--json'])).toMatchObject({ command: 'verify', json: true });
    expect(parseArgs(['verify', '--bucket-count', '4'])).toMatchObject({ command: 'exit', exitCode: 1 });
  });

  it('usage errors, --version and --help come back instead of exiting', () => {
    expect(parseArgs(['--bogus'])).toMatchObject({ command: 'exit', exitCode: 1, output: expect.stringContaining('Unknown argument: bogus') });
    expect(parseArgs(['--bucket-count'])).toMatchObject({ command: 'exit', exitCode: 1 });
    expect(parseArgs(['--version'])).toMatchObject({ command: 'exit', exitCode: 0, output: expect.stringMatching(/^\d+\.\d+\.\d+\n$/) });
    expect(parseArgs(['-h'])).toMatchObject({ command: 'exit', exitCode: 0 });
  });
});

describe('the shipped config/sierradb.toml', () => {
  const shipped = path.join(import.meta.dirname, '..', '..', 'config', 'sierradb.toml');

  it('loads and equals the defaults', () => {
    const result = loadConfig(['-c', shipped], baseEnv, opts);
    expect(ok(result)).toEqual(DEFAULTS);
    expect(result.warnings).toEqual([]);
  });

  it('mentions every key', async () => {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync(shipped, 'utf8');
    for (const key of CONFIG_KEYS) {
      const [section, name] = key.includes('.') ? key.split('.') : [undefined, key];
      if (section !== undefined) expect(text).toContain(`[${section}]`);
      expect(text).toMatch(new RegExp(`^(# )?${name} = `, 'm'));
    }
    expect(text).toContain('[[nodes]]');
  });
});

describe('value formats', () => {
  it('host:port addresses', () => {
    expect(parseHostPort('0.0.0.0:9090')).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(parseHostPort('[::1]:6379')).toEqual({ host: '::1', port: 6379 });
    expect(parseHostPort('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    for (const bad of ['9090', '0.0.0.0', '0.0.0.0:65536', '1.2.3:80', '[::1::2]:80', 'a b:1', '::1:80']) {
      expect(parseHostPort(bad)).toBeUndefined();
    }
  });

  it('multiaddrs', () => {
    for (const good of ['/ip4/0.0.0.0/tcp/0', '/ip6/::/tcp/4001', '/dns4/node-1.local/tcp/7000', '/ip4/1.2.3.4/udp/1/quic-v1']) {
      expect(isMultiaddr(good)).toBe(true);
    }
    for (const bad of ['', '/', 'ip4/0.0.0.0/tcp/0', '/ip4/300.0.0.1/tcp/0', '/ip4/0.0.0.0/tcp', '/ip4/0.0.0.0/tcp/70000', '/foo/1']) {
      expect(isMultiaddr(bad)).toBe(false);
    }
  });

  it('configFromTable builds a config from nested or dotted keys', () => {
    const result = configFromTable({ dir: '/t', bucket: { count: 8 }, 'partition.count': 64, server: { requirepass: '' } }, { stdoutIsTty: false });
    const c = ok(result);
    expect(c.dir).toBe('/t');
    expect(c.bucket.count).toBe(8);
    expect(c.partition.count).toBe(64);
    expect(c.server.requirepass).toBeUndefined();
    if (result.ok) expect(result.sources['bucket.count']).toBe('given table');
    expect(errorsOf(configFromTable({ bucket: { count: -1 } }))).toEqual(['bucket.count: -1 is out of range (1 to 65535) (given table)']);
  });
});

describe('logger', () => {
  it('writes JSON lines with level names and child bindings, filtered by level', () => {
    const lines: string[] = [];
    const logger = createLogger({ log: { level: 'info', format: 'json' } }, { write: (s: string) => void lines.push(s) });
    logger.debug('hidden');
    childLogger(logger, { thread: 'writer-0' }).info({ bucket: 3 }, 'sealed segment');
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0]);
    expect(record).toMatchObject({ level: 'info', name: 'sierradb', thread: 'writer-0', bucket: 3, msg: 'sealed segment' });
    expect(typeof record.time).toBe('string');
  });

  it('formats pretty lines without colour when given a destination', () => {
    const lines: string[] = [];
    const logger = createLogger({ log: { level: 'info', format: 'pretty' } }, { write: (s: string) => void lines.push(s) });
    childLogger(logger, { thread: 'reader-1' }).warn('slow read');
    expect(lines.join('')).toMatch(/WARN: \[reader-1\] slow read\n/);
  });
});
