/**
 * Seeded request generators for the server fuzz test. Two pools:
 *   - `recoverableFrame`: well-framed requests (RESP arrays, and inline lines) with random commands and arguments,
 *     wrong types, unknown names, binary junk: each must get exactly one reply and never close the connection;
 *   - `fatalFrame`: mutated framing and raw random bytes, which may close the connection with a protocol error.
 */
import { encodeCommand } from './raw-client.ts';

/** xorshift32: small, fast, and replayable from its seed. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

const COMMANDS = ['EAPPEND', 'EMAPPEND', 'EGET', 'ESCAN', 'ESVER', 'EPSCAN', 'EPSEQ', 'PING', 'HELLO', 'INFO', 'CLIENT', 'CONFIG', 'COMMAND', 'SELECT', 'AUTH', 'ECHO', 'SET', 'eappend', 'EsCaN'];
const OPTIONS = ['EVENT_ID', 'PARTITION_KEY', 'EXPECTED_VERSION', 'TIMESTAMP', 'PAYLOAD', 'METADATA', 'COUNT', 'FROM', 'WINDOW', 'AUTH', 'SETNAME', 'LIB-NAME', 'GET', 'DOCS', 'INFO', 'ID', 'GETNAME'];
const UUIDS = ['550e8400-e29b-41d4-a716-446655440000', '7e124fe8-fe28-5398-bb95-53973100148f', '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '{6ba7b810-9dad-11d1-80b4-00c04fd430c8}', 'not-a-uuid', ''];
const NUMBERS = ['0', '1', '2', '-1', '-', '+', '31', '32', '65535', '65536', '18446744073709551615', '18446744073709551616', '99999999999999999999999', '1e3', ' 1', 'any', 'exists', 'empty', 'ANY', '3', '2', '4'];

function arg(r: Rng): Buffer | string {
  switch (r.int(8)) {
    case 0:
      return r.pick(OPTIONS);
    case 1:
      return r.pick(UUIDS);
    case 2:
      return r.pick(NUMBERS);
    case 3:
      return `fz${r.int(10)}`;
    case 4:
      return r.bytes(r.int(40));
    case 5:
      return r.chance(0.05) ? 'x'.repeat(r.int(300)) : `v${r.int(1000)}`;
    case 6:
      return r.pick(COMMANDS);
    default:
      return '';
  }
}

function randomWord(r: Rng): string {
  const letters = 'ABCDEFGHIJKLMNOPRSTUVWXYZ0123456789_-:';
  let w = '';
  const n = 1 + r.int(12);
  for (let i = 0; i < n; i++) w += letters[r.int(letters.length)];
  return w;
}

/** A well-framed request that must get exactly one reply. */
export function recoverableFrame(r: Rng): Buffer {
  if (r.chance(0.1)) {
    // Inline: printable words, no quotes, never empty, never starting with '*', never QUIT.
    const words = [r.pick(COMMANDS.filter((c) => c !== 'HELLO')), ...Array.from({ length: r.int(6) }, () => randomWord(r))];
    return Buffer.from(`${words.join(' '.repeat(1 + r.int(3)))}${r.chance(0.5) ? '\r\n' : '\n'}`);
  }
  const name = r.chance(0.05) ? randomWord(r) : r.pick(COMMANDS);
  const args: (Buffer | string)[] = [name];
  if (name === 'HELLO') {
    // HELLO with AUTH would authenticate; keep it to protocol switches and junk.
    args.push(r.pick(['2', '3', '4', 'x', '']));
  } else {
    const n = r.int(10);
    for (let i = 0; i < n; i++) args.push(arg(r));
  }
  if (name.toUpperCase() === 'EAPPEND' && args.length > 1 && r.chance(0.5)) args[1] = `fz${r.int(10)}`;
  return encodeCommand(args);
}

/** Mutated framing or raw bytes: anything goes, including a protocol error that closes the connection. */
export function fatalFrame(r: Rng): Buffer {
  const base = recoverableFrame(r);
  switch (r.int(6)) {
    case 0:
      return r.bytes(1 + r.int(64));
    case 1: {
      // Flip some bytes.
      const b = Buffer.from(base);
      for (let k = 1 + r.int(3); k > 0; k--) b[r.int(b.length)] = r.int(256);
      return b;
    }
    case 2:
      // Truncate.
      return base.subarray(0, r.int(base.length));
    case 3: {
      // Insert junk.
      const at = r.int(base.length);
      return Buffer.concat([base.subarray(0, at), r.bytes(1 + r.int(8)), base.subarray(at)]);
    }
    case 4: {
      // Lie about a length.
      const text = base.toString('latin1');
      return Buffer.from(text.replace(/\$(\d+)/, () => `$${r.pick(['-1', '-2', '99999999999', '0', String(r.int(100000)), 'x', ''])}`), 'latin1');
    }
    default:
      // Lie about the argument count.
      return Buffer.from(base.toString('latin1').replace(/^\*\d+/, () => `*${r.pick(['0', '-1', '-5', '2000000', '999999999999', String(r.int(20)), 'z'])}`), 'latin1');
  }
}
