/**
 * The introspection step of `npm run bench` alone (bench/lib/oauth.ts): `npx tsx bench/oauth-only.ts [seconds]`.
 */
import { Redis } from 'ioredis';
import { oauthBench } from './lib/oauth.js';
import { startBenchRedis } from './lib/redis.js';
import { buildServers } from './lib/servers.js';

const seconds = Number(process.argv[2] ?? 5);
buildServers();
const redis = await startBenchRedis();
const monitor = new Redis(redis.url, { maxRetriesPerRequest: 0 });
try {
  const result = await oauthBench({
    redisUrl: redis.url,
    monitor,
    env: { JWT_SECRET: 'bench-secret-not-for-production-0123456789abcdef', LOG_LEVEL: 'warn' },
    connections: 10,
    durationSec: seconds,
    exactRequests: 2000,
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  monitor.disconnect();
  await redis.stop();
}
