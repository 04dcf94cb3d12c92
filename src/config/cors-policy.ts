/**
 * The CORS policy as configured (CORS_ORIGINS), parsed with the rest of the configuration so a
 * bad origin stops the start, not the first browser request. Applied by src/server/cors.ts.
 */
import { ConfigError } from '../errors.js';

/** What the API allows to cross origins; built from CORS_ORIGINS by config.ts. */
export interface CorsPolicy {
  /** Normalized origins (`https://app.example.com`), or `['*']`. Empty: no cross-origin access. */
  readonly origins: readonly string[];
}

/**
 * Parses CORS_ORIGINS: a comma-separated list of origins (`https://app.example.com,
 * http://localhost:5173`) or `*`. Unset or empty: none. Throws {@link ConfigError} on an
 * entry that is not an origin (a path, no scheme, a trailing slash is accepted and dropped).
 */
export function parseCorsOrigins(raw: string | undefined): string[] {
  const entries = (raw ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (entries.includes('*')) {
    if (entries.length > 1) throw new ConfigError('CORS_ORIGINS: "*" allows every origin and cannot be combined with others');
    return ['*'];
  }
  const origins = entries.map((entry) => {
    let url: URL;
    try {
      url = new URL(entry);
    } catch {
      throw new ConfigError(`CORS_ORIGINS: "${entry}" is not an origin; write it as scheme://host[:port], e.g. https://app.example.com`);
    }
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username) {
      throw new ConfigError(`CORS_ORIGINS: "${entry}" is not an origin; write it as scheme://host[:port], without a path`);
    }
    return url.origin;
  });
  return [...new Set(origins)];
}
