/**
 * CORS for the runnable API: which other origins (a browser app on another host or port) may
 * call it, and what they may send and read.
 *
 * - Only the origins listed in CORS_ORIGINS (exact `scheme://host[:port]`, or `*` for any);
 *   none by default, which leaves the browser's same-origin policy alone.
 * - No credentials (`Access-Control-Allow-Credentials` is never sent): the API authenticates
 *   with the Authorization header, never with cookies, so a cross-origin page gets nothing
 *   the user's browser holds for it.
 * - Requests may carry `Authorization`, `Content-Type` (JSON POST) and the CSRF-prevention
 *   headers Apollo accepts (`Apollo-Require-Preflight`, `X-Apollo-Operation-Name`).
 * - Responses expose `WWW-Authenticate` (why a token was refused) and `Retry-After` (when to
 *   retry a 503 or 429) to the page's script.
 * - A preflight (OPTIONS with Access-Control-Request-Method) from an allowed origin gets 204;
 *   from any other origin 403, and no Access-Control-* header at all.
 *
 * CORS is not an access control for the API (any non-browser client ignores it): it only tells
 * browsers which pages may read the answers. CSRF prevention stays on regardless.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CorsPolicy } from '../config/cors-policy.js';

/** Request headers a cross-origin page may send. */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name'] as const;
/** Response headers a cross-origin page may read (beyond the CORS-safelisted ones). */
export const CORS_EXPOSED_HEADERS = ['www-authenticate', 'retry-after'] as const;
/** How long a browser may cache a preflight answer, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Applies a {@link CorsPolicy} to requests. */
export interface Cors {
  /**
   * Sets the CORS headers of the response to `req`. Answers a preflight itself and returns
   * true then: the request is done. Returns false for every other request.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Builds the request-time side of a {@link CorsPolicy}. */
export function createCors(policy: CorsPolicy): Cors {
  const any = policy.origins.includes('*');
  const allowed = new Set(policy.origins);
  const enabled = policy.origins.length > 0;
  return {
    handle(req, res) {
      const origin = req.headers.origin;
      const preflight = req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined;
      // The answer depends on Origin: a shared cache must not give one origin's answer to another.
      if (enabled && !any) res.setHeader('vary', 'Origin');
      if (origin === undefined || !(any || allowed.has(origin))) {
        if (!preflight) return false;
        res.writeHead(403, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: 'Cross-origin requests from this origin are not allowed (CORS_ORIGINS).' }));
        return true;
      }
      res.setHeader('access-control-allow-origin', any ? '*' : origin);
      if (!preflight) {
        res.setHeader('access-control-expose-headers', CORS_EXPOSED_HEADERS.join(', '));
        return false;
      }
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': CORS_ALLOWED_HEADERS.join(', '),
        'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
        'content-length': '0',
      });
      res.end();
      return true;
    },
  };
}
