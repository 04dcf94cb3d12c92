import { createHash, createHmac, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** The JWS algorithms this project signs and verifies with. Each key is pinned to exactly one. */
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';

/**
 * Every JWS algorithm the issuer can sign with and the verifier can check (RFC 7518, plus
 * EdDSA with Ed25519 from RFC 8037). `none` is not one of them. Our own union, not
 * jsonwebtoken's: its types are not a dependency of the package, and a misspelt algorithm
 * ('HS257') must be a compile error.
 */
export type JwsAlgorithm =
  | 'HS256' | 'HS384' | 'HS512'
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA';

/** Every {@link JwsAlgorithm}, for checking a value that came from outside the type system. */
export const JWS_ALGORITHMS: readonly JwsAlgorithm[] = [
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA',
];

/** The algorithms accepted in JWT_ALGORITHM. */
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];

/** Smallest RSA modulus accepted (RFC 7518 §3.3 requires 2048 bits for RS256). */
export const MIN_RSA_MODULUS_BITS = 2048;

/** One key the verifier accepts: a KeyObject built once, its one algorithm, and its `kid`. */
export interface JwtVerificationKey {
  readonly key: KeyObject;
  readonly algorithm: JwtAlgorithm;
  readonly kid?: string;
}

/** A public key as published in the JWKS (RFC 7517), with its `kid`, `alg` and `use`. */
export interface PublicJwk {
  readonly kty: string;
  readonly kid: string;
  readonly alg: JwtAlgorithm;
  readonly use: 'sig';
  readonly [member: string]: unknown;
}

/** Every key of the running API, built once at start. */
export interface JwtKeys {
  readonly algorithm: JwtAlgorithm;
  /** What the issuer signs with: the HS256 secret, or the private key. */
  readonly signing: { readonly key: KeyObject; readonly algorithm: JwtAlgorithm; readonly kid?: string };
  /** What the verifier accepts: the current key first, then the retired public keys. */
  readonly verification: readonly JwtVerificationKey[];
  /** The JWK Set served at /.well-known/jwks.json: public keys only (empty for HS256). */
  readonly jwks: { readonly keys: readonly PublicJwk[] };
}

/**
 * PEM text from an environment variable: literal `\n` sequences (as .env files and
 * orchestrators often write them) become newlines.
 */
function normalizePem(text: string): string {
  return text.replace(/\\n/g, '\n').trim();
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Splits a list of PEM blocks written one after the other (JWT_PREVIOUS_PUBLIC_KEYS): the
 * separator is the PEM armour itself, so newlines, spaces or commas between blocks all work.
 * Throws when anything but whitespace and commas lies outside the blocks.
 */
export function splitPemBlocks(text: string, name: string): string[] {
  const normalized = normalizePem(text);
  const blocks = normalized.match(PEM_BLOCK) ?? [];
  const rest = normalized.replace(PEM_BLOCK, '').replace(/[\s,]/g, '');
  if (rest.length > 0) throw new ConfigError(`${name} must be PEM blocks ("-----BEGIN PUBLIC KEY-----" ...), one after the other`);
  return blocks;
}

/** The algorithm a public or private key can be used with, checked against its type, curve and size. */
export function algorithmForKey(key: KeyObject, name: string): Exclude<JwtAlgorithm, 'HS256'> {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < MIN_RSA_MODULUS_BITS) {
        throw new ConfigError(`${name}: RSA key of ${bits} bits refused; RS256 needs at least ${MIN_RSA_MODULUS_BITS} bits`);
      }
      return 'RS256';
    }
    case 'ec':
      if (details.namedCurve !== 'prime256v1') {
        throw new ConfigError(`${name}: EC key on curve ${details.namedCurve ?? 'unknown'} refused; ES256 needs P-256 (prime256v1)`);
      }
      return 'ES256';
    case 'ed25519':
      return 'EdDSA';
    default:
      throw new ConfigError(`${name}: key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (RSA >= 2048 bits, EC P-256 or Ed25519)`);
  }
}

/** The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key: its `kid`. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  // RFC 7638 §3.2: only the required members, in lexicographic order, no whitespace.
  let canonical: string;
  if (jwk.kty === 'RSA') canonical = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  else if (jwk.kty === 'EC') canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  else if (jwk.kty === 'OKP') canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x });
  else throw new Error(`No thumbprint for key type ${String(jwk.kty)}`);
  return createHash('sha256').update(canonical).digest('base64url');
}

function publicJwk(publicKey: KeyObject, algorithm: JwtAlgorithm, kid: string): PublicJwk {
  const jwk = publicKey.export({ format: 'jwk' }) as JsonWebKey;
  return { ...jwk, kty: jwk.kty as string, kid, alg: algorithm, use: 'sig' };
}

function parsePublicKey(pem: string, name: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch {
    throw new ConfigError(`${name} is not a readable PEM public key`);
  }
}

/**
 * The `kid` of an HS256 secret: an HMAC of a fixed label under the secret (128 bits,
 * base64url). It names the secret without revealing anything of it; a plain hash (or an
 * RFC 7638 thumbprint, which hashes the key itself) would give away a hash of the secret.
 */
export function hmacKeyId(secret: KeyObject): string {
  return createHmac('sha256', secret).update('graphql-revoke HS256 key id').digest('base64url').slice(0, 22);
}

/**
 * Keys for HS256: the current secret signs, and it and the retired secrets verify, each
 * selected by its kid (hmacKeyId). Retiring a secret: make the new one JWT_SECRET and list
 * the old one in JWT_PREVIOUS_SECRETS until the tokens it signed have expired. Nothing is
 * published (the JWKS is empty).
 */
export function hmacKeys(secret: KeyObject, previous: readonly KeyObject[] = []): JwtKeys {
  for (const key of [secret, ...previous]) {
    if (key.type !== 'secret') throw new Error('hmacKeys: secret KeyObjects are required');
  }
  const kid = hmacKeyId(secret);
  const verification: JwtVerificationKey[] = [{ key: secret, algorithm: 'HS256', kid }];
  for (const key of previous) {
    const previousKid = hmacKeyId(key);
    // The current secret listed again (a rotation half done) is harmless: keep one entry.
    if (!verification.some((k) => k.kid === previousKid)) verification.push({ key, algorithm: 'HS256', kid: previousKid });
  }
  return {
    algorithm: 'HS256',
    signing: { key: secret, algorithm: 'HS256', kid },
    verification,
    jwks: { keys: [] },
  };
}

/** PEM inputs of {@link asymmetricKeys}, as read from the environment. */
export interface AsymmetricKeyInput {
  algorithm: Exclude<JwtAlgorithm, 'HS256'>;
  /** JWT_PRIVATE_KEY: PKCS#8 or traditional PEM, unencrypted. */
  privateKeyPem: string;
  /** JWT_PUBLIC_KEY: optional (derived from the private key); when given it must match. */
  publicKeyPem?: string | undefined;
  /** JWT_PREVIOUS_PUBLIC_KEYS: retired public keys, still accepted until their tokens expire. */
  previousPublicKeysPem?: string | undefined;
}

/**
 * Builds the KeyObjects of RS256, ES256 or EdDSA once, at start. Refuses (ConfigError) a key
 * whose type does not fit the algorithm (RSA >= 2048 bits for RS256, EC P-256 for ES256,
 * Ed25519 for EdDSA), a public key that is not the private key's, and unreadable PEM.
 * Retired keys each keep the one algorithm their type allows.
 */
export function asymmetricKeys(input: AsymmetricKeyInput): JwtKeys {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(normalizePem(input.privateKeyPem));
  } catch {
    throw new ConfigError('JWT_PRIVATE_KEY is not a readable, unencrypted PEM private key');
  }
  const keyAlgorithm = algorithmForKey(privateKey, 'JWT_PRIVATE_KEY');
  if (keyAlgorithm !== input.algorithm) {
    throw new ConfigError(`JWT_PRIVATE_KEY is a key for ${keyAlgorithm}, but JWT_ALGORITHM is ${input.algorithm}`);
  }
  const publicKey = createPublicKey(privateKey);
  const kid = jwkThumbprint(publicKey);
  if (input.publicKeyPem?.trim()) {
    const given = parsePublicKey(normalizePem(input.publicKeyPem), 'JWT_PUBLIC_KEY');
    if (given.asymmetricKeyType !== publicKey.asymmetricKeyType || jwkThumbprint(given) !== kid) {
      throw new ConfigError('JWT_PUBLIC_KEY is not the public half of JWT_PRIVATE_KEY');
    }
  }

  const verification: JwtVerificationKey[] = [{ key: publicKey, algorithm: keyAlgorithm, kid }];
  const jwks: PublicJwk[] = [publicJwk(publicKey, keyAlgorithm, kid)];
  const previous = input.previousPublicKeysPem?.trim() ? splitPemBlocks(input.previousPublicKeysPem, 'JWT_PREVIOUS_PUBLIC_KEYS') : [];
  previous.forEach((pem, index) => {
    const name = `JWT_PREVIOUS_PUBLIC_KEYS[${index}]`;
    const key = parsePublicKey(pem, name);
    const algorithm = algorithmForKey(key, name);
    const previousKid = jwkThumbprint(key);
    // The current key listed again (a rotation half done) is harmless: keep one entry.
    if (verification.some((k) => k.kid === previousKid)) return;
    verification.push({ key, algorithm, kid: previousKid });
    jwks.push(publicJwk(key, algorithm, previousKid));
  });

  return {
    algorithm: keyAlgorithm,
    signing: { key: privateKey, algorithm: keyAlgorithm, kid },
    verification,
    jwks: { keys: jwks },
  };
}
