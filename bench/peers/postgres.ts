/**
 * PostgreSQL as a peer: a throwaway cluster (initdb) in a fresh directory, started with pg_ctl as the `postgres`
 * OS user (when we are root; as ourselves otherwise, since postgres refuses to run as root), listening on
 * 127.0.0.1 only, with `fsync = on` and `synchronous_commit = on`: a commit returns once its WAL is flushed.
 *
 * The event table is what Postgres-based event stores use (Eventide's `messages`, Marten's `mt_events`): a global
 * position, a unique (stream_id, version), and an append function that takes a per-stream advisory lock, reads
 * the stream's current version, enforces the expected version (NULL = any, -1 = no stream) and inserts the next.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { aptInstall, freePort, freshDir, isRoot, onExit, which, type RunningServer, type Unavailable } from './common.ts';

export type PostgresTools = { available: true; bin: string; version: string; runAs: string | undefined };

const libDir = '/usr/lib/postgresql';

function findBin(): string | undefined {
  let versions: number[] = [];
  try {
    versions = fs.readdirSync(libDir).map(Number).filter((v) => v >= 15).sort((a, b) => a - b);
  } catch {
    return undefined;
  }
  // 15 is what the issue measures against; a later one will do when it is all there is.
  const v = versions.includes(15) ? 15 : versions.at(-1);
  if (v === undefined) return undefined;
  const bin = path.join(libDir, String(v), 'bin');
  return fs.existsSync(path.join(bin, 'initdb')) && fs.existsSync(path.join(bin, 'pg_ctl')) ? bin : undefined;
}

/** Finds PostgreSQL >= 15 server binaries, installing Debian's `postgresql` when missing and allowed. */
export function findPostgres(allowInstall: boolean, log: (line: string) => void): PostgresTools | Unavailable {
  let bin = findBin();
  if (bin === undefined) {
    const why = aptInstall(['postgresql'], allowInstall, log);
    bin = findBin();
    if (bin === undefined) return { available: false, reason: `PostgreSQL >= 15 server binaries not found under ${libDir}; ${why ?? 'installed, yet not found'}` };
  }
  let runAs: string | undefined;
  if (isRoot()) {
    if (spawnSync('id', ['-u', 'postgres']).status !== 0) return { available: false, reason: 'running as root and there is no `postgres` OS user to run PostgreSQL as' };
    if (which('runuser') === undefined) return { available: false, reason: 'running as root and runuser (util-linux) is missing' };
    runAs = 'postgres';
  }
  const v = spawnSync(path.join(bin, 'postgres'), ['--version'], { encoding: 'utf8' });
  const version = /(\d+\.\d+)/.exec(v.stdout)?.[1] ?? 'unknown';
  return { available: true, bin, version, runAs };
}

function run(tools: PostgresTools, program: string, args: string[], timeoutMs = 120_000) {
  const file = path.join(tools.bin, program);
  const r =
    tools.runAs === undefined
      ? spawnSync(file, args, { encoding: 'utf8', timeout: timeoutMs })
      : spawnSync('runuser', ['-u', tools.runAs, '--', file, ...args], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')} failed (${r.status ?? r.error}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

export const eventsSchema = `
create table events (
  global_position bigserial primary key,
  stream_id text not null,
  version bigint not null,
  type text not null,
  data bytea not null,
  metadata bytea,
  time timestamptz not null default clock_timestamp(),
  id uuid not null default gen_random_uuid(),
  constraint events_stream_version unique (stream_id, version)
);

create function append_event(p_stream_id text, p_type text, p_data bytea, p_expected_version bigint default null)
returns bigint language plpgsql as $$
declare
  v_current bigint;
begin
  -- One writer per stream at a time (Eventide's write_message takes the same lock), then check and insert.
  perform pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));
  select max(version) into v_current from events where stream_id = p_stream_id;
  v_current := coalesce(v_current, -1);
  if p_expected_version is not null and p_expected_version <> v_current then
    raise exception 'WRONGVER current stream version is % but expected % for stream id %',
      v_current, p_expected_version, p_stream_id using errcode = 'P0001';
  end if;
  insert into events (stream_id, version, type, data) values (p_stream_id, v_current + 1, p_type, p_data);
  return v_current + 1;
end $$;
`;

export type PostgresServer = RunningServer & {
  readonly user: string;
  readonly database: string;
  /** A connected client (the caller ends it). */
  connect(): Promise<pg.Client>;
  /** Empties the events table (a fresh store for the next workload) and checkpoints. */
  reset(): Promise<void>;
};

export type PostgresOptions = { tools: PostgresTools; dataRoot?: string; maxConnections?: number };

export async function startPostgres(options: PostgresOptions): Promise<PostgresServer> {
  const tools = options.tools;
  const dir = freshDir('sierradb-bench-postgres', options.dataRoot);
  if (tools.runAs !== undefined) {
    const uid = Number(spawnSync('id', ['-u', tools.runAs], { encoding: 'utf8' }).stdout);
    const gid = Number(spawnSync('id', ['-g', tools.runAs], { encoding: 'utf8' }).stdout);
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  // --no-sync only skips initdb's final flush of the template files; the server below runs with fsync on.
  run(tools, 'initdb', ['-D', data, '--auth=trust', '--username=postgres', '--encoding=UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const settings = [
    `port=${port}`,
    'listen_addresses=127.0.0.1',
    `unix_socket_directories=${dir}`,
    'fsync=on',
    'synchronous_commit=on',
    'full_page_writes=on',
    `max_connections=${options.maxConnections ?? 200}`,
    'shared_buffers=256MB',
  ];
  const exitHook = onExit(() => {
    try {
      run(tools, 'pg_ctl', ['-D', data, '-m', 'immediate', 'stop'], 10_000);
    } catch {
      // already stopped
    }
  });
  run(tools, 'pg_ctl', ['-D', data, '-l', path.join(dir, 'postgres.log'), '-w', '-t', '60', '-o', settings.map((s) => `-c ${s}`).join(' '), 'start']);
  const connect = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await client.connect();
    return client;
  };
  const admin = await connect();
  try {
    await admin.query(eventsSchema);
  } finally {
    await admin.end();
  }
  return {
    name: 'postgresql',
    host: '127.0.0.1',
    port,
    dir,
    version: tools.version,
    user: 'postgres',
    database: 'postgres',
    connect,
    reset: async () => {
      const c = await connect();
      try {
        await c.query('truncate events restart identity');
        await c.query('checkpoint');
      } finally {
        await c.end();
      }
    },
    stop: async () => {
      run(tools, 'pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      exitHook.remove();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
