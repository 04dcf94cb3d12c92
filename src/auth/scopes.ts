/**
 * OAuth-style scopes (RFC 6749 §3.3): case-sensitive strings of printable ASCII without
 * spaces, quotes or backslashes, written into a token's `scope` claim separated by spaces.
 */

/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E, at most 128 characters here. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

/** Whether `scope` is a valid scope token (e.g. `tokens:admin`). */
export function isValidScope(scope: string): boolean {
  return SCOPE_TOKEN.test(scope);
}

/**
 * The scopes of a `scope` claim: a space-separated string (RFC 8693 §4.2) or an array of
 * strings (as some issuers write it). Absent: an empty list. Anything else: undefined, so
 * the caller can refuse the token rather than guess.
 */
export function parseScopeClaim(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') return value.split(' ').filter((scope) => scope.length > 0);
  if (Array.isArray(value) && value.every((scope) => typeof scope === 'string')) return value.filter((scope) => scope.length > 0);
  return undefined;
}

/** The `scope` claim for a list of scopes: sorted, unique, space-separated; '' for none. */
export function formatScopeClaim(scopes: Iterable<string>): string {
  return [...new Set(scopes)].sort().join(' ');
}
