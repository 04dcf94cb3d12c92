import { hash, type KeyObject } from 'node:crypto';

/** The HMAC hashes of the JWS algorithms (RFC 7518 §3.2), with their block sizes in bytes. */
const BLOCK_BYTES = { sha256: 64, sha384: 128, sha512: 128 } as const;

export type HmacHash = keyof typeof BLOCK_BYTES;

/**
 * HMAC (RFC 2104) of ASCII input under one secret key, as base64url: the per-token signature
 * check of HS256/384/512.
 *
 * `createHmac` builds an `Hmac` object per call (the key set up again, a native context that
 * the garbage collector must finalize). In the loaded server that object cost ~4.3 % of the CPU
 * on its own with 50,000 distinct tokens (issue 19, docs/benchmarks.md "The fourth round"); the
 * same HMAC as two one-shot `crypto.hash` calls over the key's padded blocks, prepared once,
 * took the verification from ~15.2 % to ~12.1 % of the server's CPU in the same profile (with
 * the inner digest as a Buffer; as a string, below, cheaper still). In isolation, a loop of
 * nothing else, the Buffer version was no faster than createHmac (2.2 against 1.7 µs): what it
 * saves is the object and its finalization, which a tight loop hides.
 *
 * The padded key blocks are the secret in another form, so they live where the secret does
 * (the process' memory; JWT_SECRET itself came in through the environment as a string), in
 * buffers of this closure only. The buffers are reused by every call: the function is
 * synchronous and nothing runs between writing the input and hashing it. Input must be ASCII
 * (a JWS signing input: base64url and a dot; anything else throws), written byte for byte;
 * longer input grows the buffer.
 */
export function createHmacBase64url(algorithm: HmacHash, key: KeyObject): (input: string) => string {
  const blockBytes = BLOCK_BYTES[algorithm];
  if (blockBytes === undefined) throw new Error(`createHmacBase64url: unsupported hash ${String(algorithm)}`);
  if (key.type !== 'secret') throw new Error('createHmacBase64url: the key must be a secret key');
  let secret: Buffer = key.export();
  // A key longer than the block is hashed first (RFC 2104 §2); a shorter one is padded with zeros.
  if (secret.length > blockBytes) secret = hash(algorithm, secret, 'buffer');
  const innerPad = Buffer.alloc(blockBytes, 0x36);
  const outer = Buffer.alloc(blockBytes + 64, 0x5c);
  for (let i = 0; i < secret.length; i += 1) {
    innerPad[i] = (innerPad[i] as number) ^ (secret[i] as number);
    outer[i] = (outer[i] as number) ^ (secret[i] as number);
  }
  secret.fill(0);
  let inner = Buffer.alloc(blockBytes + 1024);
  innerPad.copy(inner, 0);
  innerPad.fill(0);

  return (input: string): string => {
    // Written as latin1, a character above U+007F would lose bits and another input could share
    // its HMAC: refused, whatever the caller checked before (the verifier's shape check does).
    if (Buffer.byteLength(input, 'utf8') !== input.length) throw new Error('createHmacBase64url: input must be ASCII');
    if (blockBytes + input.length > inner.length) {
      const grown = Buffer.alloc(blockBytes + input.length);
      inner.copy(grown, 0, 0, blockBytes);
      inner.fill(0);
      inner = grown;
    }
    const written = inner.write(input, blockBytes, 'latin1');
    // The inner digest as a 'binary' (latin1) string, one character per byte, written back
    // byte for byte: a Buffer result would allocate an ArrayBuffer per call (the whole HMAC
    // measured 3.2–3.9 against 1.5–2.7 µs).
    const innerDigest = hash(algorithm, inner.subarray(0, blockBytes + written), 'binary');
    const digestBytes = outer.write(innerDigest, blockBytes, 'latin1');
    return hash(algorithm, outer.subarray(0, blockBytes + digestBytes), 'base64url');
  };
}
