/**
 * `npm run bench`: every benchmark in this folder, one after another (each in its own process so that one's
 * threads and heap do not skew the next). `npm run bench -- --quick` runs each briefly, as the suite's smoke test
 * does, so that benchmarks cannot rot unnoticed.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const quick = process.argv.includes('--quick');
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const runs: { file: string; args: string[]; env: Record<string, string> }[] = [
  { file: 'embedded-append.bench.ts', args: quick ? ['--seconds', '0.5', '--levels', '1,16'] : [], env: {} },
  { file: 'resp-codec.bench.ts', args: [], env: quick ? { RESP_BENCH_TIME_MS: '50' } : {} },
  { file: 'ring-queue.bench.ts', args: [], env: quick ? { RING_BENCH_TIME_MS: '50' } : {} },
];
let failed = 0;
for (const r of runs) {
  console.log(`\n### ${r.file}`);
  const result = spawnSync(process.execPath, [here(r.file), ...r.args], { stdio: 'inherit', env: { ...process.env, ...r.env } });
  if (result.status !== 0) {
    failed++;
    console.error(`${r.file} exited with ${result.status ?? result.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
