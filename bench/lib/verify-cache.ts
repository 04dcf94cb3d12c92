/**
 * The verification cache (JWT_VERIFY_CACHE_SIZE) when more tokens are in use than it holds:
 * with refresh, every signed-in user mints a new access token each quarter hour, so the
 * distinct live tokens per instance grow. Measured side by side in one run, per verify():
 * no cache, the first policy (insertion order, hits don't refresh, every miss admitted), the
 * second (CLOCK: a hit marks its entry used, one miss in 8 admitted when full), the current one
 * (the same, but that miss admitted only if used more often than the entry it would evict:
 * TinyLFU), all at the default size, and a cache large enough for every token.
 */
import { createSecretKey, randomUUID } from 'node:crypto';
import { createTokenIssuer } from '../../src/auth/token-issuer.js';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import { measureInterleaved, type MicroResult } from './micro.js';

export interface VerifyCachePattern {
  name: string;
  note: string;
  results: MicroResult[];
  /** Share of verify() calls answered from the cache, per variant (same order as results). */
  hitRates: number[];
}

/** Deterministic 0..1 (a tiny LCG): the same request sequence for every variant. */
function sequence(length: number, seed: number): Float64Array {
  const out = new Float64Array(length);
  let x = seed >>> 0;
  for (let i = 0; i < length; i += 1) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 32;
  }
  return out;
}

export async function verifyCacheMicro(options: { distinct: number; cacheSize: number; batches: number; secret: string }): Promise<VerifyCachePattern[]> {
  const { distinct, cacheSize } = options;
  const key = createSecretKey(Buffer.from(options.secret, 'utf8'));
  const claims = { issuer: 'graphql-revoke', audience: 'graphql-revoke' };
  const issuer = createTokenIssuer({ key, ...claims, ttlSeconds: 900 });
  const tokens = Array.from({ length: distinct }, (_, i) => issuer.issue({ id: randomUUID(), username: `user${i}` }, { sessionId: randomUUID().slice(0, 22) }).token);
  const hot = Math.floor(cacheSize / 2);
  const random = sequence(distinct, 12345);
  // Each variant gets its own request stream (a pick function with its own counters), the
  // same sequence for every variant.
  const patterns: { name: string; note: string; stream: () => () => string }[] = [
    {
      name: `cycle: ${distinct.toLocaleString('en')} tokens in turn`,
      note: 'the worst case for any cache smaller than the tokens: no token comes back before all the others',
      stream: () => {
        let k = 0;
        return () => tokens[k++ % distinct] as string;
      },
    },
    {
      name: `hot: 90% of requests on ${hot.toLocaleString('en')} tokens, 10% a stream through the other ${(distinct - hot).toLocaleString('en')}`,
      note: 'a working set that fits, and tokens seen once in a while passing through',
      stream: () => {
        let k = 0;
        let cold = 0;
        return () => {
          const r = random[k++ % distinct] as number;
          return (r < 0.9 ? tokens[Math.floor((r / 0.9) * hot)] : tokens[hot + (cold++ % (distinct - hot))]) as string;
        };
      },
    },
  ];
  const out: VerifyCachePattern[] = [];
  for (const pattern of patterns) {
    const make = (size: number, policy: 'recency' | 'insertion-order' | 'recency-admit-any' = 'recency') =>
      createTokenVerifier({ keys: [{ key, algorithm: 'HS256' }], ...claims, cacheSize: size, cachePolicy: policy });
    const variants = [
      { name: 'no cache (JWT_VERIFY_CACHE_SIZE=0)', note: 'every request a full verification', v: make(0) },
      { name: `insertion order, ${cacheSize.toLocaleString('en')} (before)`, note: 'oldest out, hits do not refresh, every miss admitted', v: make(cacheSize, 'insertion-order') },
      { name: `CLOCK + any 1 miss in 8, ${cacheSize.toLocaleString('en')} (before)`, note: 'a hit marks the entry used, CLOCK eviction skips used entries, 1 miss in 8 admitted when full, whatever its use', v: make(cacheSize, 'recency-admit-any') },
      { name: `CLOCK + TinyLFU, ${cacheSize.toLocaleString('en')} (now)`, note: 'as before, but the 1 miss in 8 is admitted only if used lately more often than the entry it would evict', v: make(cacheSize) },
      { name: `large enough (${(distinct + 1000).toLocaleString('en')})`, note: 'every token fits', v: make(distinct + 1000) },
    ];
    const streams = variants.map(() => pattern.stream());
    // Warm every cache with two full passes of the pattern.
    for (const [k, { v }] of variants.entries()) for (let i = 0; i < 2 * distinct; i += 1) v.verify(streams[k]!());
    const results = await measureInterleaved(
      variants.map(({ name, note, v }, k) => ({ name, note, iterations: distinct, fn: () => v.verify(streams[k]!()) })),
      options.batches,
    );
    // Hit rates, untimed: a hit returns the very object the previous verify of that token did.
    const hitRates = variants.map(({ v }, k) => {
      const last = new Map<string, unknown>();
      let hits = 0;
      for (let i = 0; i < 2 * distinct; i += 1) {
        const token = streams[k]!();
        const verified = v.verify(token);
        if (i >= distinct && last.get(token) === verified) hits += 1;
        last.set(token, verified);
      }
      return hits / distinct;
    });
    out.push({ name: pattern.name, note: pattern.note, results, hitRates });
  }
  return out;
}

/** The markdown table of one pattern, with ratios to no cache and to the large cache. */
export function verifyCacheTable(pattern: VerifyCachePattern): string {
  const none = pattern.results[0]!.usPerOp;
  const large = pattern.results.at(-1)!.usPerOp;
  const rows = pattern.results.map(
    (r, k) =>
      `| ${r.name} | ${r.usPerOp.toFixed(2)} | ${(r.usPerOp / none).toFixed(2)} | ${(r.usPerOp / large).toFixed(2)} | ${((pattern.hitRates[k] ?? 0) * 100).toFixed(1)}% | ${r.note} |`,
  );
  return [
    `**${pattern.name}** (${pattern.note})`,
    '',
    '| Verifier | µs per verify (median) | vs no cache | vs large cache | hits | |',
    '|---|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}
