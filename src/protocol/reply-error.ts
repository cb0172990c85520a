/**
 * Wire errors as data.
 *
 * A RESP error line is `-CODE message\r\n`: one upper-case word, one space, a message. The codes below are
 * SierraDB's `ErrorCode` (`crates/sierradb-protocol/src/error.rs`, strum UPPERCASE) verbatim, plus the few Redis
 * codes this server also speaks (`ERR` for protocol errors and Redis-style command errors, `NOAUTH`, `WRONGPASS`,
 * `NOPROTO` for HELLO). SierraDB also sends a few errors without any code, for example
 * `the event id must embed the partition hash`; `ReplyError.codeless(text)` writes those.
 *
 * `ProtocolError` is the other kind: a malformed request frame. The server answers it with
 * `-ERR Protocol error: <reason>` and closes the connection, as Redis does (`networking.c`, `setProtocolError`).
 */

export const errorCode = {
  // SierraDB, in the order of `ErrorCode` in sierradb-protocol/src/error.rs.
  CLUSTERDOWN: 'CLUSTERDOWN',
  TRYAGAIN: 'TRYAGAIN',
  TIMEOUT: 'TIMEOUT',
  SYNTAX: 'SYNTAX',
  INVALIDARG: 'INVALIDARG',
  NOTFOUND: 'NOTFOUND',
  MAXFORWARDS: 'MAXFORWARDS',
  CIRCUITOPEN: 'CIRCUITOPEN',
  CONFIRMFAILED: 'CONFIRMFAILED',
  REPLCONFIRMFAILED: 'REPLCONFIRMFAILED',
  CLOCKERR: 'CLOCKERR',
  READERR: 'READERR',
  WRITEERR: 'WRITEERR',
  REMOTEERR: 'REMOTEERR',
  NOISEERR: 'NOISEERR',
  TRANSPORTERR: 'TRANSPORTERR',
  SWARMERR: 'SWARMERR',
  ACTORDOWN: 'ACTORDOWN',
  ACTORSTOPPED: 'ACTORSTOPPED',
  MAILBOXFULL: 'MAILBOXFULL',
  ALLREPLICASFAILED: 'ALLREPLICASFAILED',
  BUFFEREVICTED: 'BUFFEREVICTED',
  BUFFERFULL: 'BUFFERFULL',
  DBOPFAILED: 'DBOPFAILED',
  INSUFFICIENTREPLICAS: 'INSUFFICIENTREPLICAS',
  INVALIDSENDER: 'INVALIDSENDER',
  STALEWRITE: 'STALEWRITE',
  MISSINGPARTSEQ: 'MISSINGPARTSEQ',
  PARTNOTOWNED: 'PARTNOTOWNED',
  QUORUMFAILED: 'QUORUMFAILED',
  REMOTEOPFAILED: 'REMOTEOPFAILED',
  SEQCONFLICT: 'SEQCONFLICT',
  WRONGSEQ: 'WRONGSEQ',
  WRONGVER: 'WRONGVER',
  REDIRECT: 'REDIRECT',
  // Redis.
  ERR: 'ERR',
  NOAUTH: 'NOAUTH',
  WRONGPASS: 'WRONGPASS',
  NOPROTO: 'NOPROTO',
} as const;

export type ErrorCode = (typeof errorCode)[keyof typeof errorCode];

/** SierraDB's client retries these (`sierradb-client/src/error.rs`, `is_retryable`). */
export const retryableErrorCodes: ReadonlySet<string> = new Set<string>([
  errorCode.TRYAGAIN,
  errorCode.TIMEOUT,
  errorCode.CIRCUITOPEN,
  errorCode.ACTORDOWN,
  errorCode.ACTORSTOPPED,
  errorCode.MAILBOXFULL,
]);

/** A leading word that reads as an error code: upper-case letters, digits and `_`, starting with a letter. */
const CODE_WORD = /^[A-Z][A-Z0-9_]*$/;

/**
 * An error reply. `code` is the first word on the wire, or `''` for SierraDB's code-less errors.
 * `toString()` is the wire text without the leading `-` and trailing CRLF: `CODE message`, or `message` alone.
 *
 * It extends Error so a client can throw or reject with it; the server writes it with `RespEncoder.replyError`.
 */
export class ReplyError extends Error {
  /** The upper-case code (`WRONGVER`, `ERR`, ...), or `''` when the error has none. */
  readonly code: ErrorCode | (string & {});

  constructor(code: ErrorCode | (string & {}), message: string) {
    super(message);
    this.name = 'ReplyError';
    this.code = code;
  }

  /** An error written without a code, as SierraDB does for `unsupported version 2, only 3 is supported`. */
  static codeless(text: string): ReplyError {
    return new ReplyError('', text);
  }

  /**
   * Reads the text of an error line (without `-` and CRLF). The first word is the code when it looks like one
   * (`WRONGVER current ...`, a lone `ERR`); otherwise the whole text is a code-less message.
   */
  static fromWire(text: string): ReplyError {
    const space = text.indexOf(' ');
    const first = space === -1 ? text : text.slice(0, space);
    if (CODE_WORD.test(first)) return new ReplyError(first, space === -1 ? '' : text.slice(space + 1));
    return new ReplyError('', text);
  }

  /** Whether SierraDB's client would retry the request that got this error. */
  isRetryable(): boolean {
    return retryableErrorCodes.has(this.code);
  }

  override toString(): string {
    if (this.code === '') return this.message;
    if (this.message === '') return this.code;
    return `${this.code} ${this.message}`;
  }
}

/**
 * A malformed frame. `reason` is Redis's text after `Protocol error: ` (`invalid multibulk length`,
 * `invalid bulk length`, `expected '$', got 'x'`, `unbalanced quotes in request`, `too big inline request`).
 * The connection cannot be resynchronised after one, so the server replies once and closes.
 */
export class ProtocolError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`Protocol error: ${reason}`);
    this.name = 'ProtocolError';
    this.reason = reason;
  }

  /** The reply the server writes before closing: `-ERR Protocol error: <reason>`. */
  toReplyError(): ReplyError {
    return new ReplyError(errorCode.ERR, this.message);
  }
}
