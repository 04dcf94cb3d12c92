import { StoreUnavailableError } from '../errors.js';
import { createKeySpace, type KeySpace } from '../redis/keys.js';
import type { RedisClient } from '../redis/redis-client-type.js';
import { SET_DISABLED, UPDATE_SCOPES } from './scripts.js';
import { normalizeUsername, UsernameTakenError, type ScopeChange, type UserRecord, type UserStore } from './user-store.js';

type ScriptClient = RedisClient & {
  grUserScopes(user: string, adds: number, ...scopes: string[]): Promise<[string, string] | null>;
  grUserDisabled(user: string, disabled: '1' | '0'): Promise<number>;
};

function defineScripts(client: RedisClient): ScriptClient {
  const scripted = client as ScriptClient;
  // defineCommand is idempotent per name; several stores may share a client.
  if (typeof scripted.grUserScopes !== 'function') {
    client.defineCommand('grUserScopes', { numberOfKeys: 1, lua: UPDATE_SCOPES });
    client.defineCommand('grUserDisabled', { numberOfKeys: 1, lua: SET_DISABLED });
  }
  return scripted;
}

/** The `scopes` field: sorted, space-separated. */
function splitScopes(field: string | undefined): string[] {
  return field ? field.split(' ').filter((scope) => scope.length > 0) : [];
}

/**
 * Users in Redis: a hash per user under the user's hash tag and a username -> id key
 * under the username's hash tag. These are the only keys without a TTL.
 */
export class RedisUserStore implements UserStore {
  private readonly keys: KeySpace;
  private readonly client: ScriptClient;

  constructor(client: RedisClient, options: { keyPrefix?: string } = {}) {
    this.client = defineScripts(client);
    this.keys = createKeySpace(options.keyPrefix);
  }

  private async run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      if (error instanceof UsernameTakenError) throw error;
      throw new StoreUnavailableError(operation, { cause: error });
    }
  }

  async create(user: UserRecord): Promise<void> {
    const nameKey = this.keys.username(normalizeUsername(user.username));
    await this.run('createUser', async () => {
      // The user hash first: the username key is what makes a user visible, so a
      // failure between the two writes leaves no half user behind a name.
      await this.client.hset(this.keys.user(user.id), {
        id: user.id,
        username: user.username,
        passwordHash: user.passwordHash,
        createdAt: user.createdAt,
      });
      const claimed = await this.client.set(nameKey, user.id, 'NX');
      if (claimed !== 'OK') {
        await this.client.del(this.keys.user(user.id));
        throw new UsernameTakenError();
      }
    });
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const id = await this.run('findUser', () => this.client.get(this.keys.username(normalizeUsername(username))));
    return id === null ? undefined : this.findById(id);
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    const fields = await this.run('findUser', () => this.client.hgetall(this.keys.user(id)));
    if (!fields.id || !fields.username || !fields.passwordHash) return undefined;
    const scopes = splitScopes(fields.scopes);
    return {
      id: fields.id,
      username: fields.username,
      passwordHash: fields.passwordHash,
      createdAt: fields.createdAt ?? '',
      ...(scopes.length > 0 ? { scopes } : {}),
      ...(fields.disabled === '1' ? { disabled: true } : {}),
    };
  }

  async updateScopes(userId: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<ScopeChange | undefined> {
    const add = change.add ?? [];
    const remove = change.remove ?? [];
    const result = await this.run('updateScopes', () => this.client.grUserScopes(this.keys.user(userId), add.length, ...add, ...remove));
    if (result === null) return undefined;
    return { before: splitScopes(result[0]), after: splitScopes(result[1]) };
  }

  async setDisabled(userId: string, disabled: boolean): Promise<boolean | undefined> {
    const was = await this.run('setDisabled', () => this.client.grUserDisabled(this.keys.user(userId), disabled ? '1' : '0'));
    return was === -1 ? undefined : was === 1;
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    const key = this.keys.user(id);
    // HSET only on an existing record (a deleted user must not get a half record back).
    await this.run('updatePassword', () =>
      this.client.eval("if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'passwordHash', ARGV[1]) end return 0", 1, key, passwordHash),
    );
  }
}
