import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { JwsAlgorithm } from '../config/jwt-keys.js';
import { createFrequencySketch } from './frequency-sketch.js';
import { createHmacBase64url } from './hmac.js';
import { parseScopeClaim } from './scopes.js';
import { systemClock, type Clock, type VerifiedToken } from './token.js';

/** Why a token was refused. */
export type TokenFailure = 'TOKEN_INVALID' | 'TOKEN_EXPIRED';

/** Raised by {@link TokenVerifier.verify}; `detail` is for the log, never for the client. */
export class TokenVerificationError extends Error {
  override readonly name = 'TokenVerificationError';
  constructor(
    readonly reason: TokenFailure,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
  }
}

/** The algorithms a verification key may be pinned to (never `none`): {@link JwsAlgorithm}. */
export type VerificationAlgorithm = JwsAlgorithm;

/** One verification key, pinned to exactly one algorithm. */
export interface VerificationKey {
  key: KeyObject;
  algorithm: VerificationAlgorithm;
  /** Matched against the token header's `kid`. A token with a kid no key has is refused. */
  kid?: string | undefined;
}

/** Options of {@link createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** The accepted keys; the first is the current one. A token's `kid` selects among several. */
  keys: readonly VerificationKey[];
  issuer: string;
  audience: string;
  /** Allowed clock skew for exp, nbf and iat, in seconds. Default 5. */
  clockToleranceSeconds?: number;
  /**
   * How far in the future iat and nbf may be, in seconds. Default `clockToleranceSeconds`.
   * The API sets it to the tolerance + MAX_CLOCK_SKEW: session tokens carry the store's (Redis')
   * time, and an instance may run up to MAX_CLOCK_SKEW behind it before it refuses to serve.
   */
  notBeforeToleranceSeconds?: number;
  /** Tokens longer than this are refused before any parsing. Default 8192 characters. */
  maxTokenLength?: number;
  /**
   * How many verified tokens are remembered (default 10,000; 0: none). A client sends the
   * same token with every request, and what its signature proves never changes: a token
   * seen before is recognised by its header and payload (a map lookup) and its signature
   * (compared in constant time with the one that was verified), so the HMAC or public-key
   * check, the JSON parse and the claim checks are skipped. What time changes is checked
   * on every use: exp (TOKEN_EXPIRED), nbf and iat. Only tokens that passed every check
   * are kept. Full, it keeps the tokens in use: a hit marks its entry used, the eviction
   * passes over used entries (CLOCK, an approximation of least recently used), and only one miss in
   * {@link CACHE_ADMIT_EVERY} is considered for admission, and admitted only if it was used
   * lately more often than the entry it would evict (TinyLFU: src/auth/frequency-sketch.ts), so
   * that more tokens in use than it holds (tokens cycling through it) can't churn it: the
   * tokens it holds keep hitting, and a miss costs what it costs without a cache. See
   * docs/benchmarks.md "The verification cache".
   */
  cacheSize?: number;
  /**
   * 'insertion-order': the policy before sessions (the oldest entry goes, a hit does not
   * refresh it, every miss is admitted); 'recency-admit-any': CLOCK with one miss in
   * {@link CACHE_ADMIT_EVERY} admitted whatever its use (the policy before the frequency
   * sketch). Kept only so the bench can measure them side by side (bench/verify-cache.ts).
   * Default 'recency'.
   * @internal
   */
  cachePolicy?: 'recency' | 'insertion-order' | 'recency-admit-any';
  /** Default Date.now. */
  now?: Clock;
}

/** Verifies access tokens: signature, algorithm, and every claim we rely on. */
export interface TokenVerifier {
  /** Returns the verified claims or throws {@link TokenVerificationError}. */
  verify(token: string): VerifiedToken;
  /**
   * Like verify, but accepts an expired token (signature and every other claim are
   * still checked): used to decide who owns a token that is being cancelled.
   */
  verifyIgnoringExpiry(token: string): VerifiedToken;
}

const MAX_ID_LENGTH = 256;

/** Three base64url segments, the last possibly empty: anything else is refused before any decoding. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Header parameters that ask the verifier to fetch or trust a key, or to understand an
 * extension (RFC 7515 §4.1.11 `crit`): we never do, so their presence refuses the token
 * (RFC 8725 §3.10; CVE-2018-0114 for embedded `jwk`).
 */
const REFUSED_HEADER_PARAMETERS = ['jwk', 'jku', 'x5u', 'x5c', 'crit', 'b64'] as const;

/** The HMAC algorithms, verified with node:crypto directly (see verifyHmac). */
const HMAC_HASHES = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' } as const;

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/** Compares two strings in time that depends on their length only. */
function sameString(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/**
 * When the verification cache is full, one miss in this many is considered for admission: it
 * takes the place of the entry the CLOCK hand stops at if it was used lately more often.
 */
export const CACHE_ADMIT_EVERY = 8;

/** A verified token, remembered by the verifier (see TokenVerifierOptions.cacheSize). */
interface Verified {
  /** Its slot in the clock (see remember). */
  slot: number;
  /** Hit since the clock hand last passed it. */
  used: boolean;
  /** The whole token that was verified: a hit must be this very string. */
  raw: string;
  token: VerifiedToken;
  /** The later of iat and nbf: before it (minus the tolerance) the token is not yet valid. */
  validFrom: number;
}

function invalid(detail: string): TokenVerificationError {
  return new TokenVerificationError('TOKEN_INVALID', detail);
}

/** Which key types an algorithm may be used with: a key is never used with another algorithm. */
function assertKeyFitsAlgorithm(key: VerificationKey): void {
  const { algorithm } = key;
  const type = key.key.type === 'secret' ? 'secret' : key.key.asymmetricKeyType;
  const expected = algorithm.startsWith('HS')
    ? 'secret'
    : algorithm.startsWith('RS')
      ? 'rsa'
      : algorithm.startsWith('PS')
        ? 'rsa'
        : algorithm.startsWith('ES')
          ? 'ec'
          : 'ed25519';
  if (type !== expected || (key.key.type === 'private')) {
    throw new Error(`createTokenVerifier: a ${algorithm} key must be a ${expected === 'secret' ? 'secret' : `${expected} public`} key, got ${key.key.type} ${type ?? ''}`.trim());
  }
}

/**
 * The header our issuer (and jsonwebtoken) writes for an algorithm and kid, base64url: tokens
 * whose header segment is exactly this one skip the header parse (one map lookup).
 */
function canonicalHeaderSegment(algorithm: JwsAlgorithm, kid: string | undefined): string {
  const header = { alg: algorithm, typ: 'JWT', ...(kid ? { kid } : {}) };
  return Buffer.from(JSON.stringify(header)).toString('base64url');
}

/** Builds a {@link TokenVerifier}; throws at once on bad options. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  if (options.keys.length === 0) throw new Error('createTokenVerifier: at least one key is required');
  if (!options.issuer || !options.audience) throw new Error('createTokenVerifier: issuer and audience are required');
  const tolerance = options.clockToleranceSeconds ?? 5;
  const notBeforeTolerance = options.notBeforeToleranceSeconds ?? tolerance;
  const maxLength = options.maxTokenLength ?? 8192;
  const cacheSize = options.cacheSize ?? 10_000;
  const insertionOrder = options.cachePolicy === 'insertion-order';
  if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new Error(`createTokenVerifier: cacheSize must be an integer >= 0, got ${cacheSize}`);
  const now = options.now ?? systemClock;
  const { issuer, audience } = options;
  const keys = options.keys.map((k) => ({ ...k }));
  keys.forEach(assertKeyFitsAlgorithm);
  const first = keys[0] as VerificationKey;
  const byKid = new Map(keys.filter((k) => k.kid).map((k) => [k.kid as string, k]));
  // The canonical headers, each resolved to the key selectKey's parse would pick for it: a
  // header without kid to the first key (so tokens signed elsewhere with the shared secret and
  // jsonwebtoken's default header, no kid, skip the parse too: ~1.3 µs in the loaded server),
  // a kid to the key byKid holds for it. No other key is reached this way.
  const byCanonicalHeader = new Map<string, VerificationKey>([[canonicalHeaderSegment(first.algorithm, undefined), first]]);
  for (const [kid, k] of byKid) byCanonicalHeader.set(canonicalHeaderSegment(k.algorithm, kid), k);
  /** Each HS256/384/512 key's HMAC, its padded key blocks prepared once (src/auth/hmac.ts). */
  const hmacOf = new Map(
    keys
      .filter((k) => k.algorithm in HMAC_HASHES)
      .map((k) => [k, createHmacBase64url(HMAC_HASHES[k.algorithm as keyof typeof HMAC_HASHES], k.key)]),
  );

  /** Parses and checks the header (any header but our canonical ones), and picks the key. */
  function selectKey(headerSegment: string): VerificationKey {
    const known = byCanonicalHeader.get(headerSegment);
    if (known) return known;
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(headerSegment, 'base64url').toString('utf8'));
    } catch {
      throw invalid('header is not JSON');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid('header is not a JSON object');
    const h = header as Record<string, unknown>;
    for (const name of REFUSED_HEADER_PARAMETERS) {
      if (name in h) throw invalid(`header parameter "${name}" refused`);
    }
    if (h.typ !== undefined && (typeof h.typ !== 'string' || h.typ.toUpperCase() !== 'JWT')) throw invalid('typ is not JWT');
    // A kid is only ever a lookup in our own map: never a path, a URL or a query.
    let key: VerificationKey | undefined;
    if (h.kid === undefined) key = first;
    else if (typeof h.kid === 'string') key = byKid.get(h.kid);
    if (!key) throw invalid('unknown kid');
    // The algorithm is the key's, never the token's: alg only has to agree (RFC 8725 §3.1).
    if (h.alg !== key.algorithm) throw invalid('alg does not match the key');
    return key;
  }

  /**
   * Where payloads are decoded, reused (no Buffer per token: ~1.0 against ~1.2 µs a payload,
   * measured); grown to the longest payload seen, which maxLength bounds. Synchronous use only.
   */
  let payloadBytes = Buffer.alloc(2048);

  /** The payload of a token, parsed; refused if it is not JSON. */
  function parsePayload(token: string, firstDot: number, lastDot: number): unknown {
    const segment = token.slice(firstDot + 1, lastDot);
    // base64url decodes 4 characters to at most 3 bytes.
    const most = Math.ceil((segment.length * 3) / 4);
    if (most > payloadBytes.length) payloadBytes = Buffer.alloc(most);
    const length = payloadBytes.write(segment, 'base64url');
    try {
      return JSON.parse(payloadBytes.toString('utf8', 0, length));
    } catch {
      throw invalid('payload is not JSON');
    }
  }

  /**
   * HS256/384/512 with node:crypto directly (src/auth/hmac.ts: no object per token): the
   * HMAC of the signing input, compared in constant time with the signature segment in its
   * canonical base64url form (so a signature is accepted in exactly one spelling).
   * jsonwebtoken does the same work with more layers around it (bench/RESULTS.md, "HS256
   * verification", has both side by side). The key and its algorithm were pinned by selectKey;
   * `hmac` is that key's, from hmacOf.
   */
  function verifyHmac(token: string, firstDot: number, lastDot: number, hmac: (input: string) => string): unknown {
    const expected = hmac(token.slice(0, lastDot));
    if (!sameString(token.slice(lastDot + 1), expected)) throw invalid('invalid signature');
    return parsePayload(token, firstDot, lastDot);
  }

  function verifyEdDSA(token: string, firstDot: number, lastDot: number, key: KeyObject): unknown {
    // jsonwebtoken 9 has no EdDSA (auth0/node-jsonwebtoken#987): node:crypto verifies it.
    const signature = Buffer.from(token.slice(lastDot + 1), 'base64url');
    if (signature.length !== 64) throw invalid('EdDSA signature is not 64 bytes');
    let ok = false;
    try {
      ok = cryptoVerify(null, Buffer.from(token.slice(0, lastDot)), key, signature);
    } catch {
      ok = false;
    }
    if (!ok) throw invalid('invalid signature');
    return parsePayload(token, firstDot, lastDot);
  }

  function check(token: string, ignoreExpiration: boolean): VerifiedToken {
    if (typeof token !== 'string' || token.length === 0 || token.length > maxLength) throw invalid('empty or oversized token');
    if (!COMPACT_JWS.test(token)) throw invalid('not three base64url segments');
    const firstDot = token.indexOf('.');
    const lastDot = token.lastIndexOf('.');
    const key = selectKey(token.slice(0, firstDot));
    if (lastDot === token.length - 1) throw invalid('no signature');
    const nowSeconds = Math.floor(now() / 1000);

    let payload: unknown;
    // hmacOf holds exactly the HS256/384/512 keys.
    const hmac = hmacOf.get(key);
    if (hmac) {
      payload = verifyHmac(token, firstDot, lastDot, hmac);
    } else if (key.algorithm === 'EdDSA') {
      payload = verifyEdDSA(token, firstDot, lastDot, key.key);
    } else {
      try {
        // Signature and algorithm only: every claim is checked below, the same way for
        // every algorithm, so that TOKEN_EXPIRED is given only to a token that is otherwise valid.
        payload = jwt.verify(token, key.key, {
          algorithms: [key.algorithm],
          ignoreExpiration: true,
          ignoreNotBefore: true,
          clockTimestamp: nowSeconds,
        });
      } catch (error) {
        throw invalid(error instanceof Error ? error.message : 'unverifiable');
      }
    }

    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw invalid('payload is not a JSON object');
    const claims = payload as Record<string, unknown>;
    const { sub, jti, iat, exp, iss, aud, nbf } = claims;
    if (!isNonEmptyString(sub)) throw invalid('sub missing or not a string');
    // The user id becomes a Redis key's hash tag: braces would move it to another slot (issue 18).
    if (sub.length > 256 || /[{}]/.test(sub)) throw invalid('sub not usable as a user id');
    if (!isNonEmptyString(jti)) throw invalid('jti missing or not a string');
    if (!isNumericDate(exp)) throw invalid('exp missing or not a NumericDate');
    if (!isNumericDate(iat)) throw invalid('iat missing or not a NumericDate');
    if (iat > exp) throw invalid('iat after exp');
    if (iat > nowSeconds + notBeforeTolerance) throw invalid('iat in the future');
    if (nbf !== undefined && (!isNumericDate(nbf) || nbf > nowSeconds + notBeforeTolerance)) throw invalid('nbf in the future or not a NumericDate');
    if (iss !== issuer) throw invalid('wrong or missing iss');
    if (!(aud === audience || (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string') && aud.includes(audience)))) {
      throw invalid('wrong or missing aud');
    }
    const username = claims.preferred_username;
    if (username !== undefined && typeof username !== 'string') throw invalid('preferred_username is not a string');
    const scopes = parseScopeClaim(claims.scope);
    if (scopes === undefined) throw invalid('scope is neither a string nor an array of strings');
    const { sid, iat_ms: iatMs } = claims;
    if (sid !== undefined && !isNonEmptyString(sid)) throw invalid('sid is not a string');
    // iat_ms must name a millisecond of iat's second: it can't move a token before a cutoff's second.
    if (iatMs !== undefined && !(isNumericDate(iatMs) && Number.isInteger(iatMs) && Math.floor(iatMs / 1000) === Math.floor(iat))) {
      throw invalid('iat_ms does not match iat');
    }
    const authTime = claims.auth_time;
    // auth_time (OIDC): when the password was last checked; never after the token was issued.
    if (authTime !== undefined && !(isNumericDate(authTime) && authTime <= iat)) throw invalid('auth_time is not a NumericDate before iat');
    // Last: only a token valid in every other respect is told it has expired.
    const expired = nowSeconds >= exp + tolerance;
    if (!ignoreExpiration && expired) throw new TokenVerificationError('TOKEN_EXPIRED', 'expired');
    // Optional claims are assigned, not spread: a spread of a literal allocates and copies an
    // object per claim (~130 against ~75 ns, measured). Same properties, same order, then frozen.
    const fields: { -readonly [K in keyof VerifiedToken]: VerifiedToken[K] } = {
      userId: sub,
      jti,
      issuedAt: iat,
      expiresAt: exp,
      issuedAtMs: (iatMs as number | undefined) ?? Math.floor(iat) * 1000,
    };
    if (username) fields.username = username;
    if (sid !== undefined) fields.sessionId = sid as string;
    if (scopes.length > 0) fields.scopes = Object.freeze(scopes);
    if (authTime !== undefined) fields.authTime = authTime as number;
    const verified: VerifiedToken = Object.freeze(fields);
    if (cacheSize > 0 && !expired) {
      remember(token, lastDot, verified, Math.max(iat, (nbf as number | undefined) ?? iat));
    }
    return verified;
  }

  /**
   * Verified tokens by signature segment: short (43 characters for HS256), so a miss costs a
   * cheap lookup; a hit is then the whole token compared with the one verified (a token
   * with a known signature and another header or payload is a miss, and is verified in full).
   */
  const cache = new Map<string, Verified>();
  /**
   * How often each token was used lately (verified misses, and hits once per pass of the
   * hand): the full cache admits a token only if it was used more often than the entry it
   * would evict. Without it, one miss in 8 was admitted whatever it was, and tokens cycling
   * through the cache kept evicting ones about to hit (bench/verify-cache.ts: 8.6% of hits
   * where at most 20% are possible).
   */
  const sketch = cacheSize > 0 && (options.cachePolicy ?? 'recency') === 'recency' ? createFrequencySketch(cacheSize) : undefined;
  /**
   * The clock (CLOCK, an LRU approximation): each entry has a slot; a hit only sets its
   * `used` bit (no reordering, no allocation); to make room the hand sweeps the slots,
   * clearing `used` bits, and evicts the first entry not used since its last pass. A Map
   * kept in LRU order would make every eviction scan the holes that deletions leave at the
   * front of V8's ordered hash table: measured, that made a miss cost more than no cache.
   */
  const slotKeys: (string | undefined)[] = [];
  const slotEntries: (Verified | undefined)[] = [];
  const freeSlots: number[] = [];
  let hand = 0;
  /** Misses not considered since the last one considered for admission into the full cache. */
  let skipped = 0;

  function remember(token: string, lastDot: number, verified: VerifiedToken, validFrom: number): void {
    const key = token.slice(lastDot + 1);
    if (insertionOrder) {
      cache.delete(key);
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value as string);
      cache.set(key, { slot: -1, used: false, raw: token, token: verified, validFrom });
      return;
    }
    if (cache.has(key)) return; // one slot per key
    sketch?.record(key);
    let slot: number;
    if (freeSlots.length > 0) slot = freeSlots.pop() as number;
    else if (slotKeys.length < cacheSize) slot = slotKeys.length;
    else {
      // Full: most misses are not considered, so a miss mostly costs no eviction and no
      // allocation; the one that is takes the place of the first entry not used since the
      // hand last passed it, and only if it was used lately more often than that entry. Tokens
      // cycling through a cache smaller than them are each used as often as the ones held: they
      // stay out, and the ones held keep hitting.
      skipped += 1;
      if (skipped < CACHE_ADMIT_EVERY) return;
      skipped = 0;
      for (;;) {
        const candidate = slotEntries[hand] as Verified;
        if (!candidate.used) break;
        candidate.used = false;
        hand = (hand + 1) % cacheSize;
      }
      const victim = slotKeys[hand] as string;
      // The hand stays on the victim when the miss is not admitted: the next one is weighed against it.
      if (sketch !== undefined && sketch.estimate(key) <= sketch.estimate(victim)) return;
      cache.delete(victim);
      slot = hand;
      hand = (hand + 1) % cacheSize;
    }
    // Built only once admitted: a miss that is not admitted allocates nothing here.
    const entry: Verified = { slot, used: false, raw: token, token: verified, validFrom };
    slotKeys[slot] = key;
    slotEntries[slot] = entry;
    cache.set(key, entry);
  }

  function forget(key: string, entry: Verified): void {
    cache.delete(key);
    if (insertionOrder || entry.slot < 0) return;
    slotKeys[entry.slot] = undefined;
    slotEntries[entry.slot] = undefined;
    freeSlots.push(entry.slot);
  }

  /** A token verified before, if the time still lets it pass every check; else undefined (the full checks run and say why). */
  function recall(token: string, ignoreExpiration: boolean): VerifiedToken | undefined {
    if (cache.size === 0 || typeof token !== 'string' || token.length > maxLength) return undefined;
    const lastDot = token.lastIndexOf('.');
    if (lastDot <= 0) return undefined;
    const key = token.slice(lastDot + 1);
    const entry = cache.get(key);
    // Header and payload are not secret (the signature is what the key proves): plain equality.
    if (entry === undefined || entry.raw !== token) return undefined;
    const nowSeconds = Math.floor(now() / 1000);
    if (entry.validFrom > nowSeconds + notBeforeTolerance) return undefined;
    if (!ignoreExpiration && nowSeconds >= entry.token.expiresAt + tolerance) {
      forget(key, entry);
      return undefined;
    }
    if (!entry.used) {
      entry.used = true;
      // Counted once per pass of the hand, not per hit: the hot path stays a bit test, and a
      // token's count is how many of the hand's passes it was used in.
      sketch?.record(key);
    }
    return entry.token;
  }

  return {
    verify: (token) => recall(token, false) ?? check(token, false),
    verifyIgnoringExpiry: (token) => recall(token, true) ?? check(token, true),
  };
}
