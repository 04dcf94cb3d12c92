import type { Area } from '../areas/area.js';
import { validateCredentials } from '../accounts/auth-resolvers.js';
import { createSessionResolvers, type SessionResolverOptions } from './session-resolvers.js';

/** What {@link sessionsArea} needs; a new password must meet signUp's rules unless told otherwise. */
export interface SessionsAreaOptions extends Omit<SessionResolverOptions, 'validateNewPassword'> {
  validateNewPassword?: SessionResolverOptions['validateNewPassword'];
}

/** The sessions area: mySessions, refreshSession, cancelSession, changePassword and reauthenticate. */
export function sessionsArea(options: SessionsAreaOptions): Area {
  return {
    name: 'sessions',
    resolvers: createSessionResolvers({ ...options, validateNewPassword: options.validateNewPassword ?? validateCredentials }),
  };
}
