/**
 * Starts the real server (`src/cli/main.ts`) as a child process on port 0 and reads the bound port from its
 * start-up log line (`msg: "listening"`). Each test file gets its own temporary data directory.
 */
import { SERVER_NODE_FLAGS } from '../../../src/cli/node-flags.ts';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface StartOptions {
  /** Data directory; a fresh temporary one by default. */
  dir?: string;
  /** Extra command-line flags. */
  args?: string[];
  env?: Record<string, string>;
  /** Writer threads (1 starts fastest); default 1. */
  writeThreads?: number;
  readThreads?: number;
}

export interface ServerProcess {
  readonly port: number;
  readonly dir: string;
  readonly proc: ChildProcessWithoutNullStreams;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Log lines (JSON) parsed so far. */
  logLines(): Record<string, unknown>[];
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** SIGTERM and wait for the exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** SIGKILL and wait. */
  kill9(): Promise<void>;
}

const tempDirs: string[] = [];

/** Every server process started here; any still running when the test process exits is killed, so a failing
 * test cannot leave a server behind. */
const running = new Set<ChildProcessWithoutNullStreams>();
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

export function tempDir(prefix = 'sdb-it-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export async function startServer(o: StartOptions = {}): Promise<ServerProcess> {
  const dir = o.dir ?? path.join(tempDir(), 'db');
  const args = [
    ...SERVER_NODE_FLAGS,
    MAIN,
    '--dir',
    dir,
    '--client-address',
    '127.0.0.1:0',
    '--log-format',
    'json',
    '--log',
    'info',
    '--write-threads',
    String(o.writeThreads ?? 1),
    '--read-threads',
    String(o.readThreads ?? 1),
    ...(o.args ?? []),
  ];
  const proc = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...o.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const logLines = (): Record<string, unknown>[] =>
    out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time:\n${out}`)), 30_000);
    const check = (): void => {
      const line = logLines().find((l) => l.msg === 'listening');
      if (line !== undefined) {
        clearTimeout(timer);
        proc.stdout.off('data', check);
        resolve(line.port as number);
      }
    };
    proc.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening:\n${out}`));
    });
  });
  return {
    port,
    dir,
    proc,
    output: () => out,
    logLines,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
