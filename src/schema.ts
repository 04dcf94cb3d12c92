import { ACCOUNT_SDL, ADMIN_SDL, DIRECTIVES_SDL, LIVE_SDL, REVOCATION_SDL } from './__generated__/sdl.js';

/**
 * The SDL of the project, as strings generated from schema/*.graphql (scripts/generate-sdl.ts):
 * importing the package reads no file, so it can be bundled.
 *
 * - {@link DIRECTIVES_SDL}: `directive @authenticated` and `directive @requiresScopes`, documented.
 * - {@link REVOCATION_SDL}: `cancelToken` and `cancelAllMyTokens` (for createRevocationResolvers).
 * - {@link ACCOUNT_SDL}: `User`, `Session`, `AuthPayload`, `me`, `signUp`, `signIn` and the session
 *   fields (for createAccountResolvers and createSessionResolvers).
 * - {@link ADMIN_SDL}: `userSessions`, `cancelAllUserTokens`, `setUserDisabled` (for createAdminResolvers).
 * - {@link LIVE_SDL}: the `sessionEvents` subscription and the `renewConnection` mutation (for
 *   createSessionEventResolvers), over WebSocket.
 */
export { ACCOUNT_SDL, ADMIN_SDL, DIRECTIVES_SDL, LIVE_SDL, REVOCATION_SDL };

/** The whole SDL of the runnable API, directives first: what createAuthResolvers resolves. */
export const typeDefs: string[] = [DIRECTIVES_SDL, ACCOUNT_SDL, REVOCATION_SDL, ADMIN_SDL, LIVE_SDL];
