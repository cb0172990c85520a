/**
 * Subscriptions through a real server process (src/cli/main.ts on a fresh data directory, real disk):
 *
 *   1. append-to-push latency: one subscriber (`EPSUB * FROM LATEST`, acking as it goes) and appenders with 1 and
 *      16 appends in flight; the time from sending EAPPEND to receiving the event's `message` push (which includes
 *      the fdatasync: an event is published only once durable), p50/p99/max;
 *   2. fan-out cost: append throughput (16 in flight) with no subscriber, then with `--fanout` subscribers, all
 *      on every partition (`EPSUB *`) or each on its own stream (`ESUB`), spread over 20 connections of a child
 *      process, and the push latency seen by one more subscriber;
 *   3. catch-up rate: `--history` events appended first, then `EPSUB * FROM 0 WINDOW 10000` acking every 1,000:
 *      events/s delivered from disk until the subscriber is caught up, to a raw reader (what the server
 *      sustains) and through SierraClient (which decodes every event).
 *
 * Prints a checksum of the work (the sum of delivered partition sequences, mod 1e9+7) so the run is honest.
 *
 *   npx node bench/subscription-latency.bench.ts [--seconds 3] [--history 100000] [--fanout 1000] [--quick]
 */
import { SERVER_NODE_FLAGS } from '../src/cli/node-flags.ts';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SierraClient } from '../src/client/index.ts';
import type { RespPush } from '../src/protocol/resp-reply-parser.ts';

const { values } = parseArgs({
  strict: false,
  options: {
    seconds: { type: 'string', default: '3' },
    history: { type: 'string', default: '100000' },
    fanout: { type: 'string', default: '1000' },
    quick: { type: 'boolean', default: false },
  },
});
const quick = values.quick === true;
const seconds = quick ? 0.5 : Number(values.seconds);
const historyEvents = quick ? 5000 : Number(values.history);
const fanout = quick ? 50 : Number(values.fanout);
const payloadBytes = 200;
let checksum = 0;

const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));

async function startServer(dir: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, MAIN, '--dir', dir, '--client-address', '127.0.0.1:0', '--log-format', 'json', '--log', 'info'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const m = /"msg":"listening"/.test(out) ? /"port":(\d+)/.exec(out) : null;
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    proc.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    proc.once('exit', (code) => reject(new Error(`server exited ${code}:\n${out}`)));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function ms(ns: number): string {
  return (ns / 1e6).toFixed(3);
}

/** A subscriber that records, per message, the append time carried in the payload. */
async function latencySubscriber(port: number): Promise<{ client: SierraClient; latencies: number[] }> {
  const client = await SierraClient.connect({ port });
  const latencies: number[] = [];
  let pendingAck = -1;
  let id = '';
  client.onPush((push: RespPush) => {
    if (push.data[0] !== 'message') return;
    const now = process.hrtime.bigint();
    const event = push.data[3] as Map<string, unknown>;
    const sent = BigInt((event.get('payload') as Buffer).toString('latin1', 0, 20).trim());
    latencies.push(Number(now - sent));
    checksum = (checksum + (event.get('partition_sequence') as number)) % 1_000_000_007;
    const cursor = push.data[2] as number;
    if (pendingAck < 0) {
      queueMicrotask(() => {
        const ack = pendingAck;
        pendingAck = -1;
        client.eack(id, ack).catch(() => {});
      });
    }
    pendingAck = cursor;
  });
  id = await client.epsub('*', { from: 'latest', window: 100_000 });
  return { client, latencies };
}

function stampedPayload(): string {
  return process.hrtime.bigint().toString().padEnd(20, ' ') + 'x'.repeat(payloadBytes - 20);
}

async function appendFor(port: number, inFlight: number, durationS: number, stream: (w: number, i: number) => string = (w, i) => `lat-${w}-${i % 50}`): Promise<number> {
  const clients = await Promise.all(Array.from({ length: Math.min(inFlight, 4) }, () => SierraClient.connect({ port })));
  let events = 0;
  const deadline = performance.now() + durationS * 1000;
  await Promise.all(
    Array.from({ length: inFlight }, async (_, w) => {
      const c = clients[w % clients.length];
      for (let i = 0; performance.now() < deadline; i++) {
        await c.eappend(stream(w, i), 'Tick', { payload: stampedPayload() });
        events++;
      }
    }),
  );
  for (const c of clients) c.close();
  return events;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

function report(label: string, latencies: number[]): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  console.log(
    `${label}: ${sorted.length.toLocaleString('en-US')} pushes, append→push p50 ${ms(quantile(sorted, 0.5))} ms, p99 ${ms(quantile(sorted, 0.99))} ms, max ${ms(sorted.at(-1) ?? NaN)} ms`,
  );
}

/**
 * The fan-out child: `subs` subscriptions over 20 raw sockets that read and discard: `EPSUB *` each (`all`), or
 * `ESUB fan-<k>` for k = 0..subs-1 (`streams`).
 */
async function fanoutChild(port: number, subs: number, kind: string): Promise<void> {
  const sockets = await Promise.all(
    Array.from({ length: Math.min(20, subs) }, () => new Promise<net.Socket>((resolve) => { const so = net.connect({ host: '127.0.0.1', port }, () => resolve(so)); })),
  );
  let bytes = 0;
  const epsub = '*6\r\n$5\r\nEPSUB\r\n$1\r\n*\r\n$4\r\nFROM\r\n$6\r\nLATEST\r\n$6\r\nWINDOW\r\n$10\r\n4294967295\r\n';
  const esub = (k: number) => {
    const name = `fan-${k}`;
    return `*6\r\n$4\r\nESUB\r\n$${name.length}\r\n${name}\r\n$4\r\nFROM\r\n$6\r\nLATEST\r\n$6\r\nWINDOW\r\n$10\r\n4294967295\r\n`;
  };
  await Promise.all(
    sockets.map(
      (so, k) =>
        new Promise<void>((resolve) => {
          let text = '';
          const onData = (d: Buffer) => {
            bytes += d.length;
            text += d.toString('latin1');
            if (text.includes('+PONG')) {
              so.off('data', onData);
              so.on('data', (more: Buffer) => (bytes += more.length));
              resolve();
            }
          };
          so.on('data', onData);
          let commands = '';
          for (let j = k; j < subs; j += sockets.length) commands += kind === 'streams' ? esub(j) : epsub;
          so.write(commands + '*1\r\n$4\r\nPING\r\n');
        }),
    ),
  );
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    process.stdout.write(`bytes ${bytes}\n`, () => process.exit(0));
  });
}

const childAt = process.argv.indexOf('--fanout-child');
if (childAt !== -1) {
  await fanoutChild(Number(process.argv[childAt + 1]), Number(process.argv[childAt + 2]), process.argv[childAt + 3]);
} else {
  await main();
}

async function main(): Promise<void> {
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sdb-sub-bench-'));
try {
  // 1. Latency with one subscriber.
  {
    const server = await startServer(path.join(root, 'latency'));
    const sub = await latencySubscriber(server.port);
    for (const inFlight of [1, 16]) {
      sub.latencies.length = 0;
      const appended = await appendFor(server.port, inFlight, seconds);
      await waitUntil(() => sub.latencies.length >= appended, 10_000);
      report(`latency, ${String(inFlight).padStart(2)} append(s) in flight, ${Math.round(appended / seconds).toLocaleString('en-US')} appends/s`, sub.latencies);
    }
    sub.client.close();
    await server.stop();
  }

  // 2. Fan-out: append throughput without and with many subscribers, (a) every subscriber on every partition
  // (`EPSUB *`: each event is pushed `fanout` times, so this measures output), (b) each subscriber on its own
  // stream (`ESUB fan-<k>`, appends to random ones of those streams: each event has one subscriber, the rest are
  // idle). The subscribers live in a child process on raw sockets that only count bytes (window 2^32-1, no acks),
  // so that parsing their pushes does not slow this process's appenders.
  for (const kind of ['all', 'streams'] as const) {
    const server = await startServer(path.join(root, `fanout-${kind}`));
    const streamOf = kind === 'all' ? undefined : (w: number, i: number) => `fan-${(w * 7919 + i * 104_729) % fanout}`;
    const alone = await appendFor(server.port, 16, seconds, streamOf);
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--fanout-child', String(server.port), String(kind === 'all' ? fanout - 1 : fanout), kind], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let childOut = '';
    child.stdout.on('data', (d: Buffer) => (childOut += d.toString('utf8')));
    await waitUntil(() => childOut.includes('ready'), 60_000);
    const probe = await latencySubscriber(server.port);
    const withSubs = await appendFor(server.port, 16, seconds, streamOf);
    await waitUntil(() => probe.latencies.length >= withSubs, 60_000);
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    const bytes = Number(/bytes (\d+)/.exec(childOut)?.[1] ?? 0);
    const what = kind === 'all' ? `${fanout} subscribers to every partition` : `${fanout} subscribers to one stream each (+1 to every partition)`;
    console.log(
      `fan-out, ${what}: 16 in flight, ${Math.round(alone / seconds).toLocaleString('en-US')} appends/s with no subscriber, ` +
        `${Math.round(withSubs / seconds).toLocaleString('en-US')} appends/s with them (×${(alone / Math.max(1, withSubs)).toFixed(2)} slower); ` +
        `${(bytes / 1e6).toFixed(1)} MB pushed to them`,
    );
    report(`  latency seen by one EPSUB * subscriber among them`, probe.latencies);
    probe.client.close();
    await server.stop();
  }

  // 3. Catch-up rate from disk.
  {
    const server = await startServer(path.join(root, 'catchup'));
    const writer = await SierraClient.connect({ port: server.port });
    const payload = 'y'.repeat(payloadBytes);
    for (let done = 0; done < historyEvents; ) {
      const n = Math.min(2000, historyEvents - done);
      await Promise.all(Array.from({ length: n }, (_, i) => writer.eappend(`hist-${(done + i) % 1000}`, 'Tick', { payload })));
      done += n;
    }
    writer.close();

    // (a) A raw reader that only finds the `message` frames and acks every 1,000: what the server sustains.
    {
      const so = net.connect({ host: '127.0.0.1', port: server.port });
      await new Promise((resolve) => so.once('connect', resolve));
      let id = '';
      let head = '';
      let received = 0;
      let carry = '';
      const started = performance.now();
      await new Promise<void>((resolve) => {
        so.on('data', (d: Buffer) => {
          const text = d.toString('latin1');
          if (id === '') {
            head += text;
            id = /^\+([0-9a-f-]{36})\r\n/.exec(head)?.[1] ?? '';
          }
          const scan = carry + text;
          const before = received;
          for (let k = scan.indexOf('+message\r\n'); k !== -1; k = scan.indexOf('+message\r\n', k + 1)) if (k + 10 > carry.length) received++;
          carry = scan.slice(-12);
          if (id !== '' && Math.floor(received / 1000) > Math.floor(before / 1000)) {
            const cursor = String(Math.floor(received / 1000) * 1000 - 1);
            so.write(`*3\r\n$4\r\nEACK\r\n$36\r\n${id}\r\n$${cursor.length}\r\n${cursor}\r\n`);
          }
          if (received >= historyEvents) resolve();
        });
        so.write('*6\r\n$5\r\nEPSUB\r\n$1\r\n*\r\n$4\r\nFROM\r\n$1\r\n0\r\n$6\r\nWINDOW\r\n$5\r\n10000\r\n');
      });
      const elapsed = (performance.now() - started) / 1000;
      checksum = (checksum + received) % 1_000_000_007;
      console.log(
        `catch-up (raw reader): ${received.toLocaleString('en-US')} events of ${payloadBytes} B from disk in ${elapsed.toFixed(2)} s: ${Math.round(received / elapsed).toLocaleString('en-US')} events/s (window 10,000)`,
      );
      so.destroy();
    }

    // (b) The same through SierraClient, which decodes every event map.
    const reader = await SierraClient.connect({ port: server.port });
    let received = 0;
    let id = '';
    reader.onPush((push: RespPush) => {
      if (push.data[0] !== 'message') return;
      received++;
      checksum = (checksum + ((push.data[3] as Map<string, unknown>).get('partition_sequence') as number)) % 1_000_000_007;
      const cursor = push.data[2] as number;
      if (cursor % 1000 === 999) void reader.eack(id, cursor).catch(() => {});
    });
    const started = performance.now();
    id = await reader.epsub('*', { from: 0, window: 10_000 });
    await waitUntil(() => received >= historyEvents, 120_000);
    const elapsed = (performance.now() - started) / 1000;
    console.log(
      `catch-up (SierraClient, decoding): ${received.toLocaleString('en-US')} events in ${elapsed.toFixed(2)} s: ${Math.round(received / elapsed).toLocaleString('en-US')} events/s`,
    );
    reader.close();
    await server.stop();
  }
  console.log(`checksum ${checksum}`);
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
}
