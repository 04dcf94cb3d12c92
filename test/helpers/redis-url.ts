import { inject } from 'vitest';
// Brings in the `ProvidedContext.redisUrl` declaration made by the global setup.
import type {} from '../global-setup.js';

/**
 * The URL of the Redis chosen by the global setup for this run. Throws, with
 * what to install, when there is none: a test that needs Redis must fail,
 * never skip silently.
 */
export function requireRedisUrl(): string {
  const url = inject('redisUrl');
  if (!url) {
    throw new Error(
      'This test needs Redis, and the global setup found none. Set REDIS_URL=redis://host:port, ' +
        'start a Docker engine, or install redis-server so it is on PATH (apt-get install redis-server). ' +
        'Run through vitest.config.ts so test/global-setup.ts runs.',
    );
  }
  return url;
}
