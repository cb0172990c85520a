/**
 * The CI form of the stress harness: `stress/run.ts --duration 2m --seed <random, printed> --json` against a real
 * server process, with every fault (kill -9, SIGTERM, bit flips, disk full where a loop mount is allowed) and a
 * short slice of the storage campaigns. It must exit 0 and report no violations. Replay a failure with
 * `npm run stress -- --duration 2m --seed <seed>`.
 *
 * STRESS_SMOKE_DURATION overrides the duration (e.g. 90s on a slow machine); STRESS_SMOKE_SEED the seed.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../../stress/run.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DURATION = process.env.STRESS_SMOKE_DURATION ?? '2m';
const SEED = Number(process.env.STRESS_SMOKE_SEED ?? Math.floor(Math.random() * 1_000_000));

it(`stress harness (${DURATION}, seed ${SEED}): exit 0, no violations`, { timeout: 15 * 60_000 }, async () => {
  console.log(`stress smoke: seed ${SEED} (replay: npm run stress -- --duration ${DURATION} --seed ${SEED})`);
  const proc = spawn(process.execPath, [RUN, '--duration', DURATION, '--seed', String(SEED), '--json'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
  const last = out.trim().split('\n').pop() ?? '';
  let report: { violations: string[]; violationsOmitted: number; faultsInjected: Record<string, number>; model: { events: number } } | undefined;
  try {
    report = JSON.parse(last);
  } catch {
    report = undefined;
  }
  // The human-readable report (stderr) is the useful part of a failure message.
  const summary = err.slice(-6000);
  expect(report, `no JSON report (exit ${code}):\n${summary}`).toBeDefined();
  expect(report!.violations, summary).toEqual([]);
  expect(report!.violationsOmitted).toBe(0);
  expect(code, summary).toBe(0);
  expect(report!.model.events).toBeGreaterThan(0);
  expect(Object.values(report!.faultsInjected).reduce((a, b) => a + b, 0), summary).toBeGreaterThan(0);
});
