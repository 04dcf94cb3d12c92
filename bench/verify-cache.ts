/**
 * `npx tsx bench/verify-cache.ts [--distinct N] [--size N] [--batches N]`: the verification
 * cache with more tokens in use than it holds (default 50,000 over the default 10,000),
 * every policy side by side in one run. Prints a markdown table (docs/benchmarks.md).
 */
import { parseArgs } from 'node:util';
import { verifyCacheMicro, verifyCacheTable } from './lib/verify-cache.js';

const { values } = parseArgs({ options: { distinct: { type: 'string' }, size: { type: 'string' }, batches: { type: 'string' } } });
const patterns = await verifyCacheMicro({
  distinct: Number(values.distinct ?? 50_000),
  cacheSize: Number(values.size ?? 10_000),
  batches: Number(values.batches ?? 7),
  secret: 'bench-secret-not-for-production-0123456789abcdef',
});
for (const pattern of patterns) console.log(`${verifyCacheTable(pattern)}\n`);
