/**
 * Optimistic concurrency (SierraDB `validate_event_versions`). "Current version" is the version of a stream's
 * last event; an empty stream has none.
 *
 * | expected | stream absent        | stream at version v                    |
 * |----------|----------------------|----------------------------------------|
 * | any      | ok → 0               | ok → v+1                               |
 * | exists   | WRONGVER             | ok → v+1                               |
 * | empty    | ok → 0               | WRONGVER                               |
 * | n        | WRONGVER             | ok only if n == v, else WRONGVER       |
 */
import { formatUuid } from '../ids/partition-key.ts';
import { EngineError } from './engine-error.ts';

export const ExpectedKind = { any: 0, exists: 1, empty: 2, exact: 3 } as const;
export type ExpectedKind = (typeof ExpectedKind)[keyof typeof ExpectedKind];

export type ExpectedVersion = 'any' | 'exists' | 'empty' | number;

export function expectedKindOf(v: ExpectedVersion): ExpectedKind {
  return v === 'any' ? ExpectedKind.any : v === 'exists' ? ExpectedKind.exists : v === 'empty' ? ExpectedKind.empty : ExpectedKind.exact;
}

export function expectedFromKind(kind: number, version: number): ExpectedVersion {
  switch (kind) {
    case ExpectedKind.any:
      return 'any';
    case ExpectedKind.exists:
      return 'exists';
    case ExpectedKind.empty:
      return 'empty';
    default:
      return version;
  }
}

/** Parses EXPECTED_VERSION's argument: `any`, `exists`, `empty` (case-insensitive) or a u64. */
export function parseExpectedVersion(text: string): ExpectedVersion | undefined {
  const lower = text.toLowerCase();
  if (lower === 'any' || lower === 'exists' || lower === 'empty') return lower;
  if (!/^\d{1,16}$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The version the next event gets, or -1 when the expectation fails. `current` is -1 for an absent stream.
 */
export function nextVersion(kind: number, expected: number, current: number): number {
  switch (kind) {
    case ExpectedKind.any:
      return current + 1;
    case ExpectedKind.exists:
      return current < 0 ? -1 : current + 1;
    case ExpectedKind.empty:
      return current < 0 ? 0 : -1;
    default:
      return current >= 0 && current === expected ? current + 1 : -1;
  }
}

export function wrongVersionError(current: number, kind: number, expected: number, partitionKey: Uint8Array, streamId: string): EngineError {
  const cur = current < 0 ? 'empty' : String(current);
  const exp = String(expectedFromKind(kind, expected));
  return new EngineError(
    'WRONGVER',
    `current stream version is ${cur} but expected ${exp} for partition key ${formatUuid(partitionKey)} and stream id ${streamId}`,
  );
}
