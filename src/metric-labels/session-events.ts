/**
 * Session events counted by `<prefix>session_events_total{event}`: started (signIn, signUp),
 * refreshed, refresh_refused (any refused refreshSession: reused, invalid, expired, disabled),
 * ended (cancelSession and the end-alls: one per call).
 */
export const SESSION_EVENTS = ['started', 'refreshed', 'refresh_refused', 'ended'] as const;
export type SessionEvent = (typeof SESSION_EVENTS)[number];
