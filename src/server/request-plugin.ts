/**
 * The server's one Apollo plugin: every per-request hook of ours in one listener object,
 * shared by every request (Apollo calls each plugin's `requestDidStart` and then each hook of
 * each listener on every request, so fewer plugins and a listener without per-request state
 * are fewer calls and no allocation):
 *
 * - `didResolveOperation`: a `subscription` over HTTP is refused with 400 BAD_REQUEST
 *   (refuseHttpSubscriptionsPlugin);
 * - `didEncounterErrors`, `willSendResponse`: a store failure let through by a resolver is a
 *   503 AUTH_UNAVAILABLE with Retry-After (createAuthHttpPlugin).
 *
 * Both plugins stay exported for library users, who may list them apart.
 */
import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { authHttpRequestListener, type AuthHttpPluginOptions } from './auth-http-plugin.js';
import { refuseHttpSubscription } from '../pipeline/client-mistakes.js';

/** One plugin: refuseHttpSubscriptionsPlugin and createAuthHttpPlugin's hooks in one listener. */
export function createRequestPlugin<TContext extends BaseContext>(options: AuthHttpPluginOptions = {}): ApolloServerPlugin<TContext> {
  const listener: GraphQLRequestListener<TContext> = {
    ...authHttpRequestListener<TContext>(options),
    didResolveOperation: refuseHttpSubscription,
  };
  const started = Promise.resolve(listener);
  return { requestDidStart: () => started };
}
