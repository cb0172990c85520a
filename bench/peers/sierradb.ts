/**
 * Our server as a peer: `node src/cli/main.ts --dir <fresh> --client-address 127.0.0.1:0`, its address taken from
 * its startup log line (`"msg":"listening"` with `port`), then checked with PING.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import packageJson from '../../package.json' with { type: 'json' };
import { SERVER_NODE_FLAGS } from '../../src/cli/node-flags.ts';
import { freshDir, sleep, spawnServer, stopChild, waitForResp, type RunningServer, type Unavailable } from './common.ts';

export const sierraMain = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Whether the server exists in this checkout (it is written alongside this harness). */
export function findSierra(): { available: true } | Unavailable {
  if (!fs.existsSync(sierraMain)) return { available: false, reason: `our server is not in this checkout yet (${path.relative(process.cwd(), sierraMain)} missing)` };
  return { available: true };
}

export type SierraOptions = {
  dataRoot?: string;
  args?: string[];
  startTimeoutMs?: number;
  /** Reuse this directory (a restart): `data/` inside it is the database, and stop() leaves it in place. */
  dir?: string;
};

export async function startSierra(options: SierraOptions = {}): Promise<RunningServer> {
  const dir = options.dir ?? freshDir('sierradb-bench-sierra', options.dataRoot);
  const logFile = path.join(dir, 'server.log');
  // A restart on the same directory: the previous run's log holds a "listening" line with its old port.
  fs.rmSync(logFile, { force: true });
  const dataDir = path.join(dir, 'data');
  const child = spawnServer(process.execPath, [...SERVER_NODE_FLAGS, sierraMain, '--dir', dataDir, '--client-address', '127.0.0.1:0', ...(options.args ?? [])], logFile);
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeoutMs;
  let port = 0;
  while (port === 0) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`our server exited during startup (${child.exitCode ?? child.signalCode}): ${tail(logFile)}`);
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`our server did not log its listening address within ${timeoutMs} ms: ${tail(logFile)}`);
    }
    port = listeningPort(fs.readFileSync(logFile, 'utf8'));
    if (port === 0) await sleep(50);
  }
  await waitForResp('127.0.0.1', port, Math.max(1000, deadline - Date.now()));
  return {
    name: 'sierradb-ts',
    host: '127.0.0.1',
    port,
    dir,
    version: packageJson.version,
    stop: async () => {
      await stopChild(child);
      if (options.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The port in the first JSON log line whose msg is "listening", or 0. */
export function listeningPort(log: string): number {
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; port?: number; address?: string };
      if (entry.msg !== 'listening') continue;
      if (typeof entry.port === 'number' && entry.port > 0) return entry.port;
      const m = /:(\d+)$/.exec(entry.address ?? '');
      if (m !== null) return Number(m[1]);
    } catch {
      // a partly written line: read it again next time
    }
  }
  return 0;
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
