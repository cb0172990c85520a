/**
 * QUIT: replies `+OK` and closes the connection once the reply (and every reply before it) is written. Requests
 * pipelined after QUIT are not executed.
 */
import type { CommandDescriptor, Reply } from './command.ts';

export const quit: CommandDescriptor = {
  name: 'QUIT',
  arity: -1,
  flags: ['noauth', 'fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Closes the connection after replying OK.',
  syntax: 'QUIT',
  examples: ['QUIT'],
  execute(ctx): Reply {
    ctx.connection.closeAfterReply();
    return (e) => e.simpleString('OK');
  },
};
