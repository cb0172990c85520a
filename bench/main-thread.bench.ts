/**
 * The main thread's share of an EAPPEND: `clients` connections, each sending `pipeline` EAPPENDs of 200-byte
 * payloads at a time (as redis-benchmark -c 50 -P 16 does) and the next batch once every reply of the last one is
 * back, through the real Connection, command table and threaded engine (write workers, ring queues) — but over
 * in-memory sockets, so no socket syscall is counted. Prints the main thread's CPU per append
 * (`process.threadCpuUsage`), and the replies counted (every one must arrive) with the error replies among them.
 *
 *   node --v8-pool-size=1 --max-semi-space-size=16 bench/main-thread.bench.ts [--appends 300000] [--clients 50] [--pipeline 16] [--dir /dev/shm/x]
 *
 * The data directory defaults to a temp dir under /dev/shm when it exists (tmpfs: fdatasync is free there, so the
 * writers do not bound the run); the store is deleted afterwards.
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { configFromTable } from '../src/config/load-config.ts';
import { open } from '../src/database.ts';
import { Connection, connectionLimitsDefault } from '../src/server/connection.ts';
import { databaseOptions } from '../src/server/database-options.ts';
import { RespEncoder } from '../src/protocol/resp-encoder.ts';
import type { ServerCounters, ServerInfo } from '../src/commands/command.ts';

const { values } = parseArgs({
  options: {
    appends: { type: 'string', default: '300000' },
    clients: { type: 'string', default: '50' },
    pipeline: { type: 'string', default: '16' },
    dir: { type: 'string' },
  },
});
const appends = Number(values.appends);
const clients = Number(values.clients);
const pipeline = Number(values.pipeline);

/** A socket that keeps nothing: counts reply bytes and the replies in them (one `%6` map per EAPPEND reply). */
class CountingSocket extends EventEmitter {
  writableLength = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 1;
  replies = 0;
  bytes = 0;
  onReplies: (() => void) | undefined;
  send: () => void = () => {};
  setNoDelay(): this {
    return this;
  }
  write(b: Buffer, callback?: () => void): boolean {
    this.bytes += b.length;
    for (let i = b.indexOf(0x25); i !== -1; i = b.indexOf(0x25, i + 1)) if (b[i + 1] === 0x36 && b[i + 2] === 0x0d) this.replies++;
    if (callback !== undefined) queueMicrotask(callback);
    this.onReplies?.();
    return true;
  }
  pause(): this {
    return this;
  }
  resume(): this {
    return this;
  }
  end(): this {
    return this;
  }
  destroy(): this {
    this.emit('close');
    return this;
  }
}

const root = values.dir ?? (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
const dir = fs.mkdtempSync(path.join(root, 'main-thread-bench-'));
const loaded = configFromTable({ dir });
if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
// The server's defaults (thread counts included), from the same configuration code.
const db = await open(dir, databaseOptions(loaded.config));
const counters: ServerCounters = { connectionsReceived: 0, connectionsRejected: 0, commandsProcessed: 0, errorReplies: 0, netInputBytes: 0, netOutputBytes: 0 };
const server: ServerInfo = {
  version: '0.0.0',
  peerId: 'bench',
  startedAtMs: Date.now(),
  port: 0,
  connectedClients: () => clients,
  totalCommands: () => counters.commandsProcessed,
  counters: () => counters,
};
const payload = Buffer.alloc(200, 'x');
let streamCounter = 0;
/** A batch of `pipeline` EAPPENDs to random streams (1000 of them), as one chunk. */
const nextChunk = (): Buffer => {
  const e = new RespEncoder({ protocol: 3 });
  for (let i = 0; i < pipeline; i++) {
    streamCounter = (streamCounter * 1103515245 + 12345) >>> 0;
    e.arrayHeader(5);
    for (const arg of ['EAPPEND', `s:${streamCounter % 1000}`, 'E', 'PAYLOAD']) e.bulkString(arg);
    e.bulkString(payload);
  }
  return Buffer.from(e.take());
};
// Pre-built chunks, so that making requests is not counted.
const chunks = Array.from({ length: 256 }, nextChunk);

let sent = 0;
let done = 0;
const finished = Promise.withResolvers<void>();
const sockets: CountingSocket[] = [];
for (let c = 0; c < clients; c++) {
  const socket = new CountingSocket();
  new Connection({
    id: c + 1,
    socket: socket as unknown as Socket,
    db,
    config: loaded.config,
    server,
    counters,
    logger: pino({ level: 'silent' }),
    limits: { ...connectionLimitsDefault, queryBufferBytesMax: 1 << 30, pushOutputBytesMax: 1 << 30, bulkBytesMax: 512 << 20 },
    onClosed: () => {},
  });
  let expected = 0;
  const send = () => {
    if (sent >= appends) return;
    sent += pipeline;
    expected += pipeline;
    socket.emit('data', chunks[(sent / pipeline) % chunks.length]);
  };
  socket.send = send;
  socket.onReplies = () => {
    if (socket.replies < expected) return;
    done = sockets.reduce((n, s) => n + s.replies, 0);
    if (done >= appends) finished.resolve();
    // A new chunk as its own event-loop task, as a socket read would be.
    else setImmediate(send);
  };
  sockets.push(socket);
}
// ALLOCATIONS=<file>: a sampling profile of every allocation on the main thread during the run, collected ones
// included (what drives the scavenges), for `node --heap-prof`-style viewers.
const inspector = process.env.ALLOCATIONS !== undefined ? new (await import('node:inspector/promises')).Session() : undefined;
if (inspector !== undefined) {
  inspector.connect();
  await inspector.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
const cpuStart = process.threadCpuUsage();
const wallStart = performance.now();
for (const s of sockets) s.send();
await finished.promise;
const wallMs = performance.now() - wallStart;
const cpu = process.threadCpuUsage(cpuStart);
const total = sockets.reduce((n, s) => n + s.replies, 0);
if (inspector !== undefined) {
  const { profile } = await inspector.post('HeapProfiler.stopSampling');
  fs.writeFileSync(process.env.ALLOCATIONS!, JSON.stringify(profile));
}
console.log(
  `main thread: ${((cpu.user + cpu.system) / total).toFixed(2)} µs CPU per append (user ${(cpu.user / total).toFixed(2)}, system ${(cpu.system / total).toFixed(2)}); ` +
    `${Math.round(total / (wallMs / 1000)).toLocaleString('en-US')} appends/s; ${total} replies, ${counters.errorReplies} errors`,
);
if (process.env.THREAD_CPU === '1' && fs.existsSync('/proc/self/task')) {
  // Per-thread CPU (Linux), to see where the rest of the time went.
  const line = fs.readdirSync('/proc/self/task').map((t) => {
    const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { name, seconds: (Number(f[11]) + Number(f[12])) / 100 };
  }).filter((t) => t.seconds > 0.05).map((t) => `${t.name} ${t.seconds.toFixed(2)} s`).join(', ');
  console.log(`threads: ${line}`);
}
await db.close();
fs.rmSync(dir, { recursive: true, force: true });
