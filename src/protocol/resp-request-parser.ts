/**
 * Incremental parser of client requests: the bytes a client sends, split into argument vectors.
 *
 * Two request forms are accepted, as Redis accepts them (`networking.c`, `processInputBuffer`): a request whose
 * first byte is `*` is a RESP array of bulk strings, anything else is an inline command line.
 *
 *   multibulk:  *<count>\r\n  then <count> times  $<length>\r\n<length bytes>\r\n
 *   inline:     <arguments separated by blanks, with "..." and '...' quoting>\n     (a \r before the \n is dropped)
 *
 * The parser is a byte-level state machine in the style of NATS.js `core/src/parser.ts`: `feed()` takes chunks
 * as they arrive from the socket, a request may be split at any byte, and any number of requests may share one
 * chunk (pipelining). Requests are handed to the callback synchronously, in order.
 *
 * Zero copy. A bulk that lies wholly inside one chunk is delivered as a `Buffer` view into that chunk; a bulk
 * that spans chunks is copied into its own buffer. `feed()` never keeps a reference to `chunk` after it returns:
 * the views it keeps for a request that is still incomplete are copied before it returns. So the caller may
 * reuse its read buffer after `feed()` returns, but arguments it wants to keep beyond the callback must then be
 * copied by the callback.
 *
 * Limits (units last in the names) bound what one request may make the server hold:
 *   argumentCountMax  arguments in one multibulk request (Redis: 1024*1024)            -> `invalid multibulk length`
 *   bulkBytesMax      bytes in one bulk argument (Redis proto-max-bulk-len, 512 MiB)  -> `invalid bulk length`
 *   inlineBytesMax    bytes in one inline line before its \n (Redis: 64 KiB)          -> `too big inline request`
 * Redis only checks the inline size when a read ends without a newline, which makes the outcome depend on how
 * the bytes were split; here a line longer than `inlineBytesMax` is always refused, whatever the split.
 *
 * Errors. The first malformed byte ends parsing for good: `feed()` returns a `ProtocolError` (the same one on
 * every later call) and the server answers `-ERR Protocol error: <reason>` and closes the connection, as Redis
 * does. Requests completed before the bad byte have already been delivered. Numbers follow Redis's `string2ll`:
 * optional `-`, no `+`, no leading zeros, no spaces, at most 20 characters, within a signed 64-bit range.
 * A multibulk count of zero or less is an empty request and is skipped, as in Redis. Redis does not look at
 * the two bytes after a bulk's data; this parser requires them to be CRLF (`expected CRLF after bulk data`).
 */
import { ProtocolError } from './reply-error.ts';
import { RequestArguments } from './request-arguments.ts';

export type RequestParserLimits = {
  /** Most arguments in one multibulk request. */
  argumentCountMax?: number;
  /** Most bytes in one bulk argument. */
  bulkBytesMax?: number;
  /** Most bytes in one inline command line, not counting its line feed. */
  inlineBytesMax?: number;
};

export const requestParserLimitsDefault = {
  argumentCountMax: 1024 * 1024,
  bulkBytesMax: 512 * 1024 * 1024,
  inlineBytesMax: 64 * 1024,
} as const;

/** Redis's texts after `Protocol error: ` (networking.c). */
export const protocolErrorReason = {
  invalidMultibulkLength: 'invalid multibulk length',
  invalidBulkLength: 'invalid bulk length',
  expectedCrlfAfterBulk: 'expected CRLF after bulk data',
  unbalancedQuotes: 'unbalanced quotes in request',
  tooBigInline: 'too big inline request',
} as const;

/** Called with each complete request; `request` is valid only during the call (see RequestArguments). */
export type RequestCallback = (request: RequestArguments) => void;

const state = {
  requestStart: 0,
  multibulkCount: 1,
  multibulkCountLf: 2,
  bulkDollar: 3,
  bulkLength: 4,
  bulkLengthLf: 5,
  bulkCr: 6,
  bulkLf: 7,
  bulkData: 8,
  inline: 9,
  failed: 10,
} as const;
type State = (typeof state)[keyof typeof state];

const CR = 13;
const LF = 10;
const STAR = 42;
const DOLLAR = 36;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;

/** A bulk that spans chunks gets a buffer of its full length up front when it is at most this big... */
const bulkPreallocateBytesMax = 1024 * 1024;
/** ...otherwise its buffer starts here and doubles as data arrives, so a lying header cannot make us allocate. */
const bulkGrowBytesMin = 64 * 1024;

const int64Max = (1n << 63n) - 1n;
const int64MinMagnitude = 1n << 63n;

export class RespRequestParser {
  readonly argumentCountMax: number;
  readonly bulkBytesMax: number;
  readonly inlineBytesMax: number;

  #state: State = state.requestStart;
  #error: ProtocolError | undefined = undefined;

  /** Arguments of the multibulk request being parsed, and how many it announced. */
  readonly #args = new RequestArguments();
  #argsExpected = 0;

  /** The bulk being copied because it spans chunks: its buffer, how many bytes are in, its final length. */
  #bulk: Buffer = Buffer.alloc(0);
  #bulkFilled = 0;
  #bulkLength = 0;

  /** An inline line that spans chunks: copies of its pieces so far, and their total length. */
  #inlinePieces: Buffer[] = [];
  #inlineBytes = 0;

  /** Incremental `string2ll`: characters seen, sign, digits seen, value (a bigint once it exceeds 15 digits). */
  #numLength = 0;
  #numNegative = false;
  #numDigits = 0;
  #numValue = 0;
  #numBig: bigint | undefined = undefined;

  /** Wire bytes of the incomplete request received in earlier chunks. */
  #carriedBytes = 0;

  constructor(limits: RequestParserLimits = {}) {
    this.argumentCountMax = limits.argumentCountMax ?? requestParserLimitsDefault.argumentCountMax;
    this.bulkBytesMax = limits.bulkBytesMax ?? requestParserLimitsDefault.bulkBytesMax;
    this.inlineBytesMax = limits.inlineBytesMax ?? requestParserLimitsDefault.inlineBytesMax;
    for (const [name, value] of [
      ['argumentCountMax', this.argumentCountMax],
      ['bulkBytesMax', this.bulkBytesMax],
      ['inlineBytesMax', this.inlineBytesMax],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }

  /**
   * Wire bytes of the incomplete request held so far (headers included), for the per-client query buffer
   * limit. Zero between requests.
   */
  get bufferedBytes(): number {
    return this.#carriedBytes;
  }

  /** The protocol error that stopped this parser, if any. */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /**
   * Parses `chunk`, calling `onRequest` for every complete request in it, in order. Returns the protocol error
   * that stopped parsing (after delivering every request before it), or undefined. `onRequest` must not throw;
   * if it does, the exception propagates and the rest of the chunk is lost.
   */
  feed(chunk: Buffer, onRequest: RequestCallback): ProtocolError | undefined {
    if (this.#error !== undefined) return this.#error;
    const n = chunk.length;
    let s: State = this.#state;
    let i = 0;
    /** Where the current request began in this chunk; 0 when it began in an earlier one. */
    let requestStart = 0;
    /** Arguments at or after this index were added during this call and may be views into `chunk`. */
    const args = this.#args;
    let argsFromChunk = args.count;

    outer: while (i < n) {
      switch (s) {
        case state.requestStart: {
          requestStart = i;
          this.#carriedBytes = 0;
          if (chunk[i] !== STAR) {
            s = state.inline;
            continue;
          }
          i++;
          this.#numReset();
          s = state.multibulkCount;
        }
        // falls through
        case state.multibulkCount: {
          while (i < n) {
            const c = chunk[i];
            if (c === CR) break;
            i++;
            if (!this.#numAccept(c)) return this.#fail(protocolErrorReason.invalidMultibulkLength);
          }
          if (i === n) break outer;
          i++;
          s = state.multibulkCountLf;
        }
        // falls through
        case state.multibulkCountLf: {
          if (i === n) break outer;
          if (chunk[i] !== LF) return this.#fail(protocolErrorReason.invalidMultibulkLength);
          i++;
          const count = this.#numFinish();
          if (Number.isNaN(count) || count > this.argumentCountMax) {
            return this.#fail(protocolErrorReason.invalidMultibulkLength);
          }
          if (count <= 0) {
            // `*0` and `*-1` are empty requests, skipped as Redis does.
            s = state.requestStart;
            continue;
          }
          this.#argsExpected = count;
          args.reset();
          argsFromChunk = 0;
          s = state.bulkDollar;
        }
        // falls through
        case state.bulkDollar: {
          if (i === n) break outer;
          const c = chunk[i];
          if (c !== DOLLAR) return this.#fail(`expected '$', got '${String.fromCharCode(c)}'`);
          i++;
          this.#numReset();
          s = state.bulkLength;
        }
        // falls through
        case state.bulkLength: {
          while (i < n) {
            const c = chunk[i];
            if (c === CR) break;
            i++;
            if (!this.#numAccept(c)) return this.#fail(protocolErrorReason.invalidBulkLength);
          }
          if (i === n) break outer;
          i++;
          s = state.bulkLengthLf;
        }
        // falls through
        case state.bulkLengthLf: {
          if (i === n) break outer;
          if (chunk[i] !== LF) return this.#fail(protocolErrorReason.invalidBulkLength);
          i++;
          const length = this.#numFinish();
          if (!(length >= 0 && length <= this.bulkBytesMax)) return this.#fail(protocolErrorReason.invalidBulkLength);
          if (n - i >= length) {
            // The common case: the whole bulk is in this chunk, hand out a view.
            args.push(chunk, i, i + length);
            i += length;
            s = state.bulkCr;
          } else {
            const available = n - i;
            const capacity =
              length <= bulkPreallocateBytesMax ? length : Math.min(length, Math.max(bulkGrowBytesMin, 2 * available));
            const bulk = Buffer.allocUnsafe(capacity);
            chunk.copy(bulk, 0, i, n);
            this.#bulk = bulk;
            this.#bulkFilled = available;
            this.#bulkLength = length;
            i = n;
            s = state.bulkData;
            break outer;
          }
        }
        // falls through
        case state.bulkCr: {
          if (i === n) break outer;
          if (chunk[i] !== CR) return this.#fail(protocolErrorReason.expectedCrlfAfterBulk);
          i++;
          s = state.bulkLf;
        }
        // falls through
        case state.bulkLf: {
          if (i === n) break outer;
          if (chunk[i] !== LF) return this.#fail(protocolErrorReason.expectedCrlfAfterBulk);
          i++;
          if (args.count === this.#argsExpected) {
            s = state.requestStart;
            argsFromChunk = 0;
            onRequest(args);
            args.reset();
          } else {
            s = state.bulkDollar;
          }
          continue;
        }
        case state.bulkData: {
          const want = this.#bulkLength - this.#bulkFilled;
          const take = Math.min(want, n - i);
          let bulk = this.#bulk;
          const needed = this.#bulkFilled + take;
          if (needed > bulk.length) {
            const grown = Buffer.allocUnsafe(Math.min(this.#bulkLength, Math.max(needed, 2 * bulk.length)));
            bulk.copy(grown, 0, 0, this.#bulkFilled);
            bulk = grown;
            this.#bulk = grown;
          }
          chunk.copy(bulk, this.#bulkFilled, i, i + take);
          this.#bulkFilled = needed;
          i += take;
          if (needed < this.#bulkLength) break outer;
          args.push(bulk, 0, needed);
          argsFromChunk = args.count; // a copy, not a view into `chunk`
          this.#bulk = Buffer.alloc(0);
          s = state.bulkCr;
          continue;
        }
        case state.inline: {
          const newline = chunk.indexOf(LF, i);
          const pieceEnd = newline === -1 ? n : newline;
          const lineBytes = this.#inlineBytes + (pieceEnd - i);
          if (lineBytes > this.inlineBytesMax) return this.#fail(protocolErrorReason.tooBigInline);
          if (newline === -1) {
            this.#inlinePieces.push(Buffer.from(chunk.subarray(i, n)));
            this.#inlineBytes = lineBytes;
            i = n;
            break outer;
          }
          let line: Buffer;
          if (this.#inlinePieces.length === 0) {
            line = chunk.subarray(i, newline);
          } else {
            this.#inlinePieces.push(chunk.subarray(i, newline));
            line = Buffer.concat(this.#inlinePieces, lineBytes);
            this.#inlinePieces = [];
            this.#inlineBytes = 0;
          }
          i = newline + 1;
          if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
          const request = splitInlineArguments(line);
          if (request === null) return this.#fail(protocolErrorReason.unbalancedQuotes);
          s = state.requestStart;
          if (request.length > 0) {
            args.setBuffers(request);
            onRequest(args);
            args.reset();
          }
          continue;
        }
        default:
          throw new Error(`unreachable parser state ${s}`);
      }
    }

    if (s === state.requestStart) {
      this.#carriedBytes = 0;
    } else {
      this.#carriedBytes += n - requestStart;
      // Keep no view into `chunk` past this call: copy the arguments of the incomplete request it holds.
      for (let k = argsFromChunk; k < args.count; k++) if (args.buffers[k] === chunk) args.copy(k);
    }
    this.#state = s;
    return undefined;
  }

  #fail(reason: string): ProtocolError {
    const error = new ProtocolError(reason);
    this.#error = error;
    this.#state = state.failed;
    this.#args.reset();
    this.#bulk = Buffer.alloc(0);
    this.#inlinePieces = [];
    return error;
  }

  #numReset(): void {
    this.#numLength = 0;
    this.#numNegative = false;
    this.#numDigits = 0;
    this.#numValue = 0;
    this.#numBig = undefined;
  }

  /** One more character of a number; false when the text can no longer be a valid `string2ll` number. */
  #numAccept(c: number): boolean {
    const index = this.#numLength++;
    if (index >= 20) return false; // string2ll: slen >= LONG_STR_SIZE (21) is not a number
    if (index === 0 && c === MINUS) {
      this.#numNegative = true;
      return true;
    }
    if (c < ZERO || c > NINE) return false;
    const digit = c - ZERO;
    if (this.#numDigits === 0) {
      this.#numDigits = 1;
      this.#numValue = digit;
      return true;
    }
    if (this.#numValue === 0) return false; // a leading zero followed by more digits
    this.#numDigits++;
    if (this.#numBig === undefined && this.#numDigits <= 15) {
      this.#numValue = this.#numValue * 10 + digit;
    } else {
      this.#numBig = (this.#numBig ?? BigInt(this.#numValue)) * 10n + BigInt(digit);
      this.#numValue = 1; // any non-zero marker; the value lives in #numBig
    }
    return true;
  }

  /** The number read since `#numReset`, or NaN when it is not a valid signed 64-bit `string2ll` number. */
  #numFinish(): number {
    if (this.#numDigits === 0) return NaN; // empty, or a lone '-'
    const big = this.#numBig;
    if (big !== undefined) {
      if (big > (this.#numNegative ? int64MinMagnitude : int64Max)) return NaN;
      const value = Number(big);
      return this.#numNegative ? -value : value;
    }
    if (this.#numNegative) return this.#numValue === 0 ? NaN : -this.#numValue; // "-0" is not a number
    return this.#numValue;
  }
}

const SPACE = 32;
const TAB = 9;
const DQUOTE = 34;
const SQUOTE = 39;
const BACKSLASH = 92;

/** C's isspace in the "C" locale. */
function isSpace(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CR); // \t \n \v \f \r
}

function hexValue(c: number): number {
  if (c >= ZERO && c <= NINE) return c - ZERO;
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/**
 * Splits an inline command line into arguments exactly as Redis's `sdssplitargs` does, or returns null for
 * unbalanced quotes (also a closing quote followed by something other than a blank).
 *   - Arguments are separated by blanks (space, \t, \n, \v, \f, \r); an unquoted argument ends at space, \t,
 *     \n or \r.
 *   - "..." takes the escapes \n \r \t \b \a, \xHH (two hex digits) and \<any> for that character.
 *   - '...' takes only \' as an escape; every other byte is literal.
 *   - A quote may open in the middle of an argument (`a"b c"` is one argument, `ab c`).
 *   - The line is a C string to Redis: a zero byte ends it.
 * Unquoted arguments are views into `line`; quoted ones are new buffers.
 */
export function splitInlineArguments(line: Buffer): Buffer[] | null {
  let end = line.indexOf(0);
  if (end === -1) end = line.length;
  const out: Buffer[] = [];
  let p = 0;
  for (;;) {
    while (p < end && isSpace(line[p])) p++;
    if (p >= end) return out;

    // Fast path: an argument without quotes is a view.
    const start = p;
    while (p < end) {
      const c = line[p];
      if (c === SPACE || c === LF || c === CR || c === TAB || c === DQUOTE || c === SQUOTE) break;
      p++;
    }
    if (p >= end || (line[p] !== DQUOTE && line[p] !== SQUOTE)) {
      out.push(line.subarray(start, p));
      if (p < end) p++;
      continue;
    }

    // Slow path, a transcription of sdssplitargs: `at(p)` is 0 past the end, like the C string terminator.
    const current: number[] = [];
    for (let k = start; k < p; k++) current.push(line[k]);
    const at = (k: number): number => (k < end ? line[k] : 0);
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === BACKSLASH && at(p + 1) === 120 /* x */ && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          current.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === BACKSLASH && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          if (e === 110) current.push(LF); // \n
          else if (e === 114) current.push(CR); // \r
          else if (e === 116) current.push(TAB); // \t
          else if (e === 98) current.push(8); // \b
          else if (e === 97) current.push(7); // \a
          else current.push(e);
        } else if (c === DQUOTE) {
          // The closing quote must be followed by a blank or nothing at all.
          const next = at(p + 1);
          if (next !== 0 && !isSpace(next)) return null;
          done = true;
        } else if (c === 0) {
          return null; // unterminated quotes
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (c === BACKSLASH && at(p + 1) === SQUOTE) {
          p++;
          current.push(SQUOTE);
        } else if (c === SQUOTE) {
          const next = at(p + 1);
          if (next !== 0 && !isSpace(next)) return null;
          done = true;
        } else if (c === 0) {
          return null;
        } else {
          current.push(c);
        }
      } else if (c === SPACE || c === LF || c === CR || c === TAB || c === 0) {
        done = true;
      } else if (c === DQUOTE) {
        inDouble = true;
      } else if (c === SQUOTE) {
        inSingle = true;
      } else {
        current.push(c);
      }
      if (at(p) !== 0) p++;
    }
    out.push(Buffer.from(current));
  }
}
