import type { VerifiedToken } from '../auth/token.js';

/** Who is making the request, as established once by the context builder. */
export type AuthState =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'authenticated'; readonly token: VerifiedToken };

/** The GraphQL context of every request. */
export interface GraphQLContext {
  readonly auth: AuthState;
  /**
   * The caller's address (the socket's, or X-Forwarded-For's under TRUST_PROXY), computed
   * only when asked: only signIn's brute-force limit reads it.
   */
  readonly clientAddress?: (() => string) | undefined;
  /** The request's User-Agent, at most 256 characters (stored on sessions). */
  readonly userAgent?: string | undefined;
}

/** The one anonymous state, shared by every anonymous request. */
export const ANONYMOUS: AuthState = Object.freeze({ kind: 'anonymous' });
