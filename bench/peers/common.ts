/**
 * What the peer helpers share: fresh data directories, free loopback ports, waiting for a server to answer,
 * stopping what we started (and only that: by the pid we spawned), and installing a missing Debian package when
 * we are allowed to. Every server here listens on 127.0.0.1 only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A running peer: where it listens, where its data lives, how to stop it. */
export interface RunningServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  /** The server's own account of its version. */
  readonly version: string;
  stop(): Promise<void>;
}

/** A peer that cannot be run here, and why (printed, never silent). */
export type Unavailable = { available: false; reason: string };

/** A new empty directory under `root` (default: the OS temp dir). */
export function freshDir(prefix: string, root = os.tmpdir()): string {
  fs.mkdirSync(root, { recursive: true });
  return fs.mkdtempSync(path.join(root, `${prefix}-`));
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends `PING` until a RESP server answers `+PONG` (or times out). */
export async function waitForResp(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const reply = await respOnce(host, port, ['PING'], 1000);
      if (reply.startsWith('+PONG')) return;
      last = reply.trim();
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`no PONG from ${host}:${port} within ${timeoutMs} ms (${last})`);
}

/** One request on a new connection; resolves with the raw bytes of whatever arrives first, as text. */
export function respOnce(host: string, port: number, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('timed out'));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    socket.once('data', (chunk) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(chunk.toString());
    });
  });
}

/** Children we spawned and must not leave behind if this process exits early. */
const children = new Set<ChildProcess>();
const exitHooks = new Set<() => void>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) c.kill('SIGKILL');
    for (const h of exitHooks) h();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => process.exit(130));
  }
}

/** Runs `hook` (synchronously) if this process exits before `remove()` is called. */
export function onExit(hook: () => void): { remove(): void } {
  hookExit();
  exitHooks.add(hook);
  return { remove: () => exitHooks.delete(hook) };
}

/** Spawns a server process, its output appended to `logFile`; killed if we exit first. */
export function spawnServer(command: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  hookExit();
  const log = fs.openSync(logFile, 'a');
  const child = spawn(command, args, { stdio: ['ignore', log, log], env });
  fs.closeSync(log);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Where an executable is on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

export const isRoot = () => process.getuid?.() === 0;

let aptUpdated = false;

/**
 * Installs Debian packages with apt-get when allowed and possible (root, apt-get present). Returns undefined on
 * success, else why not. `log` receives one line saying what is being done.
 */
export function aptInstall(packages: string[], allow: boolean, log: (line: string) => void): string | undefined {
  const what = packages.join(' ');
  if (!allow) return `not installing ${what} (--no-install)`;
  if (which('apt-get') === undefined) return `cannot install ${what}: no apt-get on this machine`;
  if (!isRoot()) return `cannot install ${what}: apt-get needs root (run: sudo apt-get install -y ${what})`;
  log(`installing ${what} with apt-get...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    const u = spawnSync('apt-get', ['update', '-qq'], { env, encoding: 'utf8', timeout: 300_000 });
    if (u.status !== 0) return `apt-get update failed: ${(u.stderr || u.stdout || String(u.error)).trim().split('\n').pop()}`;
    aptUpdated = true;
  }
  const r = spawnSync('apt-get', ['install', '-y', '-qq', ...packages], { env, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return `apt-get install ${what} failed: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').pop()}`;
  return undefined;
}
