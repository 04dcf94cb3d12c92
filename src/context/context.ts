import type { VerifiedToken } from '../auth/token.js';

/** Who is making the request, as established once by the context builder. */
export type AuthState =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'authenticated'; readonly token: VerifiedToken };

/**
 * The live socket an operation came over (src/live/connection-renewal.ts): what
 * renewConnection uses. Absent over HTTP.
 */
export interface ConnectionHandle {
  /** Judge the socket by `accessToken` from now on; throws the refusal's GraphQLError. */
  renew(accessToken: string): Promise<void>;
}

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
  /** Set on operations that came over a WebSocket (src/live/socket-auth.ts); absent over HTTP. */
  readonly connection?: ConnectionHandle | undefined;
}

/** The one anonymous state, shared by every anonymous request. */
export const ANONYMOUS: AuthState = Object.freeze({ kind: 'anonymous' });
