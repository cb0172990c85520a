/**
 * CONFIG GET: read configuration values by glob pattern.
 *
 *   CONFIG GET parameter [parameter ...]
 *
 * Reply: a flat array `[name, value, name, value, ...]` of bulk strings, in RESP3 too (Redis 7 sends a map in
 * RESP3, but redis-benchmark probes `CONFIG GET save` / `CONFIG GET appendonly` without HELLO and insists on an
 * array; this server speaks RESP3 to such clients). Names are this server's dotted keys (`partition.count`, ...)
 * plus the Redis names tools ask for (`save`, `appendonly`, `appendfsync`, `databases`, `maxclients`, `port`,
 * `bind`, `dir`, `timeout`, `proto-max-bulk-len`, `client-query-buffer-limit`). The password is never shown.
 * Patterns are Redis globs (`*`, `?`, `[a-z]`, `\x`), matched case-insensitively.
 */
import { CONFIG_KEYS, type ConfigKey } from '../config/config-schema.ts';
import type { CommandContext, CommandDescriptor, Reply } from './command.ts';

/** Redis's `stringmatchlen` (util.c), without its recursion-depth guard: patterns here are short. */
export function globMatch(pattern: string, s: string, noCase = true): boolean {
  const p = noCase ? pattern.toLowerCase() : pattern;
  const t = noCase ? s.toLowerCase() : s;
  const match = (pi: number, si: number): boolean => {
    while (pi < p.length) {
      const c = p[pi];
      if (c === '*') {
        while (p[pi + 1] === '*') pi++;
        if (pi + 1 === p.length) return true;
        for (let k = si; k <= t.length; k++) if (match(pi + 1, k)) return true;
        return false;
      }
      if (si >= t.length) return false;
      if (c === '?') {
        si++;
        pi++;
        continue;
      }
      if (c === '[') {
        pi++;
        const negate = p[pi] === '^';
        if (negate) pi++;
        let matched = false;
        while (pi < p.length && p[pi] !== ']') {
          if (p[pi] === '\\' && pi + 1 < p.length) {
            pi++;
            if (p[pi] === t[si]) matched = true;
          } else if (p[pi + 1] === '-' && pi + 2 < p.length && p[pi + 2] !== ']') {
            let lo = p[pi];
            let hi = p[pi + 2];
            if (lo > hi) [lo, hi] = [hi, lo];
            if (t[si] >= lo && t[si] <= hi) matched = true;
            pi += 2;
          } else if (p[pi] === t[si]) {
            matched = true;
          }
          pi++;
        }
        if (negate) matched = !matched;
        if (!matched) return false;
        pi++; // past ']' (or the end of an unterminated class)
        si++;
        continue;
      }
      if (c === '\\' && pi + 1 < p.length) pi++;
      if (p[pi] !== t[si]) return false;
      pi++;
      si++;
    }
    return si === t.length;
  };
  return match(0, 0);
}

function configValue(value: unknown): string {
  return value === undefined ? '' : String(value);
}

/** Every readable parameter and its value, in a stable order: Redis names first, then ours. */
export function configParameters(ctx: CommandContext): [string, string][] {
  const c = ctx.config;
  const address = c.network.client_address;
  const bind = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  const out: [string, string][] = [
    ['save', ''],
    ['appendonly', 'no'],
    ['appendfsync', 'always'],
    ['databases', '1'],
    ['maxclients', String(c.server.maxclients)],
    ['port', String(ctx.server.port)],
    ['bind', bind],
    ['dir', c.dir],
    ['timeout', '0'],
    ['proto-max-bulk-len', String(c.server.proto_max_bulk_len)],
    ['client-query-buffer-limit', String(c.server.client_query_buffer_limit)],
  ];
  for (const key of CONFIG_KEYS as readonly ConfigKey[]) {
    if (key === 'server.requirepass' || key === 'dir') continue;
    const [section, name] = key.split('.') as [keyof typeof c, string];
    out.push([key, configValue((c[section] as unknown as Record<string, unknown>)[name])]);
  }
  return out;
}

const get: CommandDescriptor = {
  name: 'CONFIG|GET',
  arity: -3,
  flags: ['readonly'],
  group: 'server',
  since: '0.1.0',
  summary: 'Returns configuration values matching glob patterns, as a [name, value, ...] array.',
  syntax: 'CONFIG GET parameter [parameter ...]',
  arguments: [{ name: 'parameter', type: 'string', multiple: true }],
  examples: ['CONFIG GET save', 'CONFIG GET partition.*'],
  execute(ctx, args): Reply {
    const patterns = args.map((a) => a.toString('utf8'));
    const found = configParameters(ctx).filter(([name]) => patterns.some((p) => globMatch(p, name)));
    return (e) => {
      e.arrayHeader(found.length * 2);
      for (const [name, value] of found) {
        e.bulkString(name);
        e.bulkString(value);
      }
    };
  },
};

export const config: CommandDescriptor = {
  name: 'CONFIG',
  arity: -2,
  flags: [],
  group: 'server',
  since: '0.1.0',
  summary: 'Configuration subcommands: GET.',
  syntax: 'CONFIG GET parameter [parameter ...]',
  subcommands: [get],
  execute(): Reply {
    throw new Error('unreachable: CONFIG is dispatched to its subcommands');
  },
};
