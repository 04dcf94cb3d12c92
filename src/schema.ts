import { ACCOUNT_SDL, DIRECTIVES_SDL, REVOCATION_SDL } from './__generated__/sdl.js';

/**
 * The SDL of the project, as strings generated from schema/*.graphql (scripts/generate-sdl.ts):
 * importing the package reads no file, so it can be bundled.
 *
 * - {@link DIRECTIVES_SDL}: `directive @authenticated`, documented.
 * - {@link REVOCATION_SDL}: `cancelToken` and `cancelAllMyTokens` (for createRevocationResolvers).
 * - {@link ACCOUNT_SDL}: `User`, `AuthPayload`, `me`, `signUp`, `signIn` (for createAccountResolvers).
 */
export { ACCOUNT_SDL, DIRECTIVES_SDL, REVOCATION_SDL };

/** The whole SDL of the runnable API, directives first: what createAuthResolvers resolves. */
export const typeDefs: string[] = [DIRECTIVES_SDL, ACCOUNT_SDL, REVOCATION_SDL];
