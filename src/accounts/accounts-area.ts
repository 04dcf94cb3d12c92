import type { Area } from '../areas/area.js';
import { sendJson } from '../pipeline/http-body.js';
import { createAccountResolvers, type AccountResolverOptions } from './auth-resolvers.js';

/** What {@link accountsArea} needs: the account resolvers' options, and the keys to publish. */
export interface AccountsAreaOptions extends AccountResolverOptions {
  /**
   * The public keys of the tokens this area signs (config.jwt.keys.jwks), served on
   * `/.well-known/jwks.json` so other services verify them without a secret. Unset: no route.
   */
  jwks?: object | undefined;
}

/**
 * The accounts area: signUp, signIn and me on a {@link UserStore} (every session they start goes
 * through the session manager), and the JWKS of the tokens it signs.
 */
export function accountsArea(options: AccountsAreaOptions): Area {
  const { jwks } = options;
  return {
    name: 'accounts',
    resolvers: createAccountResolvers(options),
    ...(jwks
      ? {
          routes: {
            handles: (path: string) => path === '/.well-known/jwks.json',
            async handle(req, res) {
              if (req.method !== 'GET' && req.method !== 'HEAD') {
                res.setHeader('allow', 'GET, HEAD');
                return sendJson(res, 405, { error: 'Only GET and HEAD are supported' });
              }
              // Public keys only (empty for HS256); other services may cache the set for five minutes.
              sendJson(res, 200, jwks, { 'cache-control': 'public, max-age=300' });
            },
          },
        }
      : {}),
  };
}
