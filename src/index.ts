/**
 * sierradb-ts as a library: open a data directory in-process and append and read events. The RESP server
 * (`sierradb` / `npm start`) is a thin layer over exactly this API.
 */
export {
  open,
  Database,
  DEFAULTS,
  decodeBatch,
  decodeEvent,
  EngineError,
  CorruptRecordError,
  type AppendOptions,
  type AppendResult,
  type Bytes,
  type DatabaseOptions,
  type EventRecord,
  type ExpectedVersion,
  type MultiAppendEvent,
  type MultiAppendResult,
  type ScanPage,
} from './database.ts';
export type { GroupCommitStats } from './engine/group-commit.ts';
export { NAMESPACE_PARTITION_KEY, partitionKeyForStream, partitionHash, formatUuid, parseUuid } from './ids/partition-key.ts';
