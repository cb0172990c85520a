/**
 * SELECT: there is one database, number 0; `SELECT 0` replies `+OK` (clients send it on connect) and any other
 * index is an error.
 */
import { invalidArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

export const select: CommandDescriptor = {
  name: 'SELECT',
  arity: 2,
  flags: ['fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Selects database 0, the only one.',
  syntax: 'SELECT index',
  arguments: [{ name: 'index', type: 'integer' }],
  examples: ['SELECT 0'],
  execute(_ctx, args): Reply {
    const s = args[0].toString('latin1');
    if (!/^-?\d{1,19}$/.test(s)) throw invalidArg('value is not an integer or out of range');
    if (Number(s) !== 0) throw invalidArg('DB index is out of range');
    return (e) => e.simpleString('OK');
  },
};
