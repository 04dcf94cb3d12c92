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
import { loadOperatorConfig } from '../../config/index.js';
import { ConfigError, StoreUnavailableError } from '../../errors.js';
import { createRedisClient, redisConnectionOptions } from '../../redis/redis-client.js';
import type { Cluster, Redis } from 'ioredis';
import { createKeySpace } from '../../redis/keys.js';
import type { RedisClient } from '../../redis/redis-client-type.js';
import { withRevocationEvents } from '../../live/publishing-store.js';
import { createRedisEventPublisher } from '../../live/revocation-events.js';
import { withSessionEvents } from '../../live/session-events.js';
import { sessionView, type SessionView } from '../../sessions/session-manager.js';
import { createRedisStores } from '../../server/create-stores.js';
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

export const USAGE = `Usage: graphql-revoke <command> [arguments] [--json]

Acts on the server's Redis, configured by the server's environment: REDIS_URL (or
REDIS_CLUSTER_NODES, or REDIS_SENTINELS with REDIS_SENTINEL_NAME), REDIS_KEY_PREFIX.
A user is given by username or by user id. A user id the built-in user store has no record
of (a user of your app's own store) is taken as given by revoke-user, sessions and user;
scopes and the disabled state live in the built-in store's records, so those commands need one.

Commands:
  user <user>                       the user's id, username, scopes, disabled state and live session count
  grant-scopes <user> <scope>...    add scopes, written into the user's next tokens
  revoke-scopes <user> <scope>...   remove scopes
                                    (adding or removing tokens:admin also ends the user's tokens)
  revoke-user <user>                end every session and access token of the user; prints how many tokens
  disable-user <user>               disable the account and end every session and token of it
  enable-user <user>                let the account sign in again
  sessions <user>                   the user's live sessions, newest first (a table)

Options:
  --json                            print the result as one JSON object (for scripts)

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

/** Longest user id or username accepted on the command line. */
const MAX_USER_REF_LENGTH = 256;

/** The user a command acts on: a record of the built-in user store, or only an id. */
type Target = { readonly id: string; readonly record: UserRecord | undefined };

/** What a command prints: lines for a person, one object for a script (--json). */
interface Output {
  readonly lines: readonly string[];
  readonly json: Record<string, unknown>;
}

/** "alice (5b0c…)", or "user id 5b0c… (no built-in user record)". */
function who(target: Target): string {
  return target.record ? `${target.record.username} (${target.id})` : `user id ${target.id} (no built-in user record)`;
}

/** The target as the JSON output names it. */
function whoJson(target: Target): { userId: string; username: string | null; userRecord: boolean } {
  return { userId: target.id, username: target.record?.username ?? null, userRecord: target.record !== undefined };
}

interface Command {
  /** How many user and scope arguments: `scopes` takes one or more after the user. */
  args: 'user' | 'user+scopes';
  /** The command changes or reads the built-in user record (scopes, disabled): an id without one is refused. */
  needsRecord: boolean;
  run(admin: UserAdmin, actor: AdminActor, target: Target, scopes: string[]): Promise<Output>;
}

function scopeCommand(action: 'grantScopes' | 'revokeScopes'): Command {
  return {
    args: 'user+scopes',
    needsRecord: true,
    async run(admin, actor, target, scopes) {
      const result = await admin[action](actor, target.id, scopes);
      if (!result) throw bad(`No user has id ${JSON.stringify(target.id)}.`);
      const verb = action === 'grantScopes' ? `Granted ${scopes.join(' ')} to` : `Removed ${scopes.join(' ')} from`;
      const lines = [`${verb} ${result.username} (${result.userId}). Scopes now: ${result.after.join(' ') || '(none)'}.`];
      if (result.before.includes(ADMIN_SCOPE) !== result.after.includes(ADMIN_SCOPE)) {
        lines.push(`${ADMIN_SCOPE} changed: ended every session and token of the user (${tokens(result.tokensRevoked)}).`);
      }
      return {
        lines,
        json: { ...whoJson(target), username: result.username, scopes, before: result.before, after: result.after, tokensRevoked: result.tokensRevoked },
      };
    },
  };
}

const COMMANDS: Record<string, Command> = {
  user: {
    args: 'user',
    needsRecord: false,
    async run(admin, actor, target) {
      const summary = await admin.showUser(actor, target.id);
      if (!summary) throw bad(`No user has id ${JSON.stringify(target.id)}.`);
      const lines = summary.userRecord
        ? [
            `id: ${summary.userId}`,
            `username: ${summary.username}`,
            `scopes: ${summary.scopes?.join(' ') || '(none)'}`,
            `disabled: ${summary.disabled ? 'yes' : 'no'}`,
          ]
        : [
            `id: ${summary.userId}`,
            'username: - (no built-in user record: a user of your app\'s own store, or no such user)',
            'scopes: - (kept by your app\'s user store)',
            'disabled: - (kept by your app\'s user store)',
          ];
      lines.push(`live sessions: ${summary.sessions}`);
      return {
        lines,
        json: { ...whoJson(target), scopes: summary.scopes ?? null, disabled: summary.disabled ?? null, sessions: summary.sessions },
      };
    },
  },
  'grant-scopes': scopeCommand('grantScopes'),
  'revoke-scopes': scopeCommand('revokeScopes'),
  'revoke-user': {
    args: 'user',
    needsRecord: false,
    async run(admin, actor, target) {
      const count = await admin.revokeUser(actor, target.id);
      return { lines: [`Revoked ${tokens(count)} of ${who(target)}.`], json: { ...whoJson(target), tokensRevoked: count } };
    },
  },
  'disable-user': {
    args: 'user',
    needsRecord: true,
    async run(admin, actor, target) {
      const result = await admin.setDisabled(actor, target.id, true);
      if (!result) throw bad(`No user has id ${JSON.stringify(target.id)}.`);
      return {
        lines: [`Disabled ${result.username} (${result.userId})${result.wasDisabled ? ' (it already was)' : ''}; revoked ${tokens(result.tokensRevoked)}.`],
        json: { ...whoJson(target), disabled: true, wasDisabled: result.wasDisabled, tokensRevoked: result.tokensRevoked },
      };
    },
  },
  'enable-user': {
    args: 'user',
    needsRecord: true,
    async run(admin, actor, target) {
      const result = await admin.setDisabled(actor, target.id, false);
      if (!result) throw bad(`No user has id ${JSON.stringify(target.id)}.`);
      return {
        lines: [`Enabled ${result.username} (${result.userId})${result.wasDisabled ? '' : ' (it was not disabled)'}.`],
        json: { ...whoJson(target), disabled: false, wasDisabled: result.wasDisabled, tokensRevoked: 0 },
      };
    },
  },
  sessions: {
    args: 'user',
    needsRecord: false,
    async run(admin, actor, target) {
      const sessions = await admin.listSessions(actor, target.id);
      if (!sessions) throw bad(`No user has id ${JSON.stringify(target.id)}.`);
      const json = { ...whoJson(target), sessions };
      if (sessions.length === 0) return { lines: [`No live session of ${who(target)}.`], json };
      return {
        lines: [`${sessions.length} live ${sessions.length === 1 ? 'session' : 'sessions'} of ${who(target)}:`, sessionTable(sessions).trimEnd()],
        json,
      };
    },
  },
};

/**
 * Every result the command line prints goes through here: text lines, or with --json one JSON
 * object (the command's name first) on one line.
 */
function print(io: CliIo, command: string, output: Output, json: boolean): void {
  // Everything printed is escaped: a user agent (or any stored text) can't drive the operator's
  // terminal. JSON escapes C0 itself; DEL and C1 (0x9B is a CSI) become \u escapes, still valid JSON.
  if (json) io.stdout(`${JSON.stringify({ command, ...output.json }).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}\n`);
  else for (const line of output.lines) io.stdout(`${escapeControl(line)}\n`);
}

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
function parse(argv: readonly string[]): { name: string; command: Command; userRef: string; scopes: string[]; json: boolean } {
  const json = argv.includes('--json');
  const [name, ...rest] = argv.filter((arg) => arg !== '--json');
  if (name === undefined) throw bad('No command given. Run graphql-revoke --help for the commands.');
  const command = COMMANDS[name];
  if (!command) throw bad(`Unknown command ${JSON.stringify(name)}. Run graphql-revoke --help for the commands.`);
  const [userRef, ...scopes] = rest;
  if (userRef === undefined || userRef.trim() === '') {
    throw bad(`${name} needs a user (username or user id)${command.args === 'user+scopes' ? ' and at least one scope' : ''}.`);
  }
  // eslint-disable-next-line no-control-regex
  if (userRef.length > MAX_USER_REF_LENGTH || /[\u0000-\u001f\u007f-\u009f]/.test(userRef)) {
    throw bad(`A user is a username or a user id of 1 to ${MAX_USER_REF_LENGTH} characters, without control characters.`);
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
  return { name, command, userRef, scopes, json };
}

/**
 * Does Redis hold any key under the key space (every master of a Cluster)? A bounded SCAN:
 * undefined when it cannot tell (a very large keyspace, or SCAN refused by an ACL).
 */
async function holdsKeySpaceData(client: RedisClient, pattern: string): Promise<boolean | undefined> {
  const nodes: Redis[] = (client as Cluster).isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  try {
    for (const node of nodes) {
      let cursor = '0';
      for (let round = 0; ; round += 1) {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length > 0) return true;
        cursor = next;
        if (cursor === '0') break;
        if (round >= 100) return undefined;
      }
    }
    return false;
  } catch {
    return undefined;
  }
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

/** The database number of a Redis URL (`/3`), 0 when it names none. */
function databaseOf(url: string): string {
  try {
    return /^\/(\d+)/.exec(new URL(url).pathname)?.[1] ?? '0';
  } catch {
    return '0';
  }
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
    const { name, command, userRef, scopes, json } = parse(argv);
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
    const keySpace = createKeySpace(redisConfig.keyPrefix);
    if ((await holdsKeySpaceData(client, keySpace.everyKeyPattern())) === false) {
      const database = redisConfig.url ? ` (database ${databaseOf(redisConfig.url)})` : '';
      io.stderr(
        `graphql-revoke: warning: the Redis at ${where}${database} holds no graphql-revoke data under the key prefix ` +
          `${JSON.stringify(redisConfig.keyPrefix)} (no key matches ${keySpace.everyKeyPattern()}): is this the server's Redis database, ` +
          'and REDIS_KEY_PREFIX the one the server uses? Every user looks unknown here.\n',
      );
    }
    // The server's own store set-up (src/server/create-stores.ts): the same key prefix, grace
    // rule and session lifetimes; no lookup coalescing for a process that makes a few calls.
    const stores = createRedisStores(config, { client, coalesceLookups: false });
    const users = stores.users;
    // Every revocation and session end is published on the API's live channel, so the
    // instances close the sockets it names at once (src/live/), as for an admin call over HTTP.
    const events = createRedisEventPublisher({ publisher: client, keyPrefix: redisConfig.keyPrefix });
    const revocations = withRevocationEvents(stores.revocations, { events });
    const sessionStore = withSessionEvents(stores.sessions, { events });
    // The two session operations an operator needs; signing (start, refresh) stays the server's.
    const sessions = {
      endAll: (userId: string, options: { exceptSessionId?: string | undefined }) => sessionStore.endAllSessions(userId, options),
      list: async (userId: string) => (await sessionStore.listSessions(userId)).map((session) => sessionView(session, false)),
    };
    // The command line sees only the built-in user store; a library user's users live in its own,
    // and their revocations and sessions are keyed by id alone: act on an id without a record.
    const admin = createUserAdmin({ users, revocations, sessions, logger: audit, actOnIdsWithoutRecord: true });
    const record = await admin.findUser(userRef);
    if (!record && command.needsRecord) {
      // Every action leaves an audit line, found or not (issue 18); the target cut and escaped.
      audit.info({ actor: { kind: 'cli', osUser: osUser() }, command: name, target: safeText(userRef), outcome: 'unknown-user' }, 'operator action refused: no such user');
      throw bad(
        `No user is named or has the id ${JSON.stringify(safeText(userRef))} in the built-in user store. ${name} changes that store's ` +
          "records; keep the scopes and the disabled state of your app's own users in your app (revoke-user, sessions and user act on any user id).",
      );
    }
    const target: Target = { id: record?.id ?? userRef, record };
    print(io, name, await command.run(admin, { kind: 'cli', osUser: osUser() }, target, scopes), json);
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

