/** A bounded least-recently-used map: Map keeps insertion order, so a hit re-inserts and eviction takes the first key. */
export class LruCache<K, V> {
  readonly #map = new Map<K, V>();
  readonly capacity: number;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('LRU capacity must be at least 1');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.#map.delete(key);
    this.#map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    if (this.#map.has(key)) this.#map.delete(key);
    else if (this.#map.size >= this.capacity) {
      const oldest = this.#map.keys().next().value as K;
      this.#map.delete(oldest);
      this.evictions++;
    }
    this.#map.set(key, value);
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
