/**
 * The `sierradb` program, loaded by the executable (src/cli/main.ts): parse the command line, load and validate the
 * whole configuration (every error printed, exit 1), open the database, serve RESP on `network.client_address`.
 * `sierradb verify` checks a data directory offline instead (src/cli/verify-command.ts).
 *
 * Start-up logs one line with msg "listening", the effective listen address (the real port when the
 * configuration says port 0) and the configuration with the password masked; tests read the port from it.
 *
 * SIGTERM / SIGINT: stop accepting, let connections finish the commands they are running (acknowledged appends
 * are durable) for up to `shutdown.timeout_ms`, close the database (writers sync, workers exit), exit 0. A second
 * signal (a second later or more) exits 1 at once. Should closing hang past the deadline plus a grace period, the process exits 1.
 */
import { parseArgs } from './parse-args.ts';
import { configForLog, loadConfig } from '../config/load-config.ts';
import { createLogger } from '../logging/logger.ts';
import { open, type Database } from '../database.ts';
import { databaseOptions } from '../server/database-options.ts';
import { startServer, type RespServer } from '../server/server.ts';

/** Time allowed for closing the database after the connections' deadline, before giving up with exit 1. */
const SHUTDOWN_CLOSE_GRACE_MS = 10_000;
/**
 * A repeat of the first signal within this window is the same request, not a second one: Ctrl-C under `npm start`
 * reaches the server twice (the terminal signals the whole process group, and npm forwards what it gets).
 */
const SIGNAL_REPEAT_IGNORED_MS = 300;

function fail(lines: readonly string[]): never {
  for (const line of lines) process.stderr.write(`sierradb: ${line}\n`);
  process.exit(1);
}

const parsed = parseArgs(process.argv.slice(2));
if (parsed.command === 'exit') {
  (parsed.exitCode === 0 ? process.stdout : process.stderr).write(parsed.output);
  process.exit(parsed.exitCode);
}
if (parsed.command === 'verify') {
  // Offline check of a data directory (src/tools/verify.ts); loaded only for this command.
  const { runVerify } = await import('./verify-command.ts');
  process.exit(await runVerify(parsed));
}

const loaded = loadConfig(parsed);
if (!loaded.ok) {
  for (const w of loaded.warnings) process.stderr.write(`sierradb: warning: ${w}\n`);
  fail(loaded.errors);
}
const { config } = loaded;
const logger = createLogger(config);
for (const w of loaded.warnings) logger.warn(w);

let db: Database;
try {
  db = await open(config.dir, databaseOptions(config, logger));
} catch (err) {
  logger.fatal({ err, dir: config.dir }, 'cannot open the database');
  process.exit(1);
}

let server: RespServer;
try {
  server = await startServer({ db, config, logger });
} catch (err) {
  logger.fatal({ err, address: config.network.client_address }, 'cannot listen');
  await db.close();
  process.exit(1);
}

logger.info(
  {
    address: server.address,
    port: server.port,
    version: server.info.version,
    peerId: server.info.peerId,
    configFile: loaded.configFile,
    config: configForLog(config),
  },
  'listening',
);

let stoppingSinceMs: number | undefined;
function onSignal(signal: NodeJS.Signals): void {
  if (stoppingSinceMs !== undefined) {
    if (Date.now() - stoppingSinceMs < SIGNAL_REPEAT_IGNORED_MS) return;
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stoppingSinceMs = Date.now();
  const timeoutMs = config.shutdown.timeout_ms;
  logger.info({ signal, timeoutMs, connections: server.connectionCount }, 'shutting down');
  setTimeout(() => {
    logger.error('shutdown did not finish in time: exiting');
    process.exit(1);
  }, timeoutMs + SHUTDOWN_CLOSE_GRACE_MS).unref();
  void (async () => {
    try {
      await server.shutdown(timeoutMs);
      await db.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.fatal({ err }, 'shutdown failed');
      process.exit(1);
    }
  })();
}
process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);
