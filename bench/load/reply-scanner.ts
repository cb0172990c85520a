/**
 * A reply scanner for the load generator's hot path: it walks RESP2/RESP3 replies without building them, and
 * reports each complete top-level reply as a small summary. RespReplyParser builds every value (maps, strings,
 * copies of blobs), which costs about 4 µs per event map; on a 2-core machine the client shares the cores with
 * the server, so every microsecond it spends is taken from the system being measured. The scanner allocates only
 * for what it is asked to capture.
 *
 * What a summary holds (the object is reused: copy what you keep):
 *   type     the top-level type byte (`+`, `-`, `:`, `$`, `*`, `%`, `>`, ...)
 *   length   element count of an aggregate (maps count pairs, as on the wire), byte length of a blob, -1 for null
 *   text     the line of a simple string, error, integer, double, boolean...; the data of a blob error; else ''
 *   items    for an aggregate, its first `captureItems` children: type, length and (for line types and blobs of
 *            at most `captureBlobBytesMax` bytes) text. `itemCount` says how many are filled.
 *
 * Top-level errors always carry their text. Blobs that are not captured are skipped without copying, even when
 * they span chunks. Attributes (`|`) are not supported (none of the systems measured sends them): a protocol
 * error.
 */
export type ScannedItem = { type: number; length: number; text: string };

export type ScannedReply = {
  type: number;
  length: number;
  text: string;
  items: ScannedItem[];
  itemCount: number;
};

export type ScannerOptions = {
  /** Children of a top-level aggregate to summarise (0: none, the cheapest). */
  captureItems?: number;
  /** Blob children longer than this are summarised without their text. */
  captureBlobBytesMax?: number;
};

export class ReplyScanError extends Error {
  override name = 'ReplyScanError';
}

const CR = 13;
const LF = 10;

const T_SIMPLE = 43; // +
const T_ERROR = 45; // -
const T_BLOB_ERROR = 33; // !
const T_BLOB = 36; // $
const T_VERBATIM = 61; // =
const T_ARRAY = 42; // *
const T_MAP = 37; // %
const T_SET = 126; // ~
const T_PUSH = 62; // >
const T_ATTRIBUTE = 124; // |
const T_INTEGER = 58; // :
const T_DOUBLE = 44; // ,
const T_BIG_NUMBER = 40; // (
const T_BOOLEAN = 35; // #
const T_NULL = 95; // _

/** Aggregates nested deeper than this are a protocol error (replies here are at most 4 deep). */
const depthMax = 64;

export class ReplyScanner {
  readonly captureItems: number;
  readonly captureBlobBytesMax: number;
  readonly #reply: ScannedReply;
  /** Elements still expected by each open aggregate, innermost last. */
  readonly #remaining = new Float64Array(depthMax);
  #depth = 0;
  /** An incomplete line, or a captured blob that spans chunks, carried to the next chunk. */
  #carry: Buffer | undefined = undefined;
  /** Bytes of an uncaptured blob (data and CRLF) still to skip. */
  #skip = 0;
  #error: ReplyScanError | undefined = undefined;

  constructor(options: ScannerOptions = {}) {
    this.captureItems = options.captureItems ?? 0;
    this.captureBlobBytesMax = options.captureBlobBytesMax ?? 64;
    const items: ScannedItem[] = [];
    for (let i = 0; i < this.captureItems; i++) items.push({ type: 0, length: 0, text: '' });
    this.#reply = { type: 0, length: 0, text: '', items, itemCount: 0 };
  }

  /** Whether a reply is partly received. */
  get inReply(): boolean {
    return this.#depth > 0 || this.#carry !== undefined || this.#skip > 0;
  }

  /**
   * Scans `chunk`, calling `onReply` for each complete top-level reply, in order. Returns the number of replies
   * completed, or throws ReplyScanError on malformed input (and on every later call).
   */
  feed(chunk: Buffer, onReply: (reply: ScannedReply) => void): number {
    if (this.#error !== undefined) throw this.#error;
    let buf = chunk;
    let pos = 0;
    let done = 0;
    if (this.#skip > 0) {
      const take = Math.min(this.#skip, buf.length);
      this.#skip -= take;
      pos = take;
      if (this.#skip > 0) return 0;
      if (buf[take - 1] !== LF) this.#fail('expected CRLF after blob data');
      done += this.#completeValue(onReply);
    } else if (this.#carry !== undefined) {
      buf = Buffer.concat([this.#carry, chunk]);
      this.#carry = undefined;
    }
    const n = buf.length;
    const reply = this.#reply;
    while (pos < n) {
      const type = buf[pos];
      let lf = pos + 1;
      while (lf < n && buf[lf] !== LF) lf++; // lines are short: a loop beats a native call per line
      if (lf === n) {
        this.#carry = Buffer.from(buf.subarray(pos));
        return done;
      }
      if (buf[lf - 1] !== CR || lf - 1 < pos + 1) this.#fail('expected CRLF at the end of a line');
      const lineStart = pos + 1;
      const lineEnd = lf - 1;
      const depth = this.#depth;
      // Which summary slot this value fills: the reply itself (depth 0), one of its first children, or none.
      let slot: ScannedItem | ScannedReply | undefined;
      if (depth === 0) {
        slot = reply;
        reply.itemCount = 0;
      } else if (depth === 1 && reply.itemCount < this.captureItems) {
        slot = reply.items[reply.itemCount++];
      }
      switch (type) {
        case T_BLOB:
        case T_BLOB_ERROR:
        case T_VERBATIM: {
          const length = readInteger(buf, lineStart, lineEnd);
          if (length !== length || length < -1 || (length === -1 && type !== T_BLOB)) this.#fail('invalid blob length');
          const dataStart = lf + 1;
          if (slot !== undefined) {
            slot.type = type;
            slot.length = length;
            slot.text = '';
          }
          if (length === -1) {
            pos = dataStart;
            done += this.#completeValue(onReply);
            break;
          }
          const wantText = slot !== undefined && (type === T_BLOB_ERROR || (depth === 1 && length <= this.captureBlobBytesMax));
          const end = dataStart + length + 2;
          if (end <= n) {
            if (buf[end - 2] !== CR || buf[end - 1] !== LF) this.#fail('expected CRLF after blob data');
            if (wantText) slot!.text = buf.toString('utf8', dataStart, dataStart + length);
            pos = end;
            done += this.#completeValue(onReply);
          } else if (wantText) {
            // Rare (an error or a small captured blob split across reads): wait for the whole of it.
            if (depth === 1) reply.itemCount--;
            this.#carry = Buffer.from(buf.subarray(pos));
            return done;
          } else {
            this.#skip = end - n;
            return done;
          }
          break;
        }
        case T_ARRAY:
        case T_MAP:
        case T_SET:
        case T_PUSH: {
          const count = readInteger(buf, lineStart, lineEnd);
          if (count !== count || count < -1 || (count === -1 && type !== T_ARRAY)) this.#fail('invalid aggregate length');
          if (slot !== undefined) {
            slot.type = type;
            slot.length = count;
            slot.text = '';
          }
          pos = lf + 1;
          if (count <= 0) {
            done += this.#completeValue(onReply);
          } else {
            if (depth >= depthMax) this.#fail('aggregates nested too deep');
            this.#remaining[depth] = type === T_MAP ? count * 2 : count;
            this.#depth = depth + 1;
          }
          break;
        }
        case T_SIMPLE:
        case T_ERROR:
        case T_INTEGER:
        case T_DOUBLE:
        case T_BIG_NUMBER:
        case T_BOOLEAN:
        case T_NULL:
          if (slot !== undefined) {
            slot.type = type;
            slot.length = 0;
            slot.text = type === T_NULL ? '' : buf.toString('utf8', lineStart, lineEnd);
          }
          pos = lf + 1;
          done += this.#completeValue(onReply);
          break;
        case T_ATTRIBUTE:
          this.#fail('attributes (|) are not supported');
          break;
        default:
          this.#fail(`unknown type byte ${type}`);
      }
    }
    return done;
  }

  /** A value ended at the current depth: count it against its parent; report it when top-level. */
  #completeValue(onReply: (reply: ScannedReply) => void): number {
    let depth = this.#depth;
    while (depth > 0) {
      if (--this.#remaining[depth - 1] > 0) return 0;
      depth--; // that aggregate is complete too
      this.#depth = depth;
    }
    onReply(this.#reply);
    return 1;
  }

  #fail(reason: string): never {
    this.#error = new ReplyScanError(reason);
    throw this.#error;
  }
}

/** A decimal integer (optional sign) in buf[start, end), or NaN. */
function readInteger(buf: Buffer, start: number, end: number): number {
  let i = start;
  let negative = false;
  if (buf[i] === 45 /* - */) {
    negative = true;
    i++;
  } else if (buf[i] === 43 /* + */) i++;
  if (i >= end || end - i > 15) return NaN;
  let v = 0;
  for (; i < end; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}
