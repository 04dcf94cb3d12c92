import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt parameters. The defaults (N=2^15, r=8, p=1: 32 MiB, ~50 ms) keep sign-in affordable on small machines. */
export interface PasswordHashingOptions {
  /** CPU/memory cost, a power of two. Default 32768 (2^15). */
  cost?: number;
  blockSize?: number;
  parallelization?: number;
  keyLength?: number;
}

/** Hashes and checks passwords with scrypt from node:crypto. */
export interface PasswordHasher {
  /** Returns `scrypt$N$r$p$<salt b64>$<hash b64>`. */
  hash(password: string): Promise<string>;
  /** Constant-time comparison; false for a malformed stored hash. */
  verify(password: string, stored: string): Promise<boolean>;
  /**
   * Spends the same time as a real verify against a dummy hash, so that a sign-in with
   * an unknown username takes as long as one with a wrong password.
   */
  verifyDummy(password: string): Promise<false>;
}

function scrypt(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyLength, options, (error, derived) => (error ? reject(error) : resolve(derived)));
  });
}

/** Builds a {@link PasswordHasher}. */
export function createPasswordHasher(options: PasswordHashingOptions = {}): PasswordHasher {
  const N = options.cost ?? 32768;
  const r = options.blockSize ?? 8;
  const p = options.parallelization ?? 1;
  const keyLength = options.keyLength ?? 32;
  // maxmem must cover 128 * N * r bytes, plus headroom.
  const maxmem = 256 * N * r;
  let dummy: Promise<string> | undefined;

  async function hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const derived = await scrypt(password, salt, keyLength, { N, r, p, maxmem });
    return ['scrypt', N, r, p, salt.toString('base64'), derived.toString('base64')].join('$');
  }

  async function verify(password: string, stored: string): Promise<boolean> {
    const parts = stored.split('$');
    if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
    const [, n, rr, pp, saltB64, hashB64] = parts as [string, string, string, string, string, string];
    const expected = Buffer.from(hashB64, 'base64');
    const cost = Number(n);
    const block = Number(rr);
    const par = Number(pp);
    if (!expected.length || !Number.isInteger(cost) || !Number.isInteger(block) || !Number.isInteger(par)) return false;
    const derived = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, {
      N: cost,
      r: block,
      p: par,
      maxmem: 256 * cost * block,
    });
    return timingSafeEqual(derived, expected);
  }

  return {
    hash,
    verify,
    async verifyDummy(password) {
      dummy ??= hash('graphql-revoke dummy password');
      await verify(password, await dummy);
      return false;
    },
  };
}
