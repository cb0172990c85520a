/**
 * The command table: every command the server answers, as data. Dispatch, the arity check, the authentication
 * check, `COMMAND`/`COMMAND DOCS`/`COMMAND INFO` and the README's command reference
 * (`npm run docs:commands`) all come from this one list, as Redis generates them from `src/commands/*.json`.
 *
 * Dispatch rules (checked in Redis's order: name, arity, then authentication):
 *   - Names and subcommand names are case-insensitive. An unknown command gets
 *     `-INVALIDARG unknown command 'FOO'` (the name upper-cased, as SierraDB writes it) and the connection goes on.
 *   - A command with subcommands (CLIENT, CONFIG, COMMAND) takes the subcommand from its second argument; an
 *     unknown one gets `-INVALIDARG unknown subcommand 'X' for 'CLIENT'`.
 *   - Arity counts the name (and the subcommand), Redis's convention: N means exactly N, -N at least N. A wrong
 *     count gets `-INVALIDARG wrong number of arguments for 'eappend' command`: Redis's text, SierraDB's code
 *     (SierraDB answers every argument error with INVALIDARG, and its clients read the code).
 *   - With `server.requirepass` set, a connection that has not authenticated may only run commands flagged
 *     `noauth` (HELLO, AUTH, QUIT); anything else gets `-NOAUTH Authentication required.`
 */
import type { Config } from '../config/config-schema.ts';
import { errorCode, ReplyError } from '../protocol/reply-error.ts';
import { invalidArg, wrongArity } from './arguments.ts';
import { auth } from './auth.ts';
import { client } from './client.ts';
import type { CommandDescriptor, ConnectionState } from './command.ts';
import { command } from './command-command.ts';
import { config } from './config-get.ts';
import { eack } from './eack.ts';
import { eappend } from './eappend.ts';
import { eget } from './eget.ts';
import { emappend } from './emappend.ts';
import { epscan } from './epscan.ts';
import { epseq } from './epseq.ts';
import { epsub } from './epsub.ts';
import { escan } from './escan.ts';
import { esub } from './esub.ts';
import { esver } from './esver.ts';
import { eunsub } from './eunsub.ts';
import { hello } from './hello.ts';
import { info } from './info.ts';
import { ping } from './ping.ts';
import { quit } from './quit.ts';
import { select } from './select.ts';
import { subscribe } from './subscribe.ts';
import { unsubscribe } from './unsubscribe.ts';
import { keywordText, keywordTextAt } from './keyword-text.ts';
import type { RequestArguments } from '../protocol/request-arguments.ts';

const COMMANDS: readonly CommandDescriptor[] = [
  // SierraDB's event commands.
  eappend,
  emappend,
  eget,
  escan,
  esver,
  epscan,
  epseq,
  // Subscriptions: SierraDB's (ESUB, EPSUB, EACK), ours (EUNSUB), and Redis's live tail (SUBSCRIBE, UNSUBSCRIBE).
  esub,
  epsub,
  eack,
  eunsub,
  subscribe,
  unsubscribe,
  // Connection and server commands real clients send.
  hello,
  auth,
  ping,
  quit,
  select,
  client,
  info,
  config,
  command,
];

interface Entry {
  readonly descriptor: CommandDescriptor;
  readonly subcommands: ReadonlyMap<string, CommandDescriptor> | undefined;
}

const table = new Map<string, Entry>();
for (const d of COMMANDS) {
  if (d.name !== d.name.toUpperCase() || d.name.includes('|')) throw new Error(`command name must be upper case: ${d.name}`);
  if (d.arity === 0 || !Number.isInteger(d.arity)) throw new Error(`bad arity for ${d.name}`);
  if (table.has(d.name)) throw new Error(`command registered twice: ${d.name}`);
  let subcommands: Map<string, CommandDescriptor> | undefined;
  if (d.subcommands !== undefined) {
    subcommands = new Map();
    for (const s of d.subcommands) {
      const [parent, sub] = s.name.split('|');
      if (parent !== d.name || sub === undefined || sub !== sub.toUpperCase()) throw new Error(`bad subcommand name ${s.name}`);
      if (!(Math.abs(s.arity) >= 2)) throw new Error(`bad arity for ${s.name}`);
      subcommands.set(sub, s);
    }
  }
  table.set(d.name, { descriptor: d, subcommands });
}

/** Every command, in table order. */
export function allCommands(): readonly CommandDescriptor[] {
  return COMMANDS;
}

/** A command or subcommand by name (`eappend`, `CLIENT|SETNAME`, `client setname`), case-insensitive. */
export function findCommand(name: string): CommandDescriptor | undefined {
  const [parent, sub] = name.toUpperCase().split(/[| ]/, 2);
  const entry = table.get(parent);
  if (entry === undefined) return undefined;
  return sub === undefined ? entry.descriptor : entry.subcommands?.get(sub);
}

/** Longest command name shown in an "unknown command" error. */
const NAME_SHOWN_CHARS_MAX = 128;

export interface Resolved {
  readonly descriptor: CommandDescriptor;
  /** The arguments after the name (and subcommand). */
  readonly args: Buffer[];
}

/** Finds the command for a request and checks its arity; throws the error reply otherwise. */
export function resolveCommand(request: Buffer[]): Resolved {
  const nameArg = request[0];
  const name = keywordText(nameArg);
  const entry = table.get(name);
  if (entry === undefined) {
    const shown = nameArg.toString('utf8', 0, Math.min(nameArg.length, 4 * NAME_SHOWN_CHARS_MAX)).toUpperCase();
    throw invalidArg(`unknown command '${shown.length > NAME_SHOWN_CHARS_MAX ? `${shown.slice(0, NAME_SHOWN_CHARS_MAX)}...` : shown}'`);
  }
  let descriptor = entry.descriptor;
  let skip = 1;
  if (entry.subcommands !== undefined && request.length >= 2) {
    const subArg = request[1];
    const sub = entry.subcommands.get(keywordText(subArg));
    if (sub === undefined) {
      throw invalidArg(`unknown subcommand '${subArg.toString('utf8', 0, Math.min(subArg.length, NAME_SHOWN_CHARS_MAX))}' for '${name}'`);
    }
    descriptor = sub;
    skip = 2;
  }
  const n = request.length;
  if (descriptor.arity > 0 ? n !== descriptor.arity : n < -descriptor.arity) throw wrongArity(descriptor.name);
  return { descriptor, args: skip === 1 ? request.slice(1) : request.slice(2) };
}

/**
 * The command of a request read in place, when it has an in-place path (CommandDescriptor.executeInPlace) and
 * the request has its arity; otherwise undefined (the request goes through resolveCommand).
 */
export function findInPlace(request: RequestArguments): CommandDescriptor | undefined {
  const entry = table.get(keywordTextAt(request.buffers[0], request.starts[0], request.ends[0]));
  const descriptor = entry?.descriptor;
  if (descriptor?.executeInPlace === undefined) return undefined;
  const n = request.count;
  return (descriptor.arity > 0 ? n === descriptor.arity : n >= -descriptor.arity) ? descriptor : undefined;
}

/** `-NOAUTH Authentication required.` when a password is set, the connection has not given it, and the command needs it. */
export function checkAuthenticated(descriptor: CommandDescriptor, connection: ConnectionState, config: Config): void {
  if (connection.authenticated || config.server.requirepass === undefined) return;
  if (descriptor.flags.includes('noauth')) return;
  throw new ReplyError(errorCode.NOAUTH, 'Authentication required.');
}
