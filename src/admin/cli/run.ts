/**
 * The operator's command line: a thin shell over the admin functions (../user-admin.ts) on
 * the server's own Redis, configured by the same environment (REDIS_URL or the Cluster or
 * Sentinel settings, REDIS_KEY_PREFIX, and the token and session lifetimes, which the
 * session store's writes depend on). Exit codes: 0 done, 1 bad input (one line on stderr
 * says what), 2 store unavailable.
 */
import { escapeControl, safeText } from '../log-text.js';
import { userInfo } from 'node:os';
import { pino } from 'pino';
import { loadOperatorConfig } from '../../config.js';
import { ConfigError, StoreUnavailableError } from '../../errors.js';
import { createRedisClient, redisConnectionOptions } from '../../revocation/redis-client.js';
import { RedisRevocationStore, type RedisClient } from '../../revocation/redis-store.js';
import { RedisSessionStore } from '../../sessions/redis-session-store.js';
import { withRevocationEvents } from '../../live/publishing-store.js';
import { createRedisEventPublisher } from '../../live/revocation-events.js';
import { withSessionEvents } from '../../live/session-events.js';
import { sessionView, type SessionView } from '../../sessions/session-manager.js';
import { RedisUserStore } from '../../users/redis-user-store.js';
import type { UserRecord } from '../../users/user-store.js';
import { ADMIN_SCOPE, AdminInputError, checkedScopes, createUserAdmin, type AdminActor, type UserAdmin } from '../user-admin.js';

/** Exit codes. */
export const EXIT_OK = 0;
export const EXIT_BAD_INPUT = 1;
export const EXIT_STORE_UNAVAILABLE = 2;

/** Where the command line writes, and what it reads: injected so it runs in tests too. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The audit log's destination (JSON lines). Default: file descriptor 2 (stderr), written synchronously. */
  auditDestination?: pino.DestinationStream;
}

export const USAGE = `Usage: graphql-revoke <command> [arguments]

Acts on the server's Redis, configured by the server's environment: REDIS_URL (or
REDIS_CLUSTER_NODES, or REDIS_SENTINELS with REDIS_SENTINEL_NAME), REDIS_KEY_PREFIX.
A user is given by username or by user id.

Commands:
  grant-scopes <user> <scope>...    add scopes, written into the user's next tokens
  revoke-scopes <user> <scope>...   remove scopes
                                    (adding or removing tokens:admin also ends the user's tokens)
  revoke-user <user>                end every session and access token of the user; prints how many tokens
  disable-user <user>               disable the account and end every session and token of it
  enable-user <user>                let the account sign in again
  sessions <user>                   the user's live sessions, newest first (a table)

Exit codes: 0 done, 1 bad input, 2 store unavailable.
`;

/** A failure that ends the command with an exit code and one line. */
class CliFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new CliFailure(EXIT_BAD_INPUT, message);

/** "1 token", "3 tokens". */
const tokens = (count: number) => `${count} ${count === 1 ? 'token' : 'tokens'}`;

interface Command {
  /** How many user and scope arguments: `scopes` takes one or more after the user. */
  args: 'user' | 'user+scopes';
  run(admin: UserAdmin, actor: AdminActor, user: UserRecord, scopes: string[], out: (line: string) => void): Promise<void>;
}

const COMMANDS: Record<string, Command> = {
  'grant-scopes': {
    args: 'user+scopes',
    async run(admin, actor, user, scopes, out) {
      const result = await admin.grantScopes(actor, user.id, scopes);
      if (!result) throw bad(`No user has id ${JSON.stringify(user.id)}.`);
      out(`Granted ${scopes.join(' ')} to ${result.username} (${result.userId}). Scopes now: ${result.after.join(' ') || '(none)'}.`);
      if (result.before.includes(ADMIN_SCOPE) !== result.after.includes(ADMIN_SCOPE)) {
        out(`${ADMIN_SCOPE} changed: ended every session and token of the user (${tokens(result.tokensRevoked)}).`);
      }
    },
  },
  'revoke-scopes': {
    args: 'user+scopes',
    async run(admin, actor, user, scopes, out) {
      const result = await admin.revokeScopes(actor, user.id, scopes);
      if (!result) throw bad(`No user has id ${JSON.stringify(user.id)}.`);
      out(`Removed ${scopes.join(' ')} from ${result.username} (${result.userId}). Scopes now: ${result.after.join(' ') || '(none)'}.`);
      if (result.before.includes(ADMIN_SCOPE) !== result.after.includes(ADMIN_SCOPE)) {
        out(`${ADMIN_SCOPE} changed: ended every session and token of the user (${tokens(result.tokensRevoked)}).`);
      }
    },
  },
  'revoke-user': {
    args: 'user',
    async run(admin, actor, user, _scopes, out) {
      const count = await admin.revokeUser(actor, user.id);
      out(`Revoked ${tokens(count)} of ${user.username} (${user.id}).`);
    },
  },
  'disable-user': {
    args: 'user',
    async run(admin, actor, user, _scopes, out) {
      const result = await admin.setDisabled(actor, user.id, true);
      if (!result) throw bad(`No user has id ${JSON.stringify(user.id)}.`);
      out(
        `Disabled ${result.username} (${result.userId})${result.wasDisabled ? ' (it already was)' : ''}; revoked ${tokens(result.tokensRevoked)}.`,
      );
    },
  },
  sessions: {
    args: 'user',
    async run(admin, actor, user, _scopes, out) {
      const sessions = await admin.listSessions(actor, user.id);
      if (!sessions) throw bad(`No user has id ${JSON.stringify(user.id)}.`);
      if (sessions.length === 0) return out(`No live session of ${user.username} (${user.id}).`);
      out(`${sessions.length} live ${sessions.length === 1 ? 'session' : 'sessions'} of ${user.username} (${user.id}):`);
      out(sessionTable(sessions).trimEnd());
    },
  },
  'enable-user': {
    args: 'user',
    async run(admin, actor, user, _scopes, out) {
      const result = await admin.setDisabled(actor, user.id, false);
      if (!result) throw bad(`No user has id ${JSON.stringify(user.id)}.`);
      out(`Enabled ${result.username} (${result.userId})${result.wasDisabled ? '' : ' (it was not disabled)'}.`);
    },
  },
};

/** The sessions as a table: a header line, then one line per session, columns padded. */
export function sessionTable(sessions: readonly SessionView[]): string {
  const rows = [
    ['SESSION', 'CREATED', 'LAST USED', 'EXPIRES', 'IP ADDRESS', 'USER AGENT'],
    ...sessions.map((s) => [s.id, s.createdAt, s.lastUsedAt, s.expiresAt, s.ipAddress ?? '-', s.userAgent ?? '-']),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  // The last column is not padded: a user agent is long, and trailing spaces help nobody.
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n') + '\n';
}

/** Checks the arguments before anything connects: bad input never waits for Redis. */
function parse(argv: readonly string[]): { name: string; command: Command; userRef: string; scopes: string[] } {
  const [name, ...rest] = argv;
  if (name === undefined) throw bad('No command given. Run graphql-revoke --help for the commands.');
  const command = COMMANDS[name];
  if (!command) throw bad(`Unknown command ${JSON.stringify(name)}. Run graphql-revoke --help for the commands.`);
  const [userRef, ...scopes] = rest;
  if (userRef === undefined || userRef.trim() === '') {
    throw bad(`${name} needs a user (username or user id)${command.args === 'user+scopes' ? ' and at least one scope' : ''}.`);
  }
  if (command.args === 'user' && scopes.length > 0) throw bad(`${name} takes one user, got extra arguments: ${scopes.join(' ')}.`);
  if (command.args === 'user+scopes') {
    if (scopes.length === 0) throw bad(`${name} needs at least one scope after the user.`);
    try {
      checkedScopes(scopes);
    } catch (error) {
      if (error instanceof AdminInputError) throw bad(error.message);
      throw error;
    }
  }
  return { name, command, userRef, scopes };
}

/** Resolves once the client is ready; rejects at its first error or after `timeoutMs`. */
function whenReady(client: RedisClient, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => done();
    const onError = (error: Error) => done(error);
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    client.once('ready', onReady);
    client.on('error', onError);
  });
}

/** The host:port of a Redis URL, never its credentials. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'REDIS_URL';
  }
}

function osUser(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const fail = (failure: CliFailure) => {
    io.stderr(`graphql-revoke: ${escapeControl(failure.message)}\n`);
    return failure.exitCode;
  };
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout(USAGE);
    return EXIT_OK;
  }
  let client: RedisClient | undefined;
  try {
    const { name, command, userRef, scopes } = parse(argv);
    let config;
    try {
      config = loadOperatorConfig(io.env);
    } catch (error) {
      if (error instanceof ConfigError) throw bad(`configuration error: ${error.message}`);
      throw error;
    }
    const redisConfig = config.redis;
    if (redisConfig.mode === 'none') {
      throw bad('No Redis configured: set REDIS_URL (or REDIS_CLUSTER_NODES, or REDIS_SENTINELS) as for the server.');
    }
    const level = io.env.LOG_LEVEL?.trim() || 'info';
    if (!Object.hasOwn(pino.levels.values, level) && level !== 'silent') {
      throw bad(`configuration error: LOG_LEVEL must be one of ${[...Object.keys(pino.levels.values), 'silent'].join(', ')}, got "${level}"`);
    }
    // Synchronous writes: every audit line is out before the process exits.
    const audit = pino({ level, base: { service: 'graphql-revoke-cli' } }, io.auditDestination ?? pino.destination({ dest: 2, sync: true }));
    client = createRedisClient(redisConnectionOptions(redisConfig));
    const where = redisConfig.url ? hostOf(redisConfig.url) : redisConfig.mode;
    try {
      await whenReady(client, 5000);
    } catch (error) {
      throw new CliFailure(EXIT_STORE_UNAVAILABLE, `store unavailable: cannot reach Redis (${where}): ${(error as Error).message}`);
    }
    const users = new RedisUserStore(client, { keyPrefix: redisConfig.keyPrefix });
    // Every revocation and session end is published on the API's live channel, so the
    // instances close the sockets it names at once (src/live/), as for an admin call over HTTP.
    const events = createRedisEventPublisher({ publisher: client, keyPrefix: redisConfig.keyPrefix });
    const revocations = withRevocationEvents(new RedisRevocationStore({
      client,
      keyPrefix: redisConfig.keyPrefix,
      replicasToAck: redisConfig.minReplicasToAck,
      replicaAckTimeoutMs: redisConfig.replicaAckTimeoutMs,
      // As the server's store: entries outlive exp by the clock tolerance and MAX_CLOCK_SKEW.
      expiryGraceSeconds: config.jwt.clockToleranceSeconds + config.jwt.maxClockSkewSeconds,
      coalesceLookups: false,
    }), { events });
    const sessionStore = withSessionEvents(new RedisSessionStore({
      client,
      keyPrefix: redisConfig.keyPrefix,
      replicasToAck: redisConfig.minReplicasToAck,
      replicaAckTimeoutMs: redisConfig.replicaAckTimeoutMs,
      // As the server's store: how long a cutoff and the ended sessions' markers are kept.
      ...config.sessions,
      accessTokenTtlSeconds: config.jwt.ttlSeconds,
      expiryGraceSeconds: config.jwt.clockToleranceSeconds + config.jwt.maxClockSkewSeconds,
    }), { events });
    // The two session operations an operator needs; signing (start, refresh) stays the server's.
    const sessions = {
      endAll: (userId: string, options: { exceptSessionId?: string | undefined }) => sessionStore.endAllSessions(userId, options),
      list: async (userId: string) => (await sessionStore.listSessions(userId)).map((session) => sessionView(session, false)),
    };
    const admin = createUserAdmin({ users, revocations, sessions, logger: audit });
    const user = await admin.findUser(userRef);
    if (!user) {
      // Every action leaves an audit line, found or not (issue 18); the target cut and escaped.
      audit.info({ actor: { kind: 'cli', osUser: osUser() }, command: name, target: safeText(userRef), outcome: 'unknown-user' }, 'operator action refused: no such user');
      throw bad(`No user is named or has the id ${JSON.stringify(safeText(userRef))}.`);
    }
    // Everything printed is escaped: a user agent (or any stored text) can't drive the operator's terminal.
    await command.run(admin, { kind: 'cli', osUser: osUser() }, user, scopes, (line) => io.stdout(`${escapeControl(line)}\n`));
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CliFailure) return fail(error);
    if (error instanceof AdminInputError) return fail(bad(error.message));
    if (error instanceof StoreUnavailableError) {
      const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
      return fail(new CliFailure(EXIT_STORE_UNAVAILABLE, `store unavailable: ${error.message}${cause}`));
    }
    // The stores wrap their failures in StoreUnavailableError; anything else comes from the
    // Redis client outside a store call (a dropped connection, a refused AUTH): the store, too.
    return fail(new CliFailure(EXIT_STORE_UNAVAILABLE, `unexpected error: ${error instanceof Error ? error.message : String(error)}`));
  } finally {
    if (client) {
      if (client.status === 'ready') await client.quit().catch(() => client?.disconnect());
      else client.disconnect();
    }
  }
}

