/**
 * HELLO: handshake, protocol switch, optional authentication and client name.
 *
 *   HELLO [protover [AUTH username password] [SETNAME clientname]]
 *
 * `protover` is 2 or 3 (anything else: `-NOPROTO unsupported protocol version`); without it the protocol stays as
 * it is. `HELLO 2` makes every later reply on the connection RESP2, starting with this one (shared/README,
 * difference 3; SierraDB itself only accepts `HELLO 3`). When a password is required, HELLO must carry AUTH unless
 * the connection is already authenticated.
 *
 * Reply, a map with BLOB keys (as SierraDB's HELLO and Redis's): server, version, proto, id, mode, role, modules,
 * then SierraDB's peer_id and num_partitions.
 */
import { errorCode, ReplyError } from '../protocol/reply-error.ts';
import { invalidArg, keyword, show } from './arguments.ts';
import { checkCredentials } from './auth.ts';
import { checkClientName } from './client.ts';
import type { CommandDescriptor, Reply } from './command.ts';

export const hello: CommandDescriptor = {
  name: 'HELLO',
  arity: -1,
  flags: ['noauth', 'fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Handshakes with the server: protocol version (2 or 3), optional AUTH and client name.',
  syntax: 'HELLO [protover [AUTH username password] [SETNAME clientname]]',
  arguments: [
    {
      name: 'arguments',
      type: 'block',
      optional: true,
      arguments: [
        { name: 'protover', type: 'integer' },
        {
          name: 'auth',
          type: 'block',
          token: 'AUTH',
          optional: true,
          arguments: [
            { name: 'username', type: 'string' },
            { name: 'password', type: 'string' },
          ],
        },
        { name: 'clientname', type: 'string', token: 'SETNAME', optional: true },
      ],
    },
  ],
  examples: ['HELLO 3', 'HELLO 2', 'HELLO 3 AUTH default s3cret SETNAME worker-1'],
  execute(ctx, args): Reply {
    let protocol: 2 | 3 | undefined;
    let i = 0;
    if (args.length > 0) {
      const s = args[0].toString('latin1');
      if (!/^-?\d{1,19}$/.test(s)) throw invalidArg('protocol version is not an integer or out of range');
      const v = Number(s);
      if (v !== 2 && v !== 3) throw new ReplyError(errorCode.NOPROTO, 'unsupported protocol version');
      protocol = v;
      i = 1;
    }
    let user: Buffer | undefined;
    let password: Buffer | undefined;
    let name: string | undefined;
    while (i < args.length) {
      const option = keyword(args[i]);
      if (option === 'AUTH' && i + 2 < args.length) {
        user = args[i + 1];
        password = args[i + 2];
        i += 3;
      } else if (option === 'SETNAME' && i + 1 < args.length) {
        name = checkClientName(args[i + 1]);
        i += 2;
      } else {
        throw invalidArg(`syntax error in HELLO option ${show(args[i])}`);
      }
    }
    const c = ctx.connection;
    if (password !== undefined) {
      checkCredentials(ctx.config, user, password);
      c.authenticated = true;
    } else if (ctx.config.server.requirepass !== undefined && !c.authenticated) {
      throw new ReplyError(
        errorCode.NOAUTH,
        'HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      );
    }
    if (name !== undefined) c.name = name === '' ? undefined : name;
    if (protocol !== undefined) c.protocol = protocol;
    const proto = c.protocol;
    const { server } = ctx;
    const partitions = ctx.db.partitionCount;
    return (e) => {
      // The switch happens here, in reply order: earlier replies are already written in the old protocol.
      e.protocol = proto;
      e.mapHeader(9);
      e.bulkString('server');
      e.bulkString('sierradb');
      e.bulkString('version');
      e.bulkString(server.version);
      e.bulkString('proto');
      e.integer(proto);
      e.bulkString('id');
      e.integer(c.id);
      e.bulkString('mode');
      e.bulkString('standalone');
      e.bulkString('role');
      e.bulkString('master');
      e.bulkString('modules');
      e.arrayHeader(0);
      e.bulkString('peer_id');
      e.bulkString(server.peerId);
      e.bulkString('num_partitions');
      e.integer(partitions);
    };
  },
};
