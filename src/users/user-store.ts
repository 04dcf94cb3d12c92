/** A stored user. */
export interface UserRecord {
  readonly id: string;
  readonly username: string;
  /** scrypt hash, `scrypt$N$r$p$salt$hash`. Never leaves the server. */
  readonly passwordHash: string;
  readonly createdAt: string;
}

/** Thrown by {@link UserStore.create} when the username is taken. */
export class UsernameTakenError extends Error {
  override readonly name = 'UsernameTakenError';
  constructor() {
    super('Username is taken');
  }
}

/** Where users live. Usernames are unique case-insensitively. */
export interface UserStore {
  /** Creates the user or throws {@link UsernameTakenError}. */
  create(user: UserRecord): Promise<void>;
  findByUsername(username: string): Promise<UserRecord | undefined>;
  findById(id: string): Promise<UserRecord | undefined>;
  /** Replaces the password hash of an existing user (changePassword). Without it, changePassword is refused. */
  updatePasswordHash?(id: string, passwordHash: string): Promise<void>;
}

/** The form under which usernames are compared. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}
