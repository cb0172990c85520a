/**
 * `sierradb verify [--dir <dir>] [--repair] [--json]`: checks a data directory offline and prints a report.
 *
 *   sierradb verify --dir /var/lib/sierradb            human report; exit 0 when clean, 1 on any problem
 *   sierradb verify --dir /var/lib/sierradb --json     the same report as JSON (src/tools/verify.ts: VerifyReport)
 *   sierradb verify --dir /var/lib/sierradb --repair   rebuild damaged or missing index files of sealed segments
 *                                                      from their data files, then verify again
 *
 * The directory comes from the usual configuration layers (flag, SIERRA_DIR, the config file, the default), so
 * `sierradb verify` with no flag checks the directory `sierradb` would serve. The layout (bucket and partition
 * counts, segment size) is read from the directory's meta.json, never from the configuration. Run it while the
 * server is stopped: appends in flight would look like torn writes.
 *
 * Also runnable on its own: `node src/cli/verify-command.ts --dir <dir> [--repair] [--json]`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FileIo } from '../../native-free-io/file-io.ts';
import { loadConfig } from '../config/load-config.ts';
import { formatReport, verify } from '../tools/verify.ts';
import { parseArgs, type VerifyArgs } from './parse-args.ts';

export interface VerifyCommandContext {
  stdout?: (text: string) => void;
  stderr?: (text: string) => void;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
  /** File I/O seam (tests pass a simulated disk). */
  io?: FileIo;
}

/** Runs `sierradb verify` for arguments `parseArgs` returned; resolves to the process exit code. */
export async function runVerify(args: VerifyArgs, context: VerifyCommandContext = {}): Promise<number> {
  const stdout = context.stdout ?? ((text: string) => void process.stdout.write(text));
  const stderr = context.stderr ?? ((text: string) => void process.stderr.write(text));
  const loaded = loadConfig(args, context.env ?? process.env, { cwd: context.cwd, stdoutIsTty: false });
  if (!loaded.ok) {
    stderr(`sierradb verify: invalid configuration:\n${loaded.errors.map((e) => `  ${e}`).join('\n')}\n`);
    return 1;
  }
  const dir = loaded.config.dir;
  let report;
  try {
    report = verify(dir, { io: context.io, repair: args.repair });
  } catch (err) {
    // verify() reports damage as findings; an exception here is an operating error (EACCES, EIO on readdir).
    stderr(`sierradb verify: could not check ${dir}: ${(err as Error).message}\n`);
    return 1;
  }
  stdout(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
  return report.clean ? 0 : 1;
}

function isMainModule(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMainModule()) {
  const parsed = parseArgs(['verify', ...process.argv.slice(2)]);
  if (parsed.command === 'exit') {
    (parsed.exitCode === 0 ? process.stdout : process.stderr).write(parsed.output);
    process.exitCode = parsed.exitCode;
  } else if (parsed.command === 'verify') {
    process.exitCode = await runVerify(parsed);
  }
}
