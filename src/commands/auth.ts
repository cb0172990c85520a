/**
 * AUTH: authenticate the connection when `server.requirepass` is set (Redis's `requirepass`, one user `default`).
 *
 *   AUTH [username] password
 *
 * Replies `+OK`, or `-WRONGPASS invalid username-password pair or user is disabled.` With no password configured,
 * `AUTH <password>` is an error (as in Redis) and `AUTH default <anything>` succeeds (the default user has no
 * password).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/config-schema.ts';
import { errorCode, ReplyError } from '../protocol/reply-error.ts';
import { invalidArg } from './arguments.ts';
import type { CommandDescriptor, Reply } from './command.ts';

export const DEFAULT_USER = 'default';

export const wrongPass = (): ReplyError => new ReplyError(errorCode.WRONGPASS, 'invalid username-password pair or user is disabled.');

function digest(b: Buffer | string): Buffer {
  return createHash('sha256').update(b).digest();
}

/** Throws WRONGPASS unless `user`/`password` match the configuration. Comparison is constant-time. */
export function checkCredentials(config: Config, user: Buffer | undefined, password: Buffer): void {
  const required = config.server.requirepass;
  const userOk = user === undefined || user.toString('utf8') === DEFAULT_USER;
  if (required === undefined) {
    if (user === undefined) {
      throw new ReplyError(
        errorCode.ERR,
        'AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
      );
    }
    if (!userOk) throw wrongPass();
    return;
  }
  const passwordOk = timingSafeEqual(digest(password), digest(required));
  if (!(userOk && passwordOk)) throw wrongPass();
}

export const auth: CommandDescriptor = {
  name: 'AUTH',
  arity: -2,
  flags: ['noauth', 'fast', 'connection'],
  group: 'connection',
  since: '0.1.0',
  summary: 'Authenticates the connection (when server.requirepass is set).',
  syntax: 'AUTH [username] password',
  arguments: [
    { name: 'username', type: 'string', optional: true },
    { name: 'password', type: 'string' },
  ],
  examples: ['AUTH s3cret', 'AUTH default s3cret'],
  execute(ctx, args): Reply {
    if (args.length > 2) throw invalidArg('syntax error: AUTH takes [username] password');
    const [user, password] = args.length === 2 ? [args[0], args[1]] : [undefined, args[0]];
    checkCredentials(ctx.config, user, password);
    ctx.connection.authenticated = true;
    return (e) => e.simpleString('OK');
  },
};
