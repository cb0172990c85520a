/**
 * Operations in flight, and callbacks for the moment none are. The write backends count their in-place appends
 * with it: those carry no event objects for `Database.onAppended` listeners, so a listener that arrives while some
 * are in flight must wait for them to finish before it can trust that it hears of every append (see
 * Database.onceAppendsReported).
 */
export class InFlightCount {
  #count = 0;
  #idle: (() => void)[] = [];

  started(): void {
    this.#count++;
  }

  finished(): void {
    if (--this.#count === 0 && this.#idle.length > 0) {
      for (const callback of this.#idle.splice(0)) callback();
    }
  }

  /** Calls `callback` once nothing is in flight: now, if nothing is. Operations started meanwhile delay it too. */
  onceIdle(callback: () => void): void {
    if (this.#count === 0) callback();
    else this.#idle.push(callback);
  }
}
