/**
 * CLIENT: the connection subcommands real clients send while connecting.
 *
 *   CLIENT SETINFO <LIB-NAME libname | LIB-VER libver>   -> +OK   (node-redis, redis-py and others send these)
 *   CLIENT SETNAME <connection-name>                      -> +OK   (an empty name clears it)
 *   CLIENT GETNAME                                        -> $name, or null
 *   CLIENT ID                                             -> :id
 *
 * Names and library attributes may not contain spaces, newlines or other special characters (as in Redis).
 */
import { invalidArg, keyword, show } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

/** Validates a client name or library attribute: printable ASCII without spaces (bytes 33..126), or empty. */
export function checkClientName(arg: Buffer): string {
  for (const b of arg) {
    if (b < 33 || b > 126) throw invalidArg('Client names cannot contain spaces, newlines or special characters.');
  }
  return arg.toString('latin1');
}

const ok: Reply = (e) => e.simpleString('OK');

const setinfo: CommandDescriptor = {
  name: 'CLIENT|SETINFO',
  arity: 4,
  flags: ['fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: "Records the client library's name or version.",
  syntax: 'CLIENT SETINFO LIB-NAME libname | LIB-VER libver',
  arguments: [
    {
      name: 'attr',
      type: 'oneof',
      arguments: [
        { name: 'libname', type: 'string', token: 'LIB-NAME' },
        { name: 'libver', type: 'string', token: 'LIB-VER' },
      ],
    },
  ],
  examples: ['CLIENT SETINFO LIB-NAME node-redis'],
  execute(ctx, args): Reply {
    const attr = keyword(args[0]);
    if (attr !== 'LIB-NAME' && attr !== 'LIB-VER') throw invalidArg(`unrecognized option ${show(args[0])}`);
    for (const b of args[1]) {
      if (b < 33 || b > 126) throw invalidArg(`${attr.toLowerCase()} cannot contain spaces, newlines or special characters.`);
    }
    const value = args[1].toString('latin1');
    if (attr === 'LIB-NAME') ctx.connection.libName = value;
    else ctx.connection.libVersion = value;
    return ok;
  },
};

const setname: CommandDescriptor = {
  name: 'CLIENT|SETNAME',
  arity: 3,
  flags: ['fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Names the connection.',
  syntax: 'CLIENT SETNAME connection-name',
  arguments: [{ name: 'connection-name', type: 'string' }],
  examples: ['CLIENT SETNAME projector-1'],
  execute(ctx, args): Reply {
    const name = checkClientName(args[0]);
    ctx.connection.name = name === '' ? undefined : name;
    return ok;
  },
};

const getname: CommandDescriptor = {
  name: 'CLIENT|GETNAME',
  arity: 2,
  flags: ['fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: "Returns the connection's name, or null.",
  syntax: 'CLIENT GETNAME',
  examples: ['CLIENT GETNAME'],
  execute(ctx): Reply {
    const name = ctx.connection.name;
    return (e) => {
      if (name === undefined) e.null();
      else e.bulkString(name);
    };
  },
};

const id: CommandDescriptor = {
  name: 'CLIENT|ID',
  arity: 2,
  flags: ['fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: "Returns the connection's id.",
  syntax: 'CLIENT ID',
  examples: ['CLIENT ID'],
  execute(ctx): Reply {
    const connectionId = ctx.connection.id;
    return (e) => e.integer(connectionId);
  },
};

export const client: CommandDescriptor = {
  name: 'CLIENT',
  arity: -2,
  flags: ['connection'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Connection subcommands: SETINFO, SETNAME, GETNAME, ID.',
  syntax: 'CLIENT SETINFO|SETNAME|GETNAME|ID ...',
  subcommands: [setinfo, setname, getname, id],
  execute(): Reply {
    throw new Error('unreachable: CLIENT is dispatched to its subcommands');
  },
};
