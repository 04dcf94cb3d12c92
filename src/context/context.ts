import type { VerifiedToken } from '../auth/token.js';

/** Who is making the request, as established once by the context builder. */
export type AuthState =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'authenticated'; readonly token: VerifiedToken };

/** The GraphQL context of every request. */
export interface GraphQLContext {
  readonly auth: AuthState;
}

/** The one anonymous state, shared by every anonymous request. */
export const ANONYMOUS: AuthState = Object.freeze({ kind: 'anonymous' });
