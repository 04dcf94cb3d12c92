import type { GraphQLContext } from './context.js';
import { authUnavailableError, StoreUnavailableError, unauthenticatedFieldError } from '../errors.js';

/** A structured logger (pino's shape). */
export interface ResolverLogger {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

/** Runs a store call; a store failure becomes AUTH_UNAVAILABLE (503), never a success. */
export async function guarded<T>(logger: ResolverLogger | undefined, operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof StoreUnavailableError) {
      logger?.error({ err: error.cause ?? error, operation }, 'token store unavailable');
      throw authUnavailableError();
    }
    throw error;
  }
}

/** The request's verified token; refuses an anonymous caller (TOKEN_MISSING). */
export function authenticatedToken(context: GraphQLContext) {
  // @authenticated guarantees this; checked again because a resolver must never act
  // on a missing token if someone removes the directive from the SDL.
  if (context.auth.kind !== 'authenticated') throw unauthenticatedFieldError('TOKEN_MISSING');
  return context.auth.token;
}
