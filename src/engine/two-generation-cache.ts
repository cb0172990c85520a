/**
 * A bounded map that keeps recently used keys, for hot paths where a true LRU costs too much: LruCache moves a key
 * on every hit (a Map delete and insert, about 40% of EAPPEND's partition-key lookup), this one touches nothing on
 * a hit in the young generation.
 *
 * Two generations of at most `capacity / 2` keys each. New keys and keys found in the old generation go into the
 * young one; when the young one is full it becomes the old one and the previous old one is dropped. A key used
 * at least once per `capacity / 2` insertions therefore stays; at most `capacity` keys are held.
 */
export class TwoGenerationCache<K, V> {
  readonly capacity: number;
  readonly #generationSize: number;
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  hits = 0;
  misses = 0;

  constructor(capacity: number) {
    if (!(Number.isSafeInteger(capacity) && capacity >= 2)) throw new RangeError('cache capacity must be an integer of at least 2');
    this.capacity = capacity;
    this.#generationSize = Math.floor(capacity / 2);
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(key: K): V | undefined {
    let v = this.#young.get(key);
    if (v !== undefined) {
      this.hits++;
      return v;
    }
    v = this.#old.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#old.delete(key);
    this.#insertYoung(key, v);
    return v;
  }

  set(key: K, value: V): void {
    if (this.#young.has(key)) {
      this.#young.set(key, value);
      return;
    }
    this.#old.delete(key);
    this.#insertYoung(key, value);
  }

  #insertYoung(key: K, value: V): void {
    if (this.#young.size >= this.#generationSize) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }
}
