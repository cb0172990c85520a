/**
 * Logging through pino: one JSON object per line on stdout by default, pino-pretty when `log.format = "pretty"`.
 *
 * Both formats write synchronously to file descriptor 1 from the thread that logs. That is what lets a worker
 * thread log at all without routing through the main thread (a worker's `process.stdout` is a pipe the main thread
 * drains, which stalls exactly when the main thread is busy), and it means the last lines before a crash are not
 * lost in a buffer. pino's `transport` option is not used: it would start yet another thread per logger.
 * Lines from different threads do not interleave mid-line, because each line (or pretty block) is one write(2).
 */
import os from 'node:os';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';
import type { Config, LogFormat, LogLevel } from '../config/config-schema.ts';

export type { Logger } from 'pino';

/** File descriptor 1, written with write(2) directly. */
const STDOUT_FD = 1;

/** Bindings every line of a child carries, e.g. `{ thread: 'writer-0' }` or `{ bucket: 3 }`. */
export type LogBindings = Readonly<Record<string, string | number | boolean>>;

function loggerOptions(level: LogLevel, bindings: LogBindings): LoggerOptions {
  // Explicit options throughout, so a changed pino default cannot change our output.
  return {
    name: 'sierradb',
    level,
    base: { pid: process.pid, hostname: os.hostname(), ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    errorKey: 'err',
    // Level names ("info"), not pino's numbers (30), so the JSON is readable without a lookup table.
    formatters: { level: (label: string) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  };
}

/**
 * A destination that formats each JSON line with pino-pretty before writing it on. Formatting in-line (rather than
 * through pino-pretty's Transform stream) keeps the write synchronous and works with any `{ write }` destination.
 */
function prettyDestination(out: DestinationStream, colorize: boolean): DestinationStream {
  const prettify = prettyFactory({
    colorize,
    translateTime: 'SYS:HH:MM:ss.l',
    // The thread or component goes in front of the message rather than on a line of its own.
    messageFormat: '{if thread}[{thread}] {end}{msg}',
    ignore: 'pid,hostname,name,thread',
    singleLine: false,
  });
  return { write: (line: string) => out.write(prettify(line)) };
}

function stdoutDestination(format: LogFormat): DestinationStream {
  const stdout = pino.destination({ dest: STDOUT_FD, sync: true });
  return format === 'pretty' ? prettyDestination(stdout, process.stdout.isTTY === true) : stdout;
}

/**
 * The main thread's logger, from the config's `log` section. `destination` replaces stdout (tests capture output
 * with it); the pretty format is then written to it uncoloured.
 */
export function createLogger(config: Pick<Config, 'log'>, destination?: DestinationStream): Logger {
  const { level, format } = config.log;
  if (destination === undefined) return pino(loggerOptions(level, {}), stdoutDestination(format));
  return pino(loggerOptions(level, {}), format === 'pretty' ? prettyDestination(destination, false) : destination);
}

/** A child logger for one thread or component: every line carries `bindings` (`{ thread: 'writer-0' }`). */
export function childLogger(logger: Logger, bindings: LogBindings): Logger {
  return logger.child(bindings);
}

/**
 * A logger for inside a worker thread, which cannot share the main thread's stream: its own pino instance writing
 * synchronously to stdout. Pass the main thread's `config.log.level` and `config.log.format` through `workerData`.
 */
export function createWorkerLogger(level: LogLevel, bindings: LogBindings, format: LogFormat = 'json'): Logger {
  return pino(loggerOptions(level, bindings), stdoutDestination(format));
}
