import { normalizeUsername, UsernameTakenError, type UserRecord, type UserStore } from './user-store.js';

/** Users in process memory: for development and tests. */
export class MemoryUserStore implements UserStore {
  private readonly byId = new Map<string, UserRecord>();
  private readonly idByName = new Map<string, string>();

  async create(user: UserRecord): Promise<void> {
    const name = normalizeUsername(user.username);
    if (this.idByName.has(name)) throw new UsernameTakenError();
    this.idByName.set(name, user.id);
    this.byId.set(user.id, user);
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const id = this.idByName.get(normalizeUsername(username));
    return id === undefined ? undefined : this.byId.get(id);
  }

  async findById(id: string): Promise<UserRecord | undefined> {
    return this.byId.get(id);
  }

  async updatePasswordHash(id: string, passwordHash: string): Promise<void> {
    const user = this.byId.get(id);
    if (user) this.byId.set(id, { ...user, passwordHash });
  }
}
