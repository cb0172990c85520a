/**
 * The command line shared by the campaign modules (`node stress/campaigns/<name>.ts --duration 30m`):
 *
 *   --duration <d>   run rounds until this much time has passed (45s, 30m, 2h, 7d; a bare number is seconds)
 *   --rounds <n>     run exactly n rounds (wins over --duration)
 *   --seed <n>       first round's seed (default: the clock); round i uses seed + i, so any round replays alone
 *                    with `--seed <its seed> --rounds 1`
 *   --json           print the final report as JSON instead of text
 *
 * Campaigns are also plain functions (`runTornWritesCampaign(options)`, ...) that resolve to a report, so the
 * stress harness can run them in-process and read `violations`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface CampaignBudget {
  /** Stop starting rounds after this long (ms). */
  durationMs?: number;
  /** Run exactly this many rounds. */
  rounds?: number;
  /** Seed of round 0; round i uses seed + i. */
  seed?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface CampaignCliOptions {
  durationMs?: number;
  rounds?: number;
  seed: number;
  json: boolean;
}

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `45s`, `30m`, `2h`, `7d`, `1500ms`, or a bare number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (m === null) throw new RangeError(`invalid duration ${JSON.stringify(text)}: use a number with ms, s, m, h or d`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? 's']);
}

export function parseCampaignArgs(argv: readonly string[]): CampaignCliOptions {
  const out: CampaignCliOptions = { seed: Date.now() % 1_000_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--duration') out.durationMs = parseDuration(value());
    else if (flag === '--rounds') out.rounds = Number.parseInt(value(), 10);
    else if (flag === '--seed') out.seed = Number.parseInt(value(), 10);
    else if (flag === '--json') out.json = true;
    else throw new RangeError(`unknown argument ${flag} (expected --duration, --rounds, --seed, --json)`);
  }
  if (out.rounds !== undefined && !(Number.isInteger(out.rounds) && out.rounds > 0)) throw new RangeError('--rounds must be a positive integer');
  if (!Number.isSafeInteger(out.seed)) throw new RangeError('--seed must be an integer');
  return out;
}

/** True when the module at `importMetaUrl` is the script node was started with. */
export function isMainModule(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(importMetaUrl));
  } catch {
    return false;
  }
}

/** Round loop: calls `round(seed)` for seed, seed + 1, ... until the rounds or the duration are used up. */
export async function forEachRound(budget: CampaignBudget, round: (seed: number, index: number) => Promise<void>): Promise<{ rounds: number; elapsedMs: number }> {
  const started = Date.now();
  const seed = budget.seed ?? 1;
  const rounds = budget.rounds ?? (budget.durationMs === undefined ? 1 : Number.POSITIVE_INFINITY);
  let i = 0;
  for (; i < rounds; i++) {
    if (budget.rounds === undefined && budget.durationMs !== undefined && Date.now() - started >= budget.durationMs && i > 0) break;
    await round(seed + i, i);
  }
  return { rounds: i, elapsedMs: Date.now() - started };
}

/** Runs a campaign from the command line and sets the exit code: 0 when it found no violation. */
export async function runCampaignMain<R extends { violations: unknown[] }>(
  name: string,
  run: (options: CampaignCliOptions & { log: (line: string) => void }) => Promise<R>,
  format: (report: R) => string,
): Promise<void> {
  let options: CampaignCliOptions;
  try {
    options = parseCampaignArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${name}: ${(err as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const log = (line: string) => void process.stderr.write(`[${new Date().toISOString()}] ${name}: ${line}\n`);
  log(`seed ${options.seed}${options.rounds !== undefined ? `, ${options.rounds} round(s)` : ''}${options.durationMs !== undefined ? `, for ${options.durationMs / 1000} s` : ''}`);
  const report = await run({ ...options, log });
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
  process.exitCode = report.violations.length === 0 ? 0 : 1;
}
