import { StoreUnavailableError } from '../errors.js';
import { createKeySpace, type KeySpace } from '../revocation/keys.js';
import type { RedisClient } from '../revocation/redis-store.js';
import { normalizeUsername, UsernameTakenError, type UserRecord, type UserStore } from './user-store.js';

/**
 * Users in Redis: a hash per user under the user's hash tag and a username -> id key
 * under the username's hash tag. These are the only keys without a TTL.
 */
export class RedisUserStore implements UserStore {
  private readonly keys: KeySpace;

  constructor(
    private readonly client: RedisClient,
    options: { keyPrefix?: string } = {},
  ) {
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
    return {
      id: fields.id,
      username: fields.username,
      passwordHash: fields.passwordHash,
      createdAt: fields.createdAt ?? '',
    };
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    const key = this.keys.user(id);
    // HSET only on an existing record (a deleted user must not get a half record back).
    await this.run('updatePassword', () =>
      this.client.eval("if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HSET', KEYS[1], 'passwordHash', ARGV[1]) end return 0", 1, key, passwordHash),
    );
  }
}
