/**
 * createHmacBase64url against node:crypto's createHmac: the same HMAC for every JWS hash, for
 * keys shorter than, equal to and longer than the block, and for input that fits the prepared
 * buffer, outgrows it, and comes after longer input (the buffer is reused).
 */
import { createHmac, createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createHmacBase64url, type HmacHash } from '../../src/auth/hmac.js';

const HASHES: HmacHash[] = ['sha256', 'sha384', 'sha512'];
const KEY_LENGTHS = [1, 32, 63, 64, 65, 127, 128, 129, 300];
const INPUT_LENGTHS = [0, 1, 55, 56, 64, 300, 1023, 1024, 1025, 5000, 20, 9000, 3];

function asciiInput(length: number): string {
  return randomBytes(length).toString('base64url').slice(0, length).padEnd(length, '.');
}

describe('createHmacBase64url', () => {
  for (const algorithm of HASHES) {
    it(`gives createHmac's ${algorithm} for every key length and input length, in any order`, () => {
      for (const keyLength of KEY_LENGTHS) {
        const key = createSecretKey(randomBytes(keyLength));
        const hmac = createHmacBase64url(algorithm, key);
        for (const length of INPUT_LENGTHS) {
          const input = asciiInput(length);
          expect(hmac(input), `${algorithm}, key ${keyLength} B, input ${length} B`).toBe(createHmac(algorithm, key).update(input).digest('base64url'));
        }
      }
    });
  }

  it('keeps each key apart: two functions under two keys, called in turn', () => {
    const a = createSecretKey(randomBytes(32));
    const b = createSecretKey(randomBytes(32));
    const hmacA = createHmacBase64url('sha256', a);
    const hmacB = createHmacBase64url('sha256', b);
    for (let i = 0; i < 20; i += 1) {
      const input = asciiInput(100 + i);
      expect(hmacA(input)).toBe(createHmac('sha256', a).update(input).digest('base64url'));
      expect(hmacB(input)).toBe(createHmac('sha256', b).update(input).digest('base64url'));
      expect(hmacA(input)).not.toBe(hmacB(input));
    }
  });

  it('refuses input that is not ASCII, which latin1 would fold onto other input', () => {
    const hmac = createHmacBase64url('sha256', createSecretKey(randomBytes(32)));
    for (const input of ['eyJ\u0141.x', 'é', 'a\u00ff', '\ud83d\ude00']) expect(() => hmac(input)).toThrow(/ASCII/);
    expect(hmac('eyJ.x')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a key that is not a secret key, and a hash it does not know', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    expect(() => createHmacBase64url('sha256', privateKey)).toThrow(/secret key/);
    expect(() => createHmacBase64url('md5' as HmacHash, createSecretKey(randomBytes(32)))).toThrow(/unsupported hash/);
  });
});
