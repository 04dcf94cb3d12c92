/**
 * Client authentication of the introspection and revocation endpoints: `client_secret_basic`
 * (RFC 6749 §2.3.1), the HTTP Basic scheme with the client id and secret each
 * form-urlencoded (application/x-www-form-urlencoded) before base64, as OAuth clients send them.
 *
 * Secrets are compared in constant time: SHA-256 of the presented secret against SHA-256 of
 * the configured one with crypto.timingSafeEqual (equal lengths whatever was sent), and an
 * unknown client id costs the same comparison against a fixed digest, so the answer's timing
 * tells neither whether an id exists nor how much of a secret was right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A client allowed to call the endpoints. */
export interface OAuthClient {
  readonly id: string;
  readonly secret: string;
}

/** Why a request's client authentication failed (for the log; the client only gets invalid_client). */
export type ClientAuthFailure = 'missing' | 'other_scheme' | 'malformed' | 'unknown_client' | 'wrong_secret';

/** The outcome of {@link ClientAuthenticator.authenticate}. */
export type ClientAuthResult =
  | { readonly ok: true; readonly clientId: string }
  | { readonly ok: false; readonly failure: ClientAuthFailure; /** The claimed id, when it is a plausible one (never a secret). */ readonly claimedId?: string };

/** Checks HTTP Basic client credentials against the configured clients. */
export interface ClientAuthenticator {
  /** `header`: the one Authorization header value, or undefined when there is none. */
  authenticate(header: string | undefined): ClientAuthResult;
}

const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;
const PLAUSIBLE_ID = /^[\x21-\x7e]{1,128}$/;

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** application/x-www-form-urlencoded decoding of one credential; undefined when it is not valid. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** Builds a {@link ClientAuthenticator}; throws on an empty list or a repeated id. */
export function createClientAuthenticator(clients: readonly OAuthClient[]): ClientAuthenticator {
  if (clients.length === 0) throw new Error('createClientAuthenticator: at least one client is required');
  const secrets = new Map<string, Buffer>();
  for (const client of clients) {
    if (!client.id || !client.secret) throw new Error('createClientAuthenticator: every client needs an id and a secret');
    if (secrets.has(client.id)) throw new Error(`createClientAuthenticator: client "${client.id}" is listed twice`);
    secrets.set(client.id, digest(client.secret));
  }
  // What an unknown id is compared against: no secret hashes to it that anyone knows.
  const nobody = createHash('sha256').update(randomBytes(32)).digest();

  return {
    authenticate(header) {
      if (header === undefined) return { ok: false, failure: 'missing' };
      const match = BASIC.exec(header);
      if (!match) return { ok: false, failure: /^Basic(?: |$)/i.test(header) ? 'malformed' : 'other_scheme' };
      const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) return { ok: false, failure: 'malformed' };
      const id = formDecode(decoded.slice(0, colon));
      const secret = formDecode(decoded.slice(colon + 1));
      if (id === undefined || secret === undefined) return { ok: false, failure: 'malformed' };
      const expected = secrets.get(id);
      const same = timingSafeEqual(digest(secret), expected ?? nobody);
      const claimedId = PLAUSIBLE_ID.test(id) ? id : undefined;
      if (!expected) return { ok: false, failure: 'unknown_client', ...(claimedId ? { claimedId } : {}) };
      if (!same) return { ok: false, failure: 'wrong_secret', claimedId: id };
      return { ok: true, clientId: id };
    },
  };
}
