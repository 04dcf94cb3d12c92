/** A stored user. */
export interface UserRecord {
  readonly id: string;
  readonly username: string;
  /** scrypt hash, `scrypt$N$r$p$salt$hash`. Never leaves the server. */
  readonly passwordHash: string;
  readonly createdAt: string;
  /**
   * Scopes written into every token issued to the user (`scope` claim), e.g. `tokens:admin`.
   * Absent or empty: none, the default. Changed by operators only (src/admin/).
   */
  readonly scopes?: readonly string[];
  /** Set by an operator: the user can neither sign in nor refresh nor change password. */
  readonly disabled?: boolean;
}

/** What {@link UserStore.updateScopes} did: the user's scopes before and after, sorted. */
export interface ScopeChange {
  readonly before: readonly string[];
  readonly after: readonly string[];
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
  /**
   * Adds then removes scopes of the user, in one atomic step (two operators granting at once
   * both land). Resolves with the scopes before and after, or undefined when no user has this id.
   * Without it (a store of your own), the admin scope commands are refused.
   */
  updateScopes?(userId: string, change: { add?: readonly string[]; remove?: readonly string[] }): Promise<ScopeChange | undefined>;
  /**
   * Sets or clears the disabled flag. Resolves with its previous value, or undefined when no
   * user has this id. Without it, disabling is refused.
   */
  setDisabled?(userId: string, disabled: boolean): Promise<boolean | undefined>;
}

/** The form under which usernames are compared. */
export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}
