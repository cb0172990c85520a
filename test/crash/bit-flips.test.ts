/**
 * Corruption (short form of stress/campaigns/bit-flips.ts): ≥ 10,000 seeded single-bit flips across the records of
 * sealed and active segments under an open database. Every flip must be detected (reads fail with READERR, never
 * return data), located by verify, and leave every other record readable byte for byte. Replay a failure with
 * `SEED=<n> npx vitest run test/crash/bit-flips`, or `node stress/campaigns/bit-flips.ts --seed <n> --rounds 1`.
 */
import { expect, it } from 'vitest';
import { formatBitFlipsReport, runBitFlipsCampaign } from '../../stress/campaigns/bit-flips.ts';

const SEED = Number(process.env.SEED ?? 1);

it(`detects and locates 100% of 10,000 bit flips, and never serves a flipped record (seed ${SEED})`, { timeout: 120_000 }, async () => {
  const report = await runBitFlipsCampaign({ seed: SEED, rounds: 1, flipsPerRound: 10_000, fullVerifyEvery: 2_500 });
  console.log(formatBitFlipsReport(report));
  expect(report.violations).toEqual([]);
  expect(report.flips).toBe(10_000);
  expect(report.detected).toBe(report.flips);
  expect(report.detectedPercent).toBe(100);
  expect(report.flipsInActiveSegments).toBeGreaterThan(200);
  expect(report.flipsInCommitRecords).toBeGreaterThan(100);
  expect(report.detectedByReads).toBe(report.flipsInEventRecords);
  expect(report.fullVerifies).toBe(4);
});

it(`after a bit flips in an open index file, reads fail with READERR or return exactly the records asked for (seed ${SEED})`, { timeout: 120_000 }, async () => {
  const report = await runBitFlipsCampaign({ seed: SEED, rounds: 1, flipsPerRound: 0, indexFlipsPerRound: 800, fullVerifyEvery: 0 });
  console.log(formatBitFlipsReport(report));
  expect(report.violations).toEqual([]);
  expect(report.indexFlipsLocated).toBe(800);
  expect(report.indexFlipsReadErrors).toBeGreaterThan(0);
  expect(report.indexFlipsCorrectReads).toBeGreaterThan(report.indexFlipsReadErrors);
});
