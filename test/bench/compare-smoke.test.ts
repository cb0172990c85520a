/**
 * `npm run bench:compare -- --quick` runs end to end against whatever is installed, so the comparison cannot rot
 * (with two rounds, so that the medians are taken too).
 * A peer that is missing is skipped with a printed reason (echoed here, never silent); nothing is installed from
 * the test (`--no-install`). Figures from a suite run are meaningless (other tests share the cores): only the
 * shape of the output is checked.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('bench:compare --quick measures every available system and prints the ratio table', { timeout: 180_000 }, () => {
  const resultsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'compare-smoke-'));
  try {
    const started = Date.now();
    const r = spawnSync(
      process.execPath,
      [fileURLToPath(new URL('../../bench/compare.ts', import.meta.url)), '--quick', '--rounds', '2', '--no-install', '--results-dir', resultsDir],
      { encoding: 'utf8', timeout: 170_000 },
    );
    const seconds = (Date.now() - started) / 1000;
    const out = r.stdout ?? '';
    for (const line of out.split('\n')) if (/^(SKIP|NOTE|FAILED|ERRORS)/.test(line)) console.log(`bench:compare: ${line}`);
    console.log(`bench:compare --quick took ${seconds.toFixed(1)} s`);
    expect(r.status, `${out}\n${r.stderr}`).toBe(0);

    expect(out).toMatch(/^machine: \d+ cores/m);
    expect(out).toMatch(/^fdatasync probe .* p50 \d+ µs/m);
    expect(out).toContain('## Ratios (ours ÷ peer');
    // Every system was either measured (rows under its label) or skipped with its reason.
    const labels: Record<string, string> = {
      sierradb: 'sierradb-ts',
      'redis-always': 'redis always',
      'redis-everysec': 'redis everysec',
      postgres: 'postgresql',
    };
    for (const [system, label] of Object.entries(labels)) {
      const measured = new RegExp(`^  ${label} +[\\d,]+ events/s`, 'm').test(out);
      const skipped = new RegExp(`^SKIP ${system}: .+`, 'm').test(out);
      expect(measured || skipped, `${system}: neither measured nor skipped with a reason`).toBe(true);
    }

    const files = fs.readdirSync(resultsDir).filter((f) => f.endsWith('-quick.json'));
    expect(files).toHaveLength(1);
    const results = JSON.parse(fs.readFileSync(path.join(resultsDir, files[0]), 'utf8'));
    expect(results.quick).toBe(true);
    expect(results.machine.nproc).toBeGreaterThan(0);
    expect(results.machine.fdatasync.p50Us).toBeGreaterThan(0);
    expect(results.ratios.length).toBeGreaterThan(5);
    expect(results.failures).toEqual([]);
    for (const m of results.measurements) expect(m.eventsPerSecond, `${m.system} ${m.workload}`).toBeGreaterThan(0);
    // The catch-up row is the median of its timed passes (one per round; of two, the lower), each kept in the record.
    const catchUp = results.measurements.find((m: { tool: string }) => m.tool === 'catch-up');
    expect(catchUp.detail.passes).toHaveLength(results.settings.rounds);
    const passes = [...catchUp.detail.passes].sort((a: number, b: number) => a - b);
    expect(catchUp.eventsPerSecond).toBe(passes[(passes.length - 1) >> 1]);
    // The scale run appended, restarted the server and found every event again.
    expect(results.scale.events).toBe(results.settings.scaleEvents);
    expect(results.scale.eventsAfterRestart).toBe(results.scale.events);
    expect(results.scale.chunkRates).toHaveLength(results.settings.scaleChunks);
    expect(results.scale.restartMs).toBeGreaterThan(0);
  } finally {
    fs.rmSync(resultsDir, { recursive: true, force: true });
  }
});
