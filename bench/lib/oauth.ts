/**
 * POST /oauth/introspect (RFC 7662) under load, beside a GraphQL request's auth on the same
 * server process, Redis and token: what another service pays to ask "is this token still
 * good?", against what a GraphQL request pays for the same answer (docs/interop.md).
 */
import type { Redis } from 'ioredis';
import { graphql } from './http.js';
import { runLoad, type LoadResult } from './load.js';
import { commandCalls, commandDelta } from './redis.js';
import { startProjectServer, type Placement } from './servers.js';

const CLIENT_ID = 'bench-gateway';
const CLIENT_SECRET = 'bench-gateway-secret-0123456789abcdefghij';

/** The figures of {@link oauthBench}. */
export interface OAuthBenchResult {
  connections: number;
  durationSec: number;
  /** POST /oauth/introspect of an active access token. */
  introspect: LoadResult;
  /** POST /graphql `{ me { id } }` with the same token. */
  graphqlMe: LoadResult;
  /** POST /graphql `{ __typename }` with the same token (auth alone, almost no execution). */
  graphqlTypename: LoadResult;
  /** Redis commands per introspection (exact count over `exactRequests`). */
  commandsPerIntrospection: number;
  exactRequests: number;
}

/** Starts a project server with an OAuth client on `redisUrl` and loads both paths in turn. */
export async function oauthBench(options: {
  redisUrl: string;
  monitor: Redis;
  env: Record<string, string>;
  placement?: Placement;
  connections: number;
  durationSec: number;
  exactRequests: number;
}): Promise<OAuthBenchResult> {
  const server = await startProjectServer(
    'oauth',
    {
      ...options.env,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: 'bencho',
      OAUTH_CLIENTS: `${CLIENT_ID}:${CLIENT_SECRET}`,
      // The bench is one client from one address: the per-instance limits must not be what is measured.
      OAUTH_MAX_REQUESTS_PER_CLIENT: '10000000',
      OAUTH_MAX_REQUESTS_PER_ADDRESS: '10000000',
    },
    options.placement,
  );
  try {
    const up = await graphql(server.url, 'mutation { signUp(username: "bench_oauth", password: "correct horse battery") { accessToken } }');
    const token = up.data?.signUp?.accessToken as string | undefined;
    if (!token) throw new Error(`oauth bench: signUp failed (${up.status})`);
    const introspectUrl = server.url.replace(/\/graphql$/, '/oauth/introspect');
    const introspectRequest = {
      body: new URLSearchParams({ token }).toString(),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`,
      },
    };
    const check = await fetch(introspectUrl, { method: 'POST', ...introspectRequest });
    const checked = (await check.json()) as { active?: boolean };
    if (checked.active !== true) throw new Error(`oauth bench: the token is not active (${check.status})`);

    // Exact count first: every request answered, nothing in flight.
    const before = await commandCalls(options.monitor);
    const exact = await runLoad(introspectUrl, { ...introspectRequest, connections: options.connections, durationSec: 0, amount: options.exactRequests });
    const delta = commandDelta(before, await commandCalls(options.monitor));
    let commands = 0;
    // TIME and HMGET are the safeguards' background reads (clock skew, data-loss markers), not requests'.
    for (const [name, count] of delta) if (name !== 'time' && name !== 'hmget' && name !== 'info') commands += count;
    if (exact.non2xx > 0 || exact.errors > 0) throw new Error(`oauth bench: ${exact.non2xx} non-2xx, ${exact.errors} errors`);

    const load = { connections: options.connections, durationSec: options.durationSec };
    const introspect = await runLoad(introspectUrl, { ...introspectRequest, ...load });
    const bearer = { authorization: `Bearer ${token}` };
    const graphqlMe = await runLoad(server.url, { body: JSON.stringify({ query: '{ me { id } }' }), headers: bearer, ...load });
    const graphqlTypename = await runLoad(server.url, { body: JSON.stringify({ query: '{ __typename }' }), headers: bearer, ...load });
    return { ...load, introspect, graphqlMe, graphqlTypename, commandsPerIntrospection: commands / exact.requests, exactRequests: exact.requests };
  } finally {
    await server.stop();
  }
}
