/**
 * Errors the storage engine reports to its callers. `code` is one of SierraDB's wire error codes, so the server
 * writes `-<code> <message>` without translating; the embedded API throws these as they are.
 */
export type EngineErrorCode = 'WRONGVER' | 'DBOPFAILED' | 'INVALIDARG' | 'READERR' | 'WRITEERR' | 'BUFFERFULL';

export class EngineError extends Error {
  override name = 'EngineError';
  readonly code: EngineErrorCode;
  constructor(code: EngineErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
  /** The text after the `-` of a RESP error reply. */
  toReply(): string {
    return `${this.code} ${this.message}`;
  }
}

/** A stored record failed its checksum or structure checks; it is never served as data. */
export class CorruptRecordError extends EngineError {
  override name = 'CorruptRecordError';
  readonly location: string;
  constructor(location: string, reason: string) {
    super('READERR', `read error: corrupt record at ${location}: ${reason}`);
    this.location = location;
  }
}
