/**
 * The arguments of one parsed request as byte ranges: argument i is `buffers[i][starts[i] .. ends[i])`.
 *
 * The parser fills one of these per request and reuses it for the next, so a request costs no object per
 * argument: a Buffer view is among the dearest allocations V8 makes (an EAPPEND has six arguments), and the
 * append hot path reads its arguments in place. `toBuffers()` gives the views for everything else.
 *
 * Lifetime: valid only during the parser's `onRequest` call. A consumer that keeps an argument keeps a view or a
 * copy of it (`view(i)`), never this object. The ranges point into the socket's read chunk (Node never reuses a
 * read chunk, so a view stays valid) or into a buffer of the parser's own for an argument that spanned chunks.
 */
export class RequestArguments {
  count = 0;
  readonly buffers: Buffer[] = [];
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  push(buffer: Buffer, start: number, end: number): void {
    const i = this.count++;
    if (i < this.buffers.length) {
      this.buffers[i] = buffer;
      this.starts[i] = start;
      this.ends[i] = end;
    } else {
      this.buffers.push(buffer);
      this.starts.push(start);
      this.ends.push(end);
    }
  }

  /** Forgets every argument (keeping the arrays). The buffers are dropped so that no chunk stays alive through them. */
  reset(): void {
    if (this.buffers.length > KEPT_ARGUMENTS_MAX) {
      // A request with many arguments came by: do not keep arrays that size for every later one.
      this.buffers.length = this.starts.length = this.ends.length = 0;
    } else {
      for (let i = 0; i < this.count; i++) this.buffers[i] = EMPTY;
    }
    this.count = 0;
  }

  length(i: number): number {
    return this.ends[i] - this.starts[i];
  }

  /** Argument i as a Buffer view. */
  view(i: number): Buffer {
    return this.buffers[i].subarray(this.starts[i], this.ends[i]);
  }

  /** Every argument as a Buffer view, in order (the shape commands take). */
  toBuffers(): Buffer[] {
    const out: Buffer[] = new Array(this.count);
    for (let i = 0; i < this.count; i++) out[i] = this.view(i);
    return out;
  }

  /** Replaces argument i by a copy of its bytes (so that it no longer keeps `buffers[i]` alive). */
  copy(i: number): void {
    this.buffers[i] = Buffer.from(this.view(i));
    this.ends[i] -= this.starts[i];
    this.starts[i] = 0;
  }

  /** The arguments of an inline command line. */
  setBuffers(args: readonly Buffer[]): void {
    this.reset();
    for (const a of args) this.push(a, 0, a.length);
  }
}

const EMPTY = Buffer.alloc(0);
/** Argument slots kept between requests. */
const KEPT_ARGUMENTS_MAX = 1024;
