import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The JSON logger. Authorization headers and anything named like a secret are redacted
 * as a second line of defence: code never logs a raw token or password on purpose.
 */
export function createLogger(level = 'info'): Logger {
  return pino({
    level,
    base: { service: 'graphql-revoke' },
    redact: {
      paths: [
        'token', 'accessToken', 'password', 'authorization', '*.token', '*.accessToken', '*.password', '*.authorization', 'req.headers.authorization',
        // ioredis errors carry the failed command with its arguments: a user's password hash
        // (HSET of a sign-up), token ids. The command name stays; the arguments go.
        'err.command.args', '*.err.command.args',
      ],
      censor: '[redacted]',
    },
  });
}
