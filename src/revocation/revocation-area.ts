import type { Area } from '../areas/area.js';
import { createRevocationResolvers, type RevocationResolverOptions } from './revocation-resolvers.js';

/**
 * The revocation area: cancelToken and cancelAllMyTokens. It needs a verifier and a store only,
 * so a server with users and sign-in of its own composes it alone.
 */
export function revocationArea(options: RevocationResolverOptions): Area {
  return { name: 'revocation', resolvers: createRevocationResolvers(options) };
}
