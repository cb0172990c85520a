/**
 * Facts about the machine a comparison ran on, printed with its results: cores, CPU, memory, kernel, the
 * filesystem the data directories live on, and what one durable write costs there, measured by a probe
 * (append 4 KiB, fdatasync, 200 times) at the start of the run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Histogram } from '../load/histogram.ts';

export type FdatasyncProbe = { writes: number; bytesPerWrite: number; p50Us: number; p99Us: number; maxUs: number };

export type MachineFacts = {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  node: string;
  dataRoot: string;
  filesystem: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAverage1m: number;
  fdatasync: FdatasyncProbe;
};

/** Appends `bytes` and fdatasyncs, `writes` times, in a scratch file under `dir`; latency per round. */
export function probeFdatasync(dir: string, writes = 200, bytes = 4096): FdatasyncProbe {
  const file = path.join(dir, `fdatasync-probe-${process.pid}.tmp`);
  const block = Buffer.alloc(bytes, 0x5a);
  const h = new Histogram();
  const fd = fs.openSync(file, 'w');
  try {
    for (let i = 0; i < writes; i++) {
      const t0 = performance.now();
      fs.writeSync(fd, block, 0, bytes, i * bytes);
      fs.fdatasyncSync(fd);
      h.record((performance.now() - t0) * 1e6);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  return { writes, bytesPerWrite: bytes, p50Us: h.percentile(50) / 1000, p99Us: h.percentile(99) / 1000, maxUs: h.max / 1000 };
}

export function machineFacts(dataRoot: string): MachineFacts {
  fs.mkdirSync(dataRoot, { recursive: true });
  const df = spawnSync('df', ['--output=fstype', dataRoot], { encoding: 'utf8' });
  const filesystem = df.status === 0 ? (df.stdout.trim().split('\n')[1] ?? 'unknown').trim() : 'unknown';
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    dataRoot,
    filesystem,
    loadAverage1m: Math.round(os.loadavg()[0] * 100) / 100,
    fdatasync: probeFdatasync(dataRoot),
  };
}
