import type { Redis } from 'ioredis';
import { loadConfig, type LoadedConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../logger.js';
import { MemoryRevocationStore } from '../revocation/memory-store.js';
import { createRedisClient } from '../revocation/redis-client.js';
import { RedisRevocationStore } from '../revocation/redis-store.js';
import type { RevocationStore } from '../revocation/revocation-store.js';
import { MemoryUserStore } from '../users/memory-user-store.js';
import { RedisUserStore } from '../users/redis-user-store.js';
import type { UserStore } from '../users/user-store.js';
import { createServer } from './create-server.js';

let loaded: LoadedConfig;
try {
  loaded = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    // One clear line and a non-zero exit: misconfiguration is found at start, not at the first request.
    process.stderr.write(`graphql-revoke: configuration error: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
const { config, warnings } = loaded;
const logger = createLogger(config.logLevel);
for (const warning of warnings) logger.warn(warning);

let redis: Redis | undefined;
let revocations: RevocationStore;
let users: UserStore;
if (config.redis.url) {
  redis = createRedisClient({ url: config.redis.url, commandTimeoutMs: config.redis.commandTimeoutMs, logger });
  revocations = new RedisRevocationStore({
    client: redis,
    keyPrefix: config.redis.keyPrefix,
    expiryGraceSeconds: config.jwt.clockToleranceSeconds,
  });
  users = new RedisUserStore(redis, { keyPrefix: config.redis.keyPrefix });
} else {
  revocations = new MemoryRevocationStore({ expiryGraceSeconds: config.jwt.clockToleranceSeconds });
  users = new MemoryUserStore();
}

const server = await createServer({ config, revocations, users, logger });
const { url } = await server.listen(config.port, config.host);
logger.info({ url, store: redis ? 'redis' : 'memory' }, `GraphQL API ready at ${url}`);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: finishing requests in flight');
  // Exit within 10 s whatever hangs.
  setTimeout(() => {
    logger.error({}, 'shutdown took longer than 10 s; exiting');
    process.exit(1);
  }, 10_000).unref();
  try {
    await server.close();
    await revocations.close();
    await redis?.quit().catch(() => redis?.disconnect());
    logger.info({}, 'stopped');
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'error during shutdown');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
