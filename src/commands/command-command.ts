/**
 * COMMAND: the command table, introspected (`src/commands/command.ts` is the descriptor contract, hence this name).
 *
 *   COMMAND                     -> every command's info (redis-cli 7.0 builds its hints from this)
 *   COMMAND COUNT               -> :number of commands
 *   COMMAND INFO [name ...]     -> info of the named commands (null for unknown ones), or of all
 *   COMMAND DOCS [name ...]     -> map name -> docs (summary, since, group, arguments, subcommands); redis-cli 7.2+
 *                                  builds its argument hints from this
 *   COMMAND LIST                -> every command name
 *
 * Info per command, as Redis 7: `*10 [name, arity, flags, first key, last key, key step, ACL categories, tips,
 * key specs, subcommands]`, names lower-case. Events are not Redis keys (no cluster slots), so the key positions
 * are 0. Everything comes from the table in `command-table.ts`, which imports this file: the table is only read
 * when a COMMAND runs, after both modules have loaded.
 */
import type { RespEncoder } from '../protocol/resp-encoder.ts';
import { allCommands, findCommand } from './command-table.ts';
import type { ArgumentSpec, CommandDescriptor, CommandFlag, Reply } from './command.ts';

const FLAG_NAMES: Partial<Record<CommandFlag, string>> = {
  write: 'write',
  readonly: 'readonly',
  fast: 'fast',
  noauth: 'no_auth',
  pubsub: 'pubsub',
};

export function writeCommandInfo(e: RespEncoder, c: CommandDescriptor): void {
  e.arrayHeader(10);
  e.bulkString(c.name.toLowerCase());
  e.integer(c.arity);
  const flags = c.flags.map((f) => FLAG_NAMES[f]).filter((f): f is string => f !== undefined);
  e.setHeader(flags.length);
  for (const f of flags) e.simpleString(f);
  e.integer(0);
  e.integer(0);
  e.integer(0);
  e.setHeader(1);
  e.simpleString(`@${c.group}`);
  e.setHeader(0);
  e.arrayHeader(0);
  const subs = c.subcommands ?? [];
  e.arrayHeader(subs.length);
  for (const s of subs) writeCommandInfo(e, s);
}

function writeArgument(e: RespEncoder, a: ArgumentSpec): void {
  const flags = [...(a.optional === true ? ['optional'] : []), ...(a.multiple === true ? ['multiple'] : [])];
  const fields = 2 + (a.token !== undefined ? 1 : 0) + (flags.length > 0 ? 1 : 0) + (a.arguments !== undefined ? 1 : 0);
  e.mapHeader(fields);
  e.bulkString('name');
  e.bulkString(a.name);
  e.bulkString('type');
  e.bulkString(a.type);
  if (a.token !== undefined) {
    e.bulkString('token');
    e.bulkString(a.token);
  }
  if (flags.length > 0) {
    e.bulkString('flags');
    e.setHeader(flags.length);
    for (const f of flags) e.simpleString(f);
  }
  if (a.arguments !== undefined) {
    e.bulkString('arguments');
    e.arrayHeader(a.arguments.length);
    for (const sub of a.arguments) writeArgument(e, sub);
  }
}

export function writeCommandDocs(e: RespEncoder, c: CommandDescriptor): void {
  const fields = 4 + (c.arguments !== undefined ? 1 : 0) + (c.subcommands !== undefined ? 1 : 0);
  e.mapHeader(fields);
  e.bulkString('summary');
  e.bulkString(c.summary);
  e.bulkString('since');
  e.bulkString(c.since);
  e.bulkString('group');
  e.bulkString(c.group);
  e.bulkString('complexity');
  e.bulkString(c.flags.includes('fast') ? 'O(1)' : 'O(N)');
  if (c.arguments !== undefined) {
    e.bulkString('arguments');
    e.arrayHeader(c.arguments.length);
    for (const a of c.arguments) writeArgument(e, a);
  }
  if (c.subcommands !== undefined) {
    e.bulkString('subcommands');
    e.mapHeader(c.subcommands.length);
    for (const s of c.subcommands) {
      e.bulkString(s.name.toLowerCase());
      writeCommandDocs(e, s);
    }
  }
}

/** The named commands that exist (names are case-insensitive); all of them when no name is given. */
function selected(args: Buffer[]): CommandDescriptor[] {
  if (args.length === 0) return [...allCommands()];
  return args.map((a) => findCommand(a.toString('utf8'))).filter((c): c is CommandDescriptor => c !== undefined);
}

const count: CommandDescriptor = {
  name: 'COMMAND|COUNT',
  arity: 2,
  flags: ['fast'],
  group: 'server',
  since: '0.1.0',
  summary: 'Returns the number of commands.',
  syntax: 'COMMAND COUNT',
  examples: ['COMMAND COUNT'],
  execute(): Reply {
    const n = allCommands().length;
    return (e) => e.integer(n);
  },
};

const docs: CommandDescriptor = {
  name: 'COMMAND|DOCS',
  arity: -2,
  flags: [],
  group: 'server',
  since: '0.1.0',
  summary: 'Returns the documentation of commands (all of them by default), for client hints.',
  syntax: 'COMMAND DOCS [command-name ...]',
  arguments: [{ name: 'command-name', type: 'string', optional: true, multiple: true }],
  examples: ['COMMAND DOCS', 'COMMAND DOCS EAPPEND'],
  execute(_ctx, args): Reply {
    const commands = selected(args);
    return (e) => {
      e.mapHeader(commands.length);
      for (const c of commands) {
        e.bulkString(c.name.toLowerCase());
        writeCommandDocs(e, c);
      }
    };
  },
};

const infoSub: CommandDescriptor = {
  name: 'COMMAND|INFO',
  arity: -2,
  flags: [],
  group: 'server',
  since: '0.1.0',
  summary: 'Returns the info of commands (all of them by default); null for an unknown name.',
  syntax: 'COMMAND INFO [command-name ...]',
  arguments: [{ name: 'command-name', type: 'string', optional: true, multiple: true }],
  examples: ['COMMAND INFO EAPPEND ESCAN'],
  execute(_ctx, args): Reply {
    const commands = args.length === 0 ? [...allCommands()] : args.map((a) => findCommand(a.toString('utf8')));
    return (e) => {
      e.arrayHeader(commands.length);
      for (const c of commands) {
        if (c === undefined) e.nullArray();
        else writeCommandInfo(e, c);
      }
    };
  },
};

const list: CommandDescriptor = {
  name: 'COMMAND|LIST',
  arity: 2,
  flags: [],
  group: 'server',
  since: '0.1.0',
  summary: 'Returns the names of all commands.',
  syntax: 'COMMAND LIST',
  examples: ['COMMAND LIST'],
  execute(): Reply {
    const names = allCommands().map((c) => c.name.toLowerCase());
    return (e) => {
      e.arrayHeader(names.length);
      for (const n of names) e.bulkString(n);
    };
  },
};

export const command: CommandDescriptor = {
  name: 'COMMAND',
  arity: -1,
  flags: [],
  group: 'server',
  since: '0.1.0',
  summary: 'Describes the commands: COUNT, DOCS, INFO, LIST; alone, the info of every command.',
  syntax: 'COMMAND [COUNT | DOCS [name ...] | INFO [name ...] | LIST]',
  subcommands: [count, docs, infoSub, list],
  examples: ['COMMAND DOCS EAPPEND'],
  execute(): Reply {
    const commands = allCommands();
    return (e) => {
      e.arrayHeader(commands.length);
      for (const c of commands) writeCommandInfo(e, c);
    };
  },
};
