/**
 * redis-server as a peer, on loopback with a fresh directory, persisting every write to its append-only file:
 * `appendonly yes` with `appendfsync always` (fsync before replying: the durable peer) or `everysec`. RDB
 * snapshots are off (`save ""`) so that only the AOF does disk work. Also: finding or installing redis-server
 * and redis-benchmark (Debian: redis-server, redis-tools).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { aptInstall, freePort, freshDir, spawnServer, stopChild, waitForResp, which, type RunningServer, type Unavailable } from './common.ts';

export const redisFsyncModes = ['always', 'everysec'] as const;
export type RedisFsync = (typeof redisFsyncModes)[number];

export type RedisTools = { available: true; server: string; benchmark: string; version: string };

/** Finds redis-server and redis-benchmark, installing them with apt-get when missing and allowed. */
export function findRedis(allowInstall: boolean, log: (line: string) => void): RedisTools | Unavailable {
  let server = which('redis-server');
  let benchmark = which('redis-benchmark');
  if (server === undefined || benchmark === undefined) {
    const why = aptInstall(['redis-server', 'redis-tools'], allowInstall, log);
    server = which('redis-server');
    benchmark = which('redis-benchmark');
    if (server === undefined || benchmark === undefined) {
      return { available: false, reason: `redis-server/redis-benchmark not found; ${why ?? 'installed, yet still not on PATH'}` };
    }
  }
  const v = spawnSync(server, ['--version'], { encoding: 'utf8' });
  const version = /v=([\d.]+)/.exec(v.stdout)?.[1] ?? 'unknown';
  return { available: true, server, benchmark, version };
}

export type RedisOptions = { tools: RedisTools; fsync: RedisFsync; dataRoot?: string; startTimeoutMs?: number };

export async function startRedis(options: RedisOptions): Promise<RunningServer> {
  const dir = freshDir(`sierradb-bench-redis-${options.fsync}`, options.dataRoot);
  const port = await freePort();
  const child = spawnServer(
    options.tools.server,
    [
      '--bind', '127.0.0.1',
      '--port', String(port),
      '--dir', dir,
      '--appendonly', 'yes',
      '--appendfsync', options.fsync,
      '--save', '',
      '--daemonize', 'no',
      '--protected-mode', 'yes',
      '--logfile', path.join(dir, 'redis.log'),
    ],
    path.join(dir, 'stdout.log'),
  );
  try {
    await waitForResp('127.0.0.1', port, options.startTimeoutMs ?? 10_000);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    name: `redis appendfsync ${options.fsync}`,
    host: '127.0.0.1',
    port,
    dir,
    version: options.tools.version,
    stop: async () => {
      await stopChild(child);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
