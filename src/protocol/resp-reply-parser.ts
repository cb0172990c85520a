/**
 * Incremental parser of server replies (RESP3, and RESP2 which is a subset), for the tests and the project's
 * TypeScript client. Correct rather than clever: an explicit stack of open aggregates, no recursion, and
 * every value it returns is a copy (nothing points into the chunks it was fed).
 *
 * What each wire type becomes:
 *
 *   +simple        string (UTF-8)
 *   -ERR text      ReplyError (`code` is the first word when it is upper case, else '')
 *   !len blob err  ReplyError
 *   :n             number when it is a safe integer, else bigint
 *   $len blob      Buffer (binary safe); `$-1` (RESP2 null bulk) is null
 *   ,double        number (`inf`, `-inf`, `nan` included)
 *   (big number    bigint
 *   #t / #f        boolean
 *   _              null
 *   =len verbatim  VerbatimString { format, text }
 *   *n array       RespValue[]; `*-1` (RESP2 null array) is null
 *   %n map         Map, in wire order, keys as parsed: `+key` is a string, `$key` a Buffer (use
 *                  `replyMapToObject` to index either kind by text). As with any Map, a repeated primitive
 *                  key keeps its first position and its last value; Buffer keys are distinct objects.
 *   ~n set         Set, in wire order; repeated primitives collapse into one member, Buffers never do
 *   >n push        RespPush { data: RespValue[] }. In RESP2 pushes are plain arrays and cannot be told apart.
 *   |n attribute   read and dropped; the value that follows is delivered in its place
 *
 * A malformed reply makes `feed()` return a ProtocolError (and every later call returns the same one).
 */
import { ProtocolError, ReplyError } from './reply-error.ts';

export class RespPush {
  readonly data: RespValue[];
  constructor(data: RespValue[]) {
    this.data = data;
  }
}

export class VerbatimString {
  /** Three characters: `txt`, `mkd`. */
  readonly format: string;
  readonly text: string;
  constructor(format: string, text: string) {
    this.format = format;
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

export type RespValue =
  | string
  | Buffer
  | number
  | bigint
  | boolean
  | null
  | ReplyError
  | VerbatimString
  | RespPush
  | RespValue[]
  | Map<RespValue, RespValue>
  | Set<RespValue>;

export type ReplyCallback = (value: RespValue) => void;

const CR = 13;
const LF = 10;

const T_SIMPLE = 43; // +
const T_ERROR = 45; // -
const T_BLOB_ERROR = 33; // !
const T_INTEGER = 58; // :
const T_BLOB = 36; // $
const T_DOUBLE = 44; // ,
const T_BIG_NUMBER = 40; // (
const T_BOOLEAN = 35; // #
const T_NULL = 95; // _
const T_VERBATIM = 61; // =
const T_ARRAY = 42; // *
const T_MAP = 37; // %
const T_SET = 126; // ~
const T_PUSH = 62; // >
const T_ATTRIBUTE = 124; // |

const INTEGER_TEXT = /^[+-]?[0-9]+$/;
const DOUBLE_TEXT = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

type Frame = { type: number; remaining: number; items: RespValue[] };

export class RespReplyParser {
  /** An incomplete line (type byte included) carried to the next chunk. */
  #pending: Buffer = Buffer.alloc(0);
  /** A blob whose data spans chunks: its type, data length, and copies of the bytes so far (CRLF included). */
  #blobType = 0;
  #blobLength = -1;
  #blobPieces: Buffer[] = [];
  #blobBytes = 0;
  #stack: Frame[] = [];
  #error: ProtocolError | undefined = undefined;

  /** Bytes held of an incomplete line or blob. */
  get bufferedBytes(): number {
    return this.#pending.length + this.#blobBytes;
  }

  /** Whether a reply is partly received (an aggregate is open, or a line or blob is incomplete). */
  get inReply(): boolean {
    return this.#stack.length > 0 || this.#pending.length > 0 || this.#blobLength >= 0;
  }

  /** Parses `chunk`, calling `onReply` for every complete top-level reply in order. */
  feed(chunk: Buffer, onReply: ReplyCallback): ProtocolError | undefined {
    if (this.#error !== undefined) return this.#error;
    let buf = chunk;
    let pos = 0;

    if (this.#blobLength >= 0) {
      const want = this.#blobLength + 2 - this.#blobBytes;
      const take = Math.min(want, buf.length);
      this.#blobPieces.push(Buffer.from(buf.subarray(0, take)));
      this.#blobBytes += take;
      pos = take;
      if (take < want) return undefined;
      const whole = Buffer.concat(this.#blobPieces, this.#blobBytes);
      const type = this.#blobType;
      const length = this.#blobLength;
      this.#blobPieces = [];
      this.#blobBytes = 0;
      this.#blobLength = -1;
      if (whole[length] !== CR || whole[length + 1] !== LF) return this.#fail('expected CRLF after blob data');
      const value = this.#blobValue(type, whole.subarray(0, length));
      if (value instanceof ProtocolError) return this.#fail(value.reason);
      this.#deliver(value, onReply);
    } else if (this.#pending.length > 0) {
      buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = Buffer.alloc(0);
    }

    const n = buf.length;
    while (pos < n) {
      const type = buf[pos];
      const cr = findCr(buf, pos + 1, n);
      if (cr === -1 || cr + 1 >= n) {
        this.#pending = Buffer.from(buf.subarray(pos));
        return undefined;
      }
      if (buf[cr + 1] !== LF) return this.#fail('expected CRLF at the end of a line');
      const lineStart = pos + 1;
      let next = cr + 2;
      let value: RespValue;
      switch (type) {
        case T_SIMPLE:
          value = decodeText(buf, lineStart, cr);
          break;
        case T_ERROR:
          value = ReplyError.fromWire(buf.toString('utf8', lineStart, cr));
          break;
        case T_INTEGER: {
          const fast = readSmallInteger(buf, lineStart, cr);
          if (fast === fast) {
            value = fast;
            break;
          }
          const text = buf.toString('utf8', lineStart, cr);
          if (!INTEGER_TEXT.test(text)) return this.#fail(`invalid integer '${text}'`);
          value = toInteger(text);
          break;
        }
        case T_DOUBLE: {
          const text = buf.toString('utf8', lineStart, cr);
          const lower = text.toLowerCase();
          if (lower === 'inf' || lower === '+inf') value = Infinity;
          else if (lower === '-inf') value = -Infinity;
          else if (lower === 'nan' || lower === '-nan') value = NaN;
          else if (DOUBLE_TEXT.test(text)) value = Number(text);
          else return this.#fail(`invalid double '${text}'`);
          break;
        }
        case T_BIG_NUMBER: {
          const text = buf.toString('utf8', lineStart, cr);
          if (!INTEGER_TEXT.test(text)) return this.#fail(`invalid big number '${text}'`);
          value = BigInt(text.startsWith('+') ? text.slice(1) : text);
          break;
        }
        case T_BOOLEAN: {
          const c = cr - lineStart === 1 ? buf[lineStart] : 0;
          if (c === 116 /* t */) value = true;
          else if (c === 102 /* f */) value = false;
          else return this.#fail(`invalid boolean '${buf.toString('utf8', lineStart, cr)}'`);
          break;
        }
        case T_NULL:
          if (cr !== lineStart) return this.#fail(`invalid null '${buf.toString('utf8', lineStart, cr)}'`);
          value = null;
          break;
        case T_BLOB:
        case T_BLOB_ERROR:
        case T_VERBATIM: {
          const length = readLength(buf, lineStart, cr);
          if (length !== length || (length === -1 && type !== T_BLOB)) {
            return this.#fail(`invalid blob length '${buf.toString('utf8', lineStart, cr)}'`);
          }
          if (length === -1) {
            value = null;
            break;
          }
          if (n - next < length + 2) {
            // The data spans chunks: keep copies of what is here and finish in a later feed().
            this.#blobType = type;
            this.#blobLength = length;
            this.#blobPieces = [Buffer.from(buf.subarray(next, n))];
            this.#blobBytes = n - next;
            return undefined;
          }
          if (buf[next + length] !== CR || buf[next + length + 1] !== LF) {
            return this.#fail('expected CRLF after blob data');
          }
          const blob = this.#blobValue(type, Buffer.from(buf.subarray(next, next + length)));
          if (blob instanceof ProtocolError) return this.#fail(blob.reason);
          value = blob;
          next += length + 2;
          break;
        }
        case T_ARRAY:
        case T_MAP:
        case T_SET:
        case T_PUSH:
        case T_ATTRIBUTE: {
          const count = readLength(buf, lineStart, cr);
          if (count !== count || (count === -1 && type !== T_ARRAY)) {
            return this.#fail(`invalid aggregate length '${buf.toString('utf8', lineStart, cr)}'`);
          }
          if (count === -1) {
            value = null;
            break;
          }
          const frame: Frame = { type, remaining: type === T_MAP || type === T_ATTRIBUTE ? 2 * count : count, items: [] };
          pos = next;
          if (frame.remaining > 0) {
            this.#stack.push(frame);
            continue;
          }
          if (type === T_ATTRIBUTE) continue; // an empty attribute: nothing to deliver
          value = buildAggregate(frame);
          break;
        }
        default:
          return this.#fail(`invalid reply type byte '${String.fromCharCode(type)}'`);
      }
      pos = next;
      this.#deliver(value, onReply);
    }
    return undefined;
  }

  /** Adds a finished value to the open aggregate, closing every aggregate it completes, or emits it. */
  #deliver(value: RespValue, onReply: ReplyCallback): void {
    const stack = this.#stack;
    for (;;) {
      const top = stack[stack.length - 1];
      if (top === undefined) {
        onReply(value);
        return;
      }
      top.items.push(value);
      if (--top.remaining > 0) return;
      stack.pop();
      if (top.type === T_ATTRIBUTE) return; // attributes describe the next value; they are not one
      value = buildAggregate(top);
    }
  }

  #blobValue(type: number, data: Buffer): RespValue | ProtocolError {
    if (type === T_BLOB) return data;
    if (type === T_BLOB_ERROR) return ReplyError.fromWire(data.toString('utf8'));
    if (data.length < 4 || data[3] !== 58 /* : */) return new ProtocolError('invalid verbatim string');
    return new VerbatimString(data.toString('latin1', 0, 3), data.toString('utf8', 4));
  }

  #fail(reason: string): ProtocolError {
    this.#error = new ProtocolError(reason);
    this.#stack = [];
    this.#pending = Buffer.alloc(0);
    this.#blobPieces = [];
    this.#blobBytes = 0;
    this.#blobLength = -1;
    return this.#error;
  }
}

/** The index of the next CR at or after `from`, or -1. Lines are short, so a loop beats a native call. */
function findCr(buf: Buffer, from: number, end: number): number {
  const stop = Math.min(end, from + 64);
  for (let k = from; k < stop; k++) if (buf[k] === CR) return k;
  return stop === end ? -1 : buf.indexOf(CR, stop);
}

/** UTF-8 text of a line; short ASCII text is decoded in JavaScript, which is cheaper than a native call. */
function decodeText(buf: Buffer, start: number, end: number): string {
  if (end - start > 40) return buf.toString('utf8', start, end);
  let text = '';
  for (let k = start; k < end; k++) {
    const c = buf[k];
    if (c >= 0x80) return buf.toString('utf8', start, end);
    text += String.fromCharCode(c);
  }
  return text;
}

/**
 * A length as RESP writes it: `-1`, `0`, or digits without a leading zero, at most 15 of them. NaN otherwise.
 */
function readLength(buf: Buffer, start: number, end: number): number {
  const digits = end - start;
  if (digits < 1 || digits > 15) return NaN;
  const first = buf[start];
  if (first === 45 /* - */) return digits === 2 && buf[start + 1] === 49 /* 1 */ ? -1 : NaN;
  if (first === 48 /* 0 */) return digits === 1 ? 0 : NaN;
  let value = 0;
  for (let k = start; k < end; k++) {
    const d = buf[k] - 48;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return value;
}

/** `[+-]digits` with at most 15 digits (always a safe integer), or NaN to take the general path. */
function readSmallInteger(buf: Buffer, start: number, end: number): number {
  let k = start;
  let negative = false;
  if (k < end && (buf[k] === 45 /* - */ || buf[k] === 43) /* + */) {
    negative = buf[k] === 45;
    k++;
  }
  if (end - k < 1 || end - k > 15) return NaN;
  let value = 0;
  for (; k < end; k++) {
    const d = buf[k] - 48;
    if (d < 0 || d > 9) return NaN;
    value = value * 10 + d;
  }
  return negative ? -value : value;
}

function toInteger(text: string): number | bigint {
  if (text.length <= 15) return Number(text);
  const big = BigInt(text.startsWith('+') ? text.slice(1) : text);
  return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

function buildAggregate(frame: Frame): RespValue {
  const items = frame.items;
  switch (frame.type) {
    case T_ARRAY:
      return items;
    case T_PUSH:
      return new RespPush(items);
    case T_SET:
      return new Set(items);
    case T_MAP: {
      const map = new Map<RespValue, RespValue>();
      for (let k = 0; k < items.length; k += 2) map.set(items[k], items[k + 1]);
      return map;
    }
    default:
      throw new Error(`unreachable aggregate type ${frame.type}`);
  }
}

/**
 * A map reply as a plain object keyed by text: string keys as they are, Buffer keys decoded as UTF-8, other
 * keys through String(). Later duplicates win. Handy for HELLO and INFO, whose keys are blob strings.
 */
export function replyMapToObject(map: Map<RespValue, RespValue>): Record<string, RespValue> {
  const out: Record<string, RespValue> = Object.create(null);
  for (const [key, value] of map) {
    out[Buffer.isBuffer(key) ? key.toString('utf8') : String(key)] = value;
  }
  return out;
}
