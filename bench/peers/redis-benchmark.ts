/**
 * Runs `redis-benchmark` against a RESP server (redis-server or ours) with one command, and reads its CSV line:
 *
 *   redis-benchmark -h H -p P -c C -P PIPE -n N -r KEYSPACE --csv <command with __rand_int__>
 *   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
 *
 * redis-benchmark counts every reply, errors included, and cannot tell them apart; callers check afterwards that
 * the store holds what was sent (see compare.ts).
 */
import { spawnSync } from 'node:child_process';

export type RedisBenchmarkOptions = {
  binary: string;
  host: string;
  port: number;
  clients: number;
  pipeline: number;
  requests: number;
  /** `__rand_int__` in the command becomes a number in 0..keyspace-1. */
  keyspace: number;
  command: string[];
  timeoutMs?: number;
};

export type RedisBenchmarkResult = {
  requests: number;
  rps: number;
  avgMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  commandLine: string;
};

export function runRedisBenchmark(o: RedisBenchmarkOptions): RedisBenchmarkResult {
  const args = [
    '-h', o.host,
    '-p', String(o.port),
    '-c', String(o.clients),
    '-P', String(o.pipeline),
    '-n', String(o.requests),
    '-r', String(o.keyspace),
    '--csv',
    ...o.command,
  ];
  const shown = args.map((a) => (a.length > 24 ? `<${a.length} bytes>` : a)).join(' ');
  const r = spawnSync(o.binary, args, { encoding: 'utf8', timeout: o.timeoutMs ?? 600_000 });
  if (r.status !== 0) throw new Error(`redis-benchmark ${shown} failed (${r.status ?? r.error}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
  const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('"'));
  const row = lines.find((l) => !l.startsWith('"test"'));
  if (row === undefined) throw new Error(`redis-benchmark ${shown} printed no result: ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
  const cells = row.split('","').map((c) => c.replace(/^"|"$/g, ''));
  const n = (i: number) => Number(cells[cells.length - 7 + i]);
  return { requests: o.requests, rps: n(0), avgMs: n(1), p50Ms: n(3), p95Ms: n(4), p99Ms: n(5), maxMs: n(6), commandLine: `redis-benchmark ${shown}` };
}
