/**
 * The outcomes of one batch of a bucket writer, one per staged transaction in staging order, kept column by
 * column so that a batch of hundreds of appends makes no object (nor versions array) per transaction: the write
 * worker encodes each completion frame straight from these columns. One instance per writer, cleared when the next
 * batch starts; `outcome(i)` makes the object form for the in-process engine and tests.
 */
import type { EngineError } from './engine-error.ts';
import type { TransactionOutcome } from './bucket-writer.ts';

export class BatchOutcomes {
  count = 0;
  /** The transaction's first partition sequence (ok). */
  readonly firstSequence: number[] = [];
  /** Where its versions start in `versions`, and how many (its event count; 0 when it failed). */
  readonly versionsAt: number[] = [];
  readonly versionCount: number[] = [];
  /** Every staged transaction's stream versions, back to back. */
  readonly versions: number[] = [];
  /** The failure, or undefined when the transaction succeeded (or is still provisional). */
  readonly errors: (EngineError | undefined)[] = [];
  #versionsLength = 0;

  clear(): void {
    for (let i = 0; i < this.count; i++) this.errors[i] = undefined;
    this.count = 0;
    this.#versionsLength = 0;
  }

  /** A staged transaction (provisional until its batch is durable); its versions come from `addVersion`. */
  addStaged(firstSequence: number): number {
    const i = this.count++;
    this.firstSequence[i] = firstSequence;
    this.versionsAt[i] = this.#versionsLength;
    this.versionCount[i] = 0;
    this.errors[i] = undefined;
    return i;
  }

  /** One more version of the transaction last added by addStaged. */
  addVersion(version: number): void {
    this.versions[this.#versionsLength++] = version;
    this.versionCount[this.count - 1]++;
  }

  /** A transaction that failed when it was staged. */
  addFailed(error: EngineError): void {
    const i = this.addStaged(0);
    this.errors[i] = error;
  }

  /** Fails a staged transaction (its batch could not be made durable). */
  fail(i: number, error: EngineError): void {
    this.errors[i] = error;
  }

  ok(i: number): boolean {
    return this.errors[i] === undefined;
  }

  outcome(i: number): TransactionOutcome {
    const error = this.errors[i];
    if (error !== undefined) return { ok: false, error };
    const at = this.versionsAt[i];
    return { ok: true, firstSequence: this.firstSequence[i], versions: this.versions.slice(at, at + this.versionCount[i]) };
  }

  toArray(): TransactionOutcome[] {
    return Array.from({ length: this.count }, (_, i) => this.outcome(i));
  }
}
