/**
 * Vitest global setup: finds one Redis for the whole test run and provides
 * its URL as `redisUrl` (read it with `requireRedisUrl()`).
 *
 * In order: `REDIS_URL` if set; a `redis:7-alpine` container if a Docker
 * engine answers; a `redis-server` from PATH on a free port. With none of
 * them, CI fails here, and a local run warns and lets every test that needs
 * Redis fail with a message that says what to install.
 */
import type { TestProject } from 'vitest/node';
import { isRedisServerAvailable, startRedisServer } from './helpers/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the Redis for this run, or '' when none could be found (local runs only). */
    redisUrl: string;
  }
}

// Long enough for a local engine, short enough that a machine with only the
// docker client (no engine) does not wait at every test run.
const DOCKER_PROBE_TIMEOUT_MS = 3_000;
const REDIS_IMAGE = 'redis:7-alpine';

/** What to tell someone who has no Redis at all. */
export const NO_REDIS_HELP =
  'No Redis for the tests: set REDIS_URL=redis://host:port, start a Docker engine (testcontainers runs ' +
  `${REDIS_IMAGE}), or install redis-server so it is on PATH (Debian/Ubuntu: apt-get install redis-server).`;

interface TestRedis {
  url: string;
  source: string;
  teardown(): Promise<void>;
}

/** Vitest globalSetup entry: provides `redisUrl` and returns the teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await findRedis();
  if (redis) {
    console.info(`[global-setup] Redis for tests: ${redis.source} at ${redactUrl(redis.url)}`);
    project.provide('redisUrl', redis.url);
    return () => redis.teardown();
  }
  if (isCi()) throw new Error(NO_REDIS_HELP);
  console.warn(`[global-setup] ${NO_REDIS_HELP} Tests that need Redis will fail.`);
  project.provide('redisUrl', '');
  return async () => {};
}

async function findRedis(): Promise<TestRedis | undefined> {
  const fromEnv = process.env['REDIS_URL'];
  if (fromEnv) return { url: fromEnv, source: 'REDIS_URL', teardown: async () => {} };

  const container = await startContainerIfDocker();
  if (container) return container;

  if (isRedisServerAvailable()) {
    const server = await startRedisServer();
    return { url: server.url, source: 'redis-server', teardown: () => server.cleanup() };
  }
  return undefined;
}

async function startContainerIfDocker(): Promise<TestRedis | undefined> {
  // Imported lazily: testcontainers is only needed where an engine runs.
  const { getContainerRuntimeClient } = await import('testcontainers');
  const engine = await withTimeout(getContainerRuntimeClient(), DOCKER_PROBE_TIMEOUT_MS).catch(() => undefined);
  if (!engine) return undefined;
  try {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer(REDIS_IMAGE).start();
    return {
      url: container.getConnectionUrl(),
      source: `testcontainers ${REDIS_IMAGE}`,
      teardown: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    // An engine that answers but cannot pull or run the image (offline, no
    // rights) should not hide a redis-server that would work.
    console.warn(`[global-setup] Docker answered but ${REDIS_IMAGE} did not start: ${(error as Error).message}`);
    return undefined;
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

// REDIS_URL may carry a password; the log gets the host and port only.
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}
