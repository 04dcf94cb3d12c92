/**
 * Operator actions on users: scopes, revoking everything a user holds, disabling an account.
 * Plain functions over the stores, shared by the GraphQL resolvers (src/admin/admin-resolvers.ts)
 * and the command line (src/admin/cli/), so both do exactly the same thing.
 *
 * Guarantees, and why they hold:
 * - A scope change is one atomic write (a Lua script on the user hash): two operators granting
 *   at once both land. It reaches the user's next token; tokens already issued keep what they
 *   say until they expire, except for `tokens:admin`: when a change adds or removes it, every
 *   session and token of the user ends too, so no old token keeps a power it lost (or was
 *   issued before the grant and would never show it).
 * - Ending everything of a user is, with sessions, SessionManager.endAll: the operation of
 *   the user's own cancelAllMyTokens (every session ends, every access token issued before
 *   now is refused through the per-user cutoff, recorded or not).
 * - Disabling sets the flag first, then ends everything. A sign-in that read the user before
 *   the flag starts its session and then re-reads the user (auth-resolvers' issueChecked):
 *   either that re-read sees the flag and the session is ended and refused, or the session
 *   started before the flag, so before the end-all, which takes it. A refresh reads the user
 *   before the store call (session-manager): a change after that read is followed by the
 *   end-all, which ends the session or refuses the token it got. Scope changes go the same way.
 * - If the revoke-all fails (store unavailable), the call fails: the flag may be set without
 *   the tokens revoked yet, and running the call again completes it (both steps are idempotent).
 * - Every call is logged at info with the actor, the target and the outcome; never a token.
 */
import { safeText } from './log-text.js';
import { isValidScope } from '../auth/scopes.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import type { SessionManager, SessionView } from '../sessions/session-manager.js';
import type { UserRecord, UserStore } from '../users/user-store.js';

/** The scope that lets a token call the admin fields of the API. */
export const ADMIN_SCOPE = 'tokens:admin';

/** Who is acting: a user of the API (with an admin token), or an operator at the command line. */
export type AdminActor = { readonly kind: 'user'; readonly userId: string } | { readonly kind: 'cli'; readonly osUser?: string | undefined };

/** Input an operator must correct (an invalid scope, no scope at all); its message says how. */
export class AdminInputError extends Error {
  override readonly name = 'AdminInputError';
}

/** An admin tried to disable their own account. */
export class SelfDisableError extends Error {
  override readonly name = 'SelfDisableError';
  constructor() {
    super('An admin cannot disable their own account.');
  }
}

/** The logger audit lines go to (pino's shape). */
export interface AuditLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

/** Options of {@link createUserAdmin}. */
export interface UserAdminOptions {
  /** Needs updateScopes and setDisabled for the scope and disable actions (our stores have them). */
  users: UserStore;
  /**
   * The sessions (src/sessions/): ending everything of a user is `endAll`, the very operation
   * of the user's own cancelAllMyTokens (every session, every access token, recorded or not,
   * through the per-user cutoff), and listSessions reads them. Unset: revocations.revokeAllForUser,
   * and no session list.
   */
  sessions?: Pick<SessionManager, 'endAll' | 'list'>;
  /** Where a user's tokens are revoked all at once when there are no sessions. */
  revocations: RevocationStore;
  /** Audit log. Unset: no audit lines (tests). */
  logger?: AuditLogger;
  /**
   * What revokeUser, listSessions and showUser do with an id that `users` has no record of.
   * `false` (default, the admin API): nothing, as for an unknown user (0, undefined). `true` (the
   * command line, which sees only the built-in user store while a library user keeps users in
   * its own): act on the id anyway. Revocation state and sessions are keyed by user id alone,
   * so ending them needs no record. Scopes and the disabled flag live in the record: those
   * actions still need one.
   */
  actOnIdsWithoutRecord?: boolean;
}

/** What a scope change did. */
export interface ScopeUpdate {
  readonly userId: string;
  readonly username: string;
  readonly before: readonly string[];
  readonly after: readonly string[];
  /** Tokens revoked because `tokens:admin` was added or removed; 0 otherwise. */
  readonly tokensRevoked: number;
}

/** What setDisabled did. */
export interface DisableUpdate {
  readonly userId: string;
  readonly username: string;
  readonly wasDisabled: boolean;
  readonly disabled: boolean;
  /** Tokens revoked (disabling only). */
  readonly tokensRevoked: number;
}

/** What showUser found. */
export interface UserSummary {
  readonly userId: string;
  /** False when the built-in user store has no record of the id (a user of the app's own store). */
  readonly userRecord: boolean;
  /** Undefined without a record. */
  readonly username: string | undefined;
  /** Undefined without a record. */
  readonly scopes: readonly string[] | undefined;
  /** Undefined without a record. */
  readonly disabled: boolean | undefined;
  /** Live sessions. */
  readonly sessions: number;
}

/** The operator actions. Each resolves with undefined when no user has the given id. */
export interface UserAdmin {
  /** The user with this username (case-insensitive) or, failing that, this id. */
  findUser(usernameOrId: string): Promise<UserRecord | undefined>;
  grantScopes(actor: AdminActor, userId: string, scopes: readonly string[]): Promise<ScopeUpdate | undefined>;
  revokeScopes(actor: AdminActor, userId: string, scopes: readonly string[]): Promise<ScopeUpdate | undefined>;
  /**
   * Ends every session and access token of the user; resolves with how many tokens, 0 for an
   * unknown id (with actOnIdsWithoutRecord: ends them for any id).
   */
  revokeUser(actor: AdminActor, userId: string): Promise<number>;
  /** Disables (and ends every session and token of) the user, or enables them again. */
  setDisabled(actor: AdminActor, userId: string, disabled: boolean): Promise<DisableUpdate | undefined>;
  /** The user's live sessions, newest first (none marked current); undefined for an unknown id (with actOnIdsWithoutRecord: any id). */
  listSessions(actor: AdminActor, userId: string): Promise<SessionView[] | undefined>;
  /** Scopes, disabled state and live session count; undefined for an unknown id (with actOnIdsWithoutRecord: any id). Needs `sessions`. */
  showUser(actor: AdminActor, userId: string): Promise<UserSummary | undefined>;
}

/** Scopes checked and deduplicated; throws {@link AdminInputError} for none or an invalid one. */
export function checkedScopes(scopes: readonly string[]): string[] {
  if (scopes.length === 0) throw new AdminInputError('Give at least one scope.');
  for (const scope of scopes) {
    if (!isValidScope(scope)) {
      throw new AdminInputError(
        `Invalid scope ${JSON.stringify(scope)}: 1 to 128 printable ASCII characters, without spaces, quotes or backslashes.`,
      );
    }
  }
  return [...new Set(scopes)];
}

/** The actor as it appears in the audit log. */
function actorField(actor: AdminActor): object {
  return actor.kind === 'user' ? { kind: 'user', userId: actor.userId } : { kind: 'cli', ...(actor.osUser ? { osUser: actor.osUser } : {}) };
}

/** Builds the operator actions over `users` and `revocations`. */
export function createUserAdmin(options: UserAdminOptions): UserAdmin {
  const { users, revocations, sessions, logger } = options;
  const anyId = options.actOnIdsWithoutRecord ?? false;

  /** Logs one admin call: at info when it was done (or refused by rule), at warn when it failed. */
  async function audited<T>(action: string, actor: AdminActor, target: string, call: () => Promise<T>, describe: (result: T) => object): Promise<T> {
    try {
      const result = await call();
      logger?.info({ audit: true, action, actor: actorField(actor), target: { userId: safeText(target) }, ...describe(result) }, `admin: ${action}`);
      return result;
    } catch (error) {
      const outcome = error instanceof SelfDisableError || error instanceof AdminInputError ? 'refused' : 'failed';
      const log = { audit: true, action, actor: actorField(actor), target: { userId: safeText(target) }, outcome, error: error instanceof Error ? error.message : String(error) };
      if (outcome === 'refused') logger?.info(log, `admin: ${action}`);
      else logger?.warn(log, `admin: ${action}`);
      throw error;
    }
  }

  /** Every session and access token of the user. */
  function endEverything(userId: string): Promise<number> {
    return sessions ? sessions.endAll(userId, {}) : revocations.revokeAllForUser(userId);
  }

  /** A store method the action needs; a store without it is a programmer error, said plainly. */
  function required<K extends 'updateScopes' | 'setDisabled'>(name: K): NonNullable<UserStore[K]> {
    const method = users[name];
    if (!method) throw new Error(`createUserAdmin: the user store has no ${name}(), which this action needs`);
    return method.bind(users) as NonNullable<UserStore[K]>;
  }

  async function changeScopes(actor: AdminActor, action: 'grantScopes' | 'revokeScopes', userId: string, scopes: readonly string[]) {
    const wanted = checkedScopes(scopes);
    return audited(
      action,
      actor,
      userId,
      async (): Promise<ScopeUpdate | undefined> => {
        const user = await users.findById(userId);
        if (!user) return undefined;
        const change = await required('updateScopes')(userId, action === 'grantScopes' ? { add: wanted } : { remove: wanted });
        if (!change) return undefined;
        const adminChanged = change.before.includes(ADMIN_SCOPE) !== change.after.includes(ADMIN_SCOPE);
        const tokensRevoked = adminChanged ? await endEverything(userId) : 0;
        return { userId, username: user.username, before: change.before, after: change.after, tokensRevoked };
      },
      (result) =>
        result
          ? { outcome: 'done', scopes: wanted, before: result.before, after: result.after, tokensRevoked: result.tokensRevoked }
          : { outcome: 'unknown-user', scopes: wanted },
    );
  }

  return {
    async findUser(usernameOrId) {
      return (await users.findByUsername(usernameOrId)) ?? (await users.findById(usernameOrId));
    },

    grantScopes: (actor, userId, scopes) => changeScopes(actor, 'grantScopes', userId, scopes),
    revokeScopes: (actor, userId, scopes) => changeScopes(actor, 'revokeScopes', userId, scopes),

    revokeUser(actor, userId) {
      return audited(
        'revokeUser',
        actor,
        userId,
        async () => {
          // An unknown id writes nothing: 0 (unless told to act on ids without a record).
          const user = await users.findById(userId);
          return user || anyId ? { count: await endEverything(userId), userRecord: Boolean(user) } : undefined;
        },
        (result) =>
          result
            ? { outcome: 'done', tokensRevoked: result.count, ...(result.userRecord ? {} : { userRecord: false }) }
            : { outcome: 'unknown-user', tokensRevoked: 0 },
      ).then((result) => result?.count ?? 0);
    },

    setDisabled(actor, userId, disabled) {
      return audited(
        disabled ? 'disableUser' : 'enableUser',
        actor,
        userId,
        async (): Promise<DisableUpdate | undefined> => {
          if (disabled && actor.kind === 'user' && actor.userId === userId) throw new SelfDisableError();
          const user = await users.findById(userId);
          if (!user) return undefined;
          // The flag first: from here no sign-in or refresh hands out a token that survives (see above).
          const was = await required('setDisabled')(userId, disabled);
          if (was === undefined) return undefined;
          const tokensRevoked = disabled ? await endEverything(userId) : 0;
          return { userId, username: user.username, wasDisabled: was, disabled, tokensRevoked };
        },
        (result) => (result ? { outcome: 'done', wasDisabled: result.wasDisabled, tokensRevoked: result.tokensRevoked } : { outcome: 'unknown-user' }),
      );
    },

    listSessions(actor, userId) {
      return audited(
        'listSessions',
        actor,
        userId,
        async () => {
          if (!sessions) throw new Error('createUserAdmin: listSessions needs `sessions`');
          const user = await users.findById(userId);
          return user || anyId ? sessions.list(userId) : undefined;
        },
        (result) => (result ? { outcome: 'done', sessions: result.length } : { outcome: 'unknown-user' }),
      );
    },

    showUser(actor, userId) {
      return audited(
        'showUser',
        actor,
        userId,
        async (): Promise<UserSummary | undefined> => {
          if (!sessions) throw new Error('createUserAdmin: showUser needs `sessions`');
          const user = await users.findById(userId);
          if (!user && !anyId) return undefined;
          const live = await sessions.list(userId);
          return {
            userId,
            userRecord: Boolean(user),
            username: user?.username,
            scopes: user ? [...(user.scopes ?? [])].sort() : undefined,
            disabled: user ? Boolean(user.disabled) : undefined,
            sessions: live.length,
          };
        },
        (result) => (result ? { outcome: 'done', sessions: result.sessions, userRecord: result.userRecord } : { outcome: 'unknown-user' }),
      );
    },
  };
}
