/**
 * Argument reading shared by the command files: keywords, UUIDs, integers and SierraDB's option lists, each
 * failing with a `-INVALIDARG <what was wrong>` reply (SierraDB answers every argument error with INVALIDARG; only
 * that prefix is stable there, so the messages are ours, written to say what was expected).
 */
import { isUtf8 } from 'node:buffer';
import { parseUuid, partitionHash } from '../ids/partition-key.ts';
import { parseExpectedVersion, type ExpectedVersion } from '../engine/expected-version.ts';
import { errorCode, ReplyError } from '../protocol/reply-error.ts';
import { keywordText } from './keyword-text.ts';

export function invalidArg(message: string): ReplyError {
  return new ReplyError(errorCode.INVALIDARG, message);
}

/** An argument as text (UTF-8). */
export function text(arg: Buffer): string {
  return arg.toString('utf8');
}

/**
 * A stream id or event name: stored as UTF-8 text, so bytes that are not valid UTF-8 are refused rather than
 * silently replaced (which would make two different byte strings the same stream).
 */
export function utf8Arg(arg: Buffer, what: string): string {
  if (!isUtf8(arg)) throw invalidArg(`invalid ${what}: not valid UTF-8`);
  return arg.toString('utf8');
}

/** An argument as an upper-case keyword (commands and options are case-insensitive). */
export function keyword(arg: Buffer): string {
  return keywordText(arg);
}

/** Shows an argument in an error message: quoted, at most 64 characters, control characters escaped. */
export function show(arg: Buffer | string): string {
  const s = typeof arg === 'string' ? arg : arg.toString('utf8');
  const cut = s.length > 64 ? `${s.slice(0, 64)}...` : s;
  return `'${cut.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}'`;
}

export function uuidArg(arg: Buffer, what: string): Uint8Array {
  const u = uuidAt(arg, 0, arg.length);
  if (u === undefined) throw invalidArg(`invalid ${what} ${show(arg)}: expected a UUID`);
  return u;
}

const DIGITS = /^\d{1,20}$/;
const U64_MAX = (1n << 64n) - 1n;

/**
 * A u64 argument (decimal digits). Values above 2^53 - 1 are clamped to Number.MAX_SAFE_INTEGER: no version,
 * sequence or count can reach it, so as a range bound it means "no limit" and as a version "never matches".
 */
export function u64Arg(arg: Buffer, what: string): number {
  const n = u64At(arg, 0, arg.length);
  if (n === undefined) throw invalidArg(`invalid ${what} ${show(arg)}: expected a non-negative integer`);
  return n;
}

/**
 * The parsers beneath uuidArg, u64Arg and expectedVersionArg, for an argument read in place (`bytes[start .. end)`):
 * the value, or undefined where those throw.
 */
export function uuidAt(bytes: Buffer, start: number, end: number): Uint8Array | undefined {
  return end - start <= 64 ? parseUuid(bytes.toString('latin1', start, end)) : undefined;
}

export function u64At(bytes: Buffer, start: number, end: number): number | undefined {
  const s = bytes.toString('latin1', start, end);
  if (!DIGITS.test(s)) return undefined;
  const n = Number(s);
  if (Number.isSafeInteger(n)) return n;
  return BigInt(s) <= U64_MAX ? Number.MAX_SAFE_INTEGER : undefined;
}

export function expectedVersionAt(bytes: Buffer, start: number, end: number): ExpectedVersion | undefined {
  return end - start <= 24 ? parseExpectedVersion(bytes.toString('latin1', start, end)) : undefined;
}

/** EXPECTED_VERSION's value: `any`, `exists`, `empty` (any case) or a version number. */
export function expectedVersionArg(arg: Buffer): ExpectedVersion {
  const v = expectedVersionAt(arg, 0, arg.length);
  if (v === undefined) throw invalidArg(`invalid EXPECTED_VERSION ${show(arg)}: expected any, exists, empty or a version number`);
  return v;
}

/** Reads `[NAME value]...` options in any order; each option at most once. */
export class OptionReader {
  readonly #args: Buffer[];
  #index: number;
  /** Option names seen (few per command: a short array beats a Set made per command). */
  #seen: string[] | undefined;

  constructor(args: Buffer[], start: number) {
    this.#args = args;
    this.#index = start;
  }

  get index(): number {
    return this.#index;
  }

  get done(): boolean {
    return this.#index >= this.#args.length;
  }

  /** The next argument as a keyword, without consuming it. */
  peekKeyword(): string {
    return keyword(this.#args[this.#index]);
  }

  /** Consumes the option name at the cursor (which must be one of `allowed`) and returns it with its value. */
  next(allowed: ReadonlySet<string>): { name: string; value: Buffer } {
    const nameArg = this.#args[this.#index];
    const name = keyword(nameArg);
    if (!allowed.has(name)) throw invalidArg(`unexpected argument ${show(nameArg)}: expected one of ${[...allowed].join(', ')}`);
    if (this.#seen?.includes(name) === true) throw invalidArg(`${name} already specified`);
    if (this.#index + 1 >= this.#args.length) throw invalidArg(`${name} requires a value`);
    (this.#seen ??= []).push(name);
    const value = this.#args[this.#index + 1];
    this.#index += 2;
    return { name, value };
  }

  /** Starts a new group of options (EMAPPEND: the next event), forgetting which were seen. */
  resetSeen(): void {
    this.#seen = undefined;
  }

  skip(count: number): void {
    this.#index += count;
  }
}

/** Most events one ESCAN/EPSCAN page returns, whatever COUNT asks (has_more stays exact, so clients page on). */
export const SCAN_COUNT_MAX = 10_000;
export const SCAN_COUNT_DEFAULT = 100;

/** A scan's start bound: `-` (the beginning) or a number; `+` is refused as SierraDB does. */
export function scanStartArg(arg: Buffer, what: 'version' | 'sequence'): number {
  if (arg.length === 1 && arg[0] === 0x2d) return 0;
  if (arg.length === 1 && arg[0] === 0x2b) throw invalidArg(`start ${what} cannot be '+'`);
  return u64Arg(arg, `start ${what}`);
}

/** A scan's end bound: `+` (no end) or a number; `-` is refused as SierraDB does. */
export function scanEndArg(arg: Buffer, what: 'version' | 'sequence'): number {
  if (arg.length === 1 && arg[0] === 0x2b) return Number.MAX_SAFE_INTEGER;
  if (arg.length === 1 && arg[0] === 0x2d) throw invalidArg(`end ${what} cannot be '-'`);
  return u64Arg(arg, `end ${what}`);
}

/** COUNT's value, clamped to {@link SCAN_COUNT_MAX}. */
export function scanCountArg(arg: Buffer): number {
  return Math.min(u64Arg(arg, 'COUNT'), SCAN_COUNT_MAX);
}

/**
 * EPSCAN/EPSEQ's partition: a UUID partition key (tried first, as SierraDB does) or a partition id. An id this node
 * does not have (at or above partition.count) gets `CLUSTERDOWN partition unavailable`, SierraDB's answer for a
 * partition no live replica owns.
 */
export function partitionArg(arg: Buffer, partitionCount: number): number {
  const s = arg.length <= 64 ? arg.toString('latin1') : '';
  const key = parseUuid(s);
  if (key !== undefined) return partitionHash(key) % partitionCount;
  if (!/^\d{1,5}$/.test(s) || Number(s) > 65_535) {
    throw invalidArg(`invalid partition ${show(arg)}: expected a partition id (0..65535) or a UUID partition key`);
  }
  const id = Number(s);
  if (id >= partitionCount) throw new ReplyError(errorCode.CLUSTERDOWN, 'partition unavailable');
  return id;
}

/**
 * The reply to a wrong argument count. Redis's text with SierraDB's code: `-INVALIDARG wrong number of arguments
 * for 'eappend' command` (Redis writes `-ERR ...`; SierraDB answers every argument error with INVALIDARG, and its
 * clients parse the code). `name` is the table name (`CLIENT|SETNAME`), shown lower-case as Redis does.
 */
export function wrongArity(name: string): ReplyError {
  return invalidArg(`wrong number of arguments for '${name.toLowerCase()}' command`);
}
