/** Benchmarks run briefly in the suite so that they cannot rot: each must finish and print its figures. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('npm run bench -- --quick runs every benchmark to completion', { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, [fileURLToPath(new URL('../bench/run.ts', import.meta.url)), '--quick'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(/concurrency +16: +[\d,]+ events\/s/);
  expect(r.stdout).toContain('### resp-codec.bench.ts');
  expect(r.stdout).toContain('### ring-queue.bench.ts');
});
