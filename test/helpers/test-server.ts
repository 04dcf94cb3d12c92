import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { createPasswordHasher, type PasswordHasher } from '../../src/auth/password.js';
import { systemClock, type Clock } from '../../src/auth/token.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { RevocationStore } from '../../src/revocation/revocation-store.js';
import type { RedisSafeguards } from '../../src/safeguards/safeguards.js';
import type { Logger } from '../../src/logger.js';
import type { Metrics } from '../../src/metrics.js';
import { createServer, type AppServer } from '../../src/server/create-server.js';
import { createStores } from '../../src/server/create-stores.js';
import type { LiveEventBus } from '../../src/live/revocation-events.js';
import type { UserStore } from '../../src/users/user-store.js';

/** A test secret: 32+ bytes, as the config requires. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnop';

/** The answer to one HTTP request. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  text: string;
}

/** A running API on a free port. */
export interface TestServer {
  url: string;
  app: AppServer;
  config: Config;
  revocations: RevocationStore;
  users: UserStore;
  redis?: Redis;
  /** With `safeguards: true`: the clock-skew monitor, data-loss watcher and eviction guard, as main wires them. */
  safeguards?: RedisSafeguards;
  /** GET on the server's origin (e.g. /readyz). */
  get(path: string): Promise<HttpAnswer>;
  /** The live events' subscriber connection (with redisUrl). */
  subscriber?: Redis;
  /** The live events' bus: Redis pub/sub with redisUrl, else the server's in-process one. */
  events?: LiveEventBus;
  /** ws://…/graphql */
  wsUrl: string;
  /** POSTs a GraphQL operation; `token` goes in `Authorization: Bearer`. */
  graphql(query: string, options?: { variables?: Record<string, unknown>; token?: string; headers?: Record<string, string> }): Promise<HttpAnswer>;
  /** Signs up a fresh user (unique name) and returns its token and id. */
  signUp(username?: string, password?: string): Promise<{ token: string; userId: string; username: string; password: string }>;
  /** Signs in and returns the new access token; throws if refused. */
  signIn(username: string, password: string): Promise<string>;
  close(): Promise<void>;
}

let counter = 0;
/** A username no other test of this run uses. */
export function uniqueUsername(prefix = 'user'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter}`.slice(0, 32);
}

/** Sends one request and parses the JSON answer (if any). */
export async function httpRequest(url: string, init: RequestInit): Promise<HttpAnswer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** Options of {@link postGraphQL}. */
export interface GraphQLPostOptions {
  variables?: Record<string, unknown>;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** POSTs one GraphQL operation as JSON to `url` and parses the answer. */
export function postGraphQL(url: string, query: string, { variables, token, headers, signal }: GraphQLPostOptions = {}): Promise<HttpAnswer> {
  return httpRequest(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
    ...(signal ? { signal } : {}),
  });
}

/**
 * Starts the real API (createServer, real HTTP) on a free port. With `redisUrl` it uses
 * the Redis stores under a key prefix of its own; otherwise the in-memory stores.
 */
export async function startTestServer(
  options: {
    redisUrl?: string;
    env?: Record<string, string>;
    now?: Clock;
    keyPrefix?: string;
    revocations?: RevocationStore;
    /** Default: scrypt at a cheap cost. */
    passwords?: PasswordHasher;
    /**
     * With `redisUrl`: wire the safeguards of main.ts (src/safeguards/safeguards.ts) on `now`,
     * so a test can run instances whose clocks disagree with Redis'.
     */
    safeguards?: boolean;
    /** Where the server and the safeguards log. Default: pino at TEST_LOG_LEVEL (silent). */
    logger?: Logger;
    /** Prometheus metrics the server feeds (createMetrics). Default none. */
    metrics?: Metrics;
  } = {},
): Promise<TestServer> {
  const keyPrefix = options.keyPrefix ?? `test${process.pid}x${Date.now().toString(36)}x${++counter}`;
  const { config } = loadConfig({
    JWT_SECRET: TEST_SECRET,
    REDIS_URL: options.redisUrl ?? '',
    REDIS_KEY_PREFIX: keyPrefix,
    // Tests sign up hundreds of users from 127.0.0.1; test/security/sign-up-limits.test.ts sets its own.
    SIGNUP_MAX_PER_ADDRESS: '1000000',
    // Successful sign-ins and failed refreshes are limited too (issue 18); test/security/session-bounds.test.ts sets its own.
    SIGNIN_MAX_PER_ADDRESS: '1000000',
    SIGNIN_MAX_PER_USERNAME: '1000000',
    REFRESH_MAX_FAILURES_PER_ADDRESS: '1000000',
    ...options.env,
  });
  const now = options.now ?? systemClock;
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  // The stores as main builds them (src/server/create-stores.ts). Apart from main: the
  // safeguards only when a test asks for them, no connection or persistence lines in the
  // test's log, and no sweep timer in the in-memory store.
  const stores = createStores(config, {
    logger,
    now,
    safeguards: options.safeguards === true,
    logConnections: false,
    memorySweepIntervalMs: 0,
  });
  const redis = stores.redis as Redis | undefined;
  const subscriber = stores.subscriber as Redis | undefined;
  const { users, sessions, safeguards, events } = stores;
  // A store of the test's own is served as given (not wrapped by the safeguards).
  const revocations = options.revocations ?? stores.revocations;
  if (redis) {
    await new Promise<void>((resolve, reject) => {
      redis.once('ready', () => resolve());
      setTimeout(() => reject(new Error(`Redis at ${options.redisUrl} not ready in 5 s`)), 5000).unref();
    });
  }
  if (safeguards) {
    safeguards.start();
    await safeguards.settled(2000);
  }
  const app = await createServer({
    config,
    revocations,
    users,
    logger,
    // Cheap scrypt: tests sign up hundreds of users; the production cost is in the defaults.
    passwords: options.passwords ?? createPasswordHasher({ cost: 1024 }),
    now,
    ...(sessions ? { sessions } : {}),
    // The sign-in limiter counts in the same Redis, as main wires it.
    ...(redis ? { redis } : {}),
    ...(safeguards ? { safeguards } : {}),
    events,
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const { url } = await app.listen(0, '127.0.0.1');

  const server: TestServer = {
    url,
    app,
    config,
    revocations,
    users,
    ...(redis ? { redis } : {}),
    ...(safeguards ? { safeguards } : {}),
    get: (path) => httpRequest(new URL(path, url).toString(), { signal: AbortSignal.timeout(10_000) }),
    ...(subscriber ? { subscriber } : {}),
    ...(events ? { events } : {}),
    wsUrl: url.replace(/^http/, 'ws'),
    graphql: (query, options) => postGraphQL(url, query, options),
    async signUp(username = uniqueUsername(), password = 'correct horse battery') {
      const answer = await server.graphql(
        'mutation($u: String!, $p: String!) { signUp(username: $u, password: $p) { accessToken user { id username } } }',
        { variables: { u: username, p: password } },
      );
      const payload = answer.body?.data?.signUp;
      if (!payload) throw new Error(`signUp failed: ${answer.status} ${answer.text}`);
      return { token: payload.accessToken as string, userId: payload.user.id as string, username, password };
    },
    async signIn(username, password) {
      const answer = await server.graphql('mutation($u: String!, $p: String!) { signIn(username: $u, password: $p) { accessToken } }', {
        variables: { u: username, p: password },
      });
      const token = answer.body?.data?.signIn?.accessToken;
      if (typeof token !== 'string') throw new Error(`signIn failed: ${answer.status} ${answer.text}`);
      return token;
    },
    async close() {
      safeguards?.stop();
      await app.close();
      await revocations.close();
      await events?.close();
      redis?.disconnect();
      stores.writer?.disconnect();
      subscriber?.disconnect();
    },
  };
  return server;
}
