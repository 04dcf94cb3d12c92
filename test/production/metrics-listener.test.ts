/**
 * Metrics on their own listener (the real process): METRICS_PORT on METRICS_HOST (default
 * loopback) serves GET /metrics and nothing else (another method: 405); the API port no
 * longer serves /metrics, whatever the method, and still serves the health endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort } from '../helpers/free-port.js';
import { startRedisServer, type RedisServerProcess } from '../helpers/redis-server.js';
import { httpRequest } from '../helpers/test-server.js';
import { startApiProcess, type ApiProcess } from './api-process.js';

describe('metrics listener', () => {
  let redis: RedisServerProcess;
  let api: ApiProcess;
  let metricsPort: number;
  beforeAll(async () => {
    redis = await startRedisServer({ appendonly: false });
    metricsPort = await getFreePort();
    api = await startApiProcess({ REDIS_URL: redis.url, METRICS_PORT: String(metricsPort) });
  });
  afterAll(async () => {
    await api?.kill();
    await redis?.cleanup();
  });

  it('serves GET /metrics on METRICS_PORT, bound to 127.0.0.1 by default', async () => {
    const answer = await httpRequest(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(answer.text).toMatch(/^graphql_revoke_requests_total\{auth_outcome="ok"\} \d+$/m);
    expect(answer.text).toMatch(/^graphql_revoke_token_store_up 1$/m);
    const line = api.logs().find((entry) => entry.msg.startsWith('metrics at '));
    expect(line?.url).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
  });

  it('answers any other method with 405 and Allow: GET, any other path with 404', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS']) {
      const answer = await httpRequest(`http://127.0.0.1:${metricsPort}/metrics`, { method, signal: AbortSignal.timeout(5000) });
      expect(answer.status, method).toBe(405);
      expect(answer.headers.get('allow')).toBe('GET');
    }
    for (const path of ['/', '/graphql', '/healthz', '/metrics/x']) {
      expect((await httpRequest(`http://127.0.0.1:${metricsPort}${path}`, { signal: AbortSignal.timeout(5000) })).status, path).toBe(404);
    }
  });

  it('the API port does not serve /metrics (404, whatever the method) and still serves /healthz, /readyz and GraphQL', async () => {
    for (const method of ['GET', 'POST', 'HEAD']) {
      const answer = await httpRequest(`${api.base}/metrics`, { method, signal: AbortSignal.timeout(5000) });
      expect(answer.status, method).toBe(404);
      expect(answer.text).not.toMatch(/graphql_revoke_/);
    }
    expect((await api.get('/healthz')).status).toBe(200);
    expect((await api.get('/readyz')).status).toBe(200);
    expect((await api.graphql('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });
});
