/**
 * PING: liveness check.
 *
 *   PING [message]
 *
 * Replies `+PONG`, or the message as a bulk string (Redis's form; SierraDB takes no argument).
 */
import { wrongArity } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

export const ping: CommandDescriptor = {
  name: 'PING',
  arity: -1,
  flags: ['fast'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Replies PONG, or echoes the message.',
  syntax: 'PING [message]',
  arguments: [{ name: 'message', type: 'string', optional: true }],
  examples: ['PING'],
  execute(_ctx, args): Reply {
    if (args.length > 1) throw wrongArity('PING');
    if (args.length === 0) return (e) => e.simpleString('PONG');
    const message = Buffer.from(args[0]);
    return (e) => e.bulkString(message);
  },
};
